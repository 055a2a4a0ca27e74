//! Exact GELU, `x·Φ(x)`, and its derivative `Φ(x) + x·φ(x)`, over plain `f32` slices: branch-free
//! arithmetic that the compiler turns into SIMD, instead of a scalar `erff` call per element (which
//! made burn flex's GELU cost half as much as the feed-forward product it follows: `cargo bench -p
//! lightner --bench kernels`). No tensors here; `super` wraps these for burn.
//!
//! Φ(x) = ½·(1 + erf(x/√2)), as PyTorch computes it. erf is a rational function fitted for this
//! file, erf(z) ≈ z·P(z²)/Q(z²) on [−4, 4] (`scripts/fit-erf.py` reproduces the coefficients; the
//! fit's error is 1.5·10⁻⁹, so f32 rounding dominates), and ±1 beyond, where erf rounds to ±1 in
//! f32 anyway. Like PyTorch's and burn's GELU, the result is accurate in absolute terms (about
//! 10⁻⁷·(1 + |x|)); far out on the left tail, where GELU is below 10⁻⁶, `1 + erf` cancels.

use super::fresh;
use pulp::{Arch, Simd, WithSimd};
use rayon::prelude::*;

/// P of the fitted erf, constant term first (`scripts/fit-erf.py`; f32 rounds the last digits).
#[allow(clippy::excessive_precision)]
const ERF_P: [f32; 7] = [
    1.128_379_182_083_932_6,
    1.847_112_587_242_929_5e-1,
    5.433_263_845_507_17e-2,
    3.839_556_244_790_921e-3,
    3.826_895_277_983_131_6e-4,
    4.780_444_248_543_569e-6,
    -1.366_635_027_366_669_4e-8,
];

/// Q of the fitted erf, constant term first.
#[allow(clippy::excessive_precision)]
const ERF_Q: [f32; 6] = [
    1.0,
    4.970_296_362_618_355_5e-1,
    1.138_266_148_623_302e-1,
    1.545_356_059_945_024_1e-2,
    1.309_580_968_229_088_3e-3,
    6.400_837_778_956_173e-5,
];

/// erf(z): the fitted rational on [−3.92, 3.92], exactly ±1 beyond (where erf rounds to ±1 in
/// f32), so that GELU is exactly x far right and −0 far left.
#[inline(always)]
fn erf(z: f32) -> f32 {
    let saturated = z.abs() > 3.92;
    let z = z.clamp(-4.0, 4.0);
    let w = z * z;
    let p = ERF_P[0]
        + w * (ERF_P[1] + w * (ERF_P[2] + w * (ERF_P[3] + w * (ERF_P[4] + w * (ERF_P[5] + w * ERF_P[6])))));
    let q = ERF_Q[0] + w * (ERF_Q[1] + w * (ERF_Q[2] + w * (ERF_Q[3] + w * (ERF_Q[4] + w * ERF_Q[5]))));
    let r = (z * p / q).clamp(-1.0, 1.0);
    if saturated { 1.0f32.copysign(z) } else { r }
}

/// e^y (for φ in the derivative), branch-free: y = n·ln2 + r with |r| ≤ ln2/2, e^r by its Taylor series to degree 7
/// (truncation below 10⁻⁸ relative), 2ⁿ built in the exponent bits. ln2 is split in two
/// (Cody and Waite) so that n·ln2 loses nothing. Below −87, where e^y leaves the normal f32
/// range, the result is 0.
#[inline(always)]
pub(crate) fn exp(y: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4; // 0.693359375: few mantissa bits, so n·LN2_HI is exact
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding and subtracting 1.5·2²³ rounds to the nearest integer without a rounding instruction.
    const ROUND: f32 = 12_582_912.0;
    let c = y.clamp(-87.0, 88.0);
    let n = (c * LOG2_E + ROUND) - ROUND;
    let r = (c - n * LN2_HI) - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    // n is an integer in [−126, 127], so n + 127 is a valid biased exponent. Adding 2²³ puts
    // n + 127 in the low mantissa bits, read without a float-to-int conversion (which would keep
    // the loop from vectorising).
    let biased = (n + (127.0 + 8_388_608.0)).to_bits() & 0x7f_ffff;
    let scale = f32::from_bits(biased << 23);
    if y < -87.0 { 0.0 } else { p * scale }
}

