//! Decoding: beam search (greedy = one beam) over the KV cache, optional constraints that only
//! let valid spans through, and the turn from generated sequences into scored entities.

pub mod beam;
pub mod constraint;

pub use beam::{Generated, SearchConfig, SearchInput, search};
pub use constraint::Constraint;

use crate::data::{LabelSet, Span};
use crate::tokenize::codec::Symbol;
use crate::tokenize::{Alignment, Codec, SpansFromPointers};

/// The length limit of a row (docs/deepke.md §7.1): `floor(ratio · src_len) + max_new` when `ratio ≠ 0`,
/// else `max_new`; `src_len` counts bos and eos, the result counts the leading bos. At least 2,
/// so that eos always fits.
pub fn max_len(src_len: usize, ratio: f64, max_new: usize) -> usize {
    let l = if ratio != 0.0 { (ratio * src_len as f64).floor() as usize + max_new } else { max_new };
    l.max(2)
}

/// An entity with its confidence: the geometric mean of the probabilities of the tokens that
/// produced it (its pointers and its label).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredSpan {
    /// The span over words.
    pub span: Span,
    /// Confidence in (0, 1].
    pub score: f32,
}

/// Turns a generated sequence into spans with confidences, and the codec's report.
pub fn entities(
    g: &Generated,
    align: &Alignment,
    codec: &Codec,
    labels: &LabelSet,
) -> (Vec<ScoredSpan>, SpansFromPointers) {
    let decoded = codec.decode(&g.tokens, align, labels);
    // Entity i's tokens run from after the previous boundary (bos or a label) to its label.
    let boundaries: Vec<usize> = std::iter::once(0)
        .chain(
            g.tokens
                .iter()
                .enumerate()
                .skip(1)
                .filter(|&(_, &t)| matches!(codec.symbol(t), Symbol::Label(_)))
                .map(|(i, _)| i),
        )
        .collect();
    let spans = decoded
        .spans
        .iter()
        .zip(&decoded.label_at)
        .map(|(span, &at)| {
            let start = boundaries.iter().rev().find(|&&b| b < at).copied().unwrap_or(0) + 1;
            // logprobs[i - 1] belongs to tokens[i].
            let lps = &g.logprobs[start.saturating_sub(1)..at.min(g.logprobs.len())];
            let mean = if lps.is_empty() { 0.0 } else { lps.iter().sum::<f32>() / lps.len() as f32 };
            ScoredSpan { span: span.clone(), score: mean.exp() }
        })
        .collect();
    (spans, decoded)
}
