//! Loading a Hugging Face tokenizer and encoding words the way LightNER needs (docs/deepke.md §3): each
//! word on its own, with a prefix space for byte-level BPE (`" " + word`, which equals the slow
//! `BartTokenizer(add_prefix_space=True)`; stack.md) and without one for WordPiece. Special ids
//! are looked up in the tokenizer, never assumed (docs/deepke.md §13.8).

use super::ids::TokenId;
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::Path;
use std::sync::RwLock;
use tokenizers::models::bpe::BPE;
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::{ModelWrapper, Tokenizer};

/// The two tokenizer families LightNER backbones use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TokenizerKind {
    /// Byte-level BPE (BART, RoBERTa): words are encoded as `" " + word`.
    ByteLevelBpe,
    /// WordPiece (BERT, Chinese BART): words are encoded as they are.
    WordPiece,
}

/// The special token ids, all read from the tokenizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SpecialIds {
    /// Start of sequence (`<s>` or `[CLS]`).
    pub bos: TokenId,
    /// End of sequence (`</s>` or `[SEP]`).
    pub eos: TokenId,
    /// Padding (`<pad>` or `[PAD]`).
    pub pad: TokenId,
    /// Unknown (`<unk>` or `[UNK]`).
    pub unk: TokenId,
}

/// A tokenizer that encodes single words, with a cache (few-shot corpora repeat words a lot).
pub struct WordTokenizer {
    inner: Tokenizer,
    kind: TokenizerKind,
    special: SpecialIds,
    cache: RwLock<HashMap<String, Vec<TokenId>>>,
}

impl std::fmt::Debug for WordTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WordTokenizer").field("kind", &self.kind).field("special", &self.special).finish()
    }
}

fn tok_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Tokenizer(format!("{}: {e}", path.display()))
}

