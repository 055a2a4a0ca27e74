//! Matrix products written into buffers we own, through the `gemm` crate — the same kernels burn
//! flex runs. burn flex allocates every product's result as a zeroed byte vector and then copies
//! it into an over-aligned buffer (`FlexTensor::empty`), and adds a linear layer's bias in a pass
//! of its own: a memset, a memcpy and a pass over every result, all on the calling thread while
//! the other cores wait (`docs/performance.md`, "Linear layers"). Here the result starts as the
//! bias, and the product is accumulated onto it.
//!
//! This file, [`super::fresh`], [`super::blas`] (the call into a system BLAS) and `prefetch.rs`
//! (a cache hint) are the crate's only `unsafe` code. Here: the call into `gemm`, whose raw-pointer interface
//! takes strides, and the length of a fresh result set once gemm has written every element of it
//! (so that no product pays for a zero fill first). Every view is checked to lie inside its slice
//! before the call.
#![allow(unsafe_code)]

use super::fresh::Fresh;
use rayon::prelude::*;

/// A matrix view of a slice: element `(r, c)` is `data[r·rs + c·cs]`.
#[derive(Debug, Clone, Copy)]
pub struct Mat<'a> {
    /// The elements.
    pub data: &'a [f32],
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Row stride.
    pub rs: usize,
    /// Column stride.
    pub cs: usize,
}

impl<'a> Mat<'a> {
    /// `data` as a row-major `[rows, cols]` matrix.
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self { data, rows, cols, rs: cols, cs: 1 }
    }

    /// The transposed view (no copy).
    pub fn t(self) -> Self {
        Self { rows: self.cols, cols: self.rows, rs: self.cs, cs: self.rs, ..self }
    }

    /// Whether every element of the view lies inside `data`.
    fn fits(&self) -> bool {
        if self.rows == 0 || self.cols == 0 {
            return true;
        }
        let last = (self.rows - 1)
            .checked_mul(self.rs)
            .zip((self.cols - 1).checked_mul(self.cs))
            .and_then(|(a, b)| a.checked_add(b));
        last.is_some_and(|l| l < self.data.len())
            && isize::try_from(self.rs).is_ok()
            && isize::try_from(self.cs).is_ok()
    }
}

/// `out = lhs·rhs`, or `out += lhs·rhs` with `accumulate`; `out` is row-major
/// `[lhs.rows, rhs.cols]`. Runs on the current rayon pool when the product is large enough.
///
/// # Panics
/// When the shapes disagree or a view reaches outside its slice (a caller's bug).
pub fn matmul_into(out: &mut [f32], lhs: Mat<'_>, rhs: Mat<'_>, accumulate: bool) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert_eq!(out.len(), m * n, "out is [m, n]");
    if k == 0 {
        assert_eq!(rhs.rows, k, "inner dimensions");
        if !accumulate {
            out.fill(0.0);
        }
        return;
    }
    // SAFETY: `out` is an exclusive, initialised slice of exactly m·n elements.
    unsafe { product_at(out.as_mut_ptr(), lhs, rhs, accumulate) }
}

/// `lhs·rhs` as a new row-major `[lhs.rows, rhs.cols]`, written straight into fresh memory: no
/// zero fill first (a memset of every result, which ran on the calling thread alone).
///
/// # Panics
/// As [`matmul_into`].
pub fn matmul(lhs: Mat<'_>, rhs: Mat<'_>) -> Vec<f32> {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    let len = m.checked_mul(n).expect("result size");
    if k == 0 || len == 0 {
        // Nothing to multiply: `matmul_into` checks the shapes and leaves the zeros.
        let mut out = vec![0.0; len];
        matmul_into(&mut out, lhs, rhs, false);
        return out;
    }
    let mut out: Vec<f32> = Vec::with_capacity(len);
    // SAFETY: the capacity holds m·n elements; with `accumulate` false and k > 0, gemm reads
    // nothing of `dst` and writes each of its m·n elements (its contract: `read_dst` false means
    // `dst` is not read), so all of them are initialised when the length is set.
    unsafe {
        product_at(out.as_mut_ptr(), lhs, rhs, false);
        out.set_len(len);
    }
    out
}

