//! Small building blocks loaded from HF names: linear layers (HF stores `[out, in]`, burn
//! multiplies by `[in, out]`, so weights are transposed once at load) and LayerNorms.

use super::weights::Weights;
use crate::error::Result;
use burn::module::Param;
use burn::nn::{LayerNorm, LayerNormConfig};
use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cell::RefCell;

pub use burn::nn::Linear;

thread_local! {
    /// The dropout masks' generator, one per thread, so that a run's masks depend only on its
    /// seed (burn's generator is global to the process, shared by concurrent runs).
    static DROPOUT_RNG: RefCell<ChaCha8Rng> = RefCell::new(ChaCha8Rng::seed_from_u64(0));
}

/// Seeds this thread's dropout masks.
pub fn seed_dropout(seed: u64) {
    DROPOUT_RNG.with(|r| *r.borrow_mut() = ChaCha8Rng::seed_from_u64(seed));
}

/// Inverted dropout (as `torch.nn.functional.dropout`): zeroes each element with probability `p`
/// and scales the rest by 1/(1−p). Only when `on` and the tensor lives on an autodiff device, so
/// inference never pays for it. Masks come from this thread's generator ([`seed_dropout`]).
pub fn dropout<const D: usize>(x: Tensor<D>, p: f64, on: bool) -> Tensor<D> {
    match dropout_keep(x.dims(), p, on, &x.device()) {
        Some(keep) => x * keep,
        None => x,
    }
}

/// The multipliers [`dropout`] would apply to a tensor of shape `dims` on `device` (0 or
/// 1/(1−p), drawn in row-major order from this thread's generator), or none where it would
/// leave the tensor alone.
pub fn dropout_keep<const D: usize>(
    dims: [usize; D],
    p: f64,
    on: bool,
    device: &Device,
) -> Option<Tensor<D>> {
    if !on || p <= 0.0 || !device.is_autodiff() {
        return None;
    }
    let n: usize = dims.iter().product();
    let (p32, scale) = (p as f32, (1.0 / (1.0 - p)) as f32);
    let mask = DROPOUT_RNG.with(|r| keep_multipliers(&mut r.borrow_mut(), n, p32, scale));
    Some(Tensor::<D>::from_data(TensorData::new(mask, dims), device))
}

/// `n` dropout multipliers: 0 where a uniform draw in [0, 1) falls below `p`, else `scale`. The
/// draws are `r.random::<f32>()`'s, bit for bit and in the same order, but the generator's
/// words come in blocks (`fill`) instead of one call per element, whose bookkeeping cost more
/// than the ChaCha rounds themselves.
fn keep_multipliers(r: &mut ChaCha8Rng, n: usize, p: f32, scale: f32) -> Vec<f32> {
    const BLOCK: usize = 1024;
    let mut out = Vec::with_capacity(n);
    let mut words = [0u32; BLOCK];
    let mut left = n;
    while left > 0 {
        let w = &mut words[..left.min(BLOCK)];
        r.fill(&mut w[..]);
        out.extend(w.iter().map(|&x| if unit_f32(x) < p { 0.0 } else { scale }));
        left -= w.len();
    }
    out
}

/// A word as rand 0.9 turns it into an `f32` in [0, 1): its top 24 bits times 2⁻²⁴
/// (`StandardUniform` for `f32`).
#[inline(always)]
fn unit_f32(word: u32) -> f32 {
    (word >> 8) as f32 * (1.0 / (1u32 << 24) as f32)
}

/// A frozen parameter (the backbone never receives gradients).
pub fn frozen<const D: usize>(t: Tensor<D>) -> Param<Tensor<D>> {
    Param::from_tensor(t).set_require_grad(false)
}

/// Loads the frozen [`Linear`] under `vb` (`weight` stored `[out, in]`, and `bias`).
pub fn load_linear(vb: &VarView<'_>, d_in: usize, d_out: usize) -> Result<Linear> {
    // Kept as stored, `[out, in]`, and seen as burn's `[in, out]` through a transposed view (no
    // copy): `gemm` packs either view into the same panels (same bits), and a decoding step's
    // product reads each weight row as one contiguous dot product (`kernels::skinny_dot`).
    let weight = vb.get("weight", [d_out, d_in])?.transpose();
    let bias = vb.get("bias", [d_out])?;
    Ok(Linear { weight: frozen(weight), bias: Some(frozen(bias)) })
}

