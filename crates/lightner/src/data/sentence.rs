//! The one in-memory form of labelled text: words plus typed word spans. Every reader produces it
//! and every writer consumes it, so the tag scheme or file format never leaks past `data`.

use serde::{Deserialize, Serialize};

/// An entity: the half-open word interval `[start, end)` and its type, as written in the data
/// (`PER`, `Restaurant_Name`, `fromloc.city_name`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Span {
    /// First word of the entity.
    pub start: usize,
    /// One past its last word.
    pub end: usize,
    /// The entity type.
    pub label: String,
}

impl Span {
    /// A span over words `[start, end)`.
    pub fn new(start: usize, end: usize, label: impl Into<String>) -> Self {
        Self { start, end, label: label.into() }
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether the span covers no word (never true for spans a reader returns).
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}[{}, {})", self.label, self.start, self.end)
    }
}

/// A sentence with its entities. Spans are sorted by start and never overlap.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sentence {
    /// The words (never empty strings, never containing whitespace).
    pub words: Vec<String>,
    /// The entities, sorted, non-overlapping.
    pub spans: Vec<Span>,
    /// The original text and the character offsets of each word, when the sentence came from text
    /// (JSONL with `text`, or raw text); `None` for pre-tokenized input.
    pub text: Option<TextAnchor>,
    /// 1-based line of the sentence's first line in its source file (0 if it has none).
    pub line: usize,
}

/// Original text and where each word lies in it, in characters (Unicode scalar values), so that
/// offsets agree with Python's `str` indexing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextAnchor {
    /// The text (shared: every sentence of one document holds the same document).
    pub text: SharedText,
    /// `[start, end)` character offsets of each word.
    pub offsets: Vec<(usize, usize)>,
}

/// A text shared by reference counting. The sentences of one document all anchor into the whole
/// document; a copy each made a line of 50,000 sentences cost 50,000 copies of itself (quadratic
/// memory: 200 KB of text reached 6 GB). Reads like a `&str`.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct SharedText(std::sync::Arc<str>);

impl SharedText {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for SharedText {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for SharedText {
    fn from(s: &str) -> Self {
        Self(s.into())
    }
}

impl From<String> for SharedText {
    fn from(s: String) -> Self {
        Self(s.into())
    }
}

impl std::fmt::Debug for SharedText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&*self.0, f)
    }
}

impl std::fmt::Display for SharedText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for SharedText {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for SharedText {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl PartialEq<String> for SharedText {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl Serialize for SharedText {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl Sentence {
    /// A sentence from words and spans (spans are sorted here).
    pub fn new(words: Vec<String>, mut spans: Vec<Span>) -> Self {
        spans.sort();
        Self { words, spans, text: None, line: 0 }
    }

    /// The text and word offsets: the original ones if known, otherwise the words joined by
    /// single spaces.
    pub fn anchor(&self) -> TextAnchor {
        if let Some(anchor) = &self.text {
            return anchor.clone();
        }
        let mut text = String::new();
        let mut offsets = Vec::with_capacity(self.words.len());
        let mut pos = 0;
        for (i, w) in self.words.iter().enumerate() {
            if i > 0 {
                text.push(' ');
                pos += 1;
            }
            let n = w.chars().count();
            text.push_str(w);
            offsets.push((pos, pos + n));
            pos += n;
        }
        TextAnchor { text: text.into(), offsets }
    }

    /// The words of `span`, joined by spaces.
    pub fn span_text(&self, span: &Span) -> String {
        self.words[span.start..span.end].join(" ")
    }
}
