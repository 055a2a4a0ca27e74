//! `x·W + b` for few rows of `x`: one decoding step multiplies 16 or so decoder states by every
//! weight matrix of the decoder. There the `gemm` crate behind burn flex reaches about a third of
//! this core's peak, because it walks the weight `[k, n]` column panel by column panel, each panel
//! a stride-`n` stream the prefetchers do not follow (`docs/performance.md`, "Decoding").
//!
//! This kernel reads the weight in blocks of whole rows instead — `kb` consecutive rows are one
//! contiguous stretch of memory — and keeps the `[m, n]` result in cache between blocks. Within a
//! block, a register tile of up to 6 rows × 2 vectors accumulates with fused multiply-adds
//! ([`pulp`] picks AVX2+FMA, AVX-512 or plain code at run time; no `unsafe` here).
//!
//! The panels' first loads wait on memory (each panel is one cache line in each of `kb` weight
//! rows, more streams than the hardware prefetchers follow), so while a panel is computed the
//! one [`PREFETCH_PANELS`] ahead is prefetched ([`super::prefetch`]).
//!
//! Each result element is `b[j] + Σ_k x[r,k]·W[k,j]` summed in increasing `k`, whatever `m` and
//! the thread count: a row's result does not depend on the rows beside it (batched = single).
//!
//! The models keep their linear weights as HF stores them, `[n, k]`, and decode through
//! [`super::skinny_dot`], which reads that layout faster; this kernel serves weights laid out
//! `[k, n]`, burn's own layout (a weight made contiguous, or built that way).

use super::prefetch;
use pulp::{Arch, Simd, WithSimd};
use rayon::prelude::*;

/// Rows up to which a lone matrix (not a decoding step) takes [`linear_rows`]: it beats burn flex's
/// product up to about 48 rows on an AVX2 core (1.2 to 1.5× at 16), and falls behind from 64
/// (`docs/performance.md`). Decoding steps take it at any row count, for the reason given at
/// `kernels::linear`.
pub const MAX_ROWS: usize = 32;

/// Register tile height: 6 rows × 2 vectors = 12 accumulators, plus two weight vectors and a
/// broadcast, fit the 16 vector registers of AVX2.
const TILE_ROWS: usize = 6;

/// How many panels ahead of the one being computed its weight lines are prefetched. Measured on
/// the 48 products of a bart-base decoding step, one thread, AVX2 (best of 25 interleaved runs):
/// 16 rows 38.2 ms without, 35.7 with 2 ahead (35.6 with 3); 4 rows 20.2 → 17.8 ms (16.4 with 3);
/// one row none (12.5 → 12.9 ms: a lone row streams the weight at memory speed already).
const PREFETCH_PANELS: usize = 2;

/// Weight rows per block: few rows keep every column panel's stream short when `m` is tiny (the
/// product is then bound by memory), more rows amortise reloading the accumulators when it is not.
fn block_rows(m: usize) -> usize {
    (4 * m).clamp(8, 256)
}

/// `x` `[m, k]` (row-major) times `w` `[k, n]` plus `bias` `[n]`, as a new `[m, n]`. Column ranges
/// run on the current rayon pool's threads.
pub fn linear_rows(x: &[f32], m: usize, w: &[f32], k: usize, n: usize, bias: &[f32]) -> Vec<f32> {
    linear_rows_with(x, m, w, k, n, bias, m > 1)
}

/// [`linear_rows`], prefetching the weight lines ahead or not (`linear_rows` does for more than
/// one row); the same result either way. Public for the benchmark that measures the prefetch.
pub fn linear_rows_with(
    x: &[f32],
    m: usize,
    w: &[f32],
    k: usize,
    n: usize,
    bias: &[f32],
    prefetch: bool,
) -> Vec<f32> {
    assert_eq!(x.len(), m * k, "x is [m, k]");
    assert_eq!(w.len(), k * n, "w is [k, n]");
    assert_eq!(bias.len(), n, "bias is [n]");
    if m == 0 || n == 0 {
        return vec![0.0f32; m * n];
    }
    // Column ranges of whole 32-column panels (a multiple of either vector width), one per thread.
    by_column_ranges(m, n, 32, |c0, c1, part| columns(x, m, k, w, n, bias, c0, c1, prefetch, part))
}

/// The `[m, n]` result of `fill(c0, c1, part)`, which writes columns `c0..c1` of it into `part`
/// (`[m, c1 − c0]`, zeroed): one range of whole `align`-column groups per thread of the current
/// rayon pool, the parts copied into place after. A column's values do not depend on how the
/// columns were split.
pub(super) fn by_column_ranges(
    m: usize,
    n: usize,
    align: usize,
    fill: impl Fn(usize, usize, &mut [f32]) + Sync,
) -> Vec<f32> {
    let threads = rayon::current_num_threads().max(1);
    let per = n.div_ceil(align).div_ceil(threads).max(1) * align;
    let ranges: Vec<(usize, usize)> = (0..n).step_by(per).map(|c| (c, (c + per).min(n))).collect();
    if ranges.len() <= 1 {
        let mut out = vec![0.0f32; m * n];
        fill(0, n, &mut out);
        return out;
    }
    let parts: Vec<Vec<f32>> = ranges
        .par_iter()
        .map(|&(c0, c1)| {
            let mut part = vec![0.0f32; m * (c1 - c0)];
            fill(c0, c1, &mut part);
            part
        })
        .collect();
    let mut out = vec![0.0f32; m * n];
    for (&(c0, c1), part) in ranges.iter().zip(&parts) {
        let width = c1 - c0;
        for (r, src) in part.chunks_exact(width).enumerate() {
            out[r * n + c0..r * n + c1].copy_from_slice(src);
        }
    }
    out
}

