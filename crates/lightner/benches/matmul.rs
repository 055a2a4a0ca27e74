//! burn flex's matmul (the `gemm` crate) on the products that dominate a bart-base training step
//! (batch 16 × 40 tokens = 640 rows, d = 768, FFN 3072) and a greedy decoding step (16 rows): `cargo bench -p lightner --bench matmul`.
//! Criterion prints FLOP/s as "elements/s" (2·m·n·k per product), the figure to set beside a BLAS
//! on the same machine (issue: speed; `docs/performance.md`). One thread unless RAYON_NUM_THREADS
//! says otherwise. Beside it, the model's own paths on the same products: `gemm` into our own
//! buffer (`kernels::gemm`), and a system OpenBLAS where one is installed (`kernels::blas`; set
//! `OPENBLAS_NUM_THREADS=1`, as the CLI does, or OpenBLAS's threads run beside rayon's).

use burn::tensor::{Device, Tensor, TensorData};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use lightner::model::kernels::blas;
use lightner::model::kernels::gemm::{Mat, Split, matmul_blas, matmul_with};

fn tensor(rows: usize, cols: usize) -> Tensor<2> {
    // A cheap deterministic spread of values; the time does not depend on them.
    let x: Vec<f32> = (0..rows * cols).map(|i| (i * 7919 % 1000) as f32 / 1000.0 - 0.5).collect();
    Tensor::from_data(TensorData::new(x, [rows, cols]), &Device::flex())
}

fn values(len: usize) -> Vec<f32> {
    (0..len).map(|i| (i * 7919 % 1000) as f32 / 1000.0 - 0.5).collect()
}

fn matmul(c: &mut Criterion) {
    eprintln!("system BLAS: {}", blas::status());
    let mut group = c.benchmark_group("matmul f32");
    group.sample_size(20);
    // (m, k, n): FFN up, FFN down, a d×d projection, and the weight gradient of FFN up (x^T · dy).
    for (name, m, k, n) in [
        ("ffn up 640x768x3072", 640, 768, 3072),
        ("ffn down 640x3072x768", 640, 3072, 768),
        ("proj 640x768x768", 640, 768, 768),
        ("grad 768x640x3072", 768, 640, 3072),
        // One greedy decoding step of 16 sentences: 16 rows against the same weights.
        ("decode up 16x768x3072", 16, 768, 3072),
        ("decode down 16x3072x768", 16, 3072, 768),
        ("decode proj 16x768x768", 16, 768, 768),
    ] {
        let (a, b) = (tensor(m, k), tensor(k, n));
        group.throughput(Throughput::Elements((2 * m * n * k) as u64));
        group.bench_function(BenchmarkId::new("burn flex", name), |bch| {
            bch.iter(|| a.clone().matmul(b.clone()).into_data())
        });
        let (x, w) = (values(m * k), values(k * n));
        let (lhs, rhs) = (Mat::row_major(&x, m, k), Mat::row_major(&w, k, n));
        group.bench_function(BenchmarkId::new("gemm, ours", name), |bch| {
            bch.iter(|| matmul_with(lhs, rhs, Split::Gemm))
        });
        if blas::get().is_some() {
            group.bench_function(BenchmarkId::new("OpenBLAS", name), |bch| {
                bch.iter(|| matmul_blas(lhs, rhs).expect("row-major views"))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, matmul);
criterion_main!(benches);
