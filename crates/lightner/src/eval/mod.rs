//! Entity-level evaluation: how well predicted spans match gold spans. No tensors; this module
//! depends only on [`crate::data`].
//!
//! Two metrics live here:
//!
//! * [`Evaluator`] / [`evaluate`]: entity-level precision, recall and F1 per type, micro-, macro-
//!   and support-weighted averages, computed exactly as seqeval's
//!   `classification_report(y_true, y_pred, mode="strict", scheme=..., output_dict=True)` does
//!   (seqeval 1.2.2, `seqeval/metrics/v1.py`). An entity counts as found only if its start, end
//!   and type all match. This is the number to report. `tests/metrics.rs` checks it against
//!   seqeval's own output on random tag sequences (`tests/fixtures/seqeval/`).
//! * [`deepke::Seq2SeqSpanMetric`]: DeepKE's metric on pointer-target sequences (docs/deepke.md §8.1),
//!   reproduced quirk for quirk so that numbers can be compared with DeepKE's logs. It is
//!   micro-only, drops entity-free sentences upstream in DeepKE, and rounds; prefer
//!   [`Evaluator`] for anything new.
//!
//! [`Report::table`] (also [`Report`]'s `Display`) prints seqeval's text report with 4 decimals;
//! [`Report`] derives `Serialize` for JSON output.

pub mod deepke;
mod metrics;
mod table;

pub use deepke::{DeepKeScores, Seq2SeqSpanMetric};
pub use metrics::{Counts, Evaluator, Report, Scores, evaluate};
