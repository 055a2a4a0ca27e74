//! `x·Wᵀ + b` for few rows of `x`, with the weight kept as HF stores it, `[n, k]` (one row per
//! output column): one decoding step multiplies 16 or so decoder states by every weight of the
//! decoder, each weight read once from memory.
//!
//! Each result element is a dot product of a row of `x` with a row of the weight, and both are
//! contiguous: the weight streams through memory row by row, a handful of sequential streams the
//! hardware prefetchers follow, where [`super::skinny`] (the weight `[k, n]`) reads one cache
//! line from each of some 64 rows a whole row apart. A register tile of [`TILE_ROWS`] rows of `x`
//! × [`TILE_COLS`] weight rows accumulates one vector per pair with fused multiply-adds, and each
//! vector is summed across its lanes at the end (`docs/performance.md`, "Decoding steps").
//! [`pulp`] picks AVX2+FMA, AVX-512 or plain code at run time; no `unsafe` here.
//!
//! Each result element is `b[j] + (Σ_lanes v + Σ_tail)`: `v` holds lane `l`'s running sum of the
//! terms `k ≡ l (mod lanes)` over the whole vectors of the row, in increasing `k`; the tail (the
//! last `k mod lanes` terms) follows in increasing `k`. That order depends on the vector width of
//! the instruction set picked, never on `m`, on the rows or columns beside an element, or on the
//! thread count: batched = single bit for bit on one machine.

use pulp::{Arch, Simd, WithSimd};

/// Rows of `x` per register tile.
const TILE_ROWS: usize = 4;

/// Weight rows (result columns) per register tile: 4 × 3 = 12 accumulators, three weight vectors
/// and one of `x` fit the 16 vector registers of AVX2. Three divides bart-base's 768 and 3072.
const TILE_COLS: usize = 3;

/// `x` `[m, k]` (row-major) times `wt` `[n, k]` (row-major, so the product is by `wtᵀ`) plus
/// `bias` `[n]`, as a new `[m, n]`. Column ranges run on the current rayon pool's threads.
pub fn linear_rows(x: &[f32], m: usize, wt: &[f32], k: usize, n: usize, bias: &[f32]) -> Vec<f32> {
    linear_rows_with(x, m, wt, k, n, bias, true)
}

/// [`linear_rows`], prefetching the next column group's weight rows or not (`linear_rows`
/// does); the same result either way. Public for the benchmark that measures the prefetch.
pub fn linear_rows_with(
    x: &[f32],
    m: usize,
    wt: &[f32],
    k: usize,
    n: usize,
    bias: &[f32],
    prefetch: bool,
) -> Vec<f32> {
    assert_eq!(x.len(), m * k, "x is [m, k]");
    assert_eq!(wt.len(), n * k, "wt is [n, k]");
    assert_eq!(bias.len(), n, "bias is [n]");
    if m == 0 || n == 0 {
        return vec![0.0f32; m * n];
    }
    // Column ranges of whole tiles, one per thread.
    super::skinny::by_column_ranges(m, n, TILE_COLS, |c0, c1, part| {
        Arch::new().dispatch(Dots { x, m, k, wt, bias, c0, width: c1 - c0, prefetch, out: part });
    })
}

/// Columns `c0..c0 + width` of the product into `out` (`[m, width]`), compiled once per
/// instruction set by [`pulp`].
struct Dots<'a> {
    x: &'a [f32],
    m: usize,
    k: usize,
    wt: &'a [f32],
    bias: &'a [f32],
    c0: usize,
    width: usize,
    prefetch: bool,
    out: &'a mut [f32],
}

impl WithSimd for Dots<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let Dots { x, m, k, wt, bias, c0, width, prefetch, out } = self;
        let t = Tile { x, k, wt, bias, ld: width, prefetch };
        for j in (0..width).step_by(TILE_COLS) {
            let cols = (width - j).min(TILE_COLS);
            for r0 in (0..m).step_by(TILE_ROWS) {
                let rows = (m - r0).min(TILE_ROWS);
                match (rows, cols) {
                    (4, 3) => t.run::<S, 4, 3>(simd, out, r0, c0 + j, j),
                    (4, 2) => t.run::<S, 4, 2>(simd, out, r0, c0 + j, j),
                    (4, _) => t.run::<S, 4, 1>(simd, out, r0, c0 + j, j),
                    (3, 3) => t.run::<S, 3, 3>(simd, out, r0, c0 + j, j),
                    (3, 2) => t.run::<S, 3, 2>(simd, out, r0, c0 + j, j),
                    (3, _) => t.run::<S, 3, 1>(simd, out, r0, c0 + j, j),
                    (2, 3) => t.run::<S, 2, 3>(simd, out, r0, c0 + j, j),
                    (2, 2) => t.run::<S, 2, 2>(simd, out, r0, c0 + j, j),
                    (2, _) => t.run::<S, 2, 1>(simd, out, r0, c0 + j, j),
                    (_, 3) => t.run::<S, 1, 3>(simd, out, r0, c0 + j, j),
                    (_, 2) => t.run::<S, 1, 2>(simd, out, r0, c0 + j, j),
                    _ => t.run::<S, 1, 1>(simd, out, r0, c0 + j, j),
                }
            }
        }
    }
}

