//! The matrix products of one bart-base encoder layer and one decoder layer over the bench's
//! batch (640 source rows, 192 target rows), forward (`x·wᵀ`, the weight kept `[out, in]` as HF
//! stores it) and the input gradients of the backward (`g·w`), by each [`Split`] in turn,
//! interleaved in one process so that a slow minute on a shared machine lands on both alike;
//! prints each split's best and median over the rounds, and checks that both give the same bits.
//! Where a system OpenBLAS is in use (`LIGHTNER_BLAS`, `model::kernels::blas`), its products run
//! in the same rounds, and the largest difference from gemm's is printed.
//!
//! `RAYON_NUM_THREADS=T cargo run --release -p lightner --example sequence_products -- [ROUNDS]`
//! (default 15 rounds). At one thread both splits are the same code. OpenBLAS's own threads are
//! off only when `OPENBLAS_NUM_THREADS=1` is set (the CLI sets it; this probe does not).

use lightner::model::kernels::blas;
use lightner::model::kernels::gemm::{Mat, Split, matmul_blas, matmul_with};
use std::time::Instant;

fn main() {
    let rounds: usize = match std::env::args().nth(1) {
        Some(s) => s.parse().unwrap_or_else(|_| panic!("ROUNDS must be a number, got {s:?}")),
        None => 15,
    };
    let values = |n: usize, seed: usize| -> Vec<f32> {
        (0..n).map(|i| (((i + seed) * 7919) % 2001) as f32 / 1e5 - 0.01).collect()
    };
    // (rows, in, out): encoder q, k, v, o, fc1, fc2 on 640 rows; decoder self q, k, v, o, cross
    // q, o on 192 rows, cross k, v on the 640 source rows, fc1, fc2 on 192 rows.
    let (d, f) = (768, 3072);
    let mut shapes = vec![(640, d, d); 4];
    shapes.extend([(640, d, f), (640, f, d)]);
    shapes.extend(vec![(192, d, d); 6]);
    shapes.extend([(640, d, d), (640, d, d), (192, d, f), (192, f, d)]);
    // Forward x [m, in] · w [out, in]ᵀ, and backward g [m, out] · w [out, in]: (x, w, g, m, in,
    // out).
    type Product = (Vec<f32>, Vec<f32>, Vec<f32>, usize, usize, usize);
    let products: Vec<Product> = shapes
        .iter()
        .enumerate()
        .map(|(i, &(m, k, n))| (values(m * k, i), values(n * k, i + 1), values(m * n, i + 2), m, k, n))
        .collect();
    // A split of gemm, or (None) the system BLAS.
    let run = |split: Option<Split>| -> (Vec<Vec<f32>>, f64) {
        let t = Instant::now();
        let mut outs = Vec::new();
        let product = |lhs, rhs| match split {
            Some(split) => matmul_with(lhs, rhs, split),
            None => matmul_blas(lhs, rhs).expect("BLAS takes these views"),
        };
        for (x, w, g, m, k, n) in &products {
            let w_kn = Mat::row_major(w, *n, *k).t();
            outs.push(product(Mat::row_major(x, *m, *k), w_kn));
            outs.push(product(Mat::row_major(g, *m, *n), Mat::row_major(w, *n, *k)));
        }
        (outs, t.elapsed().as_secs_f64() * 1e3)
    };
    let mut ways: Vec<(&str, Option<Split>)> =
        vec![("gemm's threading", Some(Split::Gemm)), ("bands of rows", Some(Split::Rows))];
    println!("system BLAS: {}", blas::status());
    if blas::get().is_some() {
        ways.push(("system BLAS", None));
    }
    let (a, _) = run(Some(Split::Gemm));
    let (b, _) = run(Some(Split::Rows));
    assert!(a == b, "the two splits must give the same bits");
    if blas::get().is_some() {
        let (c, _) = run(None);
        let worst = a
            .iter()
            .flatten()
            .zip(c.iter().flatten())
            .map(|(x, y)| (x - y).abs() / x.abs().max(1e-3))
            .fold(0.0f32, f32::max);
        println!("largest relative difference, BLAS against gemm: {worst:.2e}");
    }
    let mut times = vec![Vec::new(); ways.len()];
    for _ in 0..rounds {
        for (t, (_, split)) in times.iter_mut().zip(&ways) {
            t.push(run(*split).1);
        }
    }
    for ((name, _), t) in ways.iter().zip(&mut times) {
        t.sort_by(f64::total_cmp);
        println!("{name:>18}: best {:.1} ms, median {:.1} ms", t[0], t[t.len() / 2]);
    }
}
