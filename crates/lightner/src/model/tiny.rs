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
    /// Hidden width (`d_model`), a multiple of `heads`.
    pub d_model: usize,
    /// Layers of the encoder and of the decoder.
    pub layers: usize,
    /// Attention heads per layer.
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

/// The note every tiny backbone folder holds: it says what the folder is, and marks it as one
/// lightner may replace (a folder without it, a real model say, is never overwritten).
pub const TINY_NOTE: &str = "TINY-RANDOM-BACKBONE.txt";

/// A tiny backbone folder, as [`crate::io::write_dir_atomic`] sees it.
pub const TINY_DIR: crate::io::DirKind =
    crate::io::DirKind { what: "tiny backbone made by lightner", is_ours: |d| d.join(TINY_NOTE).is_file() };

/// Checks that the size can be built: positive sizes, heads dividing the width, room for a
/// few positions.
pub fn check_size(size: TinySize) -> Result<()> {
    let TinySize { d_model, layers, heads, ffn, positions } = size;
    if d_model == 0 || heads == 0 || !d_model.is_multiple_of(heads) {
        return Err(Error::Config(format!(
            "width {d_model} must be a positive multiple of the {heads} heads"
        )));
    }
    if layers == 0 || ffn == 0 || positions < 8 {
        return Err(Error::Config(format!(
            "a tiny backbone needs at least 1 layer, a feed-forward width of 1 and 8 positions (got {layers}, {ffn}, {positions})"
        )));
    }
    Ok(())
}

/// Writes a tiny random backbone to `dir` atomically (an existing folder is replaced only when it
/// is a tiny backbone itself, see [`TINY_DIR`]). Words of `corpus` (already lower-cased or not)
/// become whole tokens.
pub fn write_tiny(dir: &Path, size: TinySize, corpus: &[Vec<String>], seed: u64) -> Result<()> {
    check_size(size)?;
    crate::io::write_dir_atomic(dir, TINY_DIR, |tmp| fill_tiny(tmp, size, corpus, seed))
}

fn fill_tiny(dir: &Path, size: TinySize, corpus: &[Vec<String>], seed: u64) -> Result<()> {
    let words: BTreeSet<String> = corpus
        .iter()
        .flatten()
        .map(|w| w.to_lowercase())
        .filter(|w| !w.chars().any(|c| c.is_whitespace() || !c.is_alphanumeric()))
        .collect();
    let vocab = vocab(&words);
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
    .map_err(|e| Error::Internal(e.to_string()))?;
    let weights = random_bart(&cfg, RandomInit { std: 0.1, bias_std: 0.02, ln_std: 0.02, seed });
    let json = serde_json::to_vec_pretty(&cfg).map_err(|e| Error::Internal(e.to_string()))?;
    crate::io::write_atomic(&dir.join("config.json"), &json)?;
    crate::io::write_atomic(&dir.join("model.safetensors"), &to_safetensors(&weights))?;
    let tjson = tok.to_string(true).map_err(|e| Error::Tokenizer(e.to_string()))?;
    crate::io::write_atomic(&dir.join("tokenizer.json"), tjson.as_bytes())?;
    let note = format!(
        "A tiny BART with random weights (seed {seed}), written by `lightner init-tiny` for tests and \
         for trying the commands: it can memorise, not generalise.\n"
    );
    crate::io::write_atomic(&dir.join(TINY_NOTE), note.as_bytes())
}
