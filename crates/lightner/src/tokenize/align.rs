//! The source encoding of a sentence (docs/deepke.md §3): `[bos] + pieces(w_0) + … + pieces(w_n-1) +
//! [eos]`, and the alignment between words and sub-token positions that the pointer codec needs.

use super::ids::{SrcPos, TokenId};
use super::tokenizer::WordTokenizer;
use crate::data::{Sentence, Span};
use crate::error::Result;

/// A sentence's sub-token ids and where each word lies among them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alignment {
    /// `[bos] + pieces + [eos]`.
    pub ids: Vec<TokenId>,
    /// Position of each word's first piece (`word_start[k] = 1 + Σ_{i<k} |pieces(w_i)|`).
    pub word_start: Vec<SrcPos>,
    /// One past each word's last piece.
    pub word_end: Vec<SrcPos>,
}

impl Alignment {
    /// Encodes words with `tok`.
    pub fn encode<S: AsRef<str>>(tok: &WordTokenizer, words: &[S]) -> Result<Self> {
        let sp = tok.special();
        let mut ids = vec![sp.bos];
        let mut word_start = Vec::with_capacity(words.len());
        let mut word_end = Vec::with_capacity(words.len());
        for w in words {
            word_start.push(SrcPos(ids.len()));
            ids.extend(tok.word_pieces(w.as_ref())?);
            word_end.push(SrcPos(ids.len()));
        }
        ids.push(sp.eos);
        Ok(Self { ids, word_start, word_end })
    }

    /// `src_seq_len`: the number of positions, bos and eos included.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no positions (never: bos and eos are always there).
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Number of words.
    pub fn num_words(&self) -> usize {
        self.word_start.len()
    }

    /// The eos position (the last one).
    pub fn eos_pos(&self) -> SrcPos {
        SrcPos(self.ids.len() - 1)
    }

    /// The word whose first piece is at `pos`, if any.
    pub fn word_at_start(&self, pos: SrcPos) -> Option<usize> {
        self.word_start.binary_search(&pos).ok()
    }

    /// The word that contains position `pos` (None for bos, eos and beyond).
    pub fn word_containing(&self, pos: SrcPos) -> Option<usize> {
        if pos.0 == 0 || pos >= self.eos_pos() {
            return None;
        }
        match self.word_start.binary_search(&pos) {
            Ok(k) => Some(k),
            Err(k) => k.checked_sub(1),
        }
    }

    /// Whether `pos` is the first piece of some word.
    pub fn is_word_start(&self, pos: SrcPos) -> bool {
        self.word_at_start(pos).is_some()
    }
}

/// What to do with a sentence whose encoding exceeds the model's maximum source length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverlongPolicy {
    /// Leave the sentence out (training) and count it.
    #[default]
    Skip,
    /// Keep the longest prefix of words that fits; entities that no longer fit entirely are
    /// dropped and counted.
    Truncate,
    /// Stop with an error naming the sentence.
    Error,
}

/// A report of over-long sentences, for the user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overlong {
    /// Source lines (1-based) of the sentences that were too long.
    pub lines: Vec<usize>,
    /// Entities lost to truncation.
    pub entities_lost: usize,
}

/// A sentence ready for the model: its words, spans and alignment.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// The sentence (possibly truncated).
    pub sentence: Sentence,
    /// Its source encoding.
    pub align: Alignment,
}

/// Encodes sentences, applying `policy` to those longer than `max_len` positions (bos and eos
/// included). Returns the encoded sentences and what happened to over-long ones.
pub fn encode_all(
    tok: &WordTokenizer,
    sentences: &[Sentence],
    max_len: usize,
    policy: OverlongPolicy,
) -> Result<(Vec<Encoded>, Overlong)> {
    let mut out = Vec::with_capacity(sentences.len());
    let mut report = Overlong::default();
    for s in sentences {
        let align = Alignment::encode(tok, &s.words)?;
        if align.len() <= max_len {
            out.push(Encoded { sentence: s.clone(), align });
            continue;
        }
        report.lines.push(s.line);
        match policy {
            OverlongPolicy::Skip => {}
            OverlongPolicy::Error => {
                return Err(crate::Error::Training(format!(
                    "sentence at line {} has {} sub-tokens, more than the model's {max_len}; \
                     split it, or choose another over-long policy",
                    s.line,
                    align.len()
                )));
            }
            OverlongPolicy::Truncate => {
                // Words fit while their last piece stays before the eos slot.
                let keep = align.word_end.iter().take_while(|e| e.0 < max_len).count();
                let spans: Vec<Span> = s.spans.iter().filter(|sp| sp.end <= keep).cloned().collect();
                report.entities_lost += s.spans.len() - spans.len();
                let mut t = Sentence::new(s.words[..keep].to_vec(), spans);
                t.line = s.line;
                let align = Alignment::encode(tok, &t.words)?;
                out.push(Encoded { sentence: t, align });
            }
        }
    }
    Ok((out, report))
}
