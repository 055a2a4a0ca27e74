//! DeepKE's `Seq2SeqSpanMetric` (docs/deepke.md §8.1), reproduced exactly, quirks included, so that our
//! numbers can be compared with DeepKE's training logs.
//!
//! It works in target space (docs/deepke.md §4.1): 0 is bos, 1 is eos, `2..C+2` are the C entity labels
//! and every index `>= C+2` is a pointer to a source sub-token. A row is what the decoder
//! produced (or the gold target), bos first. The reference is
//! `deepke/name_entity_re/few_shot/module/metrics.py` (inherited from BARTNER), constructed
//! with `eos_token_id=1`, `num_labels=C`, `target_type='word'`.
//!
//! Per row:
//!
//! 1. **Effective tokens** ([`effective_tokens`]): the tokens strictly between the first token
//!    (bos, dropped whatever it is) and the first eos. Without any eos, all but the first and
//!    the last token. DeepKE computes a length `n` = (index of the first eos + 1, or the row
//!    length) − 2 and takes `row[1:][:n]` with Python slicing, so a negative `n` (eos at index
//!    0, or a row of one token) slices from the end; this is reproduced too.
//! 2. **Exact match**: `em` += 1 if the predicted and gold lengths `n` are equal and the first
//!    `n` tokens after bos agree (a negative `n` never matches: DeepKE compares a count of
//!    equal tokens with `n`).
//! 3. **Parse** ([`parse_tuples`]), left to right with a buffer `cur`: a pointer (`>= C+2`) is
//!    appended to `cur`; any smaller token closes an entity: if `cur` is non-empty and strictly
//!    increasing, `cur + [token]` is emitted; `cur` is cleared either way. So a label after an
//!    empty buffer is dropped, a non-monotone pointer list is dropped with its label, and
//!    pointers left at the end without a label are discarded. A bos (0) inside the row is
//!    treated like a label (an entity "labelled" 0 can only be a false positive).
//! 4. **Counting**, per row, on sets (duplicates count once): tp = |pred ∩ gold|,
//!    fp = |pred \ gold|, fn = |gold \ pred|. A tuple matches only if all its pointers and its
//!    label are equal. In DeepKE the gold side is `target_span`, the tuples built with the
//!    target; for a well-formed gold row (which is what the target is) [`parse_tuples`] of the
//!    row gives the same tuples, so [`Seq2SeqSpanMetric::add`] parses the gold row;
//!    [`Seq2SeqSpanMetric::add_with_target_span`] takes them explicitly.
//! 5. **Scores**, micro over all rows (fastNLP's `_compute_f_pre_rec` with β² = 1):
//!    `P = tp/(fp+tp+1e-13)`, `R = tp/(fn+tp+1e-13)`, `F = 2·P·R/(P+R+1e-13)`; each rounded to
//!    4 decimals (Python's `round`, half to even on the exact binary value) and then multiplied
//!    by 100 in floating point, so 0.81234 gives 81.23 but 0.0007 gives 0.06999999999999999.
//!    `em = round(em/total, 4)`, a fraction. There are no per-type scores.
//!
//! DeepKE sees rows padded with 1 (= eos) to the batch width, so a short row without its own
//! eos is cut at the padding; pass rows padded the same way to reproduce its numbers on such
//! rows (DeepKE's generator ends every row with eos, so this rarely matters).
//!
//! Unlike DeepKE, a metric with no rows reports `em = 0` (Python raises `ZeroDivisionError`).
//! Note also that DeepKE drops entity-free sentences before evaluation (docs/deepke.md §13.9); this
//! metric scores whatever rows it is given.

use std::collections::BTreeSet;

use serde::Serialize;

/// DeepKE's scores, with its key names: percentages rounded to 2 decimals (`f`, `rec`, `pre`)
/// and the exact-match fraction rounded to 4 (`em`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct DeepKeScores {
    /// F1 × 100 (`round(f, 4) * 100`).
    pub f: f64,
    /// Recall × 100 (`round(rec, 4) * 100`).
    pub rec: f64,
    /// Precision × 100 (`round(pre, 4) * 100`).
    pub pre: f64,
    /// Fraction of rows whose whole effective sequence matches the gold one
    /// (`round(em / total, 4)`).
    pub em: f64,
}

/// DeepKE's `Seq2SeqSpanMetric` in `'word'` mode: an accumulator over rows of target-space
/// indices (see the module docs for the exact rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seq2SeqSpanMetric {
    num_labels: usize,
    tp: usize,
    fp: usize,
    fn_: usize,
    em: usize,
    total: usize,
}

