//! Prompt generators (docs/deepke.md §5.2): an embedding of the prompt positions 0..L passed through
//! Linear(d→P) → tanh → Linear(P→2·N·d), giving per-layer prefix keys and values. Three of them,
//! named by where their prefixes are used (DeepKE's names are permuted, docs/deepke.md §5.2).

use super::attention::Prefix;
use super::kernels::linear;
use super::layers::VarView;
use super::random::Normal;
use crate::error::Result;
use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Shape of a prompt generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PromptShape {
    /// Prompt length L.
    pub len: usize,
    /// Hidden width P of the MLP.
    pub dim: usize,
    /// Model width d.
    pub d_model: usize,
    /// Layers N (the decoder's, for all three uses, as the reference).
    pub layers: usize,
    /// Heads H.
    pub heads: usize,
}

/// One generator.
#[derive(Module, Debug)]
pub struct PromptGenerator {
    embedding: Param<Tensor<2>>,
    mlp0: Linear,
    mlp2: Linear,
    layers: usize,
    heads: usize,
}

fn trainable<const D: usize>(t: Tensor<D>) -> Param<Tensor<D>> {
    Param::from_tensor(t).set_require_grad(true)
}

impl PromptGenerator {
    /// Fresh weights as PyTorch initialises them: embedding N(0, 1), Linear U(±1/√fan_in), drawn
    /// from a ChaCha8 generator seeded with `seed` (the same on every machine and thread).
    pub fn init(s: PromptShape, seed: u64, device: &Device) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut uni = |fan_in: usize, shape: Vec<usize>| {
            let b = 1.0 / (fan_in as f32).sqrt();
            let n = shape.iter().product();
            let v: Vec<f32> = (0..n).map(|_| rng.random_range(-b..b)).collect();
            TensorData::new(v, shape)
        };
        let out = 2 * s.layers * s.d_model;
        let w0: Tensor<2> = Tensor::from_data(uni(s.d_model, vec![s.d_model, s.dim]), device);
        let b0: Tensor<1> = Tensor::from_data(uni(s.d_model, vec![s.dim]), device);
        let w2: Tensor<2> = Tensor::from_data(uni(s.dim, vec![s.dim, out]), device);
        let b2: Tensor<1> = Tensor::from_data(uni(s.dim, vec![out]), device);
        let emb =
            TensorData::new(Normal::new(seed ^ 0xe3b).vec(s.len * s.d_model, 0.0, 1.0), [s.len, s.d_model]);
        Self {
            embedding: trainable(Tensor::from_data(emb, device)),
            mlp0: Linear { weight: trainable(w0), bias: Some(trainable(b0)) },
            mlp2: Linear { weight: trainable(w2), bias: Some(trainable(b2)) },
            layers: s.layers,
            heads: s.heads,
        }
    }

    /// Loads `embedding.weight`, `mlp.0.*` and `mlp.2.*` under `vb` (Linear weights stored
    /// `[out, in]` as PyTorch does).
    pub fn load(vb: &VarView<'_>, s: PromptShape) -> Result<Self> {
        let out = 2 * s.layers * s.d_model;
        let lin = |n: &str, i: usize, o: usize| -> Result<Linear> {
            let vb = vb.pp(n);
            Ok(Linear {
                weight: trainable(vb.get("weight", [o, i])?.transpose()),
                bias: Some(trainable(vb.get("bias", [o])?)),
            })
        };
        Ok(Self {
            embedding: trainable(vb.pp("embedding").get("weight", [s.len, s.d_model])?),
            mlp0: lin("mlp.0", s.d_model, s.dim)?,
            mlp2: lin("mlp.2", s.dim, out)?,
            layers: s.layers,
            heads: s.heads,
        })
    }

    /// The per-layer prefixes, each `[1, H, L, d_h]` (broadcast over the batch when used).
    /// `X[l, (c·H + h)·d_h + j]` is element (l, c, h, j); layer i takes c = 2i (keys) and 2i+1.
    pub fn prefixes(&self) -> Vec<Prefix> {
        let e = self.embedding.val();
        let [l, d] = e.dims();
        let x = linear(&self.mlp2, linear(&self.mlp0, e).tanh());
        let (h, dh) = (self.heads, d / self.heads);
        let x = x.reshape([l, 2 * self.layers, h, dh]);
        let part =
            |c: usize| x.clone().narrow(1, c, 1).reshape([l, h, dh]).swap_dims(0, 1).unsqueeze_dim::<4>(0);
        (0..self.layers).map(|i| Prefix { key: part(2 * i), value: part(2 * i + 1) }).collect()
    }

    /// Gradients of this generator's tensors, with HF names and layouts, for checks.
    pub fn named_params(&self, name: &str) -> Vec<(String, Param<Tensor<2>>, bool)> {
        vec![
            (format!("{name}.embedding.weight"), self.embedding.clone(), false),
            (format!("{name}.mlp.0.weight"), self.mlp0.weight.clone(), true),
            (format!("{name}.mlp.2.weight"), self.mlp2.weight.clone(), true),
        ]
    }

    /// The bias parameters with their HF names.
    pub fn named_biases(&self, name: &str) -> Vec<(String, Param<Tensor<1>>)> {
        let mut v = Vec::new();
        if let Some(b) = &self.mlp0.bias {
            v.push((format!("{name}.mlp.0.bias"), b.clone()));
        }
        if let Some(b) = &self.mlp2.bias {
            v.push((format!("{name}.mlp.2.bias"), b.clone()));
        }
        v
    }
}

/// The three generators of LightNER.
#[derive(Module, Debug)]
pub struct Prompts {
    /// Feeds every encoder self-attention.
    pub encoder_self: PromptGenerator,
    /// Feeds every decoder self-attention.
    pub decoder_self: PromptGenerator,
    /// Feeds every decoder cross-attention.
    pub cross: PromptGenerator,
}

impl Prompts {
    /// The uses, in a fixed order, with their names.
    pub const NAMES: [&'static str; 3] = ["encoder_self", "decoder_self", "cross"];

    /// Fresh generators, seeded from `seed` (each its own stream).
    pub fn init(s: PromptShape, seed: u64, device: &Device) -> Self {
        Self {
            encoder_self: PromptGenerator::init(s, seed.wrapping_mul(3), device),
            decoder_self: PromptGenerator::init(s, seed.wrapping_mul(3).wrapping_add(1), device),
            cross: PromptGenerator::init(s, seed.wrapping_mul(3).wrapping_add(2), device),
        }
    }

    /// Loads the three generators under `vb`, by their use names.
    pub fn load(vb: &VarView<'_>, s: PromptShape) -> Result<Self> {
        Ok(Self {
            encoder_self: PromptGenerator::load(&vb.pp("encoder_self"), s)?,
            decoder_self: PromptGenerator::load(&vb.pp("decoder_self"), s)?,
            cross: PromptGenerator::load(&vb.pp("cross"), s)?,
        })
    }

    /// The generators with their names.
    pub fn generators(&self) -> [(&'static str, &PromptGenerator); 3] {
        [("encoder_self", &self.encoder_self), ("decoder_self", &self.decoder_self), ("cross", &self.cross)]
    }
}