/// Products below this many multiply-adds run on one thread (burn flex's threshold; the system
/// BLAS path, [`super::blas`], uses it too).
pub(super) const PARALLEL_THRESHOLD: usize = 192 * 192 * 192;

/// How a product large enough for several threads is shared among them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// gemm's own threading: every block of the depth is packed and multiplied in parallel
    /// regions of its own, two fork-joins per block (four for a 768-deep product, twelve for
    /// 3072).
    Gemm,
    /// One band of rows per thread, each multiplied by a one-thread gemm: one fork-join per
    /// product. Each thread packs the right-hand side for itself.
    Rows,
}

/// The split the model's products use. Bands of rows were measured against gemm's threading on
/// the 32 products of a bart-base encoder and decoder layer (`examples/sequence_products.rs`, two
/// threads, AVX2) and were not faster beyond that hour's noise (best 232 against 219 ms, medians
/// 291 against 294 ms): gemm's threading stays until a quieter machine or another CPU says
/// otherwise.
pub const SPLIT: Split = Split::Gemm;

/// Bands of [`Split::Rows`] start at multiples of this: gemm's AVX2 micro-kernel takes 16 rows at
/// a time (two 8-wide registers), so no band but the last ends in a partial tile.
const BAND_ALIGN: usize = 16;

/// Fewest rows a band of [`Split::Rows`] may have. gemm multiplies very short products by other
/// kernels that sum in another order (a lone row by a matrix-vector path, at most 16 × 16
/// results by a dot-product one), so a band of one row would not give the bits of the whole
/// product (the unit test below found it); bands this long never take those paths.
const BAND_MIN_ROWS: usize = 2 * BAND_ALIGN;

/// [`matmul`] with the given [`Split`] (for probes and tests; the model uses [`SPLIT`]).
pub fn matmul_with(lhs: Mat<'_>, rhs: Mat<'_>, split: Split) -> Vec<f32> {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    let len = m.checked_mul(n).expect("result size");
    let mut out = vec![0.0; len];
    if k == 0 || len == 0 {
        matmul_into(&mut out, lhs, rhs, false);
        return out;
    }
    // SAFETY: `out` is an exclusive, initialised slice of exactly m·n elements.
    unsafe { product_split(out.as_mut_ptr(), lhs, rhs, false, split) };
    out
}

/// `dst = lhs·rhs` (or `dst += lhs·rhs` with `accumulate`), `dst` row-major `[m, n]`, k > 0.
///
/// # Safety
/// `dst` must be valid for writes of m·n elements, not aliased by `lhs` or `rhs`, and
/// initialised when `accumulate` is set. Shapes and views are checked here (panics).
unsafe fn product_at(dst: *mut f32, lhs: Mat<'_>, rhs: Mat<'_>, accumulate: bool) {
    if let Some(blas) = super::blas::get() {
        assert_eq!(rhs.rows, lhs.cols, "inner dimensions");
        assert!(lhs.fits() && rhs.fits(), "views inside their slices");
        // SAFETY: the caller's contract, and the checks just above.
        if unsafe { blas.product(dst, lhs, rhs, accumulate) } {
            return;
        }
    }
    // SAFETY: the caller's contract, passed on.
    unsafe { product_split(dst, lhs, rhs, accumulate, SPLIT) }
}

/// [`matmul`] through the system BLAS ([`super::blas`]), or `None` when none is in use or it
/// cannot take these views (for probes and tests).
pub fn matmul_blas(lhs: Mat<'_>, rhs: Mat<'_>) -> Option<Vec<f32>> {
    let blas = super::blas::get()?;
    assert_eq!(rhs.rows, lhs.cols, "inner dimensions");
    assert!(lhs.fits() && rhs.fits(), "views inside their slices");
    let mut out = vec![0.0; lhs.rows.checked_mul(rhs.cols).expect("result size")];
    if lhs.cols == 0 || out.is_empty() {
        return Some(out);
    }
    // SAFETY: `out` is an exclusive, initialised slice of exactly m·n elements; views checked.
    unsafe { blas.product(out.as_mut_ptr(), lhs, rhs, false) }.then_some(out)
}

