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
    if !on || p <= 0.0 || !x.device().is_autodiff() {
        return x;
    }
    let dims = x.dims();
    let n: usize = dims.iter().product();
    let (p32, scale) = (p as f32, (1.0 / (1.0 - p)) as f32);
    let mask: Vec<f32> = DROPOUT_RNG.with(|r| {
        let mut r = r.borrow_mut();
        (0..n).map(|_| if r.random::<f32>() < p32 { 0.0 } else { scale }).collect()
    });
    x.clone() * Tensor::<D>::from_data(TensorData::new(mask, dims), &x.device())
}

/// A frozen parameter (the backbone never receives gradients).
pub fn frozen<const D: usize>(t: Tensor<D>) -> Param<Tensor<D>> {
    Param::from_tensor(t).set_require_grad(false)
}

/// Loads `{name}.weight` (`[out, in]`) and `{name}.bias` as a frozen [`Linear`].
pub fn load_linear(w: &Weights, name: &str, d_in: usize, d_out: usize, device: &Device) -> Result<Linear> {
    let weight = w.backbone(&format!("{name}.weight"), [d_out, d_in], device)?.transpose();
    let weight = Tensor::from_data(weight.into_data(), device);
    let bias = w.backbone(&format!("{name}.bias"), [d_out], device)?;
    Ok(Linear { weight: frozen(weight), bias: Some(frozen(bias)) })
}

/// Loads `{name}.weight` / `{name}.bias` as a frozen [`LayerNorm`] with epsilon `eps`.
pub fn load_layer_norm(w: &Weights, name: &str, d: usize, eps: f64, device: &Device) -> Result<LayerNorm> {
    let mut ln = LayerNormConfig::new(d).with_epsilon(eps).init(device);
    ln.gamma = frozen(w.backbone(&format!("{name}.weight"), [d], device)?);
    ln.beta = Some(frozen(w.backbone(&format!("{name}.bias"), [d], device)?));
    Ok(ln)
}
