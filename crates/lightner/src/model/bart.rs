//! BART (Lewis et al., 2020) as HF transformers 4.26 `modeling_bart.py` computes it: a shared token
//! embedding (times `embed_scale`), learned positions with offset 2, `layernorm_embedding`, and
//! post-LayerNorm encoder and decoder layers with exact GELU — plus the per-layer prefixes that
//! LightNER adds to every attention (docs/deepke.md §5.1, docs/deepke.md §5.3). Field names follow the checkpoint's.
//!
//! Masks are boolean, true = hidden. Prefix columns are never hidden and positions are never
//! shifted by the prefix (docs/deepke.md §5.3).

use super::attention::{Attention, Keys, Prefix};
use super::config::BartConfig;
use super::kernels::{add_layer_norm, gelu, layer_norm, linear};
use super::layers::{Linear, VarView, dropout, frozen, load_layer_norm, load_linear};
use super::weights::Weights;
use crate::error::Result;
use burn::module::{Module, Param};
use burn::nn::LayerNorm;
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

/// The frozen backbone.
#[derive(Module, Debug)]
pub struct Bart {
    /// The shared token embedding `[V, d]`.
    pub shared: Param<Tensor<2>>,
    /// The encoder stack.
    pub encoder: Encoder,
    /// The decoder stack.
    pub decoder: Decoder,
    embed_scale: f64,
    /// Dropout rates from the config, and whether they apply (training).
    #[module(skip)]
    dropouts: Dropouts,
    /// Rows that stand in for some token ids (a pack's label tokens), so that the packs of one
    /// backbone share `shared` itself instead of each holding a copy with its rows written in.
    #[module(skip)]
    pub overrides: Option<RowOverrides>,
}

/// Embedding rows for a few token ids, looked up in place of `shared` (ids past its end
/// included: label tokens added to the vocabulary).
#[derive(Debug, Clone)]
pub struct RowOverrides {
    /// The token ids, one per row.
    pub ids: Vec<u32>,
    /// `[ids.len(), d]`.
    pub rows: Tensor<2>,
}

/// Dropout probabilities (HF `dropout`, `attention_dropout`, `activation_dropout`) and whether
/// they apply: only in training, and only on an autodiff device ([`dropout`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Dropouts {
    /// On hidden states: the embeddings' output and each sub-layer's output.
    pub hidden: f64,
    /// On attention probabilities.
    pub attention: f64,
    /// After the feed-forward activation.
    pub activation: f64,
    /// Whether they apply (training).
    pub on: bool,
}

impl Dropouts {
    /// The rates of `cfg`, off.
    pub fn from_config(cfg: &BartConfig) -> Self {
        Self {
            hidden: cfg.dropout,
            attention: cfg.attention_dropout,
            activation: cfg.activation_dropout,
            on: false,
        }
    }

    fn hidden<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        dropout(x, self.hidden, self.on)
    }

    /// The attention-probability dropout in effect (0 when off).
    fn attention(&self) -> f64 {
        if self.on { self.attention } else { 0.0 }
    }

    /// HF's feed-forward block: `fc2(dropout(gelu(fc1(x))))`, then the hidden dropout.
    fn ffn(&self, fc1: &Linear, fc2: &Linear, x: Tensor<3>) -> Tensor<3> {
        let h = dropout(gelu(linear(fc1, x)), self.activation, self.on);
        self.hidden(linear(fc2, h))
    }
}

/// Encoder stack.
#[derive(Module, Debug)]
pub struct Encoder {
    embed_positions: Param<Tensor<2>>,
    layernorm_embedding: LayerNorm,
    layers: Vec<EncoderLayer>,
    offset: usize,
    /// LayerNorm ε (burn's LayerNorm keeps its own private).
    eps: f64,
}

/// Decoder stack.
#[derive(Module, Debug)]
pub struct Decoder {
    embed_positions: Param<Tensor<2>>,
    layernorm_embedding: LayerNorm,
    layers: Vec<DecoderLayer>,
    offset: usize,
    /// LayerNorm ε.
    eps: f64,
}

