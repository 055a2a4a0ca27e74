//! The 48 matrix products of one bart-base decoding step (per decoder layer: q, k, v and out of
//! the self-attention, q and out of the cross-attention, fc1, fc2), by each decoding kernel in
//! turn, interleaved in one process so that a slow minute on a shared machine lands on every
//! variant alike; prints each variant's best and median over 25 rounds.
//!
//! `RAYON_NUM_THREADS=T cargo run --release -p lightner --example decode_products -- [ROWS]`
//! (ROWS: decoder states per product, default 16 as in `lightner bench`).
//!
//! Variants: `skinny` (weight `[in, out]`, blocked rows, prefetch on) and `skinny_dot` (weight
//! kept `[out, in]`, dot products) with and without its prefetch; and the system BLAS when one is
//! in use (`kernels::blas`; set `OPENBLAS_NUM_THREADS=1` as the CLI does), bias added after.

use lightner::model::kernels::gemm::{Mat, matmul_blas};
use lightner::model::kernels::{blas, skinny, skinny_dot};
use std::time::Instant;

fn main() {
    let rows: usize = match std::env::args().nth(1) {
        Some(s) => s.parse().unwrap_or_else(|_| panic!("ROWS must be a number, got {s:?}")),
        None => 16,
    };
    let layer =
        [(768, 768), (768, 768), (768, 768), (768, 768), (768, 768), (768, 768), (768, 3072), (3072, 768)];
    let values = |n: usize, seed: usize| -> Vec<f32> {
        (0..n).map(|i| (((i + seed) * 7919) % 2001) as f32 / 1e5 - 0.01).collect()
    };
    // (weight [k, n], the same kept [n, k], bias, input, k, n); distinct weights, so that each
    // product reads its weight from memory as in a real step.
    type Product = (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>, usize, usize);
    let products: Vec<Product> = (0..6)
        .flat_map(|_| layer)
        .enumerate()
        .map(|(i, (k, n))| {
            let w = values(k * n, i);
            let wt = (0..k * n).map(|j| w[(j % k) * n + j / k]).collect();
            (w, wt, values(n, i + 1), values(rows * k, i + 2), k, n)
        })
        .collect();
    let mut names = vec!["skinny, prefetch on", "skinny_dot, prefetch on", "skinny_dot, prefetch off"];
    println!("system BLAS: {}", blas::status());
    if blas::get().is_some() {
        names.push("system BLAS, weight [out, in]");
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for _ in 0..25 {
        for (variant, t) in times.iter_mut().enumerate() {
            let start = Instant::now();
            let mut total = 0usize;
            for (w, wt, b, x, k, n) in &products {
                total += match variant {
                    0 => skinny::linear_rows_with(x, rows, w, *k, *n, b, true).len(),
                    1 => skinny_dot::linear_rows_with(x, rows, wt, *k, *n, b, true).len(),
                    2 => skinny_dot::linear_rows_with(x, rows, wt, *k, *n, b, false).len(),
                    _ => {
                        let mut y = matmul_blas(Mat::row_major(x, rows, *k), Mat::row_major(wt, *n, *k).t())
                            .expect("the library takes these shapes");
                        for row in y.chunks_mut(*n) {
                            row.iter_mut().zip(b).for_each(|(v, b)| *v += b);
                        }
                        y.len()
                    }
                };
            }
            std::hint::black_box(total);
            t.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    for (name, t) in names.iter().zip(&mut times) {
        t.sort_by(f64::total_cmp);
        println!("{rows} rows, {name:26} best {:6.1} ms, median {:6.1} ms", t[0], t[t.len() / 2]);
    }
}
