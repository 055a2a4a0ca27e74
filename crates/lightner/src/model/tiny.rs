//! Tiny random backbones written to a folder (`config.json`, `model.safetensors`,
//! `tokenizer.json`), so that training, packs and prediction run end to end without a download.
//! The tokenizer is a lower-casing WordPiece over single characters (every word can be spelled)
//! plus the words of any files given, so that those words are single tokens.

use super::config::BartConfig;
use super::random::{RandomInit, random_bart, to_safetensors};
use crate::error::{Error, Result};
use std::collections::BTreeSet;
use std::path::Path;
use tokenizers::Tokenizer;
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::bert::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;

/// Size of a tiny backbone.
#[derive(Debug, Clone, Copy)]
pub struct TinySize {
    /// Width.
    pub d_model: usize,
    /// Layers of the encoder and of the decoder.
    pub layers: usize,
    /// Heads.
    pub heads: usize,
    /// Feed-forward width.
    pub ffn: usize,
    /// Source positions.
    pub positions: usize,
}

impl Default for TinySize {
    fn default() -> Self {
        Self { d_model: 32, layers: 2, heads: 4, ffn: 64, positions: 128 }
    }
}

/// The vocabulary: specials, characters (and their `##` continuations), then `words`.
fn vocab(words: &BTreeSet<String>) -> Vec<String> {
    let mut v: Vec<String> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].map(String::from).to_vec();
    let chars: BTreeSet<char> = ('a'..='z')
        .chain('0'..='9')
        .chain("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".chars())
        .chain(words.iter().flat_map(|w| w.chars()))
        .collect();
    for c in &chars {
        v.push(c.to_string());
    }
    for c in &chars {
        v.push(format!("##{c}"));
    }
    let known: BTreeSet<String> = v.iter().cloned().collect();
    v.extend(words.iter().filter(|w| w.chars().count() > 1 && !known.contains(*w)).cloned());
    v
}

/// Writes a tiny random backbone to `dir`. Words of `corpus` (already lower-cased or not) become
/// whole tokens.
pub fn write_tiny(dir: &Path, size: TinySize, corpus: &[Vec<String>], seed: u64) -> Result<()> {
    let words: BTreeSet<String> = corpus
        .iter()
        .flatten()
        .map(|w| w.to_lowercase())
        .filter(|w| !w.chars().any(|c| c.is_whitespace() || !c.is_alphanumeric()))
        .collect();
    let vocab = vocab(&words);
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let vocab_file = dir.join("vocab.txt");
    crate::io::write_atomic(&vocab_file, format!("{}\n", vocab.join("\n")).as_bytes())?;
    let wp = WordPiece::from_file(&vocab_file.to_string_lossy())
        .unk_token("[UNK]".into())
        .max_input_chars_per_word(100)
        .build()
        .map_err(|e| Error::Tokenizer(e.to_string()))?;
    let mut tok = Tokenizer::new(wp);
    tok.with_normalizer(Some(BertNormalizer::new(true, true, None, true)))
        .map_err(|e| Error::Tokenizer(e.to_string()))?;
    tok.with_pre_tokenizer(Some(BertPreTokenizer));
    let cfg: BartConfig = serde_json::from_value(serde_json::json!({
        "d_model": size.d_model, "encoder_layers": size.layers, "decoder_layers": size.layers,
        "encoder_attention_heads": size.heads, "decoder_attention_heads": size.heads,
        "encoder_ffn_dim": size.ffn, "decoder_ffn_dim": size.ffn, "vocab_size": vocab.len(),
        "max_position_embeddings": size.positions, "dropout": 0.1, "attention_dropout": 0.0,
        "activation_dropout": 0.0, "layer_norm_eps": 1e-5
    }))
    .map_err(|e| Error::Invalid(e.to_string()))?;
    let weights = random_bart(&cfg, RandomInit { std: 0.1, bias_std: 0.02, ln_std: 0.02, seed });
    let json = serde_json::to_vec_pretty(&cfg).map_err(|e| Error::Invalid(e.to_string()))?;
    crate::io::write_atomic(&dir.join("config.json"), &json)?;
    crate::io::write_atomic(&dir.join("model.safetensors"), &to_safetensors(&weights))?;
    let tjson = tok.to_string(true).map_err(|e| Error::Tokenizer(e.to_string()))?;
    crate::io::write_atomic(&dir.join("tokenizer.json"), tjson.as_bytes())
}
