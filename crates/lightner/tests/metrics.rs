//! `lightner::eval` against seqeval itself.
//!
//! `tests/fixtures/seqeval/reports.json` holds random tag sequences (IOB2, IOBES, BILOU; with
//! entity-free sentences, ill-formed sequences, types only predicted) and what seqeval computed
//! on them: its strict-mode entities and `classification_report(..., mode="strict",
//! scheme=..., output_dict=True)`, plus its text report with `digits=4`. See
//! `tests/fixtures/seqeval/README.md` for how it was made. This test decodes the tags with
//! `lightner::data::scheme::decode`, scores them with `lightner::eval::Evaluator`, and checks
//! every entity, count and number.

use std::collections::BTreeMap;

use lightner::data::Span;
use lightner::data::scheme::{Tag, TagScheme, decode};
use lightner::eval::{Evaluator, Report, Scores};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    seqeval_version: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    scheme: String,
    /// Space-joined tags, one string per sentence.
    y_true: Vec<String>,
    y_pred: Vec<String>,
    /// seqeval's entities per sentence: `[type, start, end]`.
    entities_true: Vec<Vec<(String, usize, usize)>>,
    entities_pred: Vec<Vec<(String, usize, usize)>>,
    /// Per type: seqeval's tp, predicted and true counts.
    counts: BTreeMap<String, FixtureCounts>,
    /// seqeval's `output_dict` report: types, then "micro avg", "macro avg", "weighted avg".
    report: BTreeMap<String, Row>,
    /// seqeval's text report (digits=4); null when seqeval cannot print one (no type at all).
    text: Option<String>,
}

#[derive(Deserialize)]
struct FixtureCounts {
    tp: usize,
    pred: usize,
    #[serde(rename = "true")]
    gold: usize,
}

/// Scores are Python repr strings, which `str::parse::<f64>` turns back into the exact double
/// (serde_json's default float parser can be one ulp off); "nan" where seqeval gave NaN.
#[derive(Deserialize)]
struct Row {
    precision: String,
    recall: String,
    #[serde(rename = "f1-score")]
    f1: String,
    support: usize,
}

impl Row {
    /// Precision, recall, F1. seqeval's NaN (its macro mean over zero types) is 0 here, by
    /// design (see `lightner::eval`).
    fn scores(&self) -> [f64; 3] {
        [&self.precision, &self.recall, &self.f1].map(|x| {
            let v: f64 = x.parse().unwrap_or_else(|e| panic!("{x:?}: {e}"));
            if v.is_nan() { 0.0 } else { v }
        })
    }
}

const AVERAGES: [&str; 3] = ["micro avg", "macro avg", "weighted avg"];

