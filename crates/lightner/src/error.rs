//! The library's one error type. Every error about user input names the file and the 1-based line
//! it comes from, so that a user can open the file at the right place; the CLI prints them with
//! their whole chain.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where in an input a problem was found: a file (or `<stdin>`, `<memory>`) and a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file, as the user named it.
    pub path: PathBuf,
    /// 1-based line number; 0 when the problem concerns the whole file.
    pub line: usize,
}

impl Location {
    /// A location at `line` (1-based) of `path`.
    pub fn new(path: impl AsRef<Path>, line: usize) -> Self {
        Self { path: path.as_ref().to_path_buf(), line }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.path.display())
        } else {
            write!(f, "{}:{}", self.path.display(), self.line)
        }
    }
}

/// The most characters of user input an error message quotes; longer values are elided in the
/// middle (a 10 MB line in a message helps nobody).
pub const QUOTE_CHARS: usize = 200;

/// `s` if it has at most `max` characters, else its start and end around a note of how many
/// characters were left out.
pub fn elide(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    let keep = max / 2;
    let head: String = s.chars().take(keep).collect();
    let tail: String = s.chars().skip(n - keep).collect();
    format!("{head}…[{} characters elided]…{tail}", n - 2 * keep)
}

/// A user's value quoted for a message (Rust string syntax), elided to [`QUOTE_CHARS`].
fn quote(s: &str) -> String {
    format!("{:?}", elide(s, QUOTE_CHARS))
}

/// What is wrong with a labelled-data input. Each variant is one kind of mistake, so that tests
/// and callers can tell them apart; the message says what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataErrorKind {
    /// The bytes are not UTF-8.
    #[error("invalid UTF-8 (byte offset {byte_offset} in this line); re-encode the file as UTF-8")]
    InvalidUtf8 {
        /// Offset of the first invalid byte within the line.
        byte_offset: usize,
    },
    /// A CoNLL token line with a single column.
    #[error("token line {} has no tag column; expected `word<TAB>tag` (tag in the last column)", quote(.text))]
    MissingTag {
        /// The offending line.
        text: String,
    },
    /// A tag whose prefix is not one of the scheme's (`B-`, `I-`, `E-`, `S-`, `L-`, `U-`, `O`).
    #[error("tag {} has no known prefix; expected O, B-TYPE, I-TYPE (or E-/S-/L-/U- for BIOES/BILOU)", quote(.tag))]
    UnknownTagPrefix {
        /// The offending tag.
        tag: String,
    },
    /// A tag with a prefix but no type (`B-`).
    #[error("tag {} has an empty entity type", quote(.tag))]
    EmptyType {
        /// The offending tag.
        tag: String,
    },
    /// A tag with whitespace in it (the last column of a TAB-separated line holding spaces).
    #[error(
        "tag {} contains whitespace; the tag is the last column, and a type name cannot hold spaces (write New_Label)",
        quote(.tag)
    )]
    TagWhitespace {
        /// The offending tag.
        tag: String,
    },
    /// A tag whose prefix does not belong to the chosen scheme (`S-PER` in a BIO file).
    #[error("tag {} is not valid in the {scheme} scheme; pick the right scheme with --scheme", quote(.tag))]
    TagNotInScheme {
        /// The offending tag.
        tag: String,
        /// The scheme in force.
        scheme: String,
    },
    /// A JSON line that does not parse or lacks a field.
    #[error("bad JSON record: {}", elide(.msg, QUOTE_CHARS))]
    BadJson {
        /// serde_json's explanation.
        msg: String,
    },
    /// An entity whose offsets fall outside the text or token list.
    #[error("entity {} [{start}, {end}) is out of range (length {len})", quote(.label))]
    OutOfRange {
        /// Entity start (characters or tokens).
        start: usize,
        /// Entity end, exclusive.
        end: usize,
        /// The length it must fit in.
        len: usize,
        /// The entity's label.
        label: String,
    },
    /// An entity with `start >= end`.
    #[error(
        "entity {} [{start}, {end}) is empty or reversed; `end` is exclusive and must exceed `start`",
        quote(.label)
    )]
    EmptySpan {
        /// Entity start.
        start: usize,
        /// Entity end.
        end: usize,
        /// The entity's label.
        label: String,
    },
    /// Two entities that share a word or character.
    #[error(
        "entities {} and {} overlap; nested or overlapping entities are not supported",
        elide(.first, QUOTE_CHARS),
        elide(.second, QUOTE_CHARS)
    )]
    Overlap {
        /// The earlier entity, as `label[start, end)`.
        first: String,
        /// The later entity.
        second: String,
    },
    /// A character offset that cuts through a word.
    #[error(
        "entity {} [{start}, {end}): offset {offset} is not on a word boundary of the text (words: {})",
        quote(.label),
        elide(.context, QUOTE_CHARS)
    )]
    OffTokenBoundary {
        /// Entity start (characters).
        start: usize,
        /// Entity end (characters).
        end: usize,
        /// The offending offset.
        offset: usize,
        /// The entity's label.
        label: String,
        /// The words around the offset.
        context: String,
    },
    /// An entity with an empty label.
    #[error("entity [{start}, {end}) has an empty label")]
    EmptyLabel {
        /// Entity start.
        start: usize,
        /// Entity end.
        end: usize,
    },
    /// A label with whitespace in it (`" PER"`, `"New Label"`).
    #[error("label {} contains whitespace; use a name like `New_Label` (tags cannot hold spaces)", quote(.label))]
    LabelWhitespace {
        /// The label.
        label: String,
    },
    /// A record with no words (`"tokens": []`, `"text": ""`).
    #[error("the record has no words; remove it or give it text")]
    NoWords,
    /// A token that is empty or contains whitespace (JSONL `tokens`).
    #[error("token {index} ({}) is empty or contains whitespace", quote(.token))]
    BadToken {
        /// Token index.
        index: usize,
        /// The token.
        token: String,
    },
    /// A label map or label set problem.
    // Longer than other quotes: the message may list a whole label set (ATIS has 83 types).
    #[error("{}", elide(.0, 10 * QUOTE_CHARS))]
    Labels(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_quoted_input_is_elided_in_messages() {
        let line = "w".repeat(10_000_000);
        let msg = DataErrorKind::MissingTag { text: line.clone() }.to_string();
        assert!(msg.len() < 400, "{} bytes", msg.len());
        assert!(msg.contains("9999800 characters elided"), "{msg}");
        assert_eq!(elide("short", 10), "short");
        assert_eq!(elide("abcdefghij", 4), "ab…[6 characters elided]…ij");
        assert_eq!(quote("a\"b"), "\"a\\\"b\"");
    }

    #[test]
    fn io_errors_carry_their_cause_as_source_once() {
        let e = Error::io("x.txt", std::io::Error::new(std::io::ErrorKind::NotFound, "gone"));
        assert_eq!(e.to_string(), "x.txt");
        assert!(std::error::Error::source(&e).is_some());
        assert_eq!(report(&e), "x.txt: gone");
        assert_eq!(e.kind_name(), "io");
    }
}