/// One post-LayerNorm encoder layer (self-attention, then feed-forward).
#[derive(Module, Debug)]
pub struct EncoderLayer {
    self_attn: Attention,
    self_attn_layer_norm: LayerNorm,
    fc1: Linear,
    fc2: Linear,
    final_layer_norm: LayerNorm,
    /// LayerNorm ε.
    eps: f64,
}

/// One post-LayerNorm decoder layer (causal self-attention, cross-attention, feed-forward).
#[derive(Module, Debug)]
pub struct DecoderLayer {
    self_attn: Attention,
    self_attn_layer_norm: LayerNorm,
    encoder_attn: Attention,
    encoder_attn_layer_norm: LayerNorm,
    fc1: Linear,
    fc2: Linear,
    final_layer_norm: LayerNorm,
    /// LayerNorm ε.
    eps: f64,
}

impl EncoderLayer {
    /// Loads the layer under `vb` (`encoder.layers.{i}`).
    pub fn load(vb: &VarView<'_>, cfg: &BartConfig) -> Result<Self> {
        let (d, eps) = (cfg.d_model, cfg.layer_norm_eps);
        Ok(Self {
            self_attn: Attention::load(&vb.pp("self_attn"), d, cfg.encoder_attention_heads)?,
            self_attn_layer_norm: load_layer_norm(&vb.pp("self_attn_layer_norm"), d, eps)?,
            fc1: load_linear(&vb.pp("fc1"), d, cfg.encoder_ffn_dim)?,
            fc2: load_linear(&vb.pp("fc2"), cfg.encoder_ffn_dim, d)?,
            final_layer_norm: load_layer_norm(&vb.pp("final_layer_norm"), d, eps)?,
            eps,
        })
    }

    /// The layer on `x` `[B, S, d]`: self-attention over the prefix (when given) and `x`,
    /// `mask` `[B, 1, 1, L + S]` hiding the padding keys, then the feed-forward block.
    pub fn forward(
        &self,
        x: Tensor<3>,
        prefix: Option<&Prefix>,
        mask: Tensor<4, Bool>,
        drop: &Dropouts,
    ) -> Tensor<3> {
        let (k, v) = self.self_attn.key_value(x.clone());
        let keys = Keys::new(prefix, k, v);
        let h = drop.hidden(self.self_attn.attend(x.clone(), keys, Some(mask), drop.attention()));
        let x = add_layer_norm(&self.self_attn_layer_norm, self.eps, x, h);
        let h = drop.ffn(&self.fc1, &self.fc2, x.clone());
        add_layer_norm(&self.final_layer_norm, self.eps, x, h)
    }
}

impl DecoderLayer {
    /// Loads the layer under `vb` (`decoder.layers.{i}`).
    pub fn load(vb: &VarView<'_>, cfg: &BartConfig) -> Result<Self> {
        let (d, eps, h) = (cfg.d_model, cfg.layer_norm_eps, cfg.decoder_attention_heads);
        Ok(Self {
            self_attn: Attention::load(&vb.pp("self_attn"), d, h)?,
            self_attn_layer_norm: load_layer_norm(&vb.pp("self_attn_layer_norm"), d, eps)?,
            encoder_attn: Attention::load(&vb.pp("encoder_attn"), d, h)?,
            encoder_attn_layer_norm: load_layer_norm(&vb.pp("encoder_attn_layer_norm"), d, eps)?,
            fc1: load_linear(&vb.pp("fc1"), d, cfg.decoder_ffn_dim)?,
            fc2: load_linear(&vb.pp("fc2"), cfg.decoder_ffn_dim, d)?,
            final_layer_norm: load_layer_norm(&vb.pp("final_layer_norm"), d, eps)?,
            eps,
        })
    }

