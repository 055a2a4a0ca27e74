//! LayerNorm over the last axis, forward and backward, one pass per row. Under autodiff burn
//! composes it from nine operations (two means, a subtraction, a square, a square root, a
//! division, the affine map), each a pass over the whole tensor on the calling thread, and its
//! backward runs as many again (`docs/performance.md`, "LayerNorm in training").
//!
//! Forward (burn's composition, element for element): `μ = mean(x)`, `σ = √(mean((x − μ)²) + ε)`,
//! `y = ((x − μ) / σ)·γ + β`. Backward, with `x̂ = (x − μ)/σ` and `ĝ = dy·γ`:
//! `dx = (ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) / σ`, `dγ = Σ_rows dy·x̂`, `dβ = Σ_rows dy`.
//! Rows run on the rayon pool; a row's result depends on that row alone.
//!
//! In the forward, a residual `r` may come with `x`: the rows are then those of `x + r` (BART's
//! post-LayerNorm `LN(x + h)`, in inference), summed row by row in cache instead of by a separate
//! pass over memory, element for element the f32 sum burn's addition computes.

use super::fresh::{self, Fresh};
use pulp::{Arch, Simd, WithSimd};
use rayon::prelude::*;

/// Rows per rayon task: a few hundred thousand elements of work at d = 768.
const ROWS_PER_TASK: usize = 16;

/// Columns per rayon task of the parameters' gradients (each task reads its columns of every row).
const PARAM_COLS_PER_TASK: usize = 128;

/// `x` `[rows, d]` (plus `res`, shaped as `x`, when given) → (`y` `[rows, d]`, per row `(μ, σ)`).
pub fn forward(
    x: &[f32],
    res: Option<&[f32]>,
    d: usize,
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
) -> (Vec<f32>, Vec<(f32, f32)>) {
    assert_eq!(gamma.len(), d, "gamma is [d]");
    assert_eq!(beta.len(), d, "beta is [d]");
    assert!(res.is_none_or(|r| r.len() == x.len()), "the residual is shaped as x");
    let rows = x.len().checked_div(d).unwrap_or(0);
    let mut stats = vec![(0.0f32, 0.0f32); rows];
    if rows == 0 {
        return (vec![0.0; x.len()], stats);
    }
    let mut y = Fresh::new(x.len());
    y.chunks(ROWS_PER_TASK * d)
        .into_par_iter()
        .zip(stats.par_chunks_mut(ROWS_PER_TASK))
        .enumerate()
        .for_each(|(task, (ys, st))| {
            let rows = task * ROWS_PER_TASK * d..task * ROWS_PER_TASK * d + ys.len();
            let (x, res) = (&x[rows.clone()], res.map(|r| &r[rows]));
            Arch::new().dispatch(Forward { x, res, d, gamma, beta, eps, y: ys.zeroed(), stats: st });
        });
    (y.finish(), stats)
}

/// Rows of [`forward`], compiled once per instruction set by [`pulp`].
struct Forward<'a> {
    x: &'a [f32],
    res: Option<&'a [f32]>,
    d: usize,
    gamma: &'a [f32],
    beta: &'a [f32],
    eps: f32,
    y: &'a mut [f32],
    stats: &'a mut [(f32, f32)],
}

impl WithSimd for Forward<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) {
        let Forward { x, res, d, gamma, beta, eps, y, stats } = self;
        let mut sum_row = vec![0.0f32; if res.is_some() { d } else { 0 }];
        for (row, ((xr, yr), s)) in
            x.chunks_exact(d).zip(y.chunks_exact_mut(d)).zip(stats.iter_mut()).enumerate()
        {
            let xr = row_of(xr, res, row, d, &mut sum_row);
            let mean = sum(xr) / d as f32;
            for (o, &v) in yr.iter_mut().zip(xr) {
                *o = (v - mean) * (v - mean);
            }
            let sigma = (sum(yr) / d as f32 + eps).sqrt();
            for (((o, &v), &g), &b) in yr.iter_mut().zip(xr).zip(gamma).zip(beta) {
                *o = (v - mean) / sigma * g + b;
            }
            *s = (mean, sigma);
        }
    }
}

/// Row `row` of `x` (`xr`), or of `x + res` computed into `scratch` when a residual is given.
#[inline(always)]
fn row_of<'a>(xr: &'a [f32], res: Option<&[f32]>, row: usize, d: usize, scratch: &'a mut [f32]) -> &'a [f32] {
    match res {
        Some(r) => {
            for ((s, &a), &b) in scratch.iter_mut().zip(xr).zip(&r[row * d..][..d]) {
                *s = a + b;
            }
            scratch
        }
        None => xr,
    }
}

