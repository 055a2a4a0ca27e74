//! Low-rank adapters (LoRA, Hu et al. 2021, arXiv:2106.09685) on the attention projections: a
//! frozen projection `x·W + b` becomes `x·W + b + s·(x·A)·B`, with `A` `[in, r]` and `B`
//! `[r, out]` trained and `s = lora_alpha / r`. `B` starts at zero, so a fresh adapter leaves
//! the backbone's outputs exactly as they were, and `A` starts as PEFT's `LoraLayer` starts it
//! (Kaiming-uniform with a = √5 on a `[r, in]` weight: U(±1/√in)).
//!
//! Why: training a whole cross-attention beside the prompts closes most of the gap to full
//! fine-tuning on ATIS (`docs/transfer.md`), but costs 15 MB a pack on a d = 384 backbone. A rank-8
//! adapter on the same four projections is 2·d·r numbers per projection, about 0.6 MB on the same
//! backbone: a pack stays a few MB.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Where adapters go and how large they are (`train --lora-rank`, `--lora-on`, `--lora-alpha`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoraSpec {
    /// The rank r (at least 1).
    pub rank: usize,
    /// The scale's numerator: the update is multiplied by `alpha / rank`.
    pub alpha: f64,
    /// The attention blocks that get adapters on their four projections: those whose module path
    /// contains one of these parts (`encoder_attn`: every cross-attention; `self_attn`: every
    /// self-attention; `decoder.layers.5.encoder_attn`: one block).
    pub on: Vec<String>,
}

impl LoraSpec {
    /// The factor the low-rank update is multiplied by.
    pub fn scale(&self) -> f64 {
        self.alpha / self.rank as f64
    }

    /// The largest rank accepted: far past any useful one (an adapter's point is r ≪ d), and
    /// small enough that a hand-edited manifest cannot ask for more memory than a machine has.
    pub const MAX_RANK: usize = 4096;

    /// Checks the numbers and that some block is named.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.rank == 0 || self.rank > Self::MAX_RANK {
            return Err(format!("LoRA rank {} is not in 1..={}", self.rank, Self::MAX_RANK));
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0 && (self.alpha as f32).is_normal()) {
            return Err(format!("LoRA alpha {} must be a positive number", self.alpha));
        }
        if self.on.is_empty() || self.on.iter().any(|p| p.trim().is_empty()) {
            return Err("LoRA needs the attention blocks it adapts (--lora-on encoder_attn, say)".into());
        }
        Ok(())
    }
}

/// One adapter: `s·(x·A)·B`.
#[derive(Module, Debug)]
pub struct Lora {
    /// `[in, r]`.
    pub a: Param<Tensor<2>>,
    /// `[r, out]`.
    pub b: Param<Tensor<2>>,
    /// `alpha / r`.
    scale: f64,
}

impl Lora {
    /// A fresh adapter: `A` ~ U(±1/√in) from `rng`, `B` = 0, both trainable.
    pub fn init(
        d_in: usize,
        d_out: usize,
        rank: usize,
        scale: f64,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Self {
        let bound = 1.0 / (d_in as f32).sqrt();
        let a: Vec<f32> = (0..d_in * rank).map(|_| rng.random_range(-bound..bound)).collect();
        let a = Tensor::<2>::from_data(TensorData::new(a, [d_in, rank]), device);
        let b = Tensor::<2>::zeros([rank, d_out], device);
        Self {
            a: Param::from_tensor(a).set_require_grad(true),
            b: Param::from_tensor(b).set_require_grad(true),
            scale,
        }
    }

    /// The update for `x` (`[.., in]` → `[.., out]`), through the rank-r bottleneck (never the
    /// `[in, out]` product, which would cost d² per row instead of 2·d·r).
    pub fn delta<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let dims = x.dims();
        let d_in = dims[D - 1];
        let rows = dims[..D - 1].iter().product::<usize>();
        let out = self.b.val().dims()[1];
        let y = x.reshape([rows, d_in]).matmul(self.a.val()).matmul(self.b.val()).mul_scalar(self.scale);
        let mut shape = dims;
        shape[D - 1] = out;
        y.reshape(shape)
    }

    /// `weight + s·A·B` (`weight` as burn's Linear keeps it, `[in, out]`): the adapter folded
    /// into its projection, for `lightner export`.
    pub fn merged(&self, weight: Tensor<2>) -> Tensor<2> {
        weight + self.a.val().matmul(self.b.val()).mul_scalar(self.scale)
    }
}

