//! Multi-head attention with an optional *prefix*: prompt keys and values that are prepended to
//! the projected ones, never projected themselves and never masked (docs/deepke.md §5.3, HF BART's
//! `BartAttention` as modified by DeepKE's modeling_bart.py).

use super::kernels::{attend_one, attends_in_one_pass, linear};
use super::layers::{Linear, VarView, dropout, load_linear};
use crate::error::Result;
use burn::module::Module;
use burn::tensor::activation::softmax;
use burn::tensor::{Bool, Tensor};

/// Per-layer prompt keys and values, `[B or 1, H, L, d_h]`.
#[derive(Debug, Clone)]
pub struct Prefix {
    /// Key rows prepended to the layer's keys, `[batch, heads, prefix length, head width]`.
    pub key: Tensor<4>,
    /// Value rows prepended to the layer's values, same shape as `key`.
    pub value: Tensor<4>,
}

/// The four projections of one attention block, named as in the checkpoint.
#[derive(Module, Debug)]
pub struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    out_proj: Linear,
    heads: usize,
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
        })
    }

    /// `[B, T, d]` → `[B, H, T, d_h]`.
    fn split(&self, x: Tensor<3>) -> Tensor<4> {
        let [b, t, d] = x.dims();
        x.reshape([b, t, self.heads, d / self.heads]).swap_dims(1, 2)
    }

    /// Projected keys and values of `z` (`[B, S, d]`), each `[B, H, S, d_h]`.
    pub fn key_value(&self, z: Tensor<3>) -> (Tensor<4>, Tensor<4>) {
        (self.split(linear(&self.k_proj, z.clone())), self.split(linear(&self.v_proj, z)))
    }

    /// Prepends a prefix (broadcast over the batch) to projected keys/values.
    pub fn with_prefix(prefix: Option<&Prefix>, k: Tensor<4>, v: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        match prefix {
            None => (k, v),
            Some(p) => {
                let [b, h, _, dh] = k.dims();
                let l = p.key.dims()[2];
                let pk = p.key.clone().expand([b, h, l, dh]);
                let pv = p.value.clone().expand([b, h, l, dh]);
                (Tensor::cat(vec![pk, k], 2), Tensor::cat(vec![pv, v], 2))
            }
        }
    }

    /// Attention of queries `x` (`[B, T, d]`) over full keys/values `[B, H, K, d_h]` (prefix
    /// included). `mask` (`[B, 1, T or 1, K]`, true = hidden; broadcast over the heads) must leave each row a
    /// visible key.
    /// `drop`: dropout probability on the attention weights (0 outside training).
    pub fn attend(
        &self,
        x: Tensor<3>,
        k: Tensor<4>,
        v: Tensor<4>,
        mask: Option<Tensor<4, Bool>>,
        drop: f64,
    ) -> Tensor<3> {
        let [b, t, d] = x.dims();
        let dh = d / self.heads;
        let q = self.split(linear(&self.q_proj, x)).mul_scalar((dh as f64).powf(-0.5));
        // A decoding step's attention in one pass per head (no dropout: inference only).
        if drop == 0.0 && attends_in_one_pass(&q.device(), t) {
            let ctx = attend_one(q, k, v, mask);
            return linear(&self.out_proj, ctx.swap_dims(1, 2).reshape([b, t, d]));
        }
        let mut scores = q.matmul(k.swap_dims(2, 3));
        if let Some(m) = mask {
            let [_, _, tq, kk] = scores.dims();
            let m = m.expand([b, self.heads, tq, kk]);
            // The dtype minimum (as HF) rather than -inf: a fully hidden row would give a uniform
            // distribution instead of NaN.
            scores = scores.mask_fill(m, f32::MIN);
        }
        let ctx = dropout(softmax(scores, 3), drop, drop > 0.0).matmul(v);
        linear(&self.out_proj, ctx.swap_dims(1, 2).reshape([b, t, d]))
    }
}

impl Attention {
    /// Number of heads.
    pub fn heads(&self) -> usize {
        self.heads
    }
}
