//! The pointer codec: the one place that maps entity spans to target sequences and back
//! (docs/deepke.md §4).
//!
//! Target space, with C labels: 0 bos, 1 eos, `2 + j` label j, `C + 2 + p` a pointer to source
//! position p. An entity is written as pointers to the first piece of each of its words followed
//! by its label; a sentence is `[bos] + entities… + [eos]`.
//!
//! Two pointer spaces share this layout and differ in which positions a pointer may address:
//! [`PointerSpace::SubToken`] allows every sub-token position between bos and eos, exactly as
//! DeepKE (`first` is the identity, docs/deepke.md §13.7; needed for parity), and [`PointerSpace::WordStart`]
//! allows only the first piece of each word (the better default: a pointer can never land on a
//! piece that no gold entity uses).
//!
//! ## Decoding rules (generated sequence → spans)
//!
//! Decoding never fails; whatever it has to ignore is reported as a [`DecodeIssue`].
//! 1. A leading bos is skipped; the sequence ends at the first eos (or at its end if there is
//!    none, reported as [`DecodeIssue::MissingEos`]).
//! 2. A pointer is kept in the current entity's buffer if it addresses the first piece of a
//!    word. A pointer to bos, eos, padding or beyond ([`DecodeIssue::PointerOutOfRange`]) or to a
//!    non-initial piece ([`DecodeIssue::NonInitialPiece`], as DeepKE's BIO conversion, docs/deepke.md §8.2) is
//!    dropped, and the rest of the buffer is still used.
//! 3. A label closes the entity. If the buffer is empty ([`DecodeIssue::LabelWithoutWords`]) or
//!    its words are not strictly increasing ([`DecodeIssue::NonMonotone`], as DeepKE's metric,
//!    docs/deepke.md §8.1) the entity is dropped. Otherwise it spans from its first to its last word; words
//!    skipped in between are included ([`DecodeIssue::Gap`], as docs/deepke.md §8.2 fills them).
//! 4. An entity that repeats an earlier one is dropped ([`DecodeIssue::Duplicate`]); one that
//!    overlaps an earlier one is dropped ([`DecodeIssue::Overlap`]): the first generated wins.
//! 5. Pointers left without a label at the end are dropped ([`DecodeIssue::Unclosed`]); a bos
//!    inside the sequence discards the buffer ([`DecodeIssue::StrayBos`]).

use super::align::Alignment;
use super::ids::{SrcPos, TargetIdx, TokenId};
use super::tokenizer::SpecialIds;
use crate::data::{LabelSet, Span};
use crate::error::{Error, Result};

/// Which source positions a pointer may address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PointerSpace {
    /// Every sub-token between bos and eos (DeepKE).
    SubToken,
    /// Only the first piece of each word.
    #[default]
    WordStart,
}

/// What a target index means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Symbol {
    /// The start-of-sequence token the decoder begins from.
    Bos,
    /// The end-of-sequence token: the decoder emits it when no entity is left.
    Eos,
    /// Label j (target order).
    Label(usize),
    /// Pointer to a source position.
    Pointer(SrcPos),
}

/// Something decoding had to ignore; `at` is the index in the generated sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeIssue {
    /// No eos: the whole sequence was used.
    MissingEos,
    /// A pointer to bos, eos, padding or past the source.
    PointerOutOfRange {
        /// Index in the sequence.
        at: usize,
    },
    /// A pointer to a piece that does not start a word.
    NonInitialPiece {
        /// Index in the sequence.
        at: usize,
    },
    /// A label with no word before it.
    LabelWithoutWords {
        /// Index in the sequence.
        at: usize,
    },
    /// An entity whose words are not strictly increasing.
    NonMonotone {
        /// Index of its label.
        at: usize,
    },
    /// An entity whose words skip some; the skipped words were included.
    Gap {
        /// Index of its label.
        at: usize,
    },
    /// An entity equal to an earlier one.
    Duplicate {
        /// Index of its label.
        at: usize,
    },
    /// An entity overlapping an earlier one.
    Overlap {
        /// Index of its label.
        at: usize,
    },
    /// Pointers without a closing label.
    Unclosed,
    /// A bos after the start.
    StrayBos {
        /// Index in the sequence.
        at: usize,
    },
}

