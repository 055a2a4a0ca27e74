//! Warm-starting a BART-shaped encoder-decoder from a BERT-family encoder (the bert2bert recipe of
//! Rothe et al., 2020, "Leveraging Pre-trained Checkpoints for Sequence Generation Tasks").
//!
//! The encoder maps one to one, so it computes exactly what the BERT computes:
//! * `word_embeddings` → `shared` (no `embed_scale`);
//! * `position_embeddings` + `token_type_embeddings[0]` → the position table, behind BART's two
//!   offset rows (every token is segment 0, so the token-type row folds into the positions);
//! * the embedding LayerNorm → `layernorm_embedding` (ε from the BERT config, 1e-12);
//! * per layer: `query/key/value`, `attention.output.dense` → `q/k/v/out_proj`, the attention
//!   output LayerNorm → `self_attn_layer_norm`, `intermediate.dense`/`output.dense` →
//!   `fc1`/`fc2`, the output LayerNorm → `final_layer_norm`. BERT is post-LayerNorm with exact
//!   GELU, like BART.
//!
//! Each decoder layer starts as a copy of the matching encoder layer (its self-attention becomes
//! causal); the cross-attention has no BERT counterpart and is newly initialised as BERT
//! initialises (weights N(0, 0.02) from a fixed seed, zero biases, LayerNorm (1, 0)).

use super::config::BartConfig;
use super::random::{HostTensor, Normal};
use super::weights::Weights;
use crate::error::{Error, Result};
use serde::Deserialize;
use std::path::Path;

/// The fields of a BERT `config.json` that matter here.
#[derive(Debug, Clone, Deserialize)]
pub struct BertConfig {
    /// Hidden width (BART's `d_model`).
    pub hidden_size: usize,
    /// Encoder layers (the decoder gets as many, copied from them).
    pub num_hidden_layers: usize,
    /// Attention heads per layer.
    pub num_attention_heads: usize,
    /// Feed-forward width.
    pub intermediate_size: usize,
    /// Rows of the word embedding.
    pub vocab_size: usize,
    /// Rows of the position embedding: the longest input in tokens.
    pub max_position_embeddings: usize,
    /// LayerNorm ε.
    #[serde(default = "eps")]
    pub layer_norm_eps: f64,
    /// Activation (only exact `gelu` is supported).
    #[serde(default = "gelu")]
    pub hidden_act: String,
    /// Hidden dropout.
    #[serde(default)]
    pub hidden_dropout_prob: f64,
    /// Attention dropout.
    #[serde(default)]
    pub attention_probs_dropout_prob: f64,
}

fn eps() -> f64 {
    1e-12
}
fn gelu() -> String {
    "gelu".into()
}

/// Whether `config.json` at `path` describes a BERT-family encoder (`model_type` bert, or a
/// `Bert*` architecture).
pub fn is_bert_config(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else { return false };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else { return false };
    v["model_type"].as_str() == Some("bert")
        || v["architectures"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x.as_str().is_some_and(|s| s.starts_with("Bert"))))
}