/// Φ(x), the standard normal CDF.
#[inline(always)]
fn normal_cdf(x: f32) -> f32 {
    0.5 * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// GELU(x) = x·Φ(x).
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    x * normal_cdf(x)
}

/// d GELU / dx = Φ(x) + x·φ(x), φ(x) = e^(−x²/2)/√(2π).
#[inline(always)]
pub fn gelu_derivative(x: f32) -> f32 {
    const INV_SQRT_2PI: f32 = 0.398_942_3;
    normal_cdf(x) + x * INV_SQRT_2PI * exp(-0.5 * x * x)
}

/// Elements per parallel task: large enough that a task outweighs rayon's overhead.
const CHUNK: usize = 1 << 14;

/// `GELU(x[i])` for every element, computed in chunks on rayon's pool into a fresh vector (each
/// chunk zeroed by its own task: [`super::fresh`]).
pub fn gelu_vec(x: &[f32]) -> Vec<f32> {
    fresh::par_chunks(x.len(), CHUNK, |i, out| gelu_slice(&x[i * CHUNK..][..out.len()], out))
}

/// `grad[i] · GELU'(x[i])` for every element, as [`gelu_vec`].
pub fn gelu_backward_vec(x: &[f32], grad: &[f32]) -> Vec<f32> {
    assert_eq!(x.len(), grad.len(), "the gradient is shaped as the input");
    fresh::par_chunks(x.len(), CHUNK, |i, out| {
        let at = i * CHUNK..i * CHUNK + out.len();
        gelu_backward_slice(&x[at.clone()], &grad[at], out)
    })
}

/// `out[i] = GELU(x[i])`.
pub fn gelu_slice(x: &[f32], out: &mut [f32]) {
    debug_assert_eq!(x.len(), out.len());
    let run = |(x, out): (&[f32], &mut [f32])| Arch::new().dispatch(Gelu { x, out });
    if x.len() > CHUNK {
        x.par_chunks(CHUNK).zip(out.par_chunks_mut(CHUNK)).for_each(run);
    } else {
        run((x, out));
    }
}

/// `out[i] = grad[i] · GELU'(x[i])`.
pub fn gelu_backward_slice(x: &[f32], grad: &[f32], out: &mut [f32]) {
    debug_assert!(x.len() == out.len() && grad.len() == out.len());
    let run = |((x, grad), out): ((&[f32], &[f32]), &mut [f32])| {
        Arch::new().dispatch(GeluBackward { x, grad, out })
    };
    if x.len() > CHUNK {
        x.par_chunks(CHUNK).zip(grad.par_chunks(CHUNK)).zip(out.par_chunks_mut(CHUNK)).for_each(run);
    } else {
        run(((x, grad), out));
    }
}

/// One chunk of [`gelu_slice`], compiled once per instruction set by [`pulp`]: the loop
/// vectorises to the widest registers the CPU has (8 lanes on AVX2 instead of the baseline's 4,
/// 16 on AVX-512). Rust never fuses a multiply and an add on its own, so every lane computes
/// exactly what the scalar [`gelu`] computes, bit for bit, whatever the width.
struct Gelu<'a> {
    x: &'a [f32],
    out: &'a mut [f32],
}

impl WithSimd for Gelu<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) {
        for (o, &v) in self.out.iter_mut().zip(self.x) {
            *o = gelu(v);
        }
    }
}

/// One chunk of [`gelu_backward_slice`], as [`Gelu`].
struct GeluBackward<'a> {
    x: &'a [f32],
    grad: &'a [f32],
    out: &'a mut [f32],
}

