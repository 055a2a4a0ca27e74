//! From words to model inputs and back: sub-word tokenization with a word ↔ piece alignment,
//! label words, and the pointer codec between entity spans and target sequences (docs/deepke.md §3–4).
//! No tensors: everything here is plain vectors of typed ids.

pub mod align;
pub mod codec;
pub mod example;
pub mod ids;
pub mod label_words;
pub mod tokenizer;

pub use align::{Alignment, Overlong, OverlongPolicy};
pub use codec::{Codec, DecodeIssue, PointerSpace, SpansFromPointers};
pub use example::Example;
pub use ids::{SrcPos, TargetIdx, TokenId};
pub use label_words::{LabelWordMode, LabelWords};
pub use tokenizer::{SpecialIds, TokenizerKind, WordTokenizer};