/// The BART config and weights warm-started from the BERT at `config`/`weights`.
pub fn warm_start(config: &Path, weights: &Weights) -> Result<(BartConfig, Vec<HostTensor>)> {
    let text = std::fs::read_to_string(config).map_err(|e| Error::io(config, e))?;
    let bc: BertConfig = serde_json::from_str(&text)
        .map_err(|e| Error::Weights(format!("{}:{}: not a BERT config: {e}", config.display(), e.line())))?;
    if bc.hidden_act != "gelu" {
        return Err(Error::Weights(format!(
            "{}: activation {:?} is not supported (only exact gelu)",
            config.display(),
            bc.hidden_act
        )));
    }
    let d = bc.hidden_size;
    let cfg: BartConfig = serde_json::from_value(serde_json::json!({
        "d_model": d, "encoder_layers": bc.num_hidden_layers, "decoder_layers": bc.num_hidden_layers,
        "encoder_attention_heads": bc.num_attention_heads, "decoder_attention_heads": bc.num_attention_heads,
        "encoder_ffn_dim": bc.intermediate_size, "decoder_ffn_dim": bc.intermediate_size,
        "vocab_size": bc.vocab_size, "max_position_embeddings": bc.max_position_embeddings,
        "scale_embedding": false, "layer_norm_eps": bc.layer_norm_eps, "position_offset": 2,
        "dropout": bc.hidden_dropout_prob, "attention_dropout": bc.attention_probs_dropout_prob,
        "activation_dropout": 0.0
    }))
    .map_err(|e| Error::Internal(e.to_string()))?;
    cfg.check().map_err(|m| Error::Weights(format!("{}: {m}", config.display())))?;
    // Checkpoints saved from BertForMaskedLM & co. prefix everything with `bert.`.
    let prefix = if weights.has_raw("bert.embeddings.word_embeddings.weight") { "bert." } else { "" };
    let get = |name: &str, shape: &[usize]| -> Result<Vec<f32>> {
        let (v, s) = weights.raw(&format!("{prefix}{name}"))?;
        if s != shape {
            return Err(Error::Weights(format!("BERT tensor {name} has shape {s:?}, expected {shape:?}")));
        }
        Ok(v)
    };
    let mut out: Vec<HostTensor> = Vec::new();
    out.push((
        "shared.weight".into(),
        get("embeddings.word_embeddings.weight", &[bc.vocab_size, d])?,
        vec![bc.vocab_size, d],
    ));
    let pos = get("embeddings.position_embeddings.weight", &[bc.max_position_embeddings, d])?;
    let tt = get("embeddings.token_type_embeddings.weight", &[2, d])
        .or_else(|_| get("embeddings.token_type_embeddings.weight", &[1, d]))?;
    let mut table = vec![0.0f32; 2 * d];
    table.extend(pos.chunks(d).flat_map(|row| row.iter().zip(&tt[..d]).map(|(p, t)| p + t)));
    let ln_w = get("embeddings.LayerNorm.weight", &[d])?;
    let ln_b = get("embeddings.LayerNorm.bias", &[d])?;
    for stack in ["encoder", "decoder"] {
        out.push((
            format!("{stack}.embed_positions.weight"),
            table.clone(),
            vec![bc.max_position_embeddings + 2, d],
        ));
        out.push((format!("{stack}.layernorm_embedding.weight"), ln_w.clone(), vec![d]));
        out.push((format!("{stack}.layernorm_embedding.bias"), ln_b.clone(), vec![d]));
    }
    let ffn = bc.intermediate_size;
    let mut n = Normal::new(0xb2b);
    for i in 0..bc.num_hidden_layers {
        let l = format!("encoder.layer.{i}");
        let mut layer: Vec<(String, Vec<f32>, Vec<usize>)> = Vec::new();
        for (ours, theirs, o, inp) in [
            ("self_attn.q_proj", "attention.self.query", d, d),
            ("self_attn.k_proj", "attention.self.key", d, d),
            ("self_attn.v_proj", "attention.self.value", d, d),
            ("self_attn.out_proj", "attention.output.dense", d, d),
            ("fc1", "intermediate.dense", ffn, d),
            ("fc2", "output.dense", d, ffn),
        ] {
            layer.push((
                format!("{ours}.weight"),
                get(&format!("{l}.{theirs}.weight"), &[o, inp])?,
                vec![o, inp],
            ));
            layer.push((format!("{ours}.bias"), get(&format!("{l}.{theirs}.bias"), &[o])?, vec![o]));
        }
        for (ours, theirs) in
            [("self_attn_layer_norm", "attention.output.LayerNorm"), ("final_layer_norm", "output.LayerNorm")]
        {
            for p in ["weight", "bias"] {
                layer.push((format!("{ours}.{p}"), get(&format!("{l}.{theirs}.{p}"), &[d])?, vec![d]));
            }
        }
        for stack in ["encoder", "decoder"] {
            for (name, v, s) in &layer {
                out.push((format!("{stack}.layers.{i}.{name}"), v.clone(), s.clone()));
            }
        }
        let p = format!("decoder.layers.{i}.encoder_attn");
        for proj in ["q_proj", "k_proj", "v_proj", "out_proj"] {
            out.push((format!("{p}.{proj}.weight"), n.vec(d * d, 0.0, 0.02), vec![d, d]));
            out.push((format!("{p}.{proj}.bias"), vec![0.0; d], vec![d]));
        }
        out.push((format!("{p}_layer_norm.weight"), vec![1.0; d], vec![d]));
        out.push((format!("{p}_layer_norm.bias"), vec![0.0; d], vec![d]));
    }
    Ok((cfg, out))
}