/// The gradients of [`forward`] (without a residual) for `dy` `[rows, d]`: `dx`, and with
/// `params` also `dγ` and `dβ` (else empty).
pub fn backward(
    x: &[f32],
    d: usize,
    gamma: &[f32],
    stats: &[(f32, f32)],
    dy: &[f32],
    params: bool,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    assert_eq!(x.len(), dy.len(), "dy is shaped as x");
    assert_eq!(gamma.len(), d, "gamma is [d]");
    if d == 0 || x.is_empty() {
        return (vec![0.0; x.len()], vec![0.0; d], vec![0.0; d]);
    }
    let dx = fresh::par_chunks(x.len(), ROWS_PER_TASK * d, |task, out| {
        let first = task * ROWS_PER_TASK;
        let (x, dy) = (&x[first * d..][..out.len()], &dy[first * d..][..out.len()]);
        let stats = &stats[first..first + out.len() / d];
        Arch::new().dispatch(Backward { x, d, gamma, stats, dy, dx: out });
    });
    if !params {
        return (dx, Vec::new(), Vec::new());
    }
    // The parameters' gradients sum over rows, each column in row order (training the backbone
    // only), column ranges on the rayon pool: the same sums whatever the thread count.
    let (mut dgamma, mut dbeta) = (vec![0.0f32; d], vec![0.0f32; d]);
    dgamma
        .par_chunks_mut(PARAM_COLS_PER_TASK)
        .zip(dbeta.par_chunks_mut(PARAM_COLS_PER_TASK))
        .enumerate()
        .for_each(|(task, (dg, db))| {
            let c0 = task * PARAM_COLS_PER_TASK;
            for (row, &(mean, sigma)) in stats.iter().enumerate() {
                let at = row * d + c0..row * d + c0 + dg.len();
                for ((g, b), (&v, &dv)) in
                    dg.iter_mut().zip(db.iter_mut()).zip(x[at.clone()].iter().zip(&dy[at]))
                {
                    *g += dv * ((v - mean) / sigma);
                    *b += dv;
                }
            }
        });
    (dx, dgamma, dbeta)
}

/// Rows of [`backward`]'s `dx`, compiled once per instruction set by [`pulp`].
struct Backward<'a> {
    x: &'a [f32],
    d: usize,
    gamma: &'a [f32],
    stats: &'a [(f32, f32)],
    dy: &'a [f32],
    dx: &'a mut [f32],
}

impl WithSimd for Backward<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) {
        let Backward { x, d, gamma, stats, dy, dx } = self;
        let (mut g, mut xhat) = (vec![0.0f32; d], vec![0.0f32; d]);
        for (((xr, dr), o), &(mean, sigma)) in
            x.chunks_exact(d).zip(dy.chunks_exact(d)).zip(dx.chunks_exact_mut(d)).zip(stats)
        {
            for ((h, gi), ((&v, &dv), &gm)) in
                xhat.iter_mut().zip(g.iter_mut()).zip(xr.iter().zip(dr).zip(gamma))
            {
                *h = (v - mean) / sigma;
                *gi = dv * gm;
            }
            let a = sum(&g) / d as f32;
            for (o, (&gi, &h)) in o.iter_mut().zip(g.iter().zip(&xhat)) {
                *o = gi * h;
            }
            let b = sum(o) / d as f32;
            for (o, (&gi, &h)) in o.iter_mut().zip(g.iter().zip(&xhat)) {
                *o = (gi - a - h * b) / sigma;
            }
        }
    }
}

/// A sum in eight interleaved partial sums (so that it vectorises), then the tail: a fixed order.
#[inline(always)]
fn sum(x: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = x.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for l in 0..8 {
            acc[l] += c[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::kernels::test_support::values;

    /// dγ and dβ summed one row after another on one thread: the order the parallel columns keep.
    fn serial_params(x: &[f32], d: usize, stats: &[(f32, f32)], dy: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let (mut dg, mut db) = (vec![0.0f32; d], vec![0.0f32; d]);
        for (row, &(mean, sigma)) in stats.iter().enumerate() {
            for c in 0..d {
                let i = row * d + c;
                dg[c] += dy[i] * ((x[i] - mean) / sigma);
                db[c] += dy[i];
            }
        }
        (dg, db)
    }

    #[test]
    fn parameter_gradients_sum_each_column_in_row_order_on_any_pool() {
        // Columns past one task and not a multiple of it; rows past one task.
        let (rows, d) = (37, 300);
        let (x, dy) = (values(rows * d, 1, 3.0, 1.0), values(rows * d, 3, 1.0, 0.0));
        let (gamma, beta) = (values(d, 4, 0.5, 1.0), values(d, 5, 0.5, 0.0));
        let (_, stats) = forward(&x, None, d, &gamma, &beta, 1e-5);
        let want = serial_params(&x, d, &stats, &dy);
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a pool");
            let (dx, dg, db) = pool.install(|| backward(&x, d, &gamma, &stats, &dy, true));
            assert_eq!(dx.len(), x.len());
            assert_eq!((dg, db), want, "{threads} threads");
        }
    }
}
