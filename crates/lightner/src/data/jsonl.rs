//! JSON Lines: one sentence per line, either with raw text and character offsets,
//! `{"text": "...", "entities": [{"start": 0, "end": 5, "label": "PER"}]}`, or pre-tokenized,
//! `{"tokens": ["..."], "spans": [[0, 1, "PER"]]}` (word indices, end exclusive). Offsets count
//! characters (Unicode scalar values, like Python's `str`), not bytes. Other fields are ignored.

use super::Lines;
use super::sentence::{Sentence, Span, TextAnchor};
use super::words::WordSplit;
use crate::error::{DataErrorKind, Error, Location, Result};
use serde_json::{Value, json};
use std::path::Path;

/// Which JSONL layout to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonlStyle {
    /// `{"text", "entities": [{start, end, label}]}` with character offsets.
    Text,
    /// `{"tokens", "spans": [[start, end, label]]}` with word indices.
    Tokens,
}

/// Parses JSONL text (blank lines are skipped); `{"text"}` records are split into words by `split`.
pub fn parse(path: &Path, bytes: &[u8], split: WordSplit) -> Result<Vec<Sentence>> {
    let mut out = Vec::new();
    for line in Lines::new(path, bytes) {
        let (lineno, text) = line?;
        if text.trim().is_empty() {
            continue;
        }
        let loc = Location::new(path, lineno);
        let mut s = parse_record(text, split).map_err(|k| Error::data(loc, k))?;
        s.line = lineno;
        out.push(s);
    }
    Ok(out)
}

fn bad(msg: impl Into<String>) -> DataErrorKind {
    DataErrorKind::BadJson { msg: msg.into() }
}

/// Parses one JSON record (a `{"text"}` record is split into words by `split`).
pub fn parse_record(text: &str, split: WordSplit) -> std::result::Result<Sentence, DataErrorKind> {
    let v: Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    let obj = v.as_object().ok_or_else(|| bad("expected a JSON object"))?;
    match (obj.get("text"), obj.get("tokens")) {
        (Some(_), None) if obj.contains_key("spans") => Err(bad(
            "`spans` (word indices) belongs with `tokens`; with `text`, give character-offset `entities`",
        )),
        (None, Some(_)) if obj.contains_key("entities") => Err(bad(
            "`entities` (character offsets) belongs with `text`; with `tokens`, give `spans` as [start, end, label]",
        )),
        (Some(t), None) => {
            let t = t.as_str().ok_or_else(|| bad("`text` must be a string"))?;
            let ents = match obj.get("entities") {
                None | Some(Value::Null) => vec![],
                Some(Value::Array(a)) => a.iter().map(entity).collect::<std::result::Result<_, _>>()?,
                Some(_) => return Err(bad("`entities` must be an array")),
            };
            from_text(t, ents, split)
        }
        (None, Some(t)) => {
            let toks = t.as_array().ok_or_else(|| bad("`tokens` must be an array of strings"))?;
            let words = toks
                .iter()
                .map(|w| {
                    w.as_str().map(str::to_string).ok_or_else(|| bad("`tokens` must be an array of strings"))
                })
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let spans = match obj.get("spans") {
                None | Some(Value::Null) => vec![],
                Some(Value::Array(a)) => a.iter().map(span_triple).collect::<std::result::Result<_, _>>()?,
                Some(_) => return Err(bad("`spans` must be an array of [start, end, label]")),
            };
            from_tokens(words, spans)
        }
        (Some(_), Some(_)) => Err(bad("a record has either `text` or `tokens`, not both")),
        (None, None) => Err(bad("missing `text` (with `entities`) or `tokens` (with `spans`)")),
    }
}

fn entity(v: &Value) -> std::result::Result<Span, DataErrorKind> {
    let o = v.as_object().ok_or_else(|| bad("each entity must be an object {start, end, label}"))?;
    let num = |k: &str| {
        o.get(k).and_then(Value::as_u64).map(|n| n as usize).ok_or_else(|| {
            bad(format!("entity field `{k}` must be a non-negative integer (character offset)"))
        })
    };
    let label =
        o.get("label").and_then(Value::as_str).ok_or_else(|| bad("entity field `label` must be a string"))?;
    Ok(Span::new(num("start")?, num("end")?, label))
}

fn span_triple(v: &Value) -> std::result::Result<Span, DataErrorKind> {
    let a =
        v.as_array().filter(|a| a.len() == 3).ok_or_else(|| bad("each span must be [start, end, label]"))?;
    let n = |x: &Value| {
        x.as_u64().map(|n| n as usize).ok_or_else(|| bad("span start/end must be non-negative integers"))
    };
    let label = a[2].as_str().ok_or_else(|| bad("span label must be a string"))?;
    Ok(Span::new(n(&a[0])?, n(&a[1])?, label))
}