/// The spans decoded from a sequence and what was ignored on the way.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SpansFromPointers {
    /// Entity spans over words, sorted, non-overlapping, labelled with the label set's names.
    pub spans: Vec<Span>,
    /// Per span, the index in the sequence of the label that closed it (for confidences).
    pub label_at: Vec<usize>,
    /// What was ignored.
    pub issues: Vec<DecodeIssue>,
}

/// A gold target: the sequence and its per-entity tuples (pointers…, label), as DeepKE's
/// `target_span`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `[bos] + entities + [eos]`.
    pub seq: Vec<TargetIdx>,
    /// One tuple per entity.
    pub tuples: Vec<Vec<TargetIdx>>,
}

/// Maps spans ↔ target sequences for a label count and pointer space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Codec {
    num_labels: usize,
    space: PointerSpace,
}

impl Codec {
    /// A codec for `num_labels` labels.
    pub fn new(num_labels: usize, space: PointerSpace) -> Self {
        Self { num_labels, space }
    }

    /// C.
    pub fn num_labels(&self) -> usize {
        self.num_labels
    }

    /// The pointer space.
    pub fn space(&self) -> PointerSpace {
        self.space
    }

    /// `src_start_index` = C + 2: the first pointer index.
    pub fn src_start(&self) -> usize {
        self.num_labels + 2
    }

    /// Width of a logit row for a source of `src_len` positions: C + 2 + S.
    pub fn width(&self, src_len: usize) -> usize {
        self.src_start() + src_len
    }

    /// The index of label j.
    pub fn label(&self, j: usize) -> TargetIdx {
        debug_assert!(j < self.num_labels);
        TargetIdx((j + 2) as u32)
    }

    /// The index of a pointer to `pos`.
    pub fn pointer(&self, pos: SrcPos) -> TargetIdx {
        TargetIdx((self.src_start() + pos.0) as u32)
    }

    /// What `t` means.
    pub fn symbol(&self, t: TargetIdx) -> Symbol {
        let t = t.0 as usize;
        match t {
            0 => Symbol::Bos,
            1 => Symbol::Eos,
            _ if t < self.src_start() => Symbol::Label(t - 2),
            _ => Symbol::Pointer(SrcPos(t - self.src_start())),
        }
    }

    /// Encodes sorted spans into a target. Every span's type must be in `labels`.
    pub fn encode(&self, align: &Alignment, spans: &[Span], labels: &LabelSet) -> Result<Target> {
        let mut seq = vec![TargetIdx::BOS];
        let mut tuples = Vec::with_capacity(spans.len());
        for sp in spans {
            let j = labels.index_of(&sp.label).ok_or_else(|| {
                Error::Config(format!("entity type {:?} is not in the label set", sp.label))
            })?;
            if sp.end > align.num_words() || sp.is_empty() {
                return Err(Error::Config(format!(
                    "span {sp} does not fit a sentence of {} words",
                    align.num_words()
                )));
            }
            let mut tuple: Vec<TargetIdx> =
                (sp.start..sp.end).map(|k| self.pointer(align.word_start[k])).collect();
            tuple.push(self.label(j));
            seq.extend_from_slice(&tuple);
            tuples.push(tuple);
        }
        seq.push(TargetIdx::EOS);
        Ok(Target { seq, tuples })
    }

    /// Whether a pointer may address each source position (the pointer mask the model applies).
    pub fn valid_pointers(&self, align: &Alignment) -> Vec<bool> {
        let eos = align.eos_pos().0;
        let mut v = vec![false; align.len()];
        match self.space {
            PointerSpace::SubToken => v[1..eos].iter_mut().for_each(|b| *b = true),
            PointerSpace::WordStart => align.word_start.iter().for_each(|p| v[p.0] = true),
        }
        v
    }

