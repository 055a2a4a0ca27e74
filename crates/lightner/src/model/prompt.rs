//! Prompt generators (spec §5.2): an embedding of the prompt positions 0..L passed through
//! Linear(d→P) → tanh → Linear(P→2·N·d), giving per-layer prefix keys and values. Three of them,
//! named by where their prefixes are used (DeepKE's names are permuted, §5.2).

use super::attention::Prefix;
use super::weights::Weights;
use crate::error::Result;
use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::{Device, Distribution, Tensor};

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
    /// Fresh weights as PyTorch initialises them: embedding N(0, 1), Linear U(±1/√fan_in).
    pub fn init(s: PromptShape, device: &Device) -> Self {
        let uni = |fan_in: usize, shape: [usize; 2]| {
            let b = 1.0 / (fan_in as f64).sqrt();
            Tensor::<2>::random(shape, Distribution::Uniform(-b, b), device)
        };
        let out = 2 * s.layers * s.d_model;
        let bias = |fan_in: usize, n: usize| {
            let b = 1.0 / (fan_in as f64).sqrt();
            Tensor::<1>::random([n], Distribution::Uniform(-b, b), device)
        };
        Self {
            embedding: trainable(Tensor::random([s.len, s.d_model], Distribution::Normal(0.0, 1.0), device)),
            mlp0: Linear {
                weight: trainable(uni(s.d_model, [s.d_model, s.dim])),
                bias: Some(trainable(bias(s.d_model, s.dim))),
            },
            mlp2: Linear {
                weight: trainable(uni(s.dim, [s.dim, out])),
                bias: Some(trainable(bias(s.dim, out))),
            },
            layers: s.layers,
            heads: s.heads,
        }
    }

    /// Loads `{name}.embedding.weight`, `{name}.mlp.0.*`, `{name}.mlp.2.*` (Linear weights stored
    /// `[out, in]` as PyTorch does).
    pub fn load(w: &Weights, name: &str, s: PromptShape, device: &Device) -> Result<Self> {
        let out = 2 * s.layers * s.d_model;
        let lin = |n: &str, i: usize, o: usize| -> Result<Linear> {
            Ok(Linear {
                weight: trainable(w.tensor(&format!("{name}.{n}.weight"), [o, i], device)?.transpose()),
                bias: Some(trainable(w.tensor(&format!("{name}.{n}.bias"), [o], device)?)),
            })
        };
        Ok(Self {
            embedding: trainable(w.tensor(
                &format!("{name}.embedding.weight"),
                [s.len, s.d_model],
                device,
            )?),
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
        let x = self.mlp2.forward(self.mlp0.forward(e).tanh());
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

    /// Fresh generators.
    pub fn init(s: PromptShape, device: &Device) -> Self {
        Self {
            encoder_self: PromptGenerator::init(s, device),
            decoder_self: PromptGenerator::init(s, device),
            cross: PromptGenerator::init(s, device),
        }
    }

    /// Loads the three generators by their use names.
    pub fn load(w: &Weights, s: PromptShape, device: &Device) -> Result<Self> {
        Ok(Self {
            encoder_self: PromptGenerator::load(w, "encoder_self", s, device)?,
            decoder_self: PromptGenerator::load(w, "decoder_self", s, device)?,
            cross: PromptGenerator::load(w, "cross", s, device)?,
        })
    }

    /// The generators with their names.
    pub fn generators(&self) -> [(&'static str, &PromptGenerator); 3] {
        [("encoder_self", &self.encoder_self), ("decoder_self", &self.decoder_self), ("cross", &self.cross)]
    }
}
