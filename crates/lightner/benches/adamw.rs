//! The trainer's one-pass AdamW against burn's composed AdamW, on one prompt generator's output
//! weight for bart-base (800 × 6 layers · 2 · 768) and for MiniLM (800 × 6 · 2 · 384):
//! `cargo bench -p lightner --bench adamw`. Both run in the same process on the same tensors, so
//! their ratio is the figure to read (one thread unless RAYON_NUM_THREADS says otherwise).

use burn::optim::{AdamWConfig, Optimizer};
use burn::tensor::{Device, Tensor, TensorData};
use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use lightner::train::adamw::FusedAdamW;

fn tensor(n: usize, cols: usize, scale: f32) -> Tensor<2> {
    // A cheap deterministic spread of values; the arithmetic does not depend on them.
    let x: Vec<f32> = (0..n * cols).map(|i| ((i * 7919 % 1000) as f32 / 1000.0 - 0.5) * scale).collect();
    Tensor::from_data(TensorData::new(x, [n, cols]), &Device::flex())
}

fn adamw(c: &mut Criterion) {
    let mut group = c.benchmark_group("adamw step");
    group.sample_size(20);
    for (name, cols) in [("bart-base 800x9216", 9216), ("minilm 800x4608", 4608)] {
        let (p, g) = (tensor(800, cols, 0.1), tensor(800, cols, 1e-3));
        let fused = FusedAdamW::new(0.01, 1e-8);
        let composed = AdamWConfig::new().with_weight_decay(0.01).with_epsilon(1e-8).build();
        // Start both from a state one step in, as in the middle of training.
        let (_, state) = composed.step(1e-4, p.clone(), g.clone(), None);
        // Fresh, unshared copies for every step, as in training, where each parameter, gradient
        // and moment has one owner (made outside the timing).
        let own = |t: &Tensor<2>| Tensor::<2>::from_data(t.to_data(), &Device::flex());
        let inputs = || {
            let s = state.clone().map(|mut s| {
                s.momentum.moment_1 = own(&s.momentum.moment_1);
                s.momentum.moment_2 = own(&s.momentum.moment_2);
                s
            });
            (own(&p), own(&g), s)
        };
        group.bench_function(BenchmarkId::new("one pass", name), |b| {
            b.iter_batched(inputs, |(p, g, s)| fused.step(1e-4, p, g, s), BatchSize::PerIteration)
        });
        group.bench_function(BenchmarkId::new("burn composed", name), |b| {
            b.iter_batched(inputs, |(p, g, s)| composed.step(1e-4, p, g, s), BatchSize::PerIteration)
        });
    }
    group.finish();
}

criterion_group!(benches, adamw);
criterion_main!(benches);