/// A linear layer's weight given `[in, out]` (as burn's [`Linear`] sees it), laid out as
/// [`load_linear`] keeps it: stored `[out, in]`, seen through a transposed view. Anything but a
/// 2-D f32 weight comes back as a plain tensor.
pub fn linear_weight<const D: usize>(in_out: TensorData, device: &Device) -> Tensor<D> {
    let dims = in_out.shape().to_vec();
    let values = match (D, in_out.try_to_vec::<f32>()) {
        (2, Ok(v)) if dims.len() == 2 => v,
        _ => return Tensor::from_data(in_out, device),
    };
    let (k, n) = (dims[0], dims[1]);
    let out_in: Vec<f32> = (0..n * k).map(|i| values[(i % k) * n + i / k]).collect();
    Tensor::<D>::from_data(TensorData::new(out_in, [n, k]), device).swap_dims(0, 1)
}

/// Loads the frozen [`LayerNorm`] under `vb` (`weight`, `bias`) with epsilon `eps`.
pub fn load_layer_norm(vb: &VarView<'_>, d: usize, eps: f64) -> Result<LayerNorm> {
    let mut ln = LayerNormConfig::new(d).with_epsilon(eps).init(vb.device());
    ln.gamma = frozen(vb.get("weight", [d])?);
    ln.beta = Some(frozen(vb.get("bias", [d])?));
    Ok(ln)
}

/// The backbone tensors under a name prefix, for one device: `vb.pp("encoder").pp("layers.0")`
/// reads `encoder.layers.0.*` (candle's `VarBuilder` idiom). Each loader takes its view first,
/// then its shape.
#[derive(Clone)]
pub struct VarView<'a> {
    weights: &'a Weights,
    prefix: String,
    device: &'a Device,
}

impl<'a> VarView<'a> {
    /// The view of every backbone tensor of `weights` on `device`.
    pub fn new(weights: &'a Weights, device: &'a Device) -> Self {
        Self { weights, prefix: String::new(), device }
    }

    /// The view under `name` (dots allowed: `layers.3`).
    pub fn pp(&self, name: impl std::fmt::Display) -> Self {
        let prefix =
            if self.prefix.is_empty() { name.to_string() } else { format!("{}.{name}", self.prefix) };
        Self { prefix, ..self.clone() }
    }

    /// The device tensors are put on.
    pub fn device(&self) -> &'a Device {
        self.device
    }

    /// The weights behind the view.
    pub fn weights(&self) -> &'a Weights {
        self.weights
    }

    /// The tensor `name` under the view, checked against `shape`.
    pub fn get<const D: usize>(&self, name: &str, shape: [usize; D]) -> Result<Tensor<D>> {
        self.weights.backbone(&self.pp(name).prefix, shape, self.device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The multipliers as drawn one element at a time (what `dropout_keep` did before blocks).
    fn one_by_one(r: &mut ChaCha8Rng, n: usize, p: f32, scale: f32) -> Vec<f32> {
        (0..n).map(|_| if r.random::<f32>() < p { 0.0 } else { scale }).collect()
    }

    #[test]
    fn block_draws_equal_one_by_one_draws_bit_for_bit_across_calls() {
        let (mut a, mut b) = (ChaCha8Rng::seed_from_u64(7), ChaCha8Rng::seed_from_u64(7));
        // Sizes around the generator's 64-word buffer and the 1024-word blocks, in one stream,
        // so that each call starts where the last one stopped.
        for n in [0, 1, 63, 64, 65, 1023, 1024, 1025, 5000, 3, 70_001] {
            for p in [0.1f32, 0.5] {
                let scale = 1.0 / (1.0 - p);
                let (x, y) = (keep_multipliers(&mut a, n, p, scale), one_by_one(&mut b, n, p, scale));
                assert_eq!(x, y, "n = {n}, p = {p}");
            }
        }
        assert_eq!(a.random::<u32>(), b.random::<u32>(), "the streams end at the same word");
    }

    #[test]
    fn about_a_fraction_p_is_dropped() {
        let mut r = ChaCha8Rng::seed_from_u64(1);
        let m = keep_multipliers(&mut r, 100_000, 0.1, 1.0 / 0.9);
        let dropped = m.iter().filter(|&&v| v == 0.0).count();
        assert!((9_000..11_000).contains(&dropped), "{dropped} of 100000 dropped at p = 0.1");
    }
}