/// Checks labels, emptiness, range and overlap of spans over `len` units; sorts them.
fn check_spans(mut spans: Vec<Span>, len: usize) -> std::result::Result<Vec<Span>, DataErrorKind> {
    for s in &spans {
        if s.label.trim().is_empty() {
            return Err(DataErrorKind::EmptyLabel { start: s.start, end: s.end });
        }
        if s.label.chars().any(char::is_whitespace) {
            // A CoNLL tag cannot hold whitespace, and " PER" would silently be a type of its own.
            return Err(DataErrorKind::LabelWhitespace { label: s.label.clone() });
        }
        if s.start >= s.end {
            return Err(DataErrorKind::EmptySpan { start: s.start, end: s.end, label: s.label.clone() });
        }
        if s.end > len {
            return Err(DataErrorKind::OutOfRange {
                start: s.start,
                end: s.end,
                len,
                label: s.label.clone(),
            });
        }
    }
    spans.sort();
    for w in spans.windows(2) {
        if w[1].start < w[0].end {
            return Err(DataErrorKind::Overlap { first: w[0].to_string(), second: w[1].to_string() });
        }
    }
    Ok(spans)
}

/// A sentence from pre-tokenized words and word spans.
pub fn from_tokens(words: Vec<String>, spans: Vec<Span>) -> std::result::Result<Sentence, DataErrorKind> {
    if let Some((index, token)) =
        words.iter().enumerate().find(|(_, w)| w.is_empty() || w.chars().any(char::is_whitespace))
    {
        return Err(DataErrorKind::BadToken { index, token: token.clone() });
    }
    if words.is_empty() {
        return Err(DataErrorKind::NoWords);
    }
    let spans = check_spans(spans, words.len())?;
    Ok(Sentence::new(words, spans))
}

/// A sentence from text and character-offset entities: the text is split into words by `split`
/// and every entity must start and end on word boundaries.
pub fn from_text(
    text: &str,
    entities: Vec<Span>,
    split: WordSplit,
) -> std::result::Result<Sentence, DataErrorKind> {
    let nchars = text.chars().count();
    let entities = check_spans(entities, nchars)?;
    let words = split.split(text);
    if words.is_empty() {
        return Err(DataErrorKind::NoWords);
    }
    let mut spans = Vec::with_capacity(entities.len());
    for e in entities {
        // Words are sorted and disjoint, so their starts and ends both increase: a binary search
        // keeps a record with many entities linear-logarithmic (a scan per entity made 200,000
        // entities take over a minute).
        let start = words.binary_search_by_key(&e.start, |w| w.start).ok();
        let end = words.binary_search_by_key(&e.end, |w| w.end).ok();
        match (start, end) {
            (Some(a), Some(b)) if a <= b => spans.push(Span::new(a, b + 1, e.label)),
            _ => {
                let offset = if start.is_none() { e.start } else { e.end };
                let context = words
                    .iter()
                    .filter(|w| w.end + 10 >= offset && w.start <= offset + 10)
                    .map(|w| format!("{:?}@{}..{}", w.text, w.start, w.end))
                    .collect::<Vec<_>>()
                    .join(" ");
                return Err(DataErrorKind::OffTokenBoundary {
                    start: e.start,
                    end: e.end,
                    offset,
                    label: e.label,
                    context,
                });
            }
        }
    }
    let offsets = words.iter().map(|w| (w.start, w.end)).collect();
    let mut s = Sentence::new(words.into_iter().map(|w| w.text).collect(), spans);
    s.text = Some(TextAnchor { text: text.into(), offsets });
    Ok(s)
}

/// The JSON value of one sentence in `style`.
pub fn to_value(s: &Sentence, style: JsonlStyle) -> Value {
    match style {
        JsonlStyle::Text => {
            let a = s.anchor();
            let ents: Vec<Value> = s
                .spans
                .iter()
                .map(|sp| json!({"start": a.offsets[sp.start].0, "end": a.offsets[sp.end - 1].1, "label": sp.label}))
                .collect();
            json!({"text": a.text.as_str(), "entities": ents})
        }
        JsonlStyle::Tokens => {
            let spans: Vec<Value> = s.spans.iter().map(|sp| json!([sp.start, sp.end, sp.label])).collect();
            json!({"tokens": s.words, "spans": spans})
        }
    }
}

/// Writes sentences as JSONL in `style`.
pub fn write(out: &mut dyn std::io::Write, sentences: &[Sentence], style: JsonlStyle) -> std::io::Result<()> {
    for s in sentences {
        serde_json::to_writer(&mut *out, &to_value(s, style))?;
        writeln!(out)?;
    }
    Ok(())
}
