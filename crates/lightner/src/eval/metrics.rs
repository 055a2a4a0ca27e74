//! seqeval-compatible entity-level precision, recall and F1.
//!
//! The reference is seqeval 1.2.2, `classification_report(y_true, y_pred, mode="strict",
//! scheme=..., output_dict=True)` with the default `zero_division="warn"`
//! (`seqeval/metrics/v1.py`: `extract_tp_actual_correct`, `_precision_recall_fscore_support`,
//! `_prf_divide`). What it does, and what is reproduced here:
//!
//! * Entities are sets of `(sentence, type, start, end)` tuples (`seqeval.scheme.Entities`
//!   hashes `Entity.to_tuple()`), so a span listed twice in one sentence counts once, on both
//!   the gold and the predicted side. The same span in two sentences counts twice.
//! * Per type: `tp` = |gold ∩ pred|, `predicted` = |pred|, `support` = |gold|. The types are
//!   those present in gold ∪ pred, sorted by name; a type only ever predicted gets a row with
//!   support 0.
//! * `precision = tp / predicted`, `recall = tp / support`, each set to 0 when its denominator
//!   is 0 (`_prf_divide` with `zero_division="warn"`, which warns and yields 0);
//!   `f1 = 2·p·r / (p + r)`, 0 when `p + r = 0`.
//! * micro: the same formulas on the counts summed over types.
//! * macro: the unweighted mean of the per-type scores (`np.average` without weights).
//! * weighted: the mean weighted by support (`np.average(..., weights=true_sum)`); all zeros
//!   when the total support is 0 (seqeval's early return).
//! * Sums of floats follow numpy's pairwise summation, so the averages agree with seqeval to the
//!   last bit, not just to rounding error.
//!
//! One deliberate difference: with no entity at all in gold or predictions, seqeval's macro
//! average is the mean of an empty array, NaN (with a `RuntimeWarning`), and its text report
//! raises `ValueError`. Here the macro average is then 0, like every other undefined score, so
//! that the JSON output stays valid (serde_json writes NaN as `null`).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::data::Span;

/// Entity counts for one type (or summed over types).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Predicted entities that match a gold entity exactly (start, end and type).
    pub tp: usize,
    /// Predicted entities (distinct within each sentence).
    pub n_pred: usize,
    /// Gold entities (distinct within each sentence).
    pub n_gold: usize,
}

impl Counts {
    /// Precision, recall and F1 from these counts (0 where a denominator is 0).
    pub fn scores(&self) -> Scores {
        let precision = divide(self.tp, self.n_pred);
        let recall = divide(self.tp, self.n_gold);
        Scores {
            precision,
            recall,
            f1: f1(precision, recall),
            support: self.n_gold,
            predicted: self.n_pred,
            tp: self.tp,
        }
    }
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, other: Self) {
        self.tp += other.tp;
        self.n_pred += other.n_pred;
        self.n_gold += other.n_gold;
    }
}

/// Scores of one row of the report: a type, or an average.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Scores {
    /// `tp / predicted` (0 if nothing was predicted); for macro/weighted, the average of the
    /// per-type precisions.
    pub precision: f64,
    /// `tp / support` (0 if there is no gold entity); averaged likewise.
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 if both are 0); for macro/weighted, the average
    /// of the per-type F1s, as seqeval does (not the F1 of the averaged precision and recall).
    pub f1: f64,
    /// Number of gold entities (for averages: over all types, as seqeval reports it).
    pub support: usize,
    /// Number of predicted entities (for averages: over all types).
    pub predicted: usize,
    /// Number of exactly matched entities (for averages: over all types).
    pub tp: usize,
}

/// An entity-level evaluation report, as seqeval's `classification_report`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    /// Scores per entity type, for every type present in gold or predictions (sorted by name).
    pub per_type: BTreeMap<String, Scores>,
    /// Micro average: scores of the counts summed over types. This is the usual "F1".
    pub micro: Scores,
    /// Macro average: unweighted mean over the types of `per_type`.
    #[serde(rename = "macro")]
    pub macro_avg: Scores,
    /// Mean over the types weighted by their support.
    pub weighted: Scores,
    /// Number of sentences evaluated (entity-free ones included).
    pub sentences: usize,
}