impl WordTokenizer {
    /// Loads the tokenizer of a model folder: `tokenizer.json` if present, else `vocab.json` +
    /// `merges.txt` (byte-level BPE), else `vocab.txt` (WordPiece).
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let json = dir.join("tokenizer.json");
        if json.exists() {
            return Self::from_file(&json);
        }
        let (vocab, merges, wp) = (dir.join("vocab.json"), dir.join("merges.txt"), dir.join("vocab.txt"));
        let tok = if vocab.exists() && merges.exists() {
            let bpe = BPE::from_file(&vocab.to_string_lossy(), &merges.to_string_lossy())
                .build()
                .map_err(|e| tok_err(&vocab, e))?;
            let mut t = Tokenizer::new(bpe);
            let bl = tokenizers::pre_tokenizers::byte_level::ByteLevel::new(false, true, true);
            t.with_pre_tokenizer(Some(bl));
            t.with_decoder(Some(bl));
            t
        } else if wp.exists() {
            let model = WordPiece::from_file(&wp.to_string_lossy()).build().map_err(|e| tok_err(&wp, e))?;
            let mut t = Tokenizer::new(model);
            t.with_normalizer(Some(tokenizers::normalizers::bert::BertNormalizer::new(
                true,
                true,
                None,
                lowercase_hint(dir),
            )))
            .map_err(|e| tok_err(&wp, e))?;
            t.with_pre_tokenizer(Some(tokenizers::pre_tokenizers::bert::BertPreTokenizer));
            t
        } else {
            return Err(Error::Tokenizer(format!(
                "{}: no tokenizer.json, vocab.json + merges.txt, or vocab.txt; point to a Hugging Face model folder",
                dir.display()
            )));
        };
        Self::new(tok, &dir.join("special_tokens_map.json"))
    }

    /// Loads a `tokenizer.json`, switching off any padding or truncation it carries (MiniLM's
    /// pads to 128, which would corrupt word encodings; stack.md).
    pub fn from_file(path: &Path) -> Result<Self> {
        let tok = Tokenizer::from_file(path).map_err(|e| tok_err(path, e))?;
        let map = path.with_file_name("special_tokens_map.json");
        Self::new(tok, &map)
    }

    fn new(mut inner: Tokenizer, special_map: &Path) -> Result<Self> {
        inner.with_padding(None);
        inner.with_truncation(None).map_err(|e| Error::Tokenizer(e.to_string()))?;
        let kind = match inner.get_model() {
            ModelWrapper::WordPiece(_) => TokenizerKind::WordPiece,
            _ => TokenizerKind::ByteLevelBpe,
        };
        let named = read_special_map(special_map);
        let find = |role: &str, candidates: &[&str]| -> Result<TokenId> {
            let from_map = named.get(role).and_then(|t| inner.token_to_id(t));
            from_map
                .or_else(|| candidates.iter().find_map(|t| inner.token_to_id(t)))
                .map(TokenId)
                .ok_or_else(|| {
                    Error::Tokenizer(format!(
                        "the tokenizer has no {role} token (looked for {}); add it to special_tokens_map.json",
                        candidates.join(", ")
                    ))
                })
        };
        let special = SpecialIds {
            bos: find("bos_token", &["<s>", "[CLS]", "<cls>"]).or_else(|_| find("cls_token", &["[CLS]"]))?,
            eos: find("eos_token", &["</s>", "[SEP]", "<sep>"]).or_else(|_| find("sep_token", &["[SEP]"]))?,
            pad: find("pad_token", &["<pad>", "[PAD]"])?,
            unk: find("unk_token", &["<unk>", "[UNK]"])?,
        };
        Ok(Self { inner, kind, special, cache: RwLock::new(HashMap::new()) })
    }

    /// The tokenizer family.
    pub fn kind(&self) -> TokenizerKind {
        self.kind
    }

    /// The special ids.
    pub fn special(&self) -> SpecialIds {
        self.special
    }

    /// Vocabulary size including added tokens (V in the spec).
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The id of a token string, if in the vocabulary.
    pub fn token_to_id(&self, token: &str) -> Option<TokenId> {
        self.inner.token_to_id(token).map(TokenId)
    }

    /// The token string of an id.
    pub fn id_to_token(&self, id: TokenId) -> Option<String> {
        self.inner.id_to_token(id.0)
    }

    /// Encodes `text` without special tokens, with no prefix space added.
    pub fn encode_raw(&self, text: &str) -> Result<Vec<TokenId>> {
        let enc = self.inner.encode(text, false).map_err(|e| Error::Tokenizer(e.to_string()))?;
        Ok(enc.get_ids().iter().map(|&i| TokenId(i)).collect())
    }

    /// The pieces of one word as a source word: `" " + word` for byte-level BPE, `word` for
    /// WordPiece. A word the tokenizer reduces to nothing (a lone control character) becomes
    /// the unknown token, so that every word owns at least one position.
    pub fn word_pieces(&self, word: &str) -> Result<Vec<TokenId>> {
        if let Some(p) = self.cache.read().ok().and_then(|c| c.get(word).cloned()) {
            return Ok(p);
        }
        let mut pieces = match self.kind {
            TokenizerKind::ByteLevelBpe => self.encode_raw(&format!(" {word}"))?,
            TokenizerKind::WordPiece => self.encode_raw(word)?,
        };
        if pieces.is_empty() {
            pieces.push(self.special.unk);
        }
        if let Ok(mut c) = self.cache.write() {
            c.insert(word.to_string(), pieces.clone());
        }
        Ok(pieces)
    }
}

/// `special_tokens_map.json` role → token string (values may be strings or `{"content": ..}`).
fn read_special_map(path: &Path) -> HashMap<String, String> {
    let Ok(text) = std::fs::read_to_string(path) else { return HashMap::new() };
    let Ok(serde_json::Value::Object(obj)) = serde_json::from_str::<serde_json::Value>(&text) else {
        return HashMap::new();
    };
    obj.into_iter()
        .filter_map(|(k, v)| {
            let s = match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Object(o) => o.get("content")?.as_str()?.to_string(),
                _ => return None,
            };
            Some((k, s))
        })
        .collect()
}

/// Whether a WordPiece vocabulary should be lower-cased: `do_lower_case` from
/// `tokenizer_config.json`, defaulting to true as BERT's uncased models do.
fn lowercase_hint(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("tokenizer_config.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("do_lower_case").and_then(|b| b.as_bool()))
        .unwrap_or(true)
}