impl Seq2SeqSpanMetric {
    /// The target-space eos index (`eos_token_id=1` in DeepKE).
    pub const EOS: u32 = 1;

    /// A metric for `num_labels` entity types (labels are `2..num_labels+2`).
    pub fn new(num_labels: usize) -> Self {
        Self { num_labels, tp: 0, fp: 0, fn_: 0, em: 0, total: 0 }
    }

    /// The first pointer index, `num_labels + 2` (DeepKE's `word_start_index`).
    pub fn word_start_index(&self) -> u32 {
        word_start_index(self.num_labels)
    }

    /// Adds one row: the predicted and the gold target sequences (both bos first). The gold
    /// tuples are parsed from the gold row.
    pub fn add(&mut self, pred: &[u32], gold: &[u32]) {
        let wsi = self.word_start_index();
        let gold_tuples = parse_tuples(effective_tokens(gold, Self::EOS), wsi);
        self.add_with_target_span(pred, gold, &gold_tuples);
    }

    /// Adds one row with DeepKE's `target_span` given explicitly (one tuple per gold entity:
    /// its pointers, then its label, all in target space); `gold` only serves the exact match.
    pub fn add_with_target_span(&mut self, pred: &[u32], gold: &[u32], target_span: &[Vec<u32>]) {
        self.total += 1;
        let (pred_len, pred_tokens) = effective(pred, Self::EOS);
        let (gold_len, _) = effective(gold, Self::EOS);
        // `tgt_tokens[i, :n].eq(pred[i, :n]).sum() == n` after dropping bos; both rows are long
        // enough, since n <= row length - 2 when n >= 0.
        if pred_len == gold_len && pred_len >= 0 {
            let n = pred_len as usize;
            self.em += usize::from(pred[1..1 + n] == gold[1..1 + n]);
        }
        let pairs = parse_tuples(pred_tokens, self.word_start_index());
        let pred_set: BTreeSet<&[u32]> = pairs.iter().map(Vec::as_slice).collect();
        let gold_set: BTreeSet<&[u32]> = target_span.iter().map(Vec::as_slice).collect();
        let tp = pred_set.intersection(&gold_set).count();
        self.tp += tp;
        self.fp += pred_set.len() - tp;
        self.fn_ += gold_set.len() - tp;
    }

    /// `(tp, fp, fn)` so far.
    pub fn counts(&self) -> (usize, usize, usize) {
        (self.tp, self.fp, self.fn_)
    }

    /// Number of exactly matched rows and number of rows so far.
    pub fn exact_matches(&self) -> (usize, usize) {
        (self.em, self.total)
    }

    /// The scores so far (DeepKE's `get_metric(reset=False)`).
    pub fn metric(&self) -> DeepKeScores {
        let (tp, fp, fn_) = (self.tp as f64, self.fp as f64, self.fn_ as f64);
        // fastNLP's `_compute_f_pre_rec(1, tp, fn, fp)`; Python adds the integer counts first,
        // then the float, and evaluates the products left to right.
        let pre = tp / (fp + tp + 1e-13);
        let rec = tp / (fn_ + tp + 1e-13);
        let f = 2.0 * pre * rec / (pre + rec + 1e-13);
        let em = if self.total == 0 { 0.0 } else { self.em as f64 / self.total as f64 };
        DeepKeScores {
            f: round4(f) * 100.0,
            rec: round4(rec) * 100.0,
            pre: round4(pre) * 100.0,
            em: round4(em),
        }
    }

    /// The scores, then a reset of the counters (DeepKE's `get_metric(reset=True)`, what its
    /// trainer calls after each evaluation).
    pub fn take_metric(&mut self) -> DeepKeScores {
        let scores = self.metric();
        *self = Self::new(self.num_labels);
        scores
    }
}

/// DeepKE's `word_start_index`: `num_labels + 2` (after bos, eos and the labels).
fn word_start_index(num_labels: usize) -> u32 {
    u32::try_from(num_labels + 2).expect("num_labels fits in u32")
}

/// DeepKE's effective length `n` (may be negative, see the module docs) and the tokens
/// `row[1:][:n]` with Python slice semantics.
fn effective(row: &[u32], eos: u32) -> (isize, &[u32]) {
    // `pred.flip(1).eq(eos).cumsum(1)`, flipped back and compared with its last column, is true
    // exactly at positions 0..=first eos; without eos at every position.
    let count = row.iter().position(|&t| t == eos).map_or(row.len(), |i| i + 1);
    let n = count as isize - 2;
    let rest = row.get(1..).unwrap_or(&[]);
    let keep =
        if n >= 0 { (n as usize).min(rest.len()) } else { rest.len().saturating_sub(n.unsigned_abs()) };
    (n, &rest[..keep])
}

