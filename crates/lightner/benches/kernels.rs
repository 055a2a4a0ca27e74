//! The element-wise kernels of a training step, forward + backward on an autodiff device, at the
//! bart-base shape (batch 16 × 40 tokens, d = 768): LayerNorm over `[640, 768]`, the attention
//! softmax over `[16, 12, 40, 50]` and GELU over `[640, 3072]`, burn's against ours
//! (`lightner::model::kernels`) where we have one; in inference, a sub-layer's end `LN(x + h)`
//! with the sum as a tensor of its own against the sum formed inside the LayerNorm. Then the linear layers of a greedy decoding
//! step (16 rows), burn's against `kernels::linear`: each shape alone, and the 48 products of one
//! bart-base decoder step in turn (weights then come from memory, as when decoding), and those 48
//! through `kernels::skinny` with its weight prefetch off and on. Last, one
//! decoding step's cross-attention (16 sentences × 12 heads, one query over 50 keys), burn's
//! composition against `kernels::attend_one`; and one encoder layer's self-attention (16
//! sentences × 12 heads, 40 queries over 10 prefix and 40 own keys), burn's composition
//! (`kernels::attention_composed`) against `kernels::attention`, forward alone and forward +
//! backward. `cargo bench -p lightner --bench kernels`.

use burn::module::Param;
use burn::nn::{LayerNormConfig, Linear};
use burn::tensor::activation::{gelu, softmax};
use burn::tensor::{Device, Tensor, TensorData};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use lightner::model::kernels;