fn fixture() -> Fixture {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/seqeval/reports.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn scheme(name: &str) -> TagScheme {
    match name {
        "IOB2" => TagScheme::Bio,
        "IOBES" => TagScheme::Bioes,
        "BILOU" => TagScheme::Bilou,
        _ => panic!("unexpected scheme {name}"),
    }
}

fn spans(tags: &str, scheme: TagScheme) -> Vec<Span> {
    let tags: Vec<Tag> = tags.split_whitespace().map(|t| Tag::parse(t).unwrap()).collect();
    decode(&tags, scheme).spans
}

fn seqeval_spans(entities: &[(String, usize, usize)]) -> Vec<Span> {
    entities.iter().map(|(ty, start, end)| Span::new(*start, *end, ty.as_str())).collect()
}

/// Decodes every sentence of the fixture and compares with seqeval's entities; returns the
/// decoded (gold, pred) pairs per case. All disagreements are listed before failing.
fn decode_all(fx: &Fixture) -> Vec<Vec<(Vec<Span>, Vec<Span>)>> {
    let mut problems = Vec::new();
    let mut out = Vec::new();
    for case in &fx.cases {
        let sch = scheme(&case.scheme);
        assert_eq!(case.y_true.len(), case.y_pred.len(), "{}", case.name);
        let mut pairs = Vec::new();
        let sides =
            [("y_true", &case.y_true, &case.entities_true), ("y_pred", &case.y_pred, &case.entities_pred)];
        for (side, tags, entities) in sides {
            for (i, (t, e)) in tags.iter().zip(entities.iter()).enumerate() {
                let ours = spans(t, sch);
                let theirs = seqeval_spans(e);
                if ours != theirs {
                    problems.push(format!(
                        "{} {side}[{i}] ({}): tags {t:?}\n  seqeval: {theirs:?}\n  ours:    {ours:?}",
                        case.name, case.scheme
                    ));
                }
            }
        }
        for (t, p) in case.y_true.iter().zip(&case.y_pred) {
            pairs.push((spans(t, sch), spans(p, sch)));
        }
        out.push(pairs);
    }
    assert!(problems.is_empty(), "decode disagrees with seqeval:\n{}", problems.join("\n"));
    out
}

fn report_of(pairs: &[(Vec<Span>, Vec<Span>)]) -> Report {
    let mut ev = Evaluator::new();
    for (g, p) in pairs {
        ev.add(g, p);
    }
    ev.report()
}

fn check_row(case: &str, row: &str, ours: &Scores, theirs: &Row, problems: &mut Vec<String>) {
    let names = ["precision", "recall", "f1"];
    let ours_scores = [ours.precision, ours.recall, ours.f1];
    for ((name, a), b) in names.into_iter().zip(ours_scores).zip(theirs.scores()) {
        if (a - b).abs() > 1e-12 {
            problems.push(format!("{case} {row} {name}: ours {a:?}, seqeval {b:?}"));
        }
    }
    if ours.support != theirs.support {
        problems.push(format!("{case} {row} support: ours {}, seqeval {}", ours.support, theirs.support));
    }
}

#[test]
fn fixture_covers_what_it_claims() {
    let fx = fixture();
    assert_eq!(fx.seqeval_version, "1.2.2");
    let sentences: usize = fx.cases.iter().map(|c| c.y_true.len()).sum();
    assert!(sentences >= 300, "{sentences} sentence pairs");
    for s in ["IOB2", "IOBES", "BILOU"] {
        assert!(fx.cases.iter().any(|c| c.scheme == s), "no {s} case");
    }
    // Entity-free gold sentences, types only predicted, more than 8 types, an empty corpus.
    assert!(fx.cases.iter().any(|c| c.entities_true.iter().any(Vec::is_empty)));
    assert!(fx.cases.iter().any(|c| c.counts.values().any(|k| k.gold == 0 && k.pred > 0)));
    assert!(fx.cases.iter().any(|c| c.counts.len() > 8));
    assert!(fx.cases.iter().any(|c| c.counts.is_empty()));
    // Ill-formed sequences: some non-O tag belongs to no seqeval entity.
    let ill_formed = fx.cases.iter().any(|c| {
        c.y_pred.iter().zip(&c.entities_pred).any(|(tags, ents)| {
            let covered: usize = ents.iter().map(|(_, s, e)| e - s).sum();
            tags.split_whitespace().filter(|t| *t != "O").count() > covered
        })
    });
    assert!(ill_formed);
}

#[test]
fn decode_agrees_with_seqeval_entities() {
    let fx = fixture();
    decode_all(&fx);
}

#[test]
fn reports_agree_with_seqeval() {
    let fx = fixture();
    let decoded = decode_all(&fx);
    let mut problems = Vec::new();
    let mut checked = 0;
    for (case, pairs) in fx.cases.iter().zip(&decoded) {
        let ours = report_of(pairs);
        assert_eq!(ours.sentences, case.y_true.len());
        // The same type rows, in the same (sorted) order.
        let types: Vec<&String> = case.report.keys().filter(|k| !AVERAGES.contains(&k.as_str())).collect();
        assert_eq!(ours.per_type.keys().collect::<Vec<_>>(), types, "{}", case.name);
        assert_eq!(case.counts.keys().collect::<Vec<_>>(), types, "{}", case.name);
        for ty in types {
            let s = &ours.per_type[ty];
            check_row(&case.name, ty, s, &case.report[ty], &mut problems);
            let c = &case.counts[ty];
            if (s.tp, s.predicted, s.support) != (c.tp, c.pred, c.gold) {
                problems.push(format!(
                    "{} {ty} counts (tp, pred, gold): ours {:?}, seqeval {:?}",
                    case.name,
                    (s.tp, s.predicted, s.support),
                    (c.tp, c.pred, c.gold)
                ));
            }
            checked += 1;
        }
        let avgs = [&ours.micro, &ours.macro_avg, &ours.weighted];
        for (name, s) in AVERAGES.iter().zip(avgs) {
            check_row(&case.name, name, s, &case.report[*name], &mut problems);
            checked += 1;
        }
        // Micro counts are the sums of seqeval's per-type counts.
        let tp: usize = case.counts.values().map(|c| c.tp).sum();
        let pred: usize = case.counts.values().map(|c| c.pred).sum();
        assert_eq!((ours.micro.tp, ours.micro.predicted), (tp, pred), "{}", case.name);
        if let Some(text) = &case.text
            && &ours.table() != text
        {
            problems.push(format!(
                "{} text report differs:\nseqeval:\n{text}\nours:\n{}",
                case.name,
                ours.table()
            ));
        }
    }
    assert!(problems.is_empty(), "{} mismatches:\n{}", problems.len(), problems.join("\n"));
    assert!(checked > 200, "only {checked} rows checked");
}

/// Not merely within 1e-12: the same divisions, and sums in numpy's order, make every score,
/// averages included, the very same double as seqeval's.
#[test]
fn scores_are_bit_identical() {
    let fx = fixture();
    let decoded = decode_all(&fx);
    for (case, pairs) in fx.cases.iter().zip(&decoded) {
        let ours = report_of(pairs);
        let avgs = [("micro avg", &ours.micro), ("macro avg", &ours.macro_avg)];
        let rows = ours.per_type.iter().map(|(k, s)| (k.as_str(), s));
        for (name, s) in rows.chain(avgs).chain([("weighted avg", &ours.weighted)]) {
            let theirs = case.report[name].scores();
            assert_eq!([s.precision, s.recall, s.f1], theirs, "{} {name}", case.name);
        }
    }
}
