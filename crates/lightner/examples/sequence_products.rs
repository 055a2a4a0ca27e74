//! The matrix products of one bart-base encoder layer and one decoder layer over the bench's
//! batch (640 source rows, 192 target rows), forward (`x·wᵀ`, the weight kept `[out, in]` as HF
//! stores it) and the input gradients of the backward (`g·w`), by each [`Split`] in turn,
//! interleaved in one process so that a slow minute on a shared machine lands on both alike;
//! prints each split's best and median over the rounds, and checks that both give the same bits.
//!
//! `RAYON_NUM_THREADS=T cargo run --release -p lightner --example sequence_products -- [ROUNDS]`
//! (default 15 rounds). At one thread both splits are the same code.

use lightner::model::kernels::gemm::{Mat, Split, matmul_with};
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
    let run = |split: Split| -> (Vec<Vec<f32>>, f64) {
        let t = Instant::now();
        let mut outs = Vec::new();
        for (x, w, g, m, k, n) in &products {
            let w_kn = Mat::row_major(w, *n, *k).t();
            outs.push(matmul_with(Mat::row_major(x, *m, *k), w_kn, split));
            outs.push(matmul_with(Mat::row_major(g, *m, *n), Mat::row_major(w, *n, *k), split));
        }
        (outs, t.elapsed().as_secs_f64() * 1e3)
    };
    let (a, _) = run(Split::Gemm);
    let (b, _) = run(Split::Rows);
    assert!(a == b, "the two splits must give the same bits");
    let mut times = [Vec::new(), Vec::new()];
    for _ in 0..rounds {
        times[0].push(run(Split::Gemm).1);
        times[1].push(run(Split::Rows).1);
    }
    for (name, t) in ["gemm's threading", "bands of rows"].iter().zip(&mut times) {
        t.sort_by(f64::total_cmp);
        println!("{name:>18}: best {:.1} ms, median {:.1} ms", t[0], t[t.len() / 2]);
    }
}
