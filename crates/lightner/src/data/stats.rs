//! Corpus statistics: what a user checks first about a labelled file (how many sentences and
//! entities, which types, how long sentences and entities are), as a table or as JSON.

use super::sentence::Sentence;
use crate::pad;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// Counts over a list of sentences. Entities are the spans the reader decoded (for CoNLL, the
/// well-formed ones under seqeval's strict rules).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// Number of sentences.
    pub sentences: usize,
    /// Number of words over all sentences.
    pub tokens: usize,
    /// Number of entity mentions.
    pub entities: usize,
    /// Sentences with no entity at all.
    pub sentences_without_entities: usize,
    /// Words in the longest sentence (0 for no sentences).
    pub max_sentence_len: usize,
    /// Mean words per sentence (0 for no sentences, never NaN, so that JSON stays a number).
    pub mean_sentence_len: f64,
    /// Mentions per entity type, by type name.
    pub per_type: BTreeMap<String, usize>,
    /// Histogram of entity lengths: number of words → number of mentions.
    pub entity_lengths: BTreeMap<usize, usize>,
}

impl Stats {
    /// Computes the statistics of `sentences`.
    pub fn from_sentences(sentences: &[Sentence]) -> Self {
        let mut st = Stats {
            sentences: sentences.len(),
            tokens: 0,
            entities: 0,
            sentences_without_entities: 0,
            max_sentence_len: 0,
            mean_sentence_len: 0.0,
            per_type: BTreeMap::new(),
            entity_lengths: BTreeMap::new(),
        };
        for s in sentences {
            st.tokens += s.words.len();
            st.max_sentence_len = st.max_sentence_len.max(s.words.len());
            st.entities += s.spans.len();
            if s.spans.is_empty() {
                st.sentences_without_entities += 1;
            }
            for span in &s.spans {
                *st.per_type.entry(span.label.clone()).or_insert(0) += 1;
                *st.entity_lengths.entry(span.len()).or_insert(0) += 1;
            }
        }
        if st.sentences > 0 {
            st.mean_sentence_len = st.tokens as f64 / st.sentences as f64;
        }
        st
    }
}

impl fmt::Display for Stats {
    /// A two-part table: the totals, then mentions per type with their share of all mentions.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows = [
            ("sentences", self.sentences.to_string()),
            ("  without entities", self.sentences_without_entities.to_string()),
            ("tokens", self.tokens.to_string()),
            ("  per sentence", format!("mean {:.1}, max {}", self.mean_sentence_len, self.max_sentence_len)),
            ("entities", self.entities.to_string()),
        ];
        for (name, value) in rows {
            writeln!(f, "{name:<20} {value:>8}")?;
        }
        if !self.entity_lengths.is_empty() {
            let lengths: Vec<String> =
                self.entity_lengths.iter().map(|(len, n)| format!("{len}:{n}")).collect();
            writeln!(f, "{:<20} {}", "  length (words:n)", lengths.join(" "))?;
        }
        if self.per_type.is_empty() {
            return Ok(());
        }
        let width = self.per_type.keys().map(|t| t.chars().count()).max().unwrap_or(0).max(4);
        writeln!(f)?;
        // Names padded by hand: a format width panics beyond u16::MAX (see `pad`).
        writeln!(f, "{}  {:>8}  {:>6}", pad::left("type", width), "mentions", "share")?;
        for (ty, n) in &self.per_type {
            // `entities > 0` whenever a type exists, so the division is safe.
            let share = 100.0 * *n as f64 / self.entities as f64;
            writeln!(f, "{}  {n:>8}  {share:>5.1}%", pad::left(ty, width))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::sentence::Span;

    fn words(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("w{i}")).collect()
    }

    fn sample() -> Vec<Sentence> {
        vec![
            Sentence::new(words(4), vec![Span::new(0, 2, "PER"), Span::new(3, 4, "LOC")]),
            Sentence::new(words(2), vec![]),
            Sentence::new(words(6), vec![Span::new(1, 2, "PER")]),
        ]
    }

    #[test]
    fn counts() {
        let st = Stats::from_sentences(&sample());
        assert_eq!(st.sentences, 3);
        assert_eq!(st.tokens, 12);
        assert_eq!(st.entities, 3);
        assert_eq!(st.sentences_without_entities, 1);
        assert_eq!(st.max_sentence_len, 6);
        assert!((st.mean_sentence_len - 4.0).abs() < 1e-12);
        assert_eq!(st.per_type, BTreeMap::from([("LOC".to_string(), 1), ("PER".to_string(), 2)]));
        assert_eq!(st.entity_lengths, BTreeMap::from([(1, 2), (2, 1)]));
    }

    #[test]
    fn empty_corpus_has_no_nan() {
        let st = Stats::from_sentences(&[]);
        assert_eq!(st.sentences, 0);
        assert_eq!(st.mean_sentence_len, 0.0);
        let json = serde_json::to_value(&st).unwrap();
        assert_eq!(json["mean_sentence_len"], serde_json::json!(0.0));
        assert!(!st.to_string().contains("type"), "no type table without entities");
    }

    #[test]
    fn table_lists_totals_and_types() {
        let table = Stats::from_sentences(&sample()).to_string();
        assert!(table.contains("sentences"), "{table}");
        assert!(table.lines().any(|l| l.starts_with("entities") && l.ends_with(" 3")), "{table}");
        assert!(
            table.lines().any(|l| l.starts_with("PER") && l.contains(" 2 ") && l.ends_with("66.7%")),
            "{table}"
        );
        assert!(table.contains("1:2 2:1"), "{table}");
    }

    #[test]
    fn json_field_names() {
        let v = serde_json::to_value(Stats::from_sentences(&sample())).unwrap();
        assert_eq!(v["sentences"], 3);
        assert_eq!(v["per_type"]["PER"], 2);
        assert_eq!(v["entity_lengths"]["1"], 2);
        assert_eq!(v["sentences_without_entities"], 1);
    }
}
