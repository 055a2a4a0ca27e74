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