    /// The layer on `x` `[B, T, d]`, written once for both decoding paths:
    ///
    /// * self-attention over `own(k, v)`, where `k`, `v` are the projected keys and values of
    ///   `x` and `own` puts what comes before them in front: the prefix (teacher forcing), or the
    ///   prefix and the tokens decoded so far (incremental decoding, which also keeps the result);
    ///   `self_mask` `[B, 1, T, K]` (none: every key visible);
    /// * cross-attention over `cross` (prefix ⊕ projected encoder states, see
    ///   [`DecoderLayer::cross_key_value`]), `cross_mask` `[B, 1, 1, K]` hiding source padding;
    /// * the feed-forward block.
    pub fn forward(
        &self,
        x: Tensor<3>,
        own: impl FnOnce(Tensor<4>, Tensor<4>) -> Keys,
        self_mask: Option<Tensor<4, Bool>>,
        cross: Keys,
        cross_mask: Tensor<4, Bool>,
        drop: &Dropouts,
    ) -> Tensor<3> {
        let (k, v) = self.self_attn.key_value(x.clone());
        let h = drop.hidden(self.self_attn.attend(x.clone(), own(k, v), self_mask, drop.attention()));
        let x = add_layer_norm(&self.self_attn_layer_norm, self.eps, x, h);
        let h = drop.hidden(self.encoder_attn.attend(x.clone(), cross, Some(cross_mask), drop.attention()));
        let x = add_layer_norm(&self.encoder_attn_layer_norm, self.eps, x, h);
        let h = drop.ffn(&self.fc1, &self.fc2, x.clone());
        add_layer_norm(&self.final_layer_norm, self.eps, x, h)
    }

    /// The cross-attention keys and values of encoder states `enc` `[B, S, d]`, behind the
    /// prefix when given.
    pub fn cross_key_value(&self, enc: Tensor<3>, prefix: Option<&Prefix>) -> Keys {
        let (k, v) = self.encoder_attn.key_value(enc);
        Keys::new(prefix, k, v)
    }
}

/// One decoder layer's cache: self-attention keys/values so far (prefix first), and the
/// cross-attention keys/values (prefix ⊕ projected encoder states), computed once.
#[derive(Debug, Clone)]
pub struct LayerCache {
    /// `None` until the first token when there is no prefix (zero-length tensors are avoided).
    self_k: Option<Tensor<4>>,
    self_v: Option<Tensor<4>>,
    cross_k: Tensor<4>,
    cross_v: Tensor<4>,
}

/// The decoder's state during incremental decoding.
#[derive(Debug, Clone)]
pub struct DecoderCache {
    layers: Vec<LayerCache>,
    /// `[B, 1, 1, L + S]`: the source padding, behind the (never hidden) prefix columns.
    cross_mask: Tensor<4, Bool>,
    /// Tokens consumed so far (the next token's position).
    pub pos: usize,
}

impl DecoderCache {
    /// Keeps the batch rows `idx` (in that order), for beam search and finished rows.
    pub fn select(&self, idx: Tensor<1, Int>) -> Self {
        let sel = |t: &Tensor<4>| t.clone().select(0, idx.clone());
        let sel_opt = |t: &Option<Tensor<4>>| t.as_ref().map(sel);
        Self {
            layers: self
                .layers
                .iter()
                .map(|l| LayerCache {
                    self_k: sel_opt(&l.self_k),
                    self_v: sel_opt(&l.self_v),
                    cross_k: sel(&l.cross_k),
                    cross_v: sel(&l.cross_v),
                })
                .collect(),
            cross_mask: self.cross_mask.clone().select(0, idx),
            pos: self.pos,
        }
    }
}

/// `[B, L]` of false followed by `pad` (`[B, K]`), as `[B, 1, 1, L + K]`.
pub fn prefixed_key_mask(pad: Tensor<2, Bool>, prefix_len: usize) -> Tensor<4, Bool> {
    let [b, k] = pad.dims();
    let m = if prefix_len == 0 {
        pad
    } else {
        let zeros = Tensor::<2, Bool>::from_data(
            TensorData::new(vec![false; b * prefix_len], [b, prefix_len]),
            &pad.device(),
        );
        Tensor::cat(vec![zeros, pad], 1)
    };
    m.reshape([b, 1, 1, prefix_len + k])
}