/// The operands of one call: `x` `[m, k]`, `wt` `[n, k]`, `bias` `[n]`; `ld` is the row stride of
/// the result.
struct Tile<'a> {
    x: &'a [f32],
    k: usize,
    wt: &'a [f32],
    bias: &'a [f32],
    ld: usize,
    /// Whether the first row tile of a column group prefetches the next group's weight rows.
    prefetch: bool,
}

impl Tile<'_> {
    /// Result rows `r0..r0 + R`, weight rows `wj..wj + C` (written at result column `j`).
    #[inline(always)]
    fn run<S: Simd, const R: usize, const C: usize>(
        &self,
        simd: S,
        out: &mut [f32],
        r0: usize,
        wj: usize,
        j: usize,
    ) {
        let k = self.k;
        let xs: [&[f32]; R] = std::array::from_fn(|r| &self.x[(r0 + r) * k..][..k]);
        let ws: [&[f32]; C] = std::array::from_fn(|c| &self.wt[(wj + c) * k..][..k]);
        let xv: [&[S::f32s]; R] = std::array::from_fn(|r| S::as_simd_f32s(xs[r]).0);
        let wv: [&[S::f32s]; C] = std::array::from_fn(|c| S::as_simd_f32s(ws[c]).0);
        let vecs = k / S::F32_LANES;
        let mut acc = [[simd.splat_f32s(0.0); C]; R];
        // The first row tile of a column group asks for the next group's weight rows, line by
        // line as it reads its own: short rows (3 KB at k = 768) end before the hardware
        // prefetchers have caught on.
        let next = (self.prefetch && r0 == 0).then(|| (wj + C) * k).filter(|&at| at < self.wt.len());
        let per_line = (16 / S::F32_LANES).max(1);
        for i in 0..vecs {
            if let Some(at) = next.filter(|_| i % per_line == 0) {
                for c in 0..TILE_COLS {
                    super::prefetch::line(self.wt, at + c * k + i * S::F32_LANES);
                }
            }
            let w: [S::f32s; C] = std::array::from_fn(|c| wv[c][i]);
            for (a, xr) in acc.iter_mut().zip(&xv) {
                let xi = xr[i];
                for (ac, wc) in a.iter_mut().zip(&w) {
                    *ac = simd.mul_add_e_f32s(xi, *wc, *ac);
                }
            }
        }
        let tail = vecs * S::F32_LANES;
        for (r, a) in acc.iter().enumerate() {
            for (c, ac) in a.iter().enumerate() {
                let mut s = simd.reduce_sum_f32s(*ac);
                for (xk, wk) in xs[r][tail..].iter().zip(&ws[c][tail..]) {
                    s = xk.mul_add(*wk, s);
                }
                out[(r0 + r) * self.ld + j + c] = self.bias[wj + c] + s;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::kernels::test_support::{
        few_rows_product_equals_f64, few_rows_product_is_batch_and_thread_independent,
    };

    /// [`linear_rows_with`] given the weight `[k, n]`: laid out `[n, k]` first.
    fn product(x: &[f32], m: usize, w: &[f32], k: usize, n: usize, bias: &[f32], prefetch: bool) -> Vec<f32> {
        let wt: Vec<f32> = (0..n * k).map(|i| w[(i % k) * n + i / k]).collect();
        linear_rows_with(x, m, &wt, k, n, bias, prefetch)
    }

    #[test]
    fn equals_the_f64_product_on_every_shape_class() {
        few_rows_product_equals_f64(&product);
    }

    #[test]
    fn a_row_does_not_depend_on_its_neighbours_the_prefetch_or_the_thread_count() {
        few_rows_product_is_batch_and_thread_independent(&product);
    }
}