impl WithSimd for GeluBackward<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) {
        for ((o, &v), &d) in self.out.iter_mut().zip(self.x).zip(self.grad) {
            *o = d * gelu_derivative(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Φ(x) in f64, independently of the formula under test: erf's Taylor series up to |z| = 3,
    /// erfc's continued fraction beyond (both accurate to about 1e-15 there).
    fn normal_cdf_f64(x: f64) -> f64 {
        // erf(z) = 2/√π · Σ (−1)ⁿ z^(2n+1) / (n!(2n+1)) converges fast for |z| ≤ 3; beyond, the
        // asymptotic continued fraction of erfc is accurate to f64 precision.
        // Φ(x) = ½·erfc(z) with z = −x/√2, and erfc(z) = 2 − erfc(−z): no cancellation on
        // either tail.
        let z = -x / std::f64::consts::SQRT_2;
        let a = z.abs();
        let erfc_a = if a <= 3.0 {
            let (mut term, mut sum) = (a, a);
            for n in 1..200 {
                term *= -a * a / n as f64;
                let add = term / (2 * n + 1) as f64;
                sum += add;
                if add.abs() < 1e-30 {
                    break;
                }
            }
            1.0 - 2.0 / std::f64::consts::PI.sqrt() * sum
        } else {
            // Lentz-free backward evaluation of the continued fraction
            // erfc(a) = e^(−a²)/√π · 1/(a + 1/2/(a + 1/(a + 3/2/(a + 2/(a + …))))).
            let mut f = a;
            for k in (1..120).rev() {
                f = a + (k as f64 / 2.0) / f;
            }
            (-a * a).exp() / std::f64::consts::PI.sqrt() / f
        };
        0.5 * if z < 0.0 { 2.0 - erfc_a } else { erfc_a }
    }

    fn grid() -> impl Iterator<Item = f32> {
        (-12_000..=12_000).map(|i| i as f32 / 1000.0).chain([1e-6, -1e-6, 1e-30, -1e-30, 0.0, -0.0])
    }

    #[test]
    fn exp_is_accurate_over_its_range() {
        for i in -8_700..=8_800 {
            let y = i as f32 / 100.0;
            let want = (y as f64).exp();
            let got = exp(y) as f64;
            assert!(((got - want) / want).abs() < 3e-7, "exp({y}) = {got}, want {want}");
        }
        assert_eq!(exp(-100.0), 0.0);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
    }

    #[test]
    fn gelu_matches_an_f64_reference() {
        for x in grid() {
            let want = x as f64 * normal_cdf_f64(x as f64);
            let got = gelu(x) as f64;
            // Absolute accuracy within a few f32 roundings of x.
            let tol = 4e-7 * (1.0 + x.abs() as f64);
            assert!((got - want).abs() <= tol, "gelu({x}) = {got:e}, want {want:e}");
        }
    }

    #[test]
    fn gelu_derivative_matches_an_f64_reference() {
        for x in grid() {
            let xd = x as f64;
            let pdf = (-0.5 * xd * xd).exp() / (2.0 * std::f64::consts::PI).sqrt();
            let (cdf, slope) = (normal_cdf_f64(xd), xd * pdf);
            let want = cdf + slope;
            let got = gelu_derivative(x) as f64;
            let tol = 4e-7 * (1.0 + cdf + slope.abs());
            assert!((got - want).abs() <= tol, "gelu'({x}) = {got:e}, want {want:e}");
        }
    }

    #[test]
    fn edge_values() {
        assert_eq!(gelu(f32::INFINITY), f32::INFINITY);
        assert!(gelu(f32::NAN).is_nan());
        assert_eq!(gelu(-200.0), -0.0);
        assert_eq!(gelu(200.0), 200.0);
        assert_eq!(gelu_derivative(200.0), 1.0);
        assert_eq!(gelu_derivative(-200.0), 0.0);
    }

    #[test]
    fn slices_equal_elementwise_calls_at_every_length() {
        for n in [0, 1, 7, CHUNK, CHUNK + 3, 3 * CHUNK + 1] {
            let x: Vec<f32> = (0..n).map(|i| (i % 997) as f32 / 80.0 - 6.0).collect();
            let g: Vec<f32> = (0..n).map(|i| (i % 13) as f32 - 6.0).collect();
            let (mut y, mut dx) = (vec![0.0; n], vec![0.0; n]);
            gelu_slice(&x, &mut y);
            gelu_backward_slice(&x, &g, &mut dx);
            assert_eq!(gelu_vec(&x), y, "the fresh vector equals the slice");
            assert_eq!(gelu_backward_vec(&x, &g), dx, "the fresh vector equals the slice");
            for i in 0..n {
                assert_eq!(y[i].to_bits(), gelu(x[i]).to_bits());
                assert_eq!(dx[i].to_bits(), (g[i] * gelu_derivative(x[i])).to_bits());
            }
        }
    }
}
