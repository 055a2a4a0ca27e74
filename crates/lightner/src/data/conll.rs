//! CoNLL-style files: one token per line with its tag in the last column (two or more columns,
//! TAB- or space-separated), a blank line between sentences, `-DOCSTART-` lines skipped, CRLF and a
//! UTF-8 byte-order mark tolerated, and a last sentence kept without a trailing blank line.
//! Unlike DeepKE's reader (docs/deepke.md §1.1, docs/deepke.md §13.10), nothing here depends on the file's path and no
//! sentence is lost.

use super::scheme::{self, Tag, TagScheme};
use super::sentence::Sentence;
use super::{Lines, Warning};
use crate::error::{DataErrorKind, Error, Location, Result};
use std::path::Path;

/// A sentence as read, before its tags are decoded.
struct RawSentence {
    words: Vec<String>,
    tags: Vec<Tag>,
    lines: Vec<usize>,
}

/// Parses CoNLL text. `scheme = None` detects the scheme from the whole file. Returns the
/// sentences, the scheme used, and warnings for ill-formed tag sequences (which seqeval's strict
/// mode would not count as entities).
pub fn parse(
    path: &Path,
    bytes: &[u8],
    scheme: Option<TagScheme>,
) -> Result<(Vec<Sentence>, TagScheme, Vec<Warning>)> {
    let mut raw: Vec<RawSentence> = Vec::new();
    let mut cur = RawSentence { words: vec![], tags: vec![], lines: vec![] };
    for line in Lines::new(path, bytes) {
        let (lineno, text) = line?;
        if text.trim().is_empty() {
            if !cur.words.is_empty() {
                raw.push(std::mem::replace(
                    &mut cur,
                    RawSentence { words: vec![], tags: vec![], lines: vec![] },
                ));
            }
            continue;
        }
        // TAB-separated lines split on TABs only, so that a word with a space in it is reported
        // instead of being cut at the space; other lines split on any whitespace.
        let fields: Vec<&str> = if text.contains('\t') {
            text.split('\t').map(str::trim).filter(|f| !f.is_empty()).collect()
        } else {
            text.split_whitespace().collect()
        };
        let mut fields = fields.into_iter();
        let Some(word) = fields.next() else {
            if !cur.words.is_empty() {
                raw.push(std::mem::replace(
                    &mut cur,
                    RawSentence { words: vec![], tags: vec![], lines: vec![] },
                ));
            }
            continue;
        };
        if word == "-DOCSTART-" {
            if !cur.words.is_empty() {
                raw.push(std::mem::replace(
                    &mut cur,
                    RawSentence { words: vec![], tags: vec![], lines: vec![] },
                ));
            }
            continue;
        }
        let Some(tag) = fields.next_back() else {
            return Err(Error::data(
                Location::new(path, lineno),
                DataErrorKind::MissingTag { text: text.to_string() },
            ));
        };
        let tag = Tag::parse(tag).map_err(|k| Error::data(Location::new(path, lineno), k))?;
        if word.chars().any(char::is_whitespace) {
            return Err(Error::data(
                Location::new(path, lineno),
                DataErrorKind::BadToken { index: cur.words.len(), token: word.to_string() },
            ));
        }
        cur.words.push(word.to_string());
        cur.tags.push(tag);
        cur.lines.push(lineno);
    }
    if !cur.words.is_empty() {
        raw.push(cur);
    }

    let scheme = scheme.unwrap_or_else(|| scheme::detect(raw.iter().map(|s| s.tags.as_slice())));
    let mut sentences = Vec::with_capacity(raw.len());
    let mut warnings = Vec::new();
    for s in raw {
        if let Some(k) = s.tags.iter().position(|t| !t.fits(scheme)) {
            let tag = format!("{}-{}", s.tags[k].letter, s.tags[k].ty);
            return Err(Error::data(
                Location::new(path, s.lines[k]),
                DataErrorKind::TagNotInScheme { tag, scheme: scheme.to_string() },
            ));
        }
        let decoded = scheme::decode(&s.tags, scheme);
        for k in decoded.ill_formed {
            warnings.push(Warning {
                location: Location::new(path, s.lines[k]),
                message: format!(
                    "tag {}-{} belongs to no well-formed {scheme} entity; ignored as seqeval's strict mode does",
                    s.tags[k].letter, s.tags[k].ty
                ),
            });
        }
        let mut sentence = Sentence::new(s.words, decoded.spans);
        sentence.line = s.lines[0];
        sentences.push(sentence);
    }
    Ok((sentences, scheme, warnings))
}

/// Writes sentences as `word<TAB>tag` lines in `scheme`, a blank line after each sentence.
pub fn write(out: &mut dyn std::io::Write, sentences: &[Sentence], scheme: TagScheme) -> std::io::Result<()> {
    for s in sentences {
        let tags = scheme::encode(&s.spans, s.words.len(), scheme);
        for (w, t) in s.words.iter().zip(&tags) {
            writeln!(out, "{w}\t{t}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}
