//! Attention of one query position per sequence — a decoding step — in one pass per head:
//! scores against every cached key, the masked softmax, and the weighted sum of the values.
//! burn composes the same from a batched product (one small `gemm` call per batch × head, run
//! one after another), a mask fill, a softmax and a second batched product; at a decoding step's
//! sizes (16 × 12 heads of 1 × 64 · 64 × K) those calls cost more than their arithmetic
//! (`docs/performance.md`, "Decoding").
//!
//! The formula is burn's, element for element: `s_j = q·k_j` (the caller scales `q`), hidden keys
//! set to `f32::MIN` (so a fully hidden row gives uniform weights, not NaN), `p = softmax(s)`,
//! `out = Σ_j p_j v_j`. Heads are independent and run on the rayon pool; each head's result does
//! not depend on the others or on the thread count.

use super::erf::exp;
use pulp::{Arch, Simd, WithSimd};
use rayon::prelude::*;

/// Heads per rayon task: enough work per task to outweigh its scheduling.
const HEADS_PER_TASK: usize = 8;

/// `shape` = `[b, h, n, dh]`: `q` `[b, h, dh]`, `k` and `v` `[b, h, n, dh]`, `hidden` `[b, n]`
/// (non-zero: the key is hidden for every head of that sequence) → `[b, h, dh]`.
pub fn attend_one(q: &[f32], k: &[f32], v: &[f32], hidden: &[f32], shape: [usize; 4]) -> Vec<f32> {
    let [b, h, n, dh] = shape;
    assert_eq!(q.len(), b * h * dh, "q is [b, h, dh]");
    assert_eq!(k.len(), b * h * n * dh, "k is [b, h, n, dh]");
    assert_eq!(v.len(), k.len(), "v is shaped as k");
    assert_eq!(hidden.len(), b * n, "hidden is [b, n]");
    let mut out = vec![0.0f32; b * h * dh];
    out.par_chunks_mut(HEADS_PER_TASK * dh.max(1)).enumerate().for_each(|(task, chunk)| {
        Arch::new().dispatch(Heads { q, k, v, hidden, h, n, dh, first: task * HEADS_PER_TASK, out: chunk });
    });
    out
}

/// Heads `first..` of [`attend_one`] into `out`, compiled once per instruction set by [`pulp`]
/// (the plain loops below vectorise to the widest one the CPU has).
struct Heads<'a> {
    q: &'a [f32],
    k: &'a [f32],
    v: &'a [f32],
    hidden: &'a [f32],
    h: usize,
    n: usize,
    dh: usize,
    first: usize,
    out: &'a mut [f32],
}

impl WithSimd for Heads<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) {
        let Heads { q, k, v, hidden, h, n, dh, first, out } = self;
        let mut scores = vec![0.0f32; n];
        for (i, o) in out.chunks_exact_mut(dh.max(1)).enumerate() {
            let head = first + i;
            let seq = head / h;
            let (qh, span) = (&q[head * dh..][..dh], head * n * dh..(head + 1) * n * dh);
            one_head(qh, &k[span.clone()], &v[span], &hidden[seq * n..][..n], &mut scores, o);
        }
    }
}

#[inline(always)]
/// One head: `q` `[dh]`, `k` and `v` `[n, dh]`, `hidden` `[n]`, into `out` `[dh]`.
fn one_head(q: &[f32], k: &[f32], v: &[f32], hidden: &[f32], scores: &mut [f32], out: &mut [f32]) {
    let dh = q.len();
    if dh == 0 || scores.is_empty() {
        return;
    }
    let mut max = f32::NEG_INFINITY;
    for ((s, kj), &hid) in scores.iter_mut().zip(k.chunks_exact(dh)).zip(hidden) {
        *s = if hid != 0.0 { f32::MIN } else { dot(q, kj) };
        max = max.max(*s);
    }
    // The branch-free exp of the GELU kernel (relative error under 3·10⁻⁷), so that this loop
    // vectorises; the sum stays in order.
    for s in scores.iter_mut() {
        *s = exp(*s - max);
    }
    let total: f32 = scores.iter().sum();
    out.fill(0.0);
    for (&s, vj) in scores.iter().zip(v.chunks_exact(dh)) {
        let p = s / total;
        for (o, &x) in out.iter_mut().zip(vj) {
            *o += p * x;
        }
    }
}

