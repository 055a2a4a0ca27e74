//! Label words in the vocabulary (docs/deepke.md §2). Two variants, as in the reference:
//!
//! * [`LabelWordMode::Added`] (`learn_weights=False`): each label word (`<<location>>`) becomes a
//!   new token. Ids are assigned V, V+1, … in order of decreasing string length (stable), which
//!   is the order the reference adds them in, so that checkpoints line up; but label j is
//!   always scored and fed with *its own* id (the reference's mismatch, docs/deepke.md §13.2, is not copied).
//!   The new rows are initialised with the mean of the embeddings of the inner text's pieces.
//! * [`LabelWordMode::Pieces`] (`learn_weights=True`): label j is the piece list of its inner text
//!   (with a prefix space for byte-level BPE), scored as a softmax-weighted sum of piece scores;
//!   the decoder is fed its first piece (docs/deepke.md §4.3).

use super::ids::TokenId;
use super::tokenizer::{TokenizerKind, WordTokenizer};
use crate::data::LabelSet;
use crate::error::{Error, Result};

/// How label words enter the vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LabelWordMode {
    /// One new token per label (`learn_weights=False`).
    Added,
    /// The label word's existing pieces (`learn_weights=True`).
    Pieces,
}

/// The vocabulary side of a label set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelWords {
    /// The variant.
    pub mode: LabelWordMode,
    /// Per label (target order): the ids whose embeddings score it — the added token alone, or
    /// the pieces.
    pub pieces: Vec<Vec<TokenId>>,
    /// Per label: the id fed to the decoder when the label was generated.
    pub input_ids: Vec<TokenId>,
    /// `Added` only: per label, the pieces whose mean initialises the new row. As in the
    /// reference, the inner text is tokenized without a prefix space.
    pub init_pieces: Vec<Vec<TokenId>>,
    /// Number of rows the embedding must gain (C for `Added`, 0 for `Pieces`).
    pub new_rows: usize,
}

/// The text between `<<` and `>>` (the whole word if it has no brackets).
pub fn inner_text(word: &str) -> &str {
    word.strip_prefix("<<").and_then(|w| w.strip_suffix(">>")).unwrap_or(word)
}

impl LabelWords {
    /// Builds the label words of `labels` for `tok` in `mode`.
    pub fn new(labels: &LabelSet, tok: &WordTokenizer, mode: LabelWordMode) -> Result<Self> {
        let inner: Vec<&str> = labels.labels().iter().map(|l| inner_text(&l.word)).collect();
        if let Some(l) = labels.labels().iter().find(|l| inner_text(&l.word).trim().is_empty()) {
            return Err(Error::Config(format!("label {:?} has an empty label word", l.name)));
        }
        match mode {
            LabelWordMode::Pieces => {
                let pieces = inner
                    .iter()
                    .map(|w| match tok.kind() {
                        TokenizerKind::ByteLevelBpe => tok.encode_raw(&format!(" {w}")),
                        TokenizerKind::WordPiece => tok.encode_raw(w),
                    })
                    .collect::<Result<Vec<_>>>()?;
                if let Some(j) = pieces.iter().position(Vec::is_empty) {
                    return Err(Error::Config(format!(
                        "label word {:?} tokenizes to nothing",
                        labels.labels()[j].word
                    )));
                }
                let input_ids = pieces.iter().map(|p| p[0]).collect();
                Ok(Self { mode, pieces, input_ids, init_pieces: vec![], new_rows: 0 })
            }
            LabelWordMode::Added => {
                let v = tok.vocab_size() as u32;
                // Stable sort by decreasing length in characters (Python's len).
                let mut order: Vec<usize> = (0..inner.len()).collect();
                order.sort_by_key(|&j| std::cmp::Reverse(labels.labels()[j].word.chars().count()));
                let mut ids = vec![TokenId(0); inner.len()];
                for (rank, &j) in order.iter().enumerate() {
                    ids[j] = TokenId(v + rank as u32);
                }
                let init_pieces = inner.iter().map(|w| tok.encode_raw(w)).collect::<Result<Vec<_>>>()?;
                Ok(Self {
                    mode,
                    pieces: ids.iter().map(|&i| vec![i]).collect(),
                    input_ids: ids,
                    init_pieces,
                    new_rows: inner.len(),
                })
            }
        }
    }
}