impl Bart {
    /// Loads the backbone from HF-named weights.
    pub fn load(cfg: &BartConfig, w: &Weights, device: &Device) -> Result<Self> {
        let d = cfg.d_model;
        let eps = cfg.layer_norm_eps;
        let positions = cfg.max_position_embeddings + cfg.position_offset;
        let vb = VarView::new(w, device);
        let shared = frozen(w.shared_embedding([cfg.vocab_size, d], device)?);
        let (enc, dec) = (vb.pp("encoder"), vb.pp("decoder"));
        let encoder = Encoder {
            embed_positions: frozen(enc.pp("embed_positions").get("weight", [positions, d])?),
            layernorm_embedding: load_layer_norm(&enc.pp("layernorm_embedding"), d, eps)?,
            layers: (0..cfg.encoder_layers)
                .map(|i| EncoderLayer::load(&enc.pp(format!("layers.{i}")), cfg))
                .collect::<Result<_>>()?,
            offset: cfg.position_offset,
            eps,
        };
        let decoder = Decoder {
            embed_positions: frozen(dec.pp("embed_positions").get("weight", [positions, d])?),
            layernorm_embedding: load_layer_norm(&dec.pp("layernorm_embedding"), d, eps)?,
            layers: (0..cfg.decoder_layers)
                .map(|i| DecoderLayer::load(&dec.pp(format!("layers.{i}")), cfg))
                .collect::<Result<_>>()?,
            offset: cfg.position_offset,
            eps,
        };
        Ok(Self {
            shared,
            encoder,
            decoder,
            embed_scale: if cfg.scale_embedding { (d as f64).sqrt() } else { 1.0 },
            dropouts: Dropouts::from_config(cfg),
            overrides: None,
        })
    }

    /// Every attention block with its module path, in path order: each encoder layer's
    /// self-attention, then each decoder layer's self- and cross-attention.
    fn attention_blocks(&mut self) -> Vec<(String, &mut Attention)> {
        let mut blocks = Vec::new();
        for (i, l) in self.encoder.layers.iter_mut().enumerate() {
            blocks.push((format!("encoder.layers.{i}.self_attn"), &mut l.self_attn));
        }
        for (i, l) in self.decoder.layers.iter_mut().enumerate() {
            blocks.push((format!("decoder.layers.{i}.self_attn"), &mut l.self_attn));
            blocks.push((format!("decoder.layers.{i}.encoder_attn"), &mut l.encoder_attn));
        }
        blocks
    }

    /// Gives every attention block whose module path (`encoder.layers.0.self_attn`,
    /// `decoder.layers.2.encoder_attn`, ...) contains one of `spec.on` fresh low-rank adapters
    /// ([`super::lora`]), block `i` in path order drawing its `A` from `seed` and `i`. Returns how
    /// many blocks got them; none is an error the caller reports with what it asked for.
    pub fn add_lora(&mut self, spec: &super::lora::LoraSpec, seed: u64) -> usize {
        let wanted = |path: &str| spec.on.iter().any(|p| path.contains(p.as_str()));
        let mut n = 0;
        for (i, (path, a)) in self.attention_blocks().into_iter().enumerate() {
            if wanted(&path) {
                a.add_lora(spec, seed ^ (0x10a_u64 << 32) ^ i as u64);
                n += 1;
            }
        }
        n
    }

    /// The backbone with every adapter folded into its projection's weight (`lightner export`).
    pub fn merge_lora(mut self) -> Self {
        for (_, a) in self.attention_blocks() {
            a.merge_lora();
        }
        self
    }

    /// Switches the backbone's dropout on (training) or off (evaluation, the default).
    pub fn set_training(&mut self, on: bool) {
        self.dropouts.on = on;
    }

    /// Whether dropout is on.
    pub fn is_training(&self) -> bool {
        self.dropouts.on
    }

