//! # lightner
//!
//! LightNER (Chen et al., "LightNER: A Lightweight Tuning Paradigm for Low-resource NER via
//! Pluggable Prompting", COLING 2022) in Rust: named-entity recognition from a handful of labelled
//! sentences by tuning small prompts on a frozen pretrained BART.
//!
//! The data path, each stage in its own module:
//!
//! 1. [`data`] reads labelled files (CoNLL in BIO/IOB1/BIOES/BILOU, JSONL) into
//!    [`data::Sentence`]s: words plus typed word spans. No tensors.
//! 2. [`tokenize`] turns words into sub-token ids with an alignment ([`tokenize::Alignment`]), and
//!    its [`tokenize::codec`] maps spans to the pointer-target sequences the decoder learns and
//!    back (docs/deepke.md §4).
//! 3. [`eval`] scores predicted spans against gold ones (entity-level P/R/F1, seqeval strict;
//!    optionally DeepKE's `Seq2SeqSpanMetric`). No tensors.
#![warn(missing_docs)]

pub mod bench;
pub mod data;
pub mod decode;
pub mod error;
pub mod eval;
pub mod io;
pub mod model;
pub mod pad;
pub mod pipeline;
pub mod tokenize;
pub mod train;
pub mod tune;

pub use error::{Error, Result};