/// Errors of the lightner library, by kind, so that a caller can tell a user's mistake from a
/// broken file or a bug (the CLI prints them all; a server maps them to status codes, see
/// [`Error::kind_name`]). Messages name the file (and line) they concern.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed. The OS error is the [`source`](std::error::Error::source),
    /// not part of this message: print the chain (`{:#}` with anyhow, or [`report`]).
    #[error("{}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// A labelled-data input (or label map) is malformed.
    #[error("{location}: {kind}")]
    Data {
        /// File and line.
        location: Location,
        /// What is wrong.
        kind: DataErrorKind,
    },
    /// A setting is out of range, or settings do not go together (the caller's mistake).
    #[error("{0}")]
    Config(String),
    /// An output cannot be written where asked (an existing folder lightner did not write, a
    /// folder where a file is wanted).
    #[error("{0}")]
    Output(String),
    /// Backbone files (config, weights, tokenizer beside them) are unreadable or do not fit
    /// together.
    #[error("{0}")]
    Weights(String),
    /// A model on the Hugging Face hub could not be resolved or downloaded.
    #[error("{0}")]
    Hub(String),
    /// A prompt pack is unreadable, corrupted, or belongs to another backbone.
    #[error("{0}")]
    Pack(String),
    /// A resumable state (training checkpoint, tune trial log) is unreadable or belongs to
    /// another run.
    #[error("{0}")]
    Checkpoint(String),
    /// Training cannot go on with this data (nothing to train on, a sentence too long).
    #[error("{0}")]
    Training(String),
    /// The training loss became NaN or infinite.
    #[error("{0}")]
    NonFinite(String),
    /// The tokenizer could not be loaded or failed.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// Something that should not happen did (a tensor read back in an unexpected type, a
    /// serialisation of our own structures failed): a bug to report.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The error and its causes joined by `: `, as a user should read it.
pub fn report(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

impl Error {
    /// A data error at `location`.
    pub fn data(location: Location, kind: DataErrorKind) -> Self {
        Self::Data { location, kind }
    }

    /// An I/O error about `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Self::Io { path: path.as_ref().to_path_buf(), source }
    }

    /// A short, stable name of the kind (`data`, `config`, `io`, ...), for machine-readable
    /// error reports such as a server's `error_type`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Io { .. } => "io",
            Self::Data { .. } => "data",
            Self::Config(_) => "config",
            Self::Output(_) => "output",
            Self::Weights(_) => "weights",
            Self::Hub(_) => "hub",
            Self::Pack(_) => "pack",
            Self::Checkpoint(_) => "checkpoint",
            Self::Training(_) => "training",
            Self::NonFinite(_) => "non_finite",
            Self::Tokenizer(_) => "tokenizer",
            Self::Internal(_) => "internal",
        }
    }

    /// The data-error kind, if this is one (handy in tests and for exit codes).
    pub fn data_kind(&self) -> Option<&DataErrorKind> {
        match self {
            Self::Data { kind, .. } => Some(kind),
            _ => None,
        }
    }
}

/// The library's result type.
pub type Result<T> = std::result::Result<T, Error>;