    /// Raw token embeddings `E[ids]`: no scale, no positions (what the pointer head fuses, docs/deepke.md §5.5).
    pub fn token_embeddings(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        let [b, s] = ids.dims();
        let rows = self.rows(ids.reshape([b * s]));
        let d = rows.dims()[1];
        rows.reshape([b, s, d])
    }

    /// The embedding rows of `ids` `[N]` → `[N, d]`: `shared`, with the overriding rows in place
    /// of theirs. The same values as `shared` with the rows written in, without its copy.
    pub fn rows(&self, ids: Tensor<1, Int>) -> Tensor<2> {
        let e = self.shared.val();
        let Some(o) = &self.overrides else { return e.select(0, ids) };
        let [v, d] = e.dims();
        let n = ids.dims()[0];
        // Which override row each id takes (-1: none). Packs have a few labels, so a comparison
        // per label costs less than an index over the whole vocabulary.
        let mut which = ids.clone().zeros_like().sub_scalar(1);
        for (k, &id) in o.ids.iter().enumerate() {
            which = which.mask_fill(ids.clone().equal_elem(id as i64), k as i64);
        }
        let hit = which.clone().greater_equal_elem(0).unsqueeze_dim::<2>(1).expand([n, d]);
        let base = e.select(0, ids.clamp(0, v as i64 - 1));
        let over = o.rows.clone().select(0, which.clamp_min(0));
        base.mask_where(hit, over)
    }

    fn embed(
        &self,
        ids: Tensor<2, Int>,
        positions: &Param<Tensor<2>>,
        offset: usize,
        start: usize,
    ) -> Tensor<3> {
        let [b, s] = ids.dims();
        let x = self.token_embeddings(ids).mul_scalar(self.embed_scale);
        let pos = positions.val().narrow(0, offset + start, s).unsqueeze_dim::<3>(0);
        let d = x.dims()[2];
        x + pos.expand([b, s, d])
    }

    /// Encoder: `ids` `[B, S]`, `pad` `[B, S]` (true = padding) → `[B, S, d]`. `prefixes`: one per
    /// layer, or none.
    pub fn encode(
        &self,
        ids: Tensor<2, Int>,
        pad: Tensor<2, Bool>,
        prefixes: Option<&[Prefix]>,
    ) -> Tensor<3> {
        let enc = &self.encoder;
        let drop = &self.dropouts;
        let embedded = self.embed(ids, &enc.embed_positions, enc.offset, 0);
        let mut x = drop.hidden(layer_norm(&enc.layernorm_embedding, enc.eps, embedded));
        let plen = prefixes.map_or(0, |p| p[0].key.dims()[2]);
        let mask = prefixed_key_mask(pad, plen);
        for (i, layer) in enc.layers.iter().enumerate() {
            x = layer.forward(x, prefixes.map(|p| &p[i]), mask.clone(), drop);
        }
        x
    }