/// [`product_at`] with the given split.
///
/// Either split gives the same bits: gemm sums each element over depth blocks whose size depends
/// only on the depth k and the cache sizes (`gemm_common::cache::kernel_params`), never on how
/// many rows or columns a call covers, and within a block in increasing depth.
///
/// # Safety
/// As [`product_at`].
unsafe fn product_split(dst: *mut f32, lhs: Mat<'_>, rhs: Mat<'_>, accumulate: bool, split: Split) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert_eq!(rhs.rows, k, "inner dimensions");
    assert!(lhs.fits() && rhs.fits(), "views inside their slices");
    if m == 0 || n == 0 {
        return;
    }
    let parallel = m.saturating_mul(n).saturating_mul(k) >= PARALLEL_THRESHOLD;
    // Band i starts at the multiple of BAND_ALIGN at or below i·m/bands; with m ≥ (BAND_MIN_ROWS +
    // BAND_ALIGN)·bands every band then has at least BAND_MIN_ROWS rows.
    let bands = (m / (BAND_MIN_ROWS + BAND_ALIGN)).min(rayon::current_num_threads());
    if !parallel || split == Split::Gemm || bands <= 1 {
        let parallelism = if parallel { gemm::Parallelism::Rayon(0) } else { gemm::Parallelism::None };
        // SAFETY: the caller's contract, passed on.
        unsafe { product_one(dst, lhs, rhs, accumulate, parallelism) };
        return;
    }
    // Bands of rows: disjoint rows of `dst`, so the threads write apart. The pointer travels as
    // an address (raw pointers are not `Send`).
    let at = dst as usize;
    let start = |b: usize| band_start(b, bands, m, BAND_ALIGN);
    (0..bands).into_par_iter().for_each(|b| {
        let (first, rows) = (start(b), start(b + 1) - start(b));
        // Element (r, c) of the band is element (first + r, c) of `lhs`.
        let lhs = Mat { data: &lhs.data[first * lhs.rs..], rows, ..lhs };
        // SAFETY: rows first..first + rows of `dst` (row-major, n columns) lie inside its m·n
        // elements and no other band writes them; the rest is the caller's contract.
        unsafe {
            product_one((at as *mut f32).add(first * n), lhs, rhs, accumulate, gemm::Parallelism::None)
        };
    });
}

/// Where band `i` of `bands` over `len` rows (or columns) starts: the multiple of `align` at or
/// below i·len/bands, and `len` for i = `bands`, so the bands cover `0..len` in order and no band
/// but the last ends inside a tile of `align`.
pub(super) fn band_start(i: usize, bands: usize, len: usize, align: usize) -> usize {
    if i == bands { len } else { i * len / bands / align * align }
}

/// One gemm call.
///
/// # Safety
/// As [`product_at`].
unsafe fn product_one(
    dst: *mut f32,
    lhs: Mat<'_>,
    rhs: Mat<'_>,
    accumulate: bool,
    parallelism: gemm::Parallelism,
) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert_eq!(rhs.rows, k, "inner dimensions");
    assert!(lhs.fits() && rhs.fits(), "views inside their slices");
    let stride = |s: usize| s as isize; // checked by `fits`
    // SAFETY: `dst` is valid for m·n elements written row-major (column stride 1, row stride
    // n), by the caller's contract; `lhs` and `rhs` are shared slices whose every viewed element
    // (checked by `fits` above) lies inside them, so gemm reads and writes only in bounds. gemm
    // reads `dst` only with `accumulate`, when the caller says it is initialised.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            stride(n),
            accumulate,
            lhs.data.as_ptr(),
            stride(lhs.cs),
            stride(lhs.rs),
            rhs.data.as_ptr(),
            stride(rhs.cs),
            stride(rhs.rs),
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// Rows of a linear layer's result that one task starts as the bias.
const BIAS_ROWS_PER_TASK: usize = 32;

