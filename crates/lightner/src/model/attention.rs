//! Multi-head attention with an optional *prefix*: prompt keys and values that are prepended to
//! the projected ones, never projected themselves and never masked (docs/deepke.md §5.3, HF BART's
//! `BartAttention` as modified by DeepKE's modeling_bart.py).

use super::kernels::{attend_one, attends_in_one_pass, attention, linear};
use super::layers::{Linear, VarView, dropout_keep, load_linear};
use super::lora::{AttentionLora, Lora, LoraSpec};
use crate::error::Result;
use burn::module::Module;
use burn::tensor::{Bool, Tensor};

/// Per-layer prompt keys and values, `[B or 1, H, L, d_h]`.
#[derive(Debug, Clone)]
pub struct Prefix {
    /// Key rows prepended to the layer's keys, `[batch, heads, prefix length, head width]`.
    pub key: Tensor<4>,
    /// Value rows prepended to the layer's values, same shape as `key`.
    pub value: Tensor<4>,
}

/// The keys and values one attention reads: the prefix (when given), then the projected rows.
#[derive(Debug, Clone)]
pub struct Keys {
    /// Prompt keys and values, read before the projected ones and never hidden.
    pub prefix: Option<Prefix>,
    /// Projected keys, `[B, H, S, d_h]`.
    pub key: Tensor<4>,
    /// Projected values, same shape as `key`.
    pub value: Tensor<4>,
}

impl Keys {
    /// `key` and `value` behind `prefix` (when given).
    pub fn new(prefix: Option<&Prefix>, key: Tensor<4>, value: Tensor<4>) -> Self {
        Self { prefix: prefix.cloned(), key, value }
    }

    /// Prefix and projected rows in one tensor each, `[B, H, L + S, d_h]` (the prefix broadcast
    /// over the batch): what the decoding cache keeps.
    pub fn joined(self) -> (Tensor<4>, Tensor<4>) {
        let (k, v) = (self.key, self.value);
        match self.prefix {
            None => (k, v),
            Some(p) => {
                let [b, h, _, dh] = k.dims();
                let l = p.key.dims()[2];
                let pk = p.key.expand([b, h, l, dh]);
                let pv = p.value.expand([b, h, l, dh]);
                (Tensor::cat(vec![pk, k], 2), Tensor::cat(vec![pv, v], 2))
            }
        }
    }
}

/// The four projections of one attention block, named as in the checkpoint, and their low-rank
/// adapters when the model has them ([`super::lora`]).
#[derive(Module, Debug)]
pub struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    out_proj: Linear,
    heads: usize,
    lora: Option<AttentionLora>,
}

/// `layer`'s projection of `x`, plus the adapter's update when there is one.
fn project<const D: usize>(layer: &Linear, lora: Option<&Lora>, x: Tensor<D>) -> Tensor<D> {
    match lora {
        Some(l) => linear(layer, x.clone()) + l.delta(x),
        None => linear(layer, x),
    }
}

impl Attention {
    /// Loads `q_proj`, `k_proj`, `v_proj` and `out_proj` under `vb`.
    pub fn load(vb: &VarView<'_>, d: usize, heads: usize) -> Result<Self> {
        Ok(Self {
            q_proj: load_linear(&vb.pp("q_proj"), d, d)?,
            k_proj: load_linear(&vb.pp("k_proj"), d, d)?,
            v_proj: load_linear(&vb.pp("v_proj"), d, d)?,
            out_proj: load_linear(&vb.pp("out_proj"), d, d)?,
            heads,
            lora: None,
        })
    }

    /// Gives the block fresh adapters (`seed` draws their `A`).
    pub fn add_lora(&mut self, spec: &LoraSpec, seed: u64) {
        let w = self.q_proj.weight.val();
        let d = w.dims()[0];
        self.lora = Some(AttentionLora::init(d, spec, seed, &w.device()));
    }

    /// Folds the block's adapters into its projections' weights (leaving none).
    pub fn merge_lora(&mut self) {
        if let Some(l) = self.lora.take() {
            for (p, a) in [
                (&mut self.q_proj, &l.q),
                (&mut self.k_proj, &l.k),
                (&mut self.v_proj, &l.v),
                (&mut self.out_proj, &l.out),
            ] {
                p.weight = super::layers::frozen(a.merged(p.weight.val()));
            }
        }
    }

    fn lora_of(&self, pick: fn(&AttentionLora) -> &Lora) -> Option<&Lora> {
        self.lora.as_ref().map(pick)
    }

    /// `[B, T, d]` → `[B, H, T, d_h]`.
    fn split(&self, x: Tensor<3>) -> Tensor<4> {
        let [b, t, d] = x.dims();
        x.reshape([b, t, self.heads, d / self.heads]).swap_dims(1, 2)
    }

    /// Projected keys and values of `z` (`[B, S, d]`), each `[B, H, S, d_h]`.
    pub fn key_value(&self, z: Tensor<3>) -> (Tensor<4>, Tensor<4>) {
        let k = project(&self.k_proj, self.lora_of(|l| &l.k), z.clone());
        let v = project(&self.v_proj, self.lora_of(|l| &l.v), z);
        (self.split(k), self.split(v))
    }

    /// Attention of queries `x` (`[B, T, d]`) over `keys`. `mask` (`[B or 1, 1, T or 1, L + S]`,
    /// true = hidden; broadcast over the heads) must leave each row a visible key.
    /// `drop`: dropout probability on the attention weights (0 outside training).
    pub fn attend(&self, x: Tensor<3>, keys: Keys, mask: Option<Tensor<4, Bool>>, drop: f64) -> Tensor<3> {
        let [b, t, d] = x.dims();
        let (h, dh) = (self.heads, d / self.heads);
        let scale = (dh as f64).powf(-0.5);
        let q = project(&self.q_proj, self.lora_of(|l| &l.q), x).reshape([b, t, h, dh]);
        let out = self.lora_of(|l| &l.out);
        // A decoding step's attention in one pass per head (no dropout: inference only).
        if drop == 0.0 && attends_in_one_pass(&q.device(), t) {
            let (k, v) = keys.joined();
            let ctx = attend_one(q.swap_dims(1, 2).mul_scalar(scale), k, v, mask);
            return project(&self.out_proj, out, ctx.swap_dims(1, 2).reshape([b, t, d]));
        }
        let n = keys.prefix.as_ref().map_or(0, |p| p.key.dims()[2]) + keys.key.dims()[2];
        // The dropout multipliers of the weights, drawn as `dropout` would draw them.
        let keep = dropout_keep([b, h, t, n], drop, drop > 0.0, &q.device());
        let prefix = keys.prefix.map(|p| (p.key, p.value));
        let ctx = attention(q, keys.key, keys.value, prefix, mask, keep, scale as f32);
        project(&self.out_proj, out, ctx.reshape([b, t, d]))
    }
}

impl Attention {
    /// Number of heads.
    pub fn heads(&self) -> usize {
        self.heads
    }
}