    /// Teacher-forced decoder: `ids` `[B, T]`, `pad` `[B, T]` (true = padding), encoder states
    /// `enc` `[B, S, d]` with `src_pad` `[B, S]` → last hidden state `[B, T, d]`.
    pub fn decode(
        &self,
        ids: Tensor<2, Int>,
        pad: Tensor<2, Bool>,
        enc: Tensor<3>,
        src_pad: Tensor<2, Bool>,
        self_prefixes: Option<&[Prefix]>,
        cross_prefixes: Option<&[Prefix]>,
    ) -> Tensor<3> {
        let dec = &self.decoder;
        let drop = &self.dropouts;
        let device = ids.device();
        let embedded = self.embed(ids, &dec.embed_positions, dec.offset, 0);
        let mut x = drop.hidden(layer_norm(&dec.layernorm_embedding, dec.eps, embedded));
        let [b, t, _] = x.dims();
        let lp = self_prefixes.map_or(0, |p| p[0].key.dims()[2]);
        let lc = cross_prefixes.map_or(0, |p| p[0].key.dims()[2]);
        // Causal: query i hides keys j > i; padding keys are hidden for every query.
        let causal: Vec<bool> = (0..t * t).map(|k| k % t > k / t).collect();
        let causal = Tensor::<2, Bool>::from_data(TensorData::new(causal, [t, t]), &device)
            .reshape([1, 1, t, t])
            .expand([b, 1, t, t]);
        let pad_keys = pad.reshape([b, 1, 1, t]).expand([b, 1, t, t]);
        let own = causal.bool_or(pad_keys);
        let self_mask = if lp == 0 {
            own
        } else {
            let zeros = Tensor::<4, Bool>::from_data(
                TensorData::new(vec![false; b * t * lp], [b, 1, t, lp]),
                &device,
            );
            Tensor::cat(vec![zeros, own], 3)
        };
        let cross_mask = prefixed_key_mask(src_pad, lc);
        for (i, layer) in dec.layers.iter().enumerate() {
            let prefix = self_prefixes.map(|p| &p[i]);
            let cross = layer.cross_key_value(enc.clone(), cross_prefixes.map(|p| &p[i]));
            x = layer.forward(
                x,
                |k, v| Keys::new(prefix, k, v),
                Some(self_mask.clone()),
                cross,
                cross_mask.clone(),
                drop,
            );
        }
        x
    }

    /// A decoder cache for incremental decoding: self-attention starts at the prefix,
    /// cross-attention keys/values (prefix ⊕ encoder) are computed here, once.
    pub fn start_cache(
        &self,
        enc: Tensor<3>,
        src_pad: Tensor<2, Bool>,
        self_prefixes: Option<&[Prefix]>,
        cross_prefixes: Option<&[Prefix]>,
    ) -> DecoderCache {
        let lc = cross_prefixes.map_or(0, |p| p[0].key.dims()[2]);
        let layers = self
            .decoder
            .layers
            .iter()
            .enumerate()
            .map(|(i, layer)| {
                let b = enc.dims()[0];
                let (self_k, self_v) = match self_prefixes.map(|p| &p[i]) {
                    Some(p) => {
                        let [_, h, l, dh] = p.key.dims();
                        (
                            Some(p.key.clone().expand([b, h, l, dh])),
                            Some(p.value.clone().expand([b, h, l, dh])),
                        )
                    }
                    None => (None, None),
                };
                let (cross_k, cross_v) =
                    layer.cross_key_value(enc.clone(), cross_prefixes.map(|p| &p[i])).joined();
                LayerCache { self_k, self_v, cross_k, cross_v }
            })
            .collect();
        DecoderCache { layers, cross_mask: prefixed_key_mask(src_pad, lc), pos: 0 }
    }

    /// One decoder step: `ids` `[B, 1]` at position `cache.pos` → `[B, 1, d]`, extending the cache.
    /// Every earlier token is visible, so the self-attention needs no mask.
    pub fn decode_step(&self, ids: Tensor<2, Int>, cache: &mut DecoderCache) -> Tensor<3> {
        let dec = &self.decoder;
        let mut x =
            dec.layernorm_embedding.forward(self.embed(ids, &dec.embed_positions, dec.offset, cache.pos));
        // Decoding never drops anything, whatever the model's training flag.
        let drop = Dropouts::default();
        for (layer, c) in dec.layers.iter().zip(cache.layers.iter_mut()) {
            let grow = |old: &Option<Tensor<4>>, new: Tensor<4>| match old {
                Some(o) => Tensor::cat(vec![o.clone(), new], 2),
                None => new,
            };
            let cross = Keys::new(None, c.cross_k.clone(), c.cross_v.clone());
            let own = |k, v| {
                let (sk, sv) = (grow(&c.self_k, k), grow(&c.self_v, v));
                c.self_k = Some(sk.clone());
                c.self_v = Some(sv.clone());
                Keys::new(None, sk, sv)
            };
            x = layer.forward(x, own, None, cross, cache.cross_mask.clone(), &drop);
        }
        cache.pos += 1;
        x
    }
}
