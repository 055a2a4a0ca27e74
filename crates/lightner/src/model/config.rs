//! The backbone's `config.json` (Hugging Face `BartConfig`), read with serde. Only the fields the
//! forward pass needs are kept; unknown fields are ignored because real configs carry many.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

fn default_eps() -> f64 {
    // HF BART hard-codes nn.LayerNorm's default; BERT-derived backbones set 1e-12 explicitly.
    1e-5
}
fn default_activation() -> String {
    "gelu".into()
}
fn default_offset() -> usize {
    // BART's learned positions start at row 2 (`BartLearnedPositionalEmbedding.offset`).
    2
}

/// The architecture of a BART-shaped encoder-decoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BartConfig {
    /// Hidden width d.
    pub d_model: usize,
    /// Encoder layers.
    pub encoder_layers: usize,
    /// Decoder layers.
    pub decoder_layers: usize,
    /// Encoder attention heads.
    pub encoder_attention_heads: usize,
    /// Decoder attention heads.
    pub decoder_attention_heads: usize,
    /// Encoder feed-forward width.
    pub encoder_ffn_dim: usize,
    /// Decoder feed-forward width.
    pub decoder_ffn_dim: usize,
    /// Rows of the token embedding.
    pub vocab_size: usize,
    /// Learned positions (excluding the offset rows).
    pub max_position_embeddings: usize,
    /// `gelu` (exact, erf) is the only one BART uses.
    #[serde(default = "default_activation")]
    pub activation_function: String,
    /// Multiply token embeddings by √d (`embed_scale`).
    #[serde(default)]
    pub scale_embedding: bool,
    /// LayerNorm epsilon (not in HF's BartConfig; 1e-5 there, 1e-12 for BERT-derived backbones).
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    /// Rows skipped at the start of the position tables.
    #[serde(default = "default_offset")]
    pub position_offset: usize,
    /// Dropout on hidden states (HF `dropout`), used in training only.
    #[serde(default)]
    pub dropout: f64,
    /// Dropout on attention probabilities (HF `attention_dropout`).
    #[serde(default)]
    pub attention_dropout: f64,
    /// Dropout after the feed-forward activation (HF `activation_dropout`).
    #[serde(default)]
    pub activation_dropout: f64,
}

impl BartConfig {
    /// Reads and checks a `config.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let cfg: Self = serde_json::from_str(&text).map_err(|e| {
            Error::Weights(format!("{}:{}: not a BART config: {e}", path.display(), e.line()))
        })?;
        cfg.check().map_err(|m| Error::Weights(format!("{}: {m}", path.display())))?;
        Ok(cfg)
    }

    /// Shape checks the forward pass relies on.
    pub fn check(&self) -> std::result::Result<(), String> {
        if self.activation_function != "gelu" {
            return Err(format!(
                "activation {:?} is not supported (only exact gelu)",
                self.activation_function
            ));
        }
        for (p, what) in [
            (self.dropout, "dropout"),
            (self.attention_dropout, "attention_dropout"),
            (self.activation_dropout, "activation_dropout"),
        ] {
            if !(0.0..1.0).contains(&p) {
                return Err(format!("{what} {p} is not in [0, 1)"));
            }
        }
        for (h, what) in
            [(self.encoder_attention_heads, "encoder"), (self.decoder_attention_heads, "decoder")]
        {
            if h == 0 || !self.d_model.is_multiple_of(h) {
                return Err(format!("d_model {} is not divisible by the {what} heads {h}", self.d_model));
            }
        }
        Ok(())
    }

    /// Head width of the decoder (the prompts use the decoder's shape for all three uses, docs/deepke.md §5.2).
    pub fn head_dim(&self) -> usize {
        self.d_model / self.decoder_attention_heads
    }
}