/// The adapters of one attention block's four projections.
#[derive(Module, Debug)]
pub struct AttentionLora {
    /// On `q_proj`.
    pub q: Lora,
    /// On `k_proj`.
    pub k: Lora,
    /// On `v_proj`.
    pub v: Lora,
    /// On `out_proj`.
    pub out: Lora,
}

impl AttentionLora {
    /// Fresh adapters for a `d`-wide block, drawn from a generator seeded with `seed`.
    pub fn init(d: usize, spec: &LoraSpec, seed: u64, device: &Device) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (r, s) = (spec.rank, spec.scale());
        let q = Lora::init(d, d, r, s, &mut rng, device);
        let k = Lora::init(d, d, r, s, &mut rng, device);
        let v = Lora::init(d, d, r, s, &mut rng, device);
        let out = Lora::init(d, d, r, s, &mut rng, device);
        Self { q, k, v, out }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(rank: usize) -> LoraSpec {
        LoraSpec { rank, alpha: 16.0, on: vec!["encoder_attn".into()] }
    }

    fn rand_tensor<const D: usize>(shape: [usize; D], seed: u64, device: &Device) -> Tensor<D> {
        let n = shape.iter().product();
        let v = crate::model::random::Normal::new(seed).vec(n, 0.0, 1.0);
        Tensor::from_data(TensorData::new(v, shape), device)
    }

    #[test]
    fn a_fresh_adapter_adds_exactly_zero() {
        let device = Device::default();
        let l = AttentionLora::init(12, &spec(4), 3, &device);
        let x = rand_tensor([2, 5, 12], 1, &device);
        let d = l.q.delta(x).into_data().try_to_vec::<f32>().unwrap();
        assert!(d.iter().all(|&v| v == 0.0), "B starts at zero");
        let a = l.q.a.val().into_data().try_to_vec::<f32>().unwrap();
        let bound = 1.0 / 12f32.sqrt();
        assert!(a.iter().all(|v| v.abs() <= bound) && a.iter().any(|&v| v != 0.0));
    }

    #[test]
    fn the_update_equals_the_merged_weight_product() {
        let device = Device::default();
        let mut l = Lora::init(8, 6, 3, 2.5, &mut ChaCha8Rng::seed_from_u64(1), &device);
        l.b = Param::from_tensor(rand_tensor([3, 6], 2, &device));
        let w = rand_tensor([8, 6], 3, &device);
        let x = rand_tensor([2, 4, 8], 4, &device);
        let composed = x.clone().matmul(w.clone().unsqueeze()) + l.delta(x.clone());
        let merged = x.matmul(l.merged(w).unsqueeze());
        let (c, m) = (
            composed.into_data().try_to_vec::<f32>().unwrap(),
            merged.into_data().try_to_vec::<f32>().unwrap(),
        );
        for (i, (a, b)) in c.iter().zip(&m).enumerate() {
            assert!((a - b).abs() <= 1e-4 * (1.0 + a.abs()), "element {i}: {a} against {b}");
        }
        // And the scale applies: the update at alpha/r = 2.5 is 2.5 times the plain product.
        let x = rand_tensor([3, 8], 5, &device);
        let plain = x.clone().matmul(l.a.val()).matmul(l.b.val()).into_data().try_to_vec::<f32>().unwrap();
        let d = l.delta(x).into_data().try_to_vec::<f32>().unwrap();
        for (a, b) in d.iter().zip(&plain) {
            assert!((a - 2.5 * b).abs() <= 1e-5 * (1.0 + b.abs()));
        }
    }

    #[test]
    fn specs_are_checked() {
        assert!(spec(8).validate().is_ok());
        assert!(spec(0).validate().unwrap_err().contains("rank"));
        assert!(spec(LoraSpec::MAX_RANK + 1).validate().unwrap_err().contains("rank"));
        assert!(spec(usize::MAX).validate().is_err());
        let bad = LoraSpec { alpha: f64::NAN, ..spec(8) };
        assert!(bad.validate().unwrap_err().contains("alpha"));
        let none = LoraSpec { on: vec![], ..spec(8) };
        assert!(none.validate().is_err());
        assert_eq!(spec(8).scale(), 2.0);
    }
}