/// Columns `c0..c1` of the product into `out` (`[m, c1 − c0]`).
#[allow(clippy::too_many_arguments)]
fn columns(
    x: &[f32],
    m: usize,
    k: usize,
    w: &[f32],
    n: usize,
    bias: &[f32],
    c0: usize,
    c1: usize,
    prefetch: bool,
    out: &mut [f32],
) {
    let width = c1 - c0;
    for row in out.chunks_exact_mut(width) {
        row.copy_from_slice(&bias[c0..c1]);
    }
    Arch::new().dispatch(Columns { x, m, k, w, n, c0, width, kb: block_rows(m), prefetch, out });
}

/// The SIMD body of [`columns`], compiled once per instruction set by [`pulp`].
struct Columns<'a> {
    x: &'a [f32],
    m: usize,
    k: usize,
    w: &'a [f32],
    n: usize,
    c0: usize,
    width: usize,
    kb: usize,
    prefetch: bool,
    out: &'a mut [f32],
}

impl WithSimd for Columns<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let Columns { x, m, k, w, n, c0, width, kb, prefetch, out } = self;
        let nr = 2 * S::F32_LANES;
        let full = width / nr * nr;
        for (blk, wb) in w.chunks(kb * n).enumerate() {
            let b = Block { x, k, k0: blk * kb, len: wb.len() / n, wb, n, ld: width, prefetch };
            for j in (0..full).step_by(nr) {
                let mut r0 = 0;
                while r0 < m {
                    let rows = (m - r0).min(TILE_ROWS);
                    match rows {
                        6 => tile::<S, 6>(simd, &b, out, c0 + j, j, r0),
                        5 => tile::<S, 5>(simd, &b, out, c0 + j, j, r0),
                        4 => tile::<S, 4>(simd, &b, out, c0 + j, j, r0),
                        3 => tile::<S, 3>(simd, &b, out, c0 + j, j, r0),
                        2 => tile::<S, 2>(simd, &b, out, c0 + j, j, r0),
                        _ => tile::<S, 1>(simd, &b, out, c0 + j, j, r0),
                    }
                    r0 += rows;
                }
            }
            // Columns past the last whole panel, one at a time, in the same k order.
            for j in full..width {
                for r in 0..m {
                    let xr = b.row(r);
                    let mut acc = out[r * width + j];
                    for (xv, wr) in xr.iter().zip(wb.chunks_exact(n)) {
                        acc = xv.mul_add(wr[c0 + j], acc);
                    }
                    out[r * width + j] = acc;
                }
            }
        }
    }
}

/// One block of weight rows `k0..k0 + len`: `wb` those rows (`[len, n]`), `x` all of `x`
/// (`[m, k]`, row-major); `ld` is the row stride of the result.
struct Block<'a> {
    x: &'a [f32],
    k: usize,
    k0: usize,
    len: usize,
    wb: &'a [f32],
    n: usize,
    ld: usize,
    /// Whether tiles prefetch the weight lines [`PREFETCH_PANELS`] panels ahead.
    prefetch: bool,
}

impl Block<'_> {
    /// Row `r` of `x` over this block's depth: the multipliers of its weight rows.
    fn row(&self, r: usize) -> &[f32] {
        &self.x[r * self.k + self.k0..][..self.len]
    }
}

/// Adds the block's contribution to result rows `r0..r0 + R`, columns `j..j + 2·lanes` (weight
/// columns `wj..`), accumulating in registers.
#[inline(always)]
fn tile<S: Simd, const R: usize>(simd: S, b: &Block<'_>, out: &mut [f32], wj: usize, j: usize, r0: usize) {
    let nr = 2 * S::F32_LANES;
    let mut acc = [[simd.splat_f32s(0.0); 2]; R];
    for (r, a) in acc.iter_mut().enumerate() {
        let (o, _) = S::as_simd_f32s(&out[(r0 + r) * b.ld + j..][..nr]);
        *a = [o[0], o[1]];
    }
    // The tile's rows of x: each weight row's multipliers are one element of each.
    let xs: [&[f32]; R] = std::array::from_fn(|r| b.row(r0 + r));
    // The first row tile of a panel asks for the lines of the panel two ahead (later tiles of
    // this panel find theirs in cache); 16 floats are one 64-byte line.
    let ahead = if b.prefetch && r0 == 0 { wj + PREFETCH_PANELS * nr } else { usize::MAX };
    for (i, wr) in b.wb.chunks_exact(b.n).enumerate() {
        if ahead < b.n {
            for line in (ahead..(ahead + nr).min(b.n)).step_by(16) {
                prefetch::line(wr, line);
            }
        }
        let (wv, _) = S::as_simd_f32s(&wr[wj..wj + nr]);
        let (w0, w1) = (wv[0], wv[1]);
        for (a, xr) in acc.iter_mut().zip(&xs) {
            let x = simd.splat_f32s(xr[i]);
            a[0] = simd.mul_add_e_f32s(x, w0, a[0]);
            a[1] = simd.mul_add_e_f32s(x, w1, a[1]);
        }
    }
    for (r, a) in acc.iter().enumerate() {
        let (o, _) = S::as_mut_simd_f32s(&mut out[(r0 + r) * b.ld + j..][..nr]);
        o[0] = a[0];
        o[1] = a[1];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::kernels::test_support::{
        few_rows_product_equals_f64, few_rows_product_is_batch_and_thread_independent,
    };

    #[test]
    fn equals_the_f64_product_on_every_shape_class() {
        few_rows_product_equals_f64(&linear_rows_with);
    }

    #[test]
    fn a_row_does_not_depend_on_its_neighbours_the_prefetch_or_the_thread_count() {
        few_rows_product_is_batch_and_thread_independent(&linear_rows_with);
    }
}