#[inline(always)]
/// `a·b` in eight interleaved partial sums (so that the compiler vectorises it), then the tail:
/// a fixed order, whatever the batch.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n).map(|i| (((i + seed) * 7919) % 2001) as f32 / 1000.0 - 1.0).collect()
    }

    /// The same attention in f64, straight from the formula.
    fn reference(q: &[f32], k: &[f32], v: &[f32], hidden: &[f32], shape: [usize; 4]) -> Vec<f64> {
        let [b, h, n, dh] = shape;
        let mut out = vec![0.0f64; b * h * dh];
        for head in 0..b * h {
            let seq = head / h;
            let s: Vec<f64> = (0..n)
                .map(|j| {
                    if hidden[seq * n + j] != 0.0 {
                        f32::MIN as f64
                    } else {
                        (0..dh).map(|d| q[head * dh + d] as f64 * k[(head * n + j) * dh + d] as f64).sum()
                    }
                })
                .collect();
            let max = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = s.iter().map(|x| (x - max).exp()).collect();
            let total: f64 = e.iter().sum();
            for d in 0..dh {
                out[head * dh + d] = (0..n).map(|j| e[j] / total * v[(head * n + j) * dh + d] as f64).sum();
            }
        }
        out
    }

    #[test]
    fn equals_the_f64_formula_with_and_without_hidden_keys() {
        for (b, h, n, dh) in [(1, 1, 1, 1), (3, 4, 7, 16), (2, 12, 50, 64), (5, 3, 9, 5)] {
            let (q, k, v) = (values(b * h * dh, 1), values(b * h * n * dh, 2), values(b * h * n * dh, 3));
            // None hidden; every third key hidden; one sequence entirely hidden (uniform weights).
            let some: Vec<f32> = (0..b * n).map(|i| (i % 3 == 0) as u8 as f32).collect();
            let mut all = vec![0.0f32; b * n];
            all[..n].fill(1.0);
            for hidden in [vec![0.0f32; b * n], some, all] {
                let got = attend_one(&q, &k, &v, &hidden, [b, h, n, dh]);
                let want = reference(&q, &k, &v, &hidden, [b, h, n, dh]);
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    // Scores up to dh in magnitude: their f32 rounding moves the weights by about
                    // dh·2⁻²⁴ relative; values are at most 1.
                    assert!(
                        (*g as f64 - w).abs() <= 1e-6 * (1.0 + dh as f64),
                        "{b}x{h}x{n}x{dh} [{i}]: {g} vs {w}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_head_does_not_depend_on_the_batch_or_the_thread_count() {
        let (b, h, n, dh) = (6, 5, 11, 8);
        let (q, k, v) = (values(b * h * dh, 4), values(b * h * n * dh, 5), values(b * h * n * dh, 6));
        let hidden: Vec<f32> = (0..b * n).map(|i| (i % 4 == 1) as u8 as f32).collect();
        let all = attend_one(&q, &k, &v, &hidden, [b, h, n, dh]);
        for s in 0..b {
            let one = attend_one(
                &q[s * h * dh..(s + 1) * h * dh],
                &k[s * h * n * dh..(s + 1) * h * n * dh],
                &v[s * h * n * dh..(s + 1) * h * n * dh],
                &hidden[s * n..(s + 1) * n],
                [1, h, n, dh],
            );
            assert_eq!(one, all[s * h * dh..(s + 1) * h * dh], "sequence {s}");
        }
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a pool");
            assert_eq!(
                pool.install(|| attend_one(&q, &k, &v, &hidden, [b, h, n, dh])),
                all,
                "{threads} threads"
            );
        }
    }
}
