//! Labelled data: reading and writing CoNLL and JSONL files, tag schemes, label sets, few-shot
//! sampling and corpus statistics. Nothing here touches tensors.

pub mod conll;
pub mod fewshot;
pub mod jsonl;
pub mod labels;
pub mod scheme;
pub mod sentence;
pub mod stats;
pub mod text;
pub mod words;

pub use jsonl::JsonlStyle;
pub use labels::LabelSet;
pub use scheme::TagScheme;
pub use sentence::{Sentence, SharedText, Span, TextAnchor};

use crate::error::{DataErrorKind, Error, Location, Result};
use std::path::Path;

/// A file format for labelled sentences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `word<TAB>tag` lines, blank line between sentences, tags in the given scheme.
    Conll(TagScheme),
    /// JSON Lines in the given style.
    Jsonl(JsonlStyle),
}

/// Something worth telling the user that does not stop reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The file and line (or record) the problem is at.
    pub location: Location,
    /// What is wrong there, and what to do about it.
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A warning quotes user data (a tag's type); a huge one is elided like an error's.
        let message = crate::error::elide(&self.message, 4 * crate::error::QUOTE_CHARS);
        write!(f, "{}: warning: {message}", self.location)
    }
}

/// A file's sentences, with what was learnt about it while reading.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The sentences, in file order (sentences without entities included).
    pub sentences: Vec<Sentence>,
    /// The format the file was read as (for CoNLL, with the scheme used).
    pub format: Format,
    /// Non-fatal findings.
    pub warnings: Vec<Warning>,
}

/// How to read a file.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOptions {
    /// The tag scheme of CoNLL input; `None` detects it.
    pub scheme: Option<TagScheme>,
    /// Force JSONL (`Some(true)`) or CoNLL (`Some(false)`); `None` looks at the content.
    pub jsonl: Option<bool>,
    /// How JSONL `{"text"}` records become words: as a pack's training data was split
    /// (`Pack::manifest.text_words`), so that offsets map onto the words the model knows.
    pub words: words::WordSplit,
}

/// Reads a labelled file (CoNLL or JSONL, told apart by content unless forced).
pub fn read_file(path: &Path, opts: ReadOptions) -> Result<Dataset> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    read_bytes(path, &bytes, opts)
}

/// Reads labelled data from memory; `path` is only used in messages.
pub fn read_bytes(path: &Path, bytes: &[u8], opts: ReadOptions) -> Result<Dataset> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let jsonl = opts.jsonl.unwrap_or_else(|| looks_like_jsonl(path, bytes));
    if jsonl {
        let sentences = jsonl::parse(path, bytes, opts.words)?;
        let style =
            if sentences.iter().all(|s| s.text.is_some()) { JsonlStyle::Text } else { JsonlStyle::Tokens };
        Ok(Dataset { sentences, format: Format::Jsonl(style), warnings: vec![] })
    } else {
        let (sentences, scheme, warnings) = conll::parse(path, bytes, opts.scheme)?;
        Ok(Dataset { sentences, format: Format::Conll(scheme), warnings })
    }
}

/// JSONL if the extension says so (`.jsonl`, `.json`), otherwise if the first non-blank line is a
/// JSON object (`{` … `}`); a CoNLL file may well start with a `{` token.
fn looks_like_jsonl(path: &Path, bytes: &[u8]) -> bool {
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("jsonl") || e.eq_ignore_ascii_case("json")) {
        return true;
    }
    let first = Lines::new(path, bytes).filter_map(|l| l.ok()).map(|(_, t)| t.trim()).find(|t| !t.is_empty());
    first.is_some_and(|t| t.starts_with('{') && t.ends_with('}'))
}

/// Writes sentences to `path` atomically in `format`.
pub fn write_file(path: &Path, sentences: &[Sentence], format: Format) -> Result<()> {
    crate::io::write_atomic_with(path, |w| write_to(w, sentences, format))
}

/// Writes sentences to a writer in `format`.
pub fn write_to(w: &mut dyn std::io::Write, sentences: &[Sentence], format: Format) -> std::io::Result<()> {
    match format {
        Format::Conll(scheme) => conll::write(w, sentences, scheme),
        Format::Jsonl(style) => jsonl::write(w, sentences, style),
    }
}

/// Lines of a byte buffer with 1-based numbers. `\n`, `\r\n` and a lone `\r` (classic Mac) all
/// end a line; UTF-8 is checked per line so that an encoding error names its line.
pub(crate) struct Lines<'a> {
    path: &'a Path,
    rest: &'a [u8],
    lineno: usize,
}

impl<'a> Lines<'a> {
    pub(crate) fn new(path: &'a Path, bytes: &'a [u8]) -> Self {
        Self { path, rest: bytes, lineno: 0 }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = Result<(usize, &'a str)>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        self.lineno += 1;
        let (line, rest) = match self.rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            Some(i) if self.rest[i] == b'\r' && self.rest.get(i + 1) == Some(&b'\n') => {
                (&self.rest[..i], &self.rest[i + 2..])
            }
            Some(i) => (&self.rest[..i], &self.rest[i + 1..]),
            None => (self.rest, &self.rest[self.rest.len()..]),
        };
        self.rest = rest;
        // A byte-order mark at a line start (files joined with `cat`) is not part of the text.
        let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        Some(std::str::from_utf8(line).map(|s| (self.lineno, s)).map_err(|e| {
            Error::data(
                Location::new(self.path, self.lineno),
                DataErrorKind::InvalidUtf8 { byte_offset: e.valid_up_to() },
            )
        }))
    }
}