/// The tokens of a row that DeepKE parses: between bos and the first eos (all but the first
/// and last token if there is no eos). See the module docs for degenerate rows.
pub fn effective_tokens(row: &[u32], eos: u32) -> &[u32] {
    effective(row, eos).1
}

/// Parses effective tokens into entity tuples (pointers then label), left to right, in
/// `'word'` mode: a label closes the pointers before it if there are any and they are strictly
/// increasing; otherwise the label and those pointers are dropped. Trailing pointers without a
/// label are discarded. Tuples are returned in order, duplicates kept.
pub fn parse_tuples(tokens: &[u32], word_start_index: u32) -> Vec<Vec<u32>> {
    let mut pairs = Vec::new();
    let mut cur: Vec<u32> = Vec::new();
    for &j in tokens {
        if j < word_start_index {
            if !cur.is_empty() && cur.windows(2).all(|w| w[0] < w[1]) {
                let mut tuple = std::mem::take(&mut cur);
                tuple.push(j);
                pairs.push(tuple);
            }
            cur.clear();
        } else {
            cur.push(j);
        }
    }
    pairs
}

/// Python's `round(x, 4)`: the nearest 4-decimal number, ties to even on the exact binary
/// value, converted back to the nearest double. Rust's `{:.4}` formatting rounds the same way
/// and parsing is correctly rounded, as is Python's `float()`.
fn round4(x: f64) -> f64 {
    format!("{x:.4}").parse().expect("a formatted float parses")
}

#[cfg(test)]
mod tests {
    use super::*;

    // C = 4 labels (2..=5), pointers from 6, as in the spec's worked example (docs/deepke.md §4.4).
    const C: usize = 4;

    #[test]
    fn worked_example_is_an_exact_match() {
        let gold = [0, 7, 8, 3, 11, 12, 2, 1];
        assert_eq!(effective_tokens(&gold, 1), &[7, 8, 3, 11, 12, 2]);
        assert_eq!(parse_tuples(effective_tokens(&gold, 1), 6), vec![vec![7, 8, 3], vec![11, 12, 2]]);
        let mut m = Seq2SeqSpanMetric::new(C);
        assert_eq!(m.word_start_index(), 6);
        // Padding after eos (pad = 1) and a second eos do not matter.
        m.add(&[0, 7, 8, 3, 11, 12, 2, 1, 1, 9, 1], &gold);
        assert_eq!(m.counts(), (2, 0, 0));
        assert_eq!(m.exact_matches(), (1, 1));
        assert_eq!(m.metric(), DeepKeScores { f: 100.0, rec: 100.0, pre: 100.0, em: 1.0 });
    }

    #[test]
    fn parse_rules() {
        // Non-monotone pointer list: dropped with its label; the next entity survives.
        assert_eq!(parse_tuples(&[8, 7, 3, 9, 2], 6), vec![vec![9, 2]]);
        // Repeated pointer is not strictly increasing either.
        assert_eq!(parse_tuples(&[7, 7, 3], 6), Vec::<Vec<u32>>::new());
        // Label with an empty buffer: dropped (also a second label after an entity).
        assert_eq!(parse_tuples(&[3, 7, 2, 4], 6), vec![vec![7, 2]]);
        // Trailing pointers without a label: discarded.
        assert_eq!(parse_tuples(&[7, 2, 9, 10], 6), vec![vec![7, 2]]);
        // Duplicates are kept by the parser (the metric collapses them).
        assert_eq!(parse_tuples(&[7, 2, 7, 2], 6), vec![vec![7, 2], vec![7, 2]]);
        // A stray bos acts as a label.
        assert_eq!(parse_tuples(&[7, 0], 6), vec![vec![7, 0]]);
    }

    #[test]
    fn effective_tokens_edge_cases() {
        // No eos: all but bos and the last token.
        assert_eq!(effective_tokens(&[0, 7, 2, 9], 1), &[7, 2]);
        // eos right after bos: nothing.
        assert_eq!(effective_tokens(&[0, 1, 7, 2], 1), &[] as &[u32]);
        // eos at index 0: n = -1, Python's row[1:][:-1].
        assert_eq!(effective_tokens(&[1, 7, 2, 9], 1), &[7, 2]);
        // Rows of one or no token.
        assert_eq!(effective_tokens(&[0], 1), &[] as &[u32]);
        assert_eq!(effective_tokens(&[], 1), &[] as &[u32]);
    }