/// `x·w + bias` for `x` `[m, k]` (row-major), `w` a `[k, n]` view (row-major, or HF's `[n, k]`
/// seen transposed: gemm packs either into the same panels), `bias` `[n]`: a new `[m, n]`. A row's
/// result does not depend on the rows beside it, for any `m` from 2 (gemm multiplies a lone row
/// by a matrix-vector path that sums in another order).
pub fn linear(x: &[f32], m: usize, w: Mat<'_>, bias: &[f32]) -> Vec<f32> {
    let n = w.cols;
    assert_eq!(bias.len(), n, "bias is [n]");
    // The bias rows are written on the workers, a block of rows per task, rather than as one
    // copy of the whole result on the calling thread.
    let mut out = Fresh::new(m.checked_mul(n).expect("result size"));
    out.chunks(BIAS_ROWS_PER_TASK * n).into_par_iter().for_each(|rows| {
        rows.repeat(bias);
    });
    let mut out = out.finish();
    let mut copy = Vec::new();
    let w = row_major_if_tiny(w, m * n, &mut copy);
    matmul_into(&mut out, Mat::row_major(x, m, w.rows), w, true);
    out
}

/// Results up to which gemm multiplies by a dot-product ("horizontal") kernel, which sums in
/// another order, when the weight is read down its columns (`gemm-common`'s
/// `gemm_basic_generic`).
const TINY_PRODUCT: usize = 16 * 16;

/// `w` itself, or, for a product of at most [`TINY_PRODUCT`] results with a weight not laid out
/// row-major, a row-major copy of it in `copy`. So the sums run in the same order for either
/// layout of the weight and for any number of rows: a short sentence alone then equals it
/// batched. Only tiny models meet this (at most 256 result columns), so the copy is small.
fn row_major_if_tiny<'a>(w: Mat<'a>, results: usize, copy: &'a mut Vec<f32>) -> Mat<'a> {
    if w.cs == 1 || results > TINY_PRODUCT {
        return w;
    }
    let (rows, cols) = (w.rows, w.cols);
    *copy = (0..rows * cols).map(|i| w.data[(i / cols) * w.rs + (i % cols) * w.cs]).collect();
    Mat::row_major(copy, rows, cols)
}

/// The gradient of [`linear`]'s input: `g·wᵀ` for `g` `[m, n]` and the `[k, n]` view `w` → `[m, k]`.
pub fn linear_x_grad(g: &[f32], m: usize, w: Mat<'_>) -> Vec<f32> {
    let mut copy = Vec::new();
    let w = row_major_if_tiny(w, m * w.rows, &mut copy);
    matmul(Mat::row_major(g, m, w.cols), w.t())
}

/// The gradient of [`linear`]'s weight: `xᵀ·g` for `x` `[m, k]`, `g` `[m, n]` → `[k, n]`.
pub fn linear_w_grad(x: &[f32], m: usize, k: usize, g: &[f32], n: usize) -> Vec<f32> {
    matmul(Mat::row_major(x, m, k).t(), Mat::row_major(g, m, n))
}

/// Columns per task of [`linear_bias_grad`]: 1 KB of each row of `g`.
const BIAS_GRAD_COLS_PER_TASK: usize = 256;

