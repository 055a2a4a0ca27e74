//! Small building blocks loaded from HF names: linear layers (HF stores `[out, in]`, burn
//! multiplies by `[in, out]`, so weights are transposed once at load) and LayerNorms.

use super::weights::Weights;
use crate::error::Result;
use burn::module::Param;
use burn::nn::{LayerNorm, LayerNormConfig};
use burn::tensor::{Device, Tensor};

pub use burn::nn::Linear;

/// A frozen parameter (the backbone never receives gradients).
pub fn frozen<const D: usize>(t: Tensor<D>) -> Param<Tensor<D>> {
    Param::from_tensor(t).set_require_grad(false)
}

/// Loads `{name}.weight` (`[out, in]`) and `{name}.bias` as a frozen [`Linear`].
pub fn load_linear(w: &Weights, name: &str, d_in: usize, d_out: usize, device: &Device) -> Result<Linear> {
    let weight = w.backbone(&format!("{name}.weight"), [d_out, d_in], device)?.transpose();
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