    /// Hand-computed over three rows:
    ///
    /// row 1 gold (7,8,3) (11,2); pred (7,8,3) (7,8,3) (12,11,2) (9): tp 1, fp 0 (duplicate
    ///   counted once, non-monotone dropped, trailing pointer discarded), fn 1.
    /// row 2 gold (7,2); pred (7,3) (4 with empty buffer dropped): tp 0, fp 1, fn 1.
    /// row 3 gold (9,10,4); pred has no eos: [0, 9, 10, 4, 6] keeps 9 10 4 → tp 1, em 1
    ///   (gold row [0, 9, 10, 4, 1] has the same length 3 and tokens).
    ///
    /// tp 2, fp 1, fn 2: P = 2/(3+1e-13) → 0.6667 → 66.67; R = 2/(4+1e-13) = 0.5 → 50.0;
    /// F = 2·P·R/(P+R+1e-13) = 0.571428… → 0.5714 → 57.14; em = 1/3 → 0.3333.
    #[test]
    fn hand_computed_metric() {
        let mut m = Seq2SeqSpanMetric::new(C);
        m.add(&[0, 7, 8, 3, 7, 8, 3, 12, 11, 2, 9, 1], &[0, 7, 8, 3, 11, 2, 1]);
        assert_eq!(m.counts(), (1, 0, 1));
        m.add(&[0, 4, 7, 3, 1, 1], &[0, 7, 2, 1]);
        assert_eq!(m.counts(), (1, 1, 2));
        m.add(&[0, 9, 10, 4, 6], &[0, 9, 10, 4, 1]);
        assert_eq!(m.counts(), (2, 1, 2));
        assert_eq!(m.exact_matches(), (1, 3));
        let s = m.metric();
        // Python: round(x, 4) * 100 gives these exact doubles.
        assert_eq!(s.pre, 0.6667 * 100.0);
        assert_eq!(s.rec, 50.0);
        assert_eq!(s.f, 0.5714 * 100.0);
        assert_eq!(s.em, 0.3333);
        assert!((s.pre - 66.67).abs() < 1e-9 && (s.f - 57.14).abs() < 1e-9);
    }

    #[test]
    fn explicit_target_span_and_reset() {
        let mut m = Seq2SeqSpanMetric::new(C);
        // Duplicated gold tuples count once too (DeepKE turns them into dict keys).
        m.add_with_target_span(&[0, 7, 2, 1], &[0, 7, 2, 1], &[vec![7, 2], vec![7, 2], vec![9, 3]]);
        assert_eq!(m.counts(), (1, 0, 1));
        let s = m.take_metric();
        assert_eq!(s.pre, 100.0);
        assert_eq!(s.rec, 50.0);
        assert_eq!(s.em, 1.0);
        assert_eq!(m, Seq2SeqSpanMetric::new(C));
        // Nothing added: zeros (DeepKE would divide by zero for em).
        assert_eq!(m.metric(), DeepKeScores::default());
    }

    #[test]
    fn exact_match_needs_equal_lengths_and_tokens() {
        let mut m = Seq2SeqSpanMetric::new(C);
        m.add(&[0, 7, 2, 1], &[0, 7, 2, 9, 3, 1]); // shorter
        m.add(&[0, 7, 3, 1], &[0, 7, 2, 1]); // same length, other label
        m.add(&[0, 1, 5, 5], &[0, 1]); // both empty: a match
        m.add(&[1, 7, 2], &[1, 7, 2]); // n = -1 on both sides: never a match
        assert_eq!(m.exact_matches(), (1, 4));
        assert_eq!(m.metric().em, 0.25);
    }

    #[test]
    fn round4_is_pythons_round() {
        // Python: round(0.03125, 4) == 0.0312 (tie to even), round(0.81234, 4) == 0.8123,
        // round(0.81235, 4) == 0.8124 (0.81235 is just above the tie in binary).
        assert_eq!(round4(0.03125), 0.0312);
        assert_eq!(round4(0.09375), 0.0938);
        assert_eq!(round4(0.81234), 0.8123);
        assert_eq!(round4(0.81235), 0.8124);
        assert_eq!(round4(1.0), 1.0);
        assert_eq!(round4(0.0), 0.0);
        // And `* 100` is a float product, as in Python: round(0.00071, 4) * 100.
        assert_eq!(round4(0.00071) * 100.0, 0.06999999999999999);
        assert_eq!(round4(0.81234) * 100.0, 81.23);
    }
}