/// The gradient of [`linear`]'s bias: the column sums of `g` `[m, n]`, each in row order. Column
/// ranges run on the rayon pool (it was a serial pass over `g` on the calling thread, for every
/// linear layer whose bias trains); a column's sum is the same whatever the thread count.
pub fn linear_bias_grad(g: &[f32], n: usize) -> Vec<f32> {
    if n == 0 {
        return Vec::new();
    }
    super::fresh::par_chunks(n, BIAS_GRAD_COLS_PER_TASK, |task, out| {
        let cols = task * BIAS_GRAD_COLS_PER_TASK..task * BIAS_GRAD_COLS_PER_TASK + out.len();
        for row in g.chunks_exact(n) {
            for (o, v) in out.iter_mut().zip(&row[cols.clone()]) {
                *o += v;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n).map(|i| (((i + seed) * 7919) % 2001) as f32 / 1000.0 - 1.0).collect()
    }

    /// `a·b` in f64 from row-major slices.
    fn reference(a: &[f32], m: usize, k: usize, b: &[f32], n: usize) -> Vec<f64> {
        let mut out = vec![0.0f64; m * n];
        for r in 0..m {
            for c in 0..n {
                out[r * n + c] = (0..k).map(|i| a[r * k + i] as f64 * b[i * n + c] as f64).sum();
            }
        }
        out
    }

    fn transpose(a: &[f32], rows: usize, cols: usize) -> Vec<f32> {
        (0..cols * rows).map(|i| a[(i % rows) * cols + i / rows]).collect()
    }

    fn close(got: &[f32], want: &[f64], k: usize) {
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            // k terms of magnitude ≤ 1: a few f32 roundings of a sum up to k.
            assert!((*g as f64 - w).abs() <= 1e-6 * (1.0 + k as f64), "[{i}]: {g} vs {w}");
        }
    }

    #[test]
    fn linear_and_its_gradients_equal_the_f64_formulas() {
        // Small, odd, and large enough to run on the rayon pool.
        for (m, k, n) in [(1, 1, 1), (3, 5, 7), (40, 33, 17), (200, 256, 192)] {
            let (x, w, b, g) = (values(m * k, 1), values(k * n, 2), values(n, 3), values(m * n, 4));
            let mut want = reference(&x, m, k, &w, n);
            for (i, v) in want.iter_mut().enumerate() {
                *v += b[i % n] as f64;
            }
            // The weight as burn lays it out (`[k, n]`) and as HF stores it (`[n, k]`).
            let wt = transpose(&w, k, n);
            for view in [Mat::row_major(&w, k, n), Mat::row_major(&wt, n, k).t()] {
                close(&linear(&x, m, view, &b), &want, k);
                close(&linear_x_grad(&g, m, view), &reference(&g, m, n, &wt, k), n);
            }
            close(&linear_w_grad(&x, m, k, &g, n), &reference(&transpose(&x, m, k), k, m, &g, n), m);
            let sums: Vec<f64> = (0..n).map(|c| (0..m).map(|r| g[r * n + c] as f64).sum()).collect();
            close(&linear_bias_grad(&g, n), &sums, m);
        }
    }

    #[test]
    fn the_weight_read_transposed_gives_the_same_bits() {
        // Models keep linear weights as HF stores them, `[n, k]`, seen as `[k, n]`: the products
        // must not change a bit against the weight laid out `[k, n]` (gemm packs both views into
        // the same panels), so that packs trained before and after the change are the same.
        for (m, k, n) in [(2, 5, 7), (40, 33, 17), (200, 256, 192), (640, 96, 200)] {
            let (x, w, b, g) = (values(m * k, 6), values(k * n, 7), values(n, 8), values(m * n, 9));
            let wt = transpose(&w, k, n);
            let (rows, cols) = (Mat::row_major(&w, k, n), Mat::row_major(&wt, n, k).t());
            assert_eq!(linear(&x, m, rows, &b), linear(&x, m, cols, &b), "{m}x{k}x{n} forward");
            assert_eq!(linear_x_grad(&g, m, rows), linear_x_grad(&g, m, cols), "{m}x{k}x{n} backward");
        }
    }

    #[test]
    fn both_splits_give_the_same_bits_on_any_pool() {
        // Shapes above the parallel threshold, with rows that split into equal bands, into
        // unequal ones, and (97 rows) into bands that are not whole tiles; 97 rows once made a
        // band of one row, which gemm multiplies by another path.
        for (m, k, n) in [(640, 200, 192), (200, 300, 200), (258, 192, 192), (97, 300, 300)] {
            let (x, w) = (values(m * k, 10), values(n * k, 11));
            for threads in 1..=3 {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a pool");
                let (a, b) = pool.install(|| {
                    let (lhs, rhs) = (Mat::row_major(&x, m, k), Mat::row_major(&w, n, k).t());
                    (matmul_with(lhs, rhs, Split::Gemm), matmul_with(lhs, rhs, Split::Rows))
                });
                assert_eq!(a, b, "{m}x{k}x{n} on {threads} threads");
            }
        }
    }

    #[test]
    fn bias_gradient_sums_each_column_in_row_order_on_any_pool() {
        let (m, n) = (37, 700);
        let g = values(m * n, 5);
        let mut serial = vec![0.0f32; n];
        for row in g.chunks_exact(n) {
            for (o, v) in serial.iter_mut().zip(row) {
                *o += v;
            }
        }
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a pool");
            assert_eq!(pool.install(|| linear_bias_grad(&g, n)), serial, "{threads} threads");
        }
        assert!(linear_bias_grad(&[], 0).is_empty());
        assert_eq!(linear_bias_grad(&[], 3), vec![0.0; 3], "no rows: zero sums");
    }

    #[test]
    fn empty_products_are_empty_or_the_bias() {
        let w = values(12, 0);
        assert!(linear(&[], 0, Mat::row_major(&w, 3, 4), &values(4, 1)).is_empty());
        let bias = [1.0, 2.0, 3.0];
        assert_eq!(linear(&[], 2, Mat::row_major(&[], 0, 3), &bias), vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);
        assert_eq!(linear_x_grad(&[], 2, Mat::row_major(&[], 3, 0)), vec![0.0; 6]);
    }

    #[test]
    #[should_panic(expected = "views inside their slices")]
    fn a_view_past_its_slice_is_refused() {
        let mut out = vec![0.0; 4];
        let short = Mat { data: &[1.0; 3], rows: 2, cols: 2, rs: 2, cs: 1 };
        matmul_into(&mut out, short, Mat::row_major(&[1.0; 4], 2, 2), false);
    }

    #[test]
    #[should_panic(expected = "views inside their slices")]
    fn a_view_past_its_slice_is_refused_before_fresh_memory_is_written() {
        let short = Mat { data: &[1.0; 3], rows: 2, cols: 2, rs: 2, cs: 1 };
        matmul(Mat::row_major(&[1.0; 4], 2, 2), short);
    }

    #[test]
    fn a_fresh_product_equals_one_written_over_zeros_bit_for_bit() {
        for (m, k, n) in [(1, 1, 1), (3, 5, 7), (200, 256, 192)] {
            let (a, b) = (values(m * k, 8), values(k * n, 9));
            let (a, b) = (Mat::row_major(&a, m, k), Mat::row_major(&b, k, n));
            let mut over_zeros = vec![0.0; m * n];
            matmul_into(&mut over_zeros, a, b, false);
            assert_eq!(matmul(a, b), over_zeros, "{m}x{k}x{n}");
            assert_eq!(matmul(a.t(), Mat::row_major(&values(m * 3, 1), m, 3)).len(), k * 3);
        }
    }

    #[test]
    fn a_row_does_not_depend_on_the_rows_beside_it() {
        let (m, k, n) = (300, 200, 96);
        let (x, w, b) = (values(m * k, 5), values(k * n, 6), values(n, 7));
        let wt = transpose(&w, k, n);
        for view in [Mat::row_major(&w, k, n), Mat::row_major(&wt, n, k).t()] {
            let all = linear(&x, m, view, &b);
            // From two rows up; a lone row takes gemm's matrix-vector path, which sums in another
            // order (never reached: a sentence has at least two tokens, and one decoding row per
            // sentence takes `skinny`).
            for (first, rows) in [(0, 2), (7, 3), (151, 40), (200, 100)] {
                let one = linear(&x[first * k..(first + rows) * k], rows, view, &b);
                assert_eq!(one, all[first * n..(first + rows) * n], "rows {first}..{}", first + rows);
            }
        }
    }
}