    /// Decoder input ids for a target (docs/deepke.md §4.3): bos/eos/labels through `[bos, eos] +
    /// label_inputs`, pointers to the source id at their position, and padding after the first
    /// eos.
    pub fn decoder_input_ids(
        &self,
        target: &[TargetIdx],
        src_ids: &[TokenId],
        label_inputs: &[TokenId],
        special: SpecialIds,
    ) -> Vec<TokenId> {
        let mut out = Vec::with_capacity(target.len());
        let mut ended = false;
        for &t in target {
            if ended {
                out.push(special.pad);
                continue;
            }
            out.push(match self.symbol(t) {
                Symbol::Bos => special.bos,
                Symbol::Eos => {
                    ended = true;
                    special.eos
                }
                Symbol::Label(j) => label_inputs[j],
                Symbol::Pointer(p) => src_ids.get(p.0).copied().unwrap_or(special.pad),
            });
        }
        out
    }

    /// Decodes a generated sequence into spans (see the module docs for the rules).
    pub fn decode(&self, seq: &[TargetIdx], align: &Alignment, labels: &LabelSet) -> SpansFromPointers {
        let mut out = SpansFromPointers::default();
        let start = usize::from(seq.first() == Some(&TargetIdx::BOS));
        let mut buf: Vec<usize> = Vec::new();
        let mut saw_eos = false;
        for (at, &t) in seq.iter().enumerate().skip(start) {
            match self.symbol(t) {
                Symbol::Eos => {
                    saw_eos = true;
                    break;
                }
                Symbol::Bos => {
                    out.issues.push(DecodeIssue::StrayBos { at });
                    buf.clear();
                }
                Symbol::Pointer(p) => {
                    if p.0 == 0 || p >= align.eos_pos() {
                        out.issues.push(DecodeIssue::PointerOutOfRange { at });
                    } else if let Some(w) = align.word_at_start(p) {
                        buf.push(w);
                    } else {
                        out.issues.push(DecodeIssue::NonInitialPiece { at });
                    }
                }
                Symbol::Label(j) => {
                    let words = std::mem::take(&mut buf);
                    let Some(label) = labels.get(j) else {
                        // A label index past the label set cannot come from a model built on
                        // it; treat it like a pointer that addresses nothing.
                        out.issues.push(DecodeIssue::PointerOutOfRange { at });
                        continue;
                    };
                    if words.is_empty() {
                        out.issues.push(DecodeIssue::LabelWithoutWords { at });
                        continue;
                    }
                    if words.windows(2).any(|w| w[1] <= w[0]) {
                        out.issues.push(DecodeIssue::NonMonotone { at });
                        continue;
                    }
                    let (first, last) = (words[0], words[words.len() - 1]);
                    if last - first + 1 != words.len() {
                        out.issues.push(DecodeIssue::Gap { at });
                    }
                    let span = Span::new(first, last + 1, label.name.clone());
                    if out.spans.contains(&span) {
                        out.issues.push(DecodeIssue::Duplicate { at });
                    } else if out.spans.iter().any(|s| s.start < span.end && span.start < s.end) {
                        out.issues.push(DecodeIssue::Overlap { at });
                    } else {
                        out.spans.push(span);
                        out.label_at.push(at);
                    }
                }
            }
        }
        if !saw_eos {
            out.issues.push(DecodeIssue::MissingEos);
        }
        if !buf.is_empty() {
            out.issues.push(DecodeIssue::Unclosed);
        }
        let mut order: Vec<usize> = (0..out.spans.len()).collect();
        order.sort_by(|&a, &b| out.spans[a].cmp(&out.spans[b]));
        out.spans = order.iter().map(|&i| out.spans[i].clone()).collect();
        out.label_at = order.iter().map(|&i| out.label_at[i]).collect();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// "Peter Blackburn visited New York" with Blackburn in two pieces (docs/deepke.md §4.4).
    fn example() -> (Alignment, LabelSet, Codec) {
        let ids = (0..8).map(TokenId).collect();
        let ws = [1, 2, 4, 5, 6].map(SrcPos).to_vec();
        let we = [2, 4, 5, 6, 7].map(SrcPos).to_vec();
        let align = Alignment { ids, word_start: ws, word_end: we };
        (align, LabelSet::builtin("conll2003").unwrap(), Codec::new(4, PointerSpace::SubToken))
    }

    fn t(v: &[u32]) -> Vec<TargetIdx> {
        v.iter().map(|&x| TargetIdx(x)).collect()
    }

    #[test]
    fn spec_worked_example() {
        let (align, labels, codec) = example();
        let spans = vec![Span::new(0, 2, "PER"), Span::new(3, 5, "LOC")];
        let target = codec.encode(&align, &spans, &labels).unwrap();
        assert_eq!(target.seq, t(&[0, 7, 8, 3, 11, 12, 2, 1]));
        assert_eq!(target.tuples, vec![t(&[7, 8, 3]), t(&[11, 12, 2])]);
        let d = codec.decode(&target.seq, &align, &labels);
        assert_eq!(d.spans, vec![Span::new(0, 2, "per"), Span::new(3, 5, "loc")]);
        assert!(d.issues.is_empty());
        assert_eq!(codec.width(align.len()), 14);
    }

    #[test]
    fn pointer_masks() {
        let (align, _, codec) = example();
        assert_eq!(codec.valid_pointers(&align), [false, true, true, true, true, true, true, false]);
        let ws = Codec::new(4, PointerSpace::WordStart);
        assert_eq!(ws.valid_pointers(&align), [false, true, true, false, true, true, true, false]);
    }

    #[test]
    fn tolerant_decoding() {
        let (align, labels, codec) = example();
        let cases: Vec<(&[u32], Vec<Span>, Vec<DecodeIssue>)> = vec![
            // Pointer to the non-initial piece "burn" (pos 3 → 9) is dropped; entity kept.
            (&[0, 7, 9, 3, 1], vec![Span::new(0, 1, "per")], vec![DecodeIssue::NonInitialPiece { at: 2 }]),
            // Pointer past eos, then a label with no words.
            (
                &[0, 20, 2, 1],
                vec![],
                vec![DecodeIssue::PointerOutOfRange { at: 1 }, DecodeIssue::LabelWithoutWords { at: 2 }],
            ),
            // Non-monotone pointers.
            (&[0, 8, 7, 3, 1], vec![], vec![DecodeIssue::NonMonotone { at: 3 }]),
            // Gap filled; trailing pointer unclosed; no eos.
            (
                &[0, 7, 10, 3, 11],
                vec![Span::new(0, 3, "per")],
                vec![DecodeIssue::Gap { at: 3 }, DecodeIssue::MissingEos, DecodeIssue::Unclosed],
            ),
            // Duplicate and overlap: first wins.
            (
                &[0, 11, 2, 11, 2, 11, 12, 3, 1],
                vec![Span::new(3, 4, "loc")],
                vec![DecodeIssue::Duplicate { at: 4 }, DecodeIssue::Overlap { at: 7 }],
            ),
            // Anything after the first eos is ignored.
            (&[0, 1, 7, 3], vec![], vec![]),
            // Stray bos discards the buffer.
            (&[0, 7, 0, 11, 2, 1], vec![Span::new(3, 4, "loc")], vec![DecodeIssue::StrayBos { at: 2 }]),
        ];
        for (seq, spans, issues) in cases {
            let d = codec.decode(&t(seq), &align, &labels);
            assert_eq!((d.spans, d.issues), (spans, issues), "{seq:?}");
        }
    }

    #[test]
    fn decoder_inputs_map_labels_pointers_and_pad_after_eos() {
        let (align, _, codec) = example();
        let special =
            SpecialIds { bos: TokenId(100), eos: TokenId(102), pad: TokenId(101), unk: TokenId(103) };
        let labels = [TokenId(50), TokenId(51), TokenId(52), TokenId(53)];
        let ids: Vec<TokenId> = (0..8).map(|i| TokenId(200 + i)).collect();
        let out = codec.decoder_input_ids(&t(&[0, 7, 3, 1, 1, 1]), &ids, &labels, special);
        assert_eq!(out, [100, 201, 51, 102, 101, 101].map(TokenId));
        let _ = align;
    }
}