impl Report {
    /// The report for per-type counts (types with all counts 0 are kept as rows, but
    /// [`Evaluator`] never produces them) over `sentences` sentences.
    pub fn from_counts(counts: &BTreeMap<String, Counts>, sentences: usize) -> Self {
        let per_type: BTreeMap<String, Scores> =
            counts.iter().map(|(ty, c)| (ty.clone(), c.scores())).collect();
        let mut total = Counts::default();
        for c in counts.values() {
            total += *c;
        }
        let micro = total.scores();
        let rows: Vec<&Scores> = per_type.values().collect();
        let column = |get: fn(&Scores) -> f64| rows.iter().map(|s| get(s)).collect::<Vec<f64>>();
        let (p, r, f) = (column(|s| s.precision), column(|s| s.recall), column(|s| s.f1));
        let mut macro_avg =
            Scores { support: total.n_gold, predicted: total.n_pred, tp: total.tp, ..Scores::default() };
        let mut weighted = macro_avg;
        if !rows.is_empty() {
            // `np.average(x)` is `x.mean()`: numpy's sum, then one division by the count.
            let n = rows.len() as f64;
            macro_avg.precision = numpy_sum(&p) / n;
            macro_avg.recall = numpy_sum(&r) / n;
            macro_avg.f1 = numpy_sum(&f) / n;
        }
        if total.n_gold > 0 {
            // `np.average(x, weights=w)` is `np.multiply(x, w).sum() / w.sum()`, in f64.
            let w: Vec<f64> = rows.iter().map(|s| s.support as f64).collect();
            let scale = numpy_sum(&w);
            let weigh = |x: &[f64]| {
                let xw: Vec<f64> = x.iter().zip(&w).map(|(a, b)| a * b).collect();
                numpy_sum(&xw) / scale
            };
            weighted.precision = weigh(&p);
            weighted.recall = weigh(&r);
            weighted.f1 = weigh(&f);
        }
        Self { per_type, micro, macro_avg, weighted, sentences }
    }
}

/// Accumulates gold and predicted entities sentence by sentence; [`Evaluator::report`] scores
/// them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evaluator {
    counts: BTreeMap<String, Counts>,
    sentences: usize,
}

impl Evaluator {
    /// An empty evaluator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one sentence: its gold and predicted entities, in any order. A sentence without
    /// entities still counts (its predictions are false positives). A span listed twice on one
    /// side counts once, as in seqeval, which keeps entities in sets.
    pub fn add(&mut self, gold: &[Span], pred: &[Span]) {
        self.sentences += 1;
        let gold: BTreeSet<&Span> = gold.iter().collect();
        let pred: BTreeSet<&Span> = pred.iter().collect();
        for g in &gold {
            self.counts.entry(g.label.clone()).or_default().n_gold += 1;
        }
        for p in &pred {
            let c = self.counts.entry(p.label.clone()).or_default();
            c.n_pred += 1;
            c.tp += usize::from(gold.contains(p));
        }
    }

    /// Adds another evaluator's sentences (for evaluation split across workers).
    pub fn merge(&mut self, other: &Evaluator) {
        for (ty, c) in &other.counts {
            *self.counts.entry(ty.clone()).or_default() += *c;
        }
        self.sentences += other.sentences;
    }

    /// The counts so far, per type.
    pub fn counts(&self) -> &BTreeMap<String, Counts> {
        &self.counts
    }

    /// Number of sentences added so far.
    pub fn sentences(&self) -> usize {
        self.sentences
    }

    /// The report on everything added so far.
    pub fn report(&self) -> Report {
        Report::from_counts(&self.counts, self.sentences)
    }
}

/// Scores `(gold, predicted)` entity lists, one pair per sentence (see [`Evaluator::add`]).
pub fn evaluate<'a>(pairs: impl IntoIterator<Item = (&'a [Span], &'a [Span])>) -> Report {
    let mut ev = Evaluator::new();
    for (gold, pred) in pairs {
        ev.add(gold, pred);
    }
    ev.report()
}

/// `num / den` as seqeval's `_prf_divide` with `zero_division="warn"`: 0 when `den` is 0.
fn divide(num: usize, den: usize) -> f64 {
    if den == 0 { 0.0 } else { num as f64 / den as f64 }
}

/// F1 as seqeval computes it: `(1 + β²)·p·r / (β²·p + r)` with β = 1, evaluated left to right,
/// and a zero denominator replaced by 1 (which gives 0, since then p = r = 0).
fn f1(p: f64, r: f64) -> f64 {
    let denom = p + r;
    if denom == 0.0 { 0.0 } else { 2.0 * p * r / denom }
}

