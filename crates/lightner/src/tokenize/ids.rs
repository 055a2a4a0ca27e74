//! Typed indices, so that a vocabulary id, a target-space index and a source position can never
//! be mixed up (DeepKE passes `eos=1` and `pad=1` side by side although one is a target index and
//! the other a vocabulary id; docs/deepke.md §13.8).

use serde::{Deserialize, Serialize};

/// An id in the tokenizer's (and embedding's) vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TokenId(pub u32);

/// An index in the decoder's output space: 0 bos, 1 eos, `2..C+2` labels, `C+2+p` pointers to
/// source position `p` (docs/deepke.md §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TargetIdx(pub u32);

/// A position in the encoded source sequence (0 is bos).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SrcPos(pub usize);

impl TargetIdx {
    /// The start symbol.
    pub const BOS: TargetIdx = TargetIdx(0);
    /// The end symbol (also target padding).
    pub const EOS: TargetIdx = TargetIdx(1);
}
