//! The element-wise kernels of a training step, forward + backward on an autodiff device, at the
//! bart-base shape (batch 16 × 40 tokens, d = 768): LayerNorm over `[640, 768]`, the attention
//! softmax over `[16, 12, 40, 50]` and GELU over `[640, 3072]`, burn's against ours
//! (`lightner::model::kernels`) where we have one.
//! `cargo bench -p lightner --bench kernels`.

use burn::nn::LayerNormConfig;
use burn::tensor::activation::{gelu, softmax};
use burn::tensor::{Device, Tensor, TensorData};
use criterion::{Criterion, criterion_group, criterion_main};
use lightner::model::kernels;

fn tensor<const D: usize>(dims: [usize; D], device: &Device) -> Tensor<D> {
    let n: usize = dims.iter().product();
    let x: Vec<f32> = (0..n).map(|i| (i * 7919 % 1000) as f32 / 250.0 - 2.0).collect();
    let t = Tensor::from_data(TensorData::new(x, dims), device);
    if device.is_autodiff() { t.require_grad() } else { t }
}

fn kernels(c: &mut Criterion) {
    let ad = Device::flex().autodiff();
    let mut group = c.benchmark_group("fwd+bwd");
    group.sample_size(20);
    let ln = LayerNormConfig::new(768).init(&ad);
    let x = tensor([16, 40, 768], &ad);
    group
        .bench_function("layer_norm 640x768 composed", |b| b.iter(|| ln.forward(x.clone()).sum().backward()));
    let s = tensor([16, 12, 40, 50], &ad);
    group.bench_function("softmax 16x12x40x50 composed", |b| {
        b.iter(|| softmax(s.clone(), 3).sum().backward())
    });
    let g = tensor([16, 40, 3072], &ad);
    group.bench_function("gelu 640x3072 burn", |b| b.iter(|| gelu(g.clone()).sum().backward()));
    group.bench_function("gelu 640x3072 ours", |b| b.iter(|| kernels::gelu(g.clone()).sum().backward()));
    group.finish();

    let mut group = c.benchmark_group("forward");
    group.sample_size(20);
    let flex = Device::flex();
    let g = tensor([16, 40, 3072], &flex);
    group.bench_function("gelu 640x3072 burn", |b| b.iter(|| gelu(g.clone()).into_data()));
    group.bench_function("gelu 640x3072 ours", |b| b.iter(|| kernels::gelu(g.clone()).into_data()));
    let xs: Vec<f32> = (0..640 * 3072).map(|i| (i % 1000) as f32 / 100.0 - 5.0).collect();
    let mut ys = vec![0.0f32; xs.len()];
    group.bench_function("gelu 640x3072 slice", |b| b.iter(|| kernels::erf::gelu_slice(&xs, &mut ys)));
    group.finish();
}

criterion_group!(benches, kernels);
criterion_main!(benches);