/// The sum numpy computes for a contiguous `float64` array (`np.add.reduce`): pairwise
/// summation with an 8-way unrolled base case (`pairwise_sum` in numpy's
/// `_core/src/umath/loops_utils.h.src`). Matching its order makes the averages bit-identical
/// to seqeval's, not only equal up to rounding.
fn numpy_sum(a: &[f64]) -> f64 {
    const BLOCK: usize = 128;
    let n = a.len();
    if n < 8 {
        a.iter().fold(0.0, |acc, x| acc + x)
    } else if n <= BLOCK {
        let mut r = [0.0; 8];
        r.copy_from_slice(&a[..8]);
        let full = n - n % 8;
        for chunk in a[8..full].chunks_exact(8) {
            for (acc, x) in r.iter_mut().zip(chunk) {
                *acc += x;
            }
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for x in &a[full..] {
            res += x;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        numpy_sum(&a[..n2]) + numpy_sum(&a[n2..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp(start: usize, end: usize, label: &str) -> Span {
        Span::new(start, end, label)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    /// seqeval's docstring example: MISC is predicted one word too early, PER is exact.
    #[test]
    fn seqeval_docstring_example() {
        let gold = [vec![sp(3, 6, "MISC")], vec![sp(0, 2, "PER")]];
        let pred = [vec![sp(2, 6, "MISC")], vec![sp(0, 2, "PER")]];
        let r = evaluate(gold.iter().map(Vec::as_slice).zip(pred.iter().map(Vec::as_slice)));
        assert_eq!(r.per_type.len(), 2);
        let misc = r.per_type["MISC"];
        assert_eq!((misc.precision, misc.recall, misc.f1, misc.support), (0.0, 0.0, 0.0, 1));
        let per = r.per_type["PER"];
        assert_eq!((per.precision, per.recall, per.f1, per.support), (1.0, 1.0, 1.0, 1));
        for avg in [r.micro, r.macro_avg, r.weighted] {
            assert_eq!((avg.precision, avg.recall, avg.f1, avg.support), (0.5, 0.5, 0.5, 2));
        }
        assert_eq!(r.sentences, 2);
    }

    /// Hand-computed: three sentences, one without entities (its prediction is a false
    /// positive), a type (ORG) present only in predictions, a type (LOC) never predicted.
    ///
    /// gold: PER[0,2) LOC[3,4) | PER[1,2) | —
    /// pred: PER[0,2) LOC[2,4) | PER[1,2) ORG[0,1) | PER[0,1)
    ///
    /// PER: tp 2, pred 3, gold 2 → p 2/3, r 1, f1 0.8
    /// LOC: tp 0, pred 1, gold 1 → 0, 0, 0
    /// ORG: tp 0, pred 1, gold 0 → 0, 0 (zero division), 0
    /// micro: tp 2, pred 5, gold 3 → p 0.4, r 2/3, f1 0.5
    /// macro: p (2/3)/3 = 2/9, r 1/3, f1 0.8/3
    /// weighted (supports 2, 1, 0 for LOC, ORG, PER sorted: LOC 1, ORG 0, PER 2):
    ///   p (0·1 + 0·0 + 2/3·2)/3 = 4/9, r 2/3, f1 1.6/3
    #[test]
    fn hand_computed_report() {
        let gold = [vec![sp(0, 2, "PER"), sp(3, 4, "LOC")], vec![sp(1, 2, "PER")], vec![]];
        let pred = [
            vec![sp(0, 2, "PER"), sp(2, 4, "LOC")],
            vec![sp(1, 2, "PER"), sp(0, 1, "ORG")],
            vec![sp(0, 1, "PER")],
        ];
        let mut ev = Evaluator::new();
        for (g, p) in gold.iter().zip(&pred) {
            ev.add(g, p);
        }
        assert_eq!(ev.counts()["PER"], Counts { tp: 2, n_pred: 3, n_gold: 2 });
        assert_eq!(ev.counts()["ORG"], Counts { tp: 0, n_pred: 1, n_gold: 0 });
        let r = ev.report();
        assert_eq!(r.per_type.keys().collect::<Vec<_>>(), ["LOC", "ORG", "PER"]);
        let per = r.per_type["PER"];
        assert!(close(per.precision, 2.0 / 3.0) && close(per.recall, 1.0) && close(per.f1, 0.8));
        assert_eq!((per.support, per.predicted, per.tp), (2, 3, 2));
        let loc = r.per_type["LOC"];
        assert_eq!((loc.precision, loc.recall, loc.f1, loc.support), (0.0, 0.0, 0.0, 1));
        let org = r.per_type["ORG"];
        assert_eq!((org.precision, org.recall, org.f1, org.support), (0.0, 0.0, 0.0, 0));
        assert_eq!(org.predicted, 1);
        let m = r.micro;
        assert!(close(m.precision, 0.4) && close(m.recall, 2.0 / 3.0) && close(m.f1, 0.5));
        assert_eq!((m.support, m.predicted, m.tp), (3, 5, 2));
        let a = r.macro_avg;
        assert!(close(a.precision, 2.0 / 9.0) && close(a.recall, 1.0 / 3.0));
        assert!(close(a.f1, 0.8 / 3.0));
        assert_eq!(a.support, 3);
        let w = r.weighted;
        assert!(close(w.precision, 4.0 / 9.0) && close(w.recall, 2.0 / 3.0));
        assert!(close(w.f1, 1.6 / 3.0));
        assert_eq!(r.sentences, 3);
    }

    #[test]
    fn duplicates_count_once_per_sentence_but_not_across_sentences() {
        let gold = [sp(0, 1, "A"), sp(0, 1, "A")];
        let pred = [sp(0, 1, "A"), sp(0, 1, "A"), sp(1, 2, "A"), sp(1, 2, "A")];
        let mut ev = Evaluator::new();
        ev.add(&gold, &pred);
        assert_eq!(ev.counts()["A"], Counts { tp: 1, n_pred: 2, n_gold: 1 });
        ev.add(&gold, &pred);
        assert_eq!(ev.counts()["A"], Counts { tp: 2, n_pred: 4, n_gold: 2 });
    }

    #[test]
    fn strict_matching_needs_start_end_and_type() {
        let gold = [sp(0, 2, "A")];
        for pred in [sp(0, 1, "A"), sp(1, 2, "A"), sp(0, 3, "A"), sp(0, 2, "B")] {
            let mut ev = Evaluator::new();
            ev.add(&gold, std::slice::from_ref(&pred));
            assert_eq!(ev.report().micro.tp, 0, "{pred}");
        }
    }

    #[test]
    fn zero_division_gives_zero() {
        // Nothing at all: every score is 0 (seqeval's macro average would be NaN here).
        let r = evaluate([(&[][..], &[][..]), (&[][..], &[][..])]);
        assert!(r.per_type.is_empty());
        assert_eq!(r.sentences, 2);
        for s in [r.micro, r.macro_avg, r.weighted] {
            assert_eq!(s, Scores::default());
        }
        // Predictions only: precision 0/1, recall 0/0; weighted has total support 0.
        let r = evaluate([(&[][..], &[sp(0, 1, "X")][..])]);
        assert_eq!(r.micro, Scores { predicted: 1, ..Scores::default() });
        assert_eq!(r.weighted, Scores { predicted: 1, ..Scores::default() });
        assert_eq!(r.macro_avg, Scores { predicted: 1, ..Scores::default() });
        // Gold only: recall 0/1, precision 0/0.
        let r = evaluate([(&[sp(0, 1, "X")][..], &[][..])]);
        assert_eq!(r.per_type["X"], Scores { support: 1, ..Scores::default() });
        assert_eq!(r.weighted, Scores { support: 1, ..Scores::default() });
    }

    #[test]
    fn merge_equals_sequential_adds() {
        let a = [vec![sp(0, 1, "A")], vec![sp(2, 3, "B")]];
        let b = [vec![sp(0, 1, "A")], vec![sp(2, 4, "B"), sp(0, 1, "C")]];
        let mut whole = Evaluator::new();
        let (mut left, mut right) = (Evaluator::new(), Evaluator::new());
        for (i, (g, p)) in a.iter().zip(&b).enumerate() {
            whole.add(g, p);
            if i == 0 { &mut left } else { &mut right }.add(g, p);
        }
        left.merge(&right);
        assert_eq!(left, whole);
        assert_eq!(left.report(), whole.report());
    }

    #[test]
    fn numpy_sum_matches_numpy_order() {
        // Values from `float(np.sum(np.array(a)))` (numpy 2.4.6); plain left-to-right summation
        // gives different last bits for these arrays.
        let small: Vec<f64> = (1..=5).map(|k| 1.0 / k as f64).collect();
        assert_eq!(numpy_sum(&small), small.iter().fold(0.0, |a, x| a + x));
        let a: Vec<f64> = (2..=21).map(|k| 1.0 / k as f64).collect();
        assert_eq!(numpy_sum(&a), 2.6453587047627294);
        assert_eq!(a.iter().fold(0.0, |s, x| s + x), 2.64535870476273);
        let b: Vec<f64> = (1..=300).map(|k| 0.1 * k as f64 / 7.0).collect();
        assert_eq!(numpy_sum(&b), 645.0);
        assert_eq!(b.iter().fold(0.0, |s, x| s + x), 645.0000000000001);
        let c: Vec<f64> = (1..=300).map(|k| 1.0 / k as f64).collect();
        assert_eq!(numpy_sum(&c), 6.282663880299504);
        assert_eq!(numpy_sum(&[]), 0.0);
    }

    #[test]
    fn report_serializes_to_json() {
        let r = evaluate([(&[sp(0, 1, "PER")][..], &[sp(0, 1, "PER")][..])]);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["per_type"]["PER"]["f1"], 1.0);
        assert_eq!(v["micro"]["support"], 1);
        assert_eq!(v["macro"]["precision"], 1.0);
        assert_eq!(v["weighted"]["recall"], 1.0);
        assert_eq!(v["sentences"], 1);
    }
}