/// `kernels::attention`'s signature (ours and burn's composition share it).
type AttentionFn = fn(
    Tensor<4>,
    Tensor<4>,
    Tensor<4>,
    Option<(Tensor<4>, Tensor<4>)>,
    Option<Tensor<4, burn::tensor::Bool>>,
    Option<Tensor<4>>,
    f32,
) -> Tensor<4>;

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
    group.bench_function("layer_norm 640x768 ours", |b| {
        b.iter(|| kernels::layer_norm(&ln, 1e-5, x.clone()).sum().backward())
    });
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
    // Inference's `LN(x + h)`: burn's addition and LayerNorm, against ours fused.
    let ln = LayerNormConfig::new(768).init(&flex);
    let (x, h) = (tensor([16, 40, 768], &flex), tensor([16, 40, 768], &flex));
    group.bench_function("add + layer_norm 640x768 burn", |b| {
        b.iter(|| ln.forward(x.clone() + h.clone()).into_data())
    });
    group.bench_function("add + layer_norm 640x768 fused", |b| {
        b.iter(|| kernels::add_layer_norm(&ln, 1e-5, x.clone(), h.clone()).into_data())
    });
    let xs: Vec<f32> = (0..640 * 3072).map(|i| (i % 1000) as f32 / 100.0 - 5.0).collect();
    let mut ys = vec![0.0f32; xs.len()];
    group.bench_function("gelu 640x3072 slice", |b| b.iter(|| kernels::erf::gelu_slice(&xs, &mut ys)));
    group.finish();

    // A new result zeroed on the calling thread first (`vec![0.0; n]`, the old way) against one
    // zeroed piece by piece by the tasks that write it (`kernels::fresh`).
    let mut group = c.benchmark_group("fresh results");
    group.sample_size(30);
    group.bench_function("gelu 640x3072 into vec![0.0; n]", |b| {
        b.iter(|| {
            let mut ys = vec![0.0f32; xs.len()];
            kernels::erf::gelu_slice(&xs, &mut ys);
            ys
        })
    });
    group.bench_function("gelu 640x3072 into fresh pieces", |b| b.iter(|| kernels::erf::gelu_vec(&xs)));
    let values = |n: usize| -> Vec<f32> { (0..n).map(|i| (i * 7919 % 1000) as f32 / 500.0 - 1.0).collect() };
    let (x, w, bias) = (values(640 * 768), values(768 * 3072), values(3072));
    group.bench_function("x·w + b 640x768·768x3072, bias rows copied first", |b| {
        b.iter(|| {
            let mut out: Vec<f32> = Vec::with_capacity(640 * 3072);
            for _ in 0..640 {
                out.extend_from_slice(&bias);
            }
            let (xm, wm) =
                (kernels::gemm::Mat::row_major(&x, 640, 768), kernels::gemm::Mat::row_major(&w, 768, 3072));
            kernels::gemm::matmul_into(&mut out, xm, wm, true);
            out
        })
    });
    group.bench_function("x·w + b 640x768·768x3072, bias rows in fresh pieces", |b| {
        b.iter(|| kernels::gemm::linear(&x, 640, kernels::gemm::Mat::row_major(&w, 768, 3072), &bias))
    });
    group.finish();

    // One decoder layer's products in a greedy step: q, k, v, out (self), q, out (cross), fc1, fc2.
    // Each weight laid out `[in, out]` (burn's layout: the blocked `skinny` kernel) and as the
    // models keep it, HF's `[out, in]` seen transposed (`layers::linear_weight`: `skinny_dot`).
    let layer_shapes =
        [(768, 768), (768, 768), (768, 768), (768, 768), (768, 768), (768, 768), (768, 3072), (3072, 768)];
    let linear = |d_in: usize, d_out: usize, kept: bool| {
        let w = tensor([d_in, d_out], &flex).mul_scalar(0.01);
        let w = if kept { lightner::model::layers::linear_weight(w.into_data(), &flex) } else { w };
        Linear { weight: Param::from_tensor(w), bias: Some(Param::from_tensor(tensor([d_out], &flex))) }
    };
    let layouts = [("w [in, out]", false), ("w kept [out, in]", true)];
    let rows = 16;
    let mut group = c.benchmark_group("decode linear");
    group.sample_size(20);
    for (d_in, d_out) in [(768, 768), (768, 3072), (3072, 768)] {
        let x = tensor([rows, 1, d_in], &flex);
        let name = format!("{rows}x{d_in}x{d_out}");
        group.throughput(Throughput::Elements((2 * rows * d_in * d_out) as u64));
        let l = linear(d_in, d_out, false);
        group
            .bench_function(BenchmarkId::new("burn", &name), |b| b.iter(|| l.forward(x.clone()).into_data()));
        for (layout, kept) in layouts {
            let l = linear(d_in, d_out, kept);
            group.bench_function(BenchmarkId::new(format!("ours, {layout}"), &name), |b| {
                b.iter(|| kernels::linear(&l, x.clone()).into_data())
            });
        }
    }
    let flops: usize = (0..6).flat_map(|_| layer_shapes).map(|(i, o)| 2 * rows * i * o).sum();
    group.throughput(Throughput::Elements(flops as u64));
    let step = |kept: bool| -> Vec<(Linear, Tensor<3>)> {
        (0..6)
            .flat_map(|_| layer_shapes)
            .map(|(d_in, d_out)| (linear(d_in, d_out, kept), tensor([rows, 1, d_in], &flex)))
            .collect()
    };
    let plain = step(false);
    group.bench_function(BenchmarkId::new("burn", "decoder step, 48 products"), |b| {
        b.iter(|| plain.iter().map(|(l, x)| l.forward(x.clone()).into_data().num_elements()).sum::<usize>())
    });
    for (layout, kept) in layouts {
        let products = step(kept);
        group.bench_function(BenchmarkId::new(format!("ours, {layout}"), "decoder step, 48 products"), |b| {
            b.iter(|| {
                products
                    .iter()
                    .map(|(l, x)| kernels::linear(l, x.clone()).into_data().num_elements())
                    .sum::<usize>()
            })
        });
    }
    // The two kernels on the same 48 products as plain slices, each with its weight prefetch off
    // and on (the same bits either way).
    // (weight [in, out], the same kept [out, in], bias, input, k, n)
    type Product = (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>, usize, usize);
    let raw: Vec<Product> = (0..6)
        .flat_map(|_| layer_shapes)
        .map(|(k, n)| {
            let host = |t: Tensor<1>| t.into_data().try_to_vec::<f32>().expect("f32");
            let w = host(tensor([k * n], &flex).mul_scalar(0.01));
            let wt = (0..k * n).map(|i| w[(i % k) * n + i / k]).collect();
            (w, wt, host(tensor([n], &flex)), host(tensor([rows * k], &flex)), k, n)
        })
        .collect();
    for prefetch in [false, true] {
        let name = format!("decoder step, 48 products, prefetch {}", if prefetch { "on" } else { "off" });
        group.bench_function(BenchmarkId::new("skinny", &name), |b| {
            b.iter(|| {
                raw.iter()
                    .map(|(w, _, bias, x, k, n)| {
                        kernels::skinny::linear_rows_with(x, rows, w, *k, *n, bias, prefetch).len()
                    })
                    .sum::<usize>()
            })
        });
        group.bench_function(BenchmarkId::new("skinny dot", &name), |b| {
            b.iter(|| {
                raw.iter()
                    .map(|(_, wt, bias, x, k, n)| {
                        kernels::skinny_dot::linear_rows_with(x, rows, wt, *k, *n, bias, prefetch).len()
                    })
                    .sum::<usize>()
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("decode attention");
    group.sample_size(30);
    let (q, k, v) =
        (tensor([16, 12, 1, 64], &flex), tensor([16, 12, 50, 64], &flex), tensor([16, 12, 50, 64], &flex));
    let hidden: Vec<bool> = (0..16 * 50).map(|i| i % 50 >= 45).collect();
    let mask = Tensor::<4, burn::tensor::Bool>::from_data(TensorData::new(hidden, [16, 1, 1, 50]), &flex);
    group.bench_function("16x12 heads, 1 query x 50 keys, composed", |b| {
        b.iter(|| {
            let s = q
                .clone()
                .matmul(k.clone().swap_dims(2, 3))
                .mask_fill(mask.clone().expand([16, 12, 1, 50]), f32::MIN);
            softmax(s, 3).matmul(v.clone()).into_data()
        })
    });
    group.bench_function("16x12 heads, 1 query x 50 keys, ours", |b| {
        b.iter(|| kernels::attend_one(q.clone(), k.clone(), v.clone(), Some(mask.clone())).into_data())
    });
    group.finish();

    let mut group = c.benchmark_group("sequence attention");
    group.sample_size(20);
    for device in [flex.clone(), ad.clone()] {
        // Keys and values as the model makes them: the projection `[B, S, H, dh]`, split into
        // heads by `swap_dims` (a view) in each run.
        let (q, k, v) = (
            tensor([16, 40, 12, 64], &device),
            tensor([16, 40, 12, 64], &device),
            tensor([16, 40, 12, 64], &device),
        );
        let prefix = (tensor([1, 12, 10, 64], &device), tensor([1, 12, 10, 64], &device));
        let hidden: Vec<bool> = (0..16 * 50).map(|i| i % 50 >= 45).collect();
        let mask =
            Tensor::<4, burn::tensor::Bool>::from_data(TensorData::new(hidden, [16, 1, 1, 50]), &device);
        let heads = |x: &Tensor<4>| x.clone().swap_dims(1, 2);
        let run = |f: AttentionFn| {
            let out =
                f(q.clone(), heads(&k), heads(&v), Some(prefix.clone()), Some(mask.clone()), None, 0.125);
            if device.is_autodiff() {
                let _ = out.sum().backward();
            } else {
                let _ = out.into_data();
            }
        };
        let what = if device.is_autodiff() { "fwd+bwd" } else { "forward" };
        group.bench_function(format!("16x12 heads, 40 queries x (10 + 40) keys, {what}, composed"), |b| {
            b.iter(|| run(kernels::attention_composed))
        });
        group.bench_function(format!("16x12 heads, 40 queries x (10 + 40) keys, {what}, ours"), |b| {
            b.iter(|| run(kernels::attention))
        });
    }
    group.finish();

    // A feed-forward product of an encoder layer and its input gradient: the same 3.0 GFLOP,
    // the weight laid out `[768, 3072]` and as the models keep it, HF's `[3072, 768]` seen
    // transposed (the same bits).
    let mut group = c.benchmark_group("linear products");
    group.sample_size(20);
    let values = |n: usize| -> Vec<f32> { (0..n).map(|i| (i * 7919 % 1000) as f32 / 500.0 - 1.0).collect() };
    let (x, w, bias, g) = (values(640 * 768), values(768 * 3072), values(3072), values(640 * 3072));
    let wt: Vec<f32> = (0..768 * 3072).map(|i| w[(i % 768) * 3072 + i / 768]).collect();
    for (layout, wm) in [
        ("w [768, 3072]", kernels::gemm::Mat::row_major(&w, 768, 3072)),
        ("w kept [3072, 768]", kernels::gemm::Mat::row_major(&wt, 3072, 768).t()),
    ] {
        group.bench_function(format!("x·w + b, 640x768 · 768x3072, {layout}"), |b| {
            b.iter(|| kernels::gemm::linear(&x, 640, wm, &bias))
        });
        group.bench_function(format!("g·wᵀ, 640x3072 · (768x3072)ᵀ, {layout}"), |b| {
            b.iter(|| kernels::gemm::linear_x_grad(&g, 640, wm))
        });
    }
    // Column sums (a trained bias's gradient): compare RAYON_NUM_THREADS=1 with 2.
    group.bench_function("bias gradient, column sums of 640x3072", |b| {
        b.iter(|| kernels::gemm::linear_bias_grad(&g, 3072))
    });
    group.finish();
}

criterion_group!(benches, kernels);
criterion_main!(benches);
