//! Helpers shared by the kernels' tests.

use burn::tensor::Tensor;

/// `n` deterministic values in `[shift − scale, shift + scale]`, a different sequence per `seed`.
pub fn values(n: usize, seed: usize, scale: f32, shift: f32) -> Vec<f32> {
    (0..n).map(|i| ((((i + seed) * 7919) % 2001) as f32 / 1000.0 - 1.0) * scale + shift).collect()
}

/// A tensor's f32 elements.
pub fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    crate::model::params::host_f32s(t.into_data()).expect("f32 data")
}

/// `a` and `b` agree within `tol·(1 + |b|)` at every element.
pub fn close(a: &[f32], b: &[f32], tol: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{what} [{i}]: {x} vs {y}");
    }
}

/// A few-rows product under test: `(x [m, k], m, w [k, n], k, n, bias [n], prefetch)` → `[m, n]`
/// (a kernel that takes the weight in another layout lays `w` out so first).
pub type FewRows<'a> = &'a (dyn Fn(&[f32], usize, &[f32], usize, usize, &[f32], bool) -> Vec<f32> + Sync);

/// `product` agrees with the f64 product on every shape class: rows below, at and past a register
/// tile; columns with and without a partial tile; depths below and past a vector or a block, with
/// and without a tail; and empty shapes. Each of the k terms is at most 1 in magnitude, so the f32
/// sum's error is bounded by about k·2⁻²⁴ (plus the bias).
pub fn few_rows_product_equals_f64(product: FewRows<'_>) {
    for m in [1, 2, 3, 4, 5, 6, 7, 13, 16, 32] {
        for (k, n) in [(1, 1), (3, 17), (40, 48), (300, 100), (768, 64), (9, 33), (0, 5), (4, 0), (16, 2)] {
            let (x, w, b) = (values(m * k, 1, 1.0, 0.0), values(k * n, 2, 1.0, 0.0), values(n, 3, 1.0, 0.0));
            let got = product(&x, m, &w, k, n, &b, true);
            assert_eq!(got.len(), m * n, "m {m} k {k} n {n}: the result is [m, n]");
            let tol = (k as f64 + 1.0) * 2f64.powi(-23);
            for r in 0..m {
                for j in 0..n {
                    let want = b[j] as f64
                        + (0..k).map(|kk| x[r * k + kk] as f64 * w[kk * n + j] as f64).sum::<f64>();
                    let g = got[r * n + j] as f64;
                    assert!((g - want).abs() <= tol, "m {m} k {k} n {n}, [{r}, {j}]: {g} vs {want}");
                }
            }
        }
    }
}

/// A row's result from `product` is the same bits alone as among other rows, with the weight
/// prefetch on or off, and on pools of 1 to 3 threads (batched = single).
pub fn few_rows_product_is_batch_and_thread_independent(product: FewRows<'_>) {
    let (m, k, n) = (13, 517, 203);
    let (x, w, b) = (values(m * k, 4, 1.0, 0.0), values(k * n, 5, 1.0, 0.0), values(n, 6, 1.0, 0.0));
    let all = product(&x, m, &w, k, n, &b, true);
    for r in 0..m {
        let one = product(&x[r * k..(r + 1) * k], 1, &w, k, n, &b, true);
        assert_eq!(one, all[r * n..(r + 1) * n], "row {r}: batched differs from single");
    }
    for rows in [1, 4, 13] {
        let (on, off) = (
            product(&x[..rows * k], rows, &w, k, n, &b, true),
            product(&x[..rows * k], rows, &w, k, n, &b, false),
        );
        assert_eq!(on, off, "{rows} rows: the prefetch changed a bit");
    }
    for threads in [1, 2, 3] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a pool");
        assert_eq!(pool.install(|| product(&x, m, &w, k, n, &b, true)), all, "{threads} threads");
    }
}
