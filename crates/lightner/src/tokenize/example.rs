//! A sentence turned into model ids: source ids, the pointer mask, the target and the decoder
//! inputs. Still plain vectors; `model::batch` pads them into tensors.

use super::align::Alignment;
use super::codec::{Codec, Target};
use super::ids::{TargetIdx, TokenId};
use super::label_words::LabelWords;
use super::tokenizer::SpecialIds;
use crate::data::{LabelSet, Span};
use crate::error::Result;

/// One sentence's model inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// `[bos] + pieces + [eos]`.
    pub src: Vec<TokenId>,
    /// Per source position: true where no pointer may point (bos, eos, and in the word-start
    /// space the non-initial pieces).
    pub invalid: Vec<bool>,
    /// The gold target (bos … eos), empty when the example is for prediction only.
    pub target: Vec<TargetIdx>,
    /// Decoder inputs for the target (same length).
    pub dec_ids: Vec<TokenId>,
}

impl Example {
    /// Model inputs of a sentence with gold spans.
    pub fn with_target(
        align: &Alignment,
        spans: &[Span],
        codec: &Codec,
        labels: &LabelSet,
        words: &LabelWords,
        special: SpecialIds,
    ) -> Result<Self> {
        let Target { seq, .. } = codec.encode(align, spans, labels)?;
        let dec_ids = codec.decoder_input_ids(&seq, &align.ids, &words.input_ids, special);
        Ok(Self { src: align.ids.clone(), invalid: Self::invalid(codec, align), target: seq, dec_ids })
    }

    /// Model inputs of a sentence to tag.
    pub fn source_only(align: &Alignment, codec: &Codec) -> Self {
        Self { src: align.ids.clone(), invalid: Self::invalid(codec, align), target: vec![], dec_ids: vec![] }
    }

    fn invalid(codec: &Codec, align: &Alignment) -> Vec<bool> {
        codec.valid_pointers(align).into_iter().map(|v| !v).collect()
    }
}
