//! Tag schemes (BIO/IOB2, IOB1, BIOES, BILOU) ↔ span lists.
//!
//! Decoding follows seqeval's *strict* mode (`seqeval.metrics.sequence_labeling` with
//! `mode="strict"`, `seqeval/scheme.py`): an entity is a start token followed by inside tokens of
//! the same type, and counts only if it is properly ended; anything else (an `I-` after `O`, a
//! type change inside a span, a BIOES span without its `E-`) is not an entity. The decoder
//! returns those ill-formed positions so that readers can report them instead of dropping them
//! silently. IOB1 (which seqeval's strict mode does not define the way CoNLL-2003 uses it) is
//! read as conlleval does: an `I-X` that does not continue an `X` entity starts one.

use super::sentence::Span;
use crate::error::DataErrorKind;

/// A tagging scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TagScheme {
    /// `B-` begins every entity, `I-` continues it (IOB2).
    Bio,
    /// `I-` begins an entity unless it would merge with a preceding entity of the same type,
    /// which `B-` separates (the original CoNLL-2003 files).
    Iob1,
    /// `B-` begin, `I-` inside, `E-` end, `S-` single.
    Bioes,
    /// `B-` begin, `I-` inside, `L-` last, `U-` unit.
    Bilou,
}

impl TagScheme {
    /// All schemes, for `--help` and tests.
    pub const ALL: [TagScheme; 4] = [Self::Bio, Self::Iob1, Self::Bioes, Self::Bilou];

    /// The scheme's usual name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Bio => "bio",
            Self::Iob1 => "iob1",
            Self::Bioes => "bioes",
            Self::Bilou => "bilou",
        }
    }
}

impl std::fmt::Display for TagScheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for TagScheme {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "bio" | "iob2" => Ok(Self::Bio),
            "iob1" | "iob" => Ok(Self::Iob1),
            "bioes" | "iobes" => Ok(Self::Bioes),
            "bilou" => Ok(Self::Bilou),
            _ => Err(format!("unknown tag scheme {s:?}; expected bio, iob1, bioes or bilou")),
        }
    }
}

/// The role of a tag, with `L`/`U` folded into `E`/`S`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagPrefix {
    /// `B-`: the first word of an entity.
    B,
    /// `I-`: a word inside an entity (in IOB1, also its first word unless it follows one of
    /// the same type).
    I,
    /// End (`E-` or `L-`).
    E,
    /// Single (`S-` or `U-`).
    S,
    /// `O`: a word outside every entity.
    O,
}

/// A parsed tag: its role, the letter it was written with, and its entity type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// The tag's prefix: where the word stands in its entity.
    pub prefix: TagPrefix,
    /// The letter as written (`B`, `I`, `E`, `S`, `L`, `U`, `O`).
    pub letter: char,
    /// Entity type (empty for `O`).
    pub ty: String,
}

impl Tag {
    /// The outside tag.
    pub fn outside() -> Self {
        Self { prefix: TagPrefix::O, letter: 'O', ty: String::new() }
    }

    /// Parses `O`, `B-TYPE`, `I-TYPE`, `E-TYPE`, `S-TYPE`, `L-TYPE`, `U-TYPE`.
    pub fn parse(tag: &str) -> Result<Self, DataErrorKind> {
        if tag == "O" {
            return Ok(Self::outside());
        }
        if tag.chars().any(char::is_whitespace) {
            // A TAB-separated line keeps spaces inside its last column: `B-New York` would make
            // a type with a space, which no tag can be written back with.
            return Err(DataErrorKind::TagWhitespace { tag: tag.to_string() });
        }
        let mut chars = tag.chars();
        let letter = chars.next();
        let dash = chars.next();
        let prefix = match (letter, dash) {
            (Some('B'), Some('-')) => TagPrefix::B,
            (Some('I'), Some('-')) => TagPrefix::I,
            (Some('E' | 'L'), Some('-')) => TagPrefix::E,
            (Some('S' | 'U'), Some('-')) => TagPrefix::S,
            _ => return Err(DataErrorKind::UnknownTagPrefix { tag: tag.to_string() }),
        };
        let ty = &tag[2..];
        if ty.is_empty() {
            return Err(DataErrorKind::EmptyType { tag: tag.to_string() });
        }
        Ok(Self { prefix, letter: letter.unwrap_or('O'), ty: ty.to_string() })
    }

    /// Whether the tag's letter belongs to `scheme`.
    pub fn fits(&self, scheme: TagScheme) -> bool {
        match scheme {
            TagScheme::Bio | TagScheme::Iob1 => matches!(self.letter, 'B' | 'I' | 'O'),
            TagScheme::Bioes => matches!(self.letter, 'B' | 'I' | 'E' | 'S' | 'O'),
            TagScheme::Bilou => matches!(self.letter, 'B' | 'I' | 'L' | 'U' | 'O'),
        }
    }
}

/// Guesses the scheme of a whole file from its tag sequences: `E-`/`S-` mean BIOES, `L-`/`U-`
/// BILOU; otherwise IOB1 if some `I-` starts an entity and no `B-` does (in IOB1, `B-` only
/// separates two adjacent entities of one type), else BIO.
pub fn detect<'a>(sentences: impl IntoIterator<Item = &'a [Tag]>) -> TagScheme {
    let (mut es, mut lu, mut i_starts, mut b_starts) = (false, false, false, false);
    for tags in sentences {
        let mut prev: Option<&Tag> = None;
        for t in tags {
            match t.letter {
                'E' | 'S' => es = true,
                'L' | 'U' => lu = true,
                _ => {}
            }
            let continues = prev.is_some_and(|p| p.prefix != TagPrefix::O && p.ty == t.ty);
            match t.prefix {
                TagPrefix::I if !continues => i_starts = true,
                TagPrefix::B if !continues => b_starts = true,
                _ => {}
            }
            prev = Some(t);
        }
    }
    if lu && !es {
        TagScheme::Bilou
    } else if es {
        TagScheme::Bioes
    } else if i_starts && !b_starts {
        TagScheme::Iob1
    } else {
        TagScheme::Bio
    }
}

/// The result of decoding one tag sequence.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SpansFromTags {
    /// The well-formed entities.
    pub spans: Vec<Span>,
    /// Positions of non-`O` tags that belong to no well-formed entity (seqeval strict drops them).
    pub ill_formed: Vec<usize>,
}

/// Decodes tags into spans under `scheme` (strict, see the module docs). Tags that do not fit the
/// scheme must have been rejected by the caller; here they are treated as ill-formed.
pub fn decode(tags: &[Tag], scheme: TagScheme) -> SpansFromTags {
    if scheme == TagScheme::Iob1 {
        return decode(&iob1_to_bio(tags), TagScheme::Bio);
    }
    let outside = Tag::outside();
    let at = |i: usize| tags.get(i).unwrap_or(&outside);
    let mut out = SpansFromTags::default();
    let mut covered = vec![false; tags.len()];
    let mut i = 0;
    while i < tags.len() {
        let tok = &tags[i];
        if !is_start(tok, scheme) {
            i += 1;
            continue;
        }
        // Extend while the next token is inside (seqeval `_forward`), then check the end.
        let mut end = i + 1;
        while end < tags.len() && is_inside(at(end - 1), at(end), scheme) {
            end += 1;
        }
        if is_end(at(end - 1), scheme) {
            out.spans.push(Span::new(i, end, tok.ty.clone()));
            covered[i..end].iter_mut().for_each(|c| *c = true);
        }
        i = end;
    }
    out.ill_formed = (0..tags.len()).filter(|&k| !covered[k] && tags[k].prefix != TagPrefix::O).collect();
    out
}

fn is_start(tok: &Tag, scheme: TagScheme) -> bool {
    match scheme {
        TagScheme::Bio | TagScheme::Iob1 => tok.prefix == TagPrefix::B && tok.fits(scheme),
        TagScheme::Bioes | TagScheme::Bilou => {
            matches!(tok.prefix, TagPrefix::B | TagPrefix::S) && tok.fits(scheme)
        }
    }
}

fn is_inside(prev: &Tag, tok: &Tag, scheme: TagScheme) -> bool {
    if prev.ty != tok.ty || !tok.fits(scheme) {
        return false;
    }
    match scheme {
        TagScheme::Bio | TagScheme::Iob1 => {
            matches!(prev.prefix, TagPrefix::B | TagPrefix::I) && tok.prefix == TagPrefix::I
        }
        TagScheme::Bioes | TagScheme::Bilou => {
            matches!(prev.prefix, TagPrefix::B | TagPrefix::I)
                && matches!(tok.prefix, TagPrefix::I | TagPrefix::E)
        }
    }
}

/// Whether an entity whose last token is `last` is properly closed.
fn is_end(last: &Tag, scheme: TagScheme) -> bool {
    match scheme {
        TagScheme::Bio | TagScheme::Iob1 => matches!(last.prefix, TagPrefix::B | TagPrefix::I),
        TagScheme::Bioes | TagScheme::Bilou => matches!(last.prefix, TagPrefix::E | TagPrefix::S),
    }
}

/// IOB1 → BIO: an `I-X` that does not continue an `X` entity becomes `B-X`.
pub fn iob1_to_bio(tags: &[Tag]) -> Vec<Tag> {
    let mut out: Vec<Tag> = Vec::with_capacity(tags.len());
    for t in tags {
        let mut t = t.clone();
        let continues = out.last().is_some_and(|p| p.prefix != TagPrefix::O && p.ty == t.ty);
        if t.prefix == TagPrefix::I && !continues {
            t.prefix = TagPrefix::B;
            t.letter = 'B';
        }
        out.push(t);
    }
    out
}

/// Encodes sorted, non-overlapping spans over `n` words as tag strings in `scheme`.
pub fn encode(spans: &[Span], n: usize, scheme: TagScheme) -> Vec<String> {
    let mut tags = vec!["O".to_string(); n];
    let (end_letter, single_letter) = match scheme {
        TagScheme::Bilou => ('L', 'U'),
        _ => ('E', 'S'),
    };
    let mut prev_end: Option<(usize, &str)> = None;
    for s in spans {
        for (k, tag) in tags.iter_mut().enumerate().take(s.end).skip(s.start) {
            let letter = match scheme {
                TagScheme::Bio => {
                    if k == s.start {
                        'B'
                    } else {
                        'I'
                    }
                }
                TagScheme::Iob1 => {
                    // B- only where the entity touches a preceding one of the same type.
                    let touches = prev_end == Some((s.start, s.label.as_str()));
                    if k == s.start && touches { 'B' } else { 'I' }
                }
                TagScheme::Bioes | TagScheme::Bilou => {
                    if s.len() == 1 {
                        single_letter
                    } else if k == s.start {
                        'B'
                    } else if k + 1 == s.end {
                        end_letter
                    } else {
                        'I'
                    }
                }
            };
            *tag = format!("{letter}-{}", s.label);
        }
        prev_end = Some((s.end, s.label.as_str()));
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(s: &str) -> Vec<Tag> {
        s.split_whitespace().map(|t| Tag::parse(t).unwrap()).collect()
    }

    fn spans(s: &str, scheme: TagScheme) -> Vec<(usize, usize, String)> {
        decode(&tags(s), scheme).spans.into_iter().map(|s| (s.start, s.end, s.label)).collect()
    }

    fn sp(v: &[(usize, usize, &str)]) -> Vec<(usize, usize, String)> {
        v.iter().map(|&(a, b, l)| (a, b, l.to_string())).collect()
    }

    #[test]
    fn bio_strict_drops_orphan_inside_and_type_changes() {
        assert_eq!(spans("B-PER I-PER O B-LOC", TagScheme::Bio), sp(&[(0, 2, "PER"), (3, 4, "LOC")]));
        assert_eq!(spans("O I-PER I-PER O", TagScheme::Bio), sp(&[]));
        assert_eq!(spans("B-PER I-LOC I-LOC", TagScheme::Bio), sp(&[(0, 1, "PER")]));
        assert_eq!(spans("B-PER B-PER I-PER", TagScheme::Bio), sp(&[(0, 1, "PER"), (1, 3, "PER")]));
        let d = decode(&tags("O I-PER B-LOC I-ORG"), TagScheme::Bio);
        assert_eq!(d.ill_formed, vec![1, 3]);
    }

    #[test]
    fn iob1_inside_starts_entities() {
        assert_eq!(
            spans("I-PER I-PER B-PER O I-LOC I-ORG", TagScheme::Iob1),
            sp(&[(0, 2, "PER"), (2, 3, "PER"), (4, 5, "LOC"), (5, 6, "ORG")])
        );
    }

    #[test]
    fn bioes_and_bilou_need_a_proper_end() {
        assert_eq!(spans("B-PER E-PER S-LOC", TagScheme::Bioes), sp(&[(0, 2, "PER"), (2, 3, "LOC")]));
        assert_eq!(spans("B-PER I-PER O", TagScheme::Bioes), sp(&[]));
        assert_eq!(spans("B-PER E-PER E-PER", TagScheme::Bioes), sp(&[(0, 2, "PER")]));
        assert_eq!(spans("B-X I-X L-X U-Y", TagScheme::Bilou), sp(&[(0, 3, "X"), (3, 4, "Y")]));
        assert_eq!(spans("B-X I-X", TagScheme::Bilou), sp(&[]));
    }

    #[test]
    fn detection() {
        let f = |s: &str| detect([tags(s).as_slice()]);
        assert_eq!(f("B-PER I-PER O"), TagScheme::Bio);
        assert_eq!(f("I-PER I-PER O"), TagScheme::Iob1);
        assert_eq!(f("I-PER B-PER O"), TagScheme::Iob1);
        assert_eq!(f("O I-PER B-LOC"), TagScheme::Bio);
        assert_eq!(f("S-PER B-LOC E-LOC"), TagScheme::Bioes);
        assert_eq!(f("U-PER"), TagScheme::Bilou);
    }

    #[test]
    fn parse_errors() {
        assert!(matches!(Tag::parse("X-PER"), Err(DataErrorKind::UnknownTagPrefix { .. })));
        assert!(matches!(Tag::parse("PER"), Err(DataErrorKind::UnknownTagPrefix { .. })));
        assert!(matches!(Tag::parse("B-"), Err(DataErrorKind::EmptyType { .. })));
        assert!(matches!(Tag::parse("o"), Err(DataErrorKind::UnknownTagPrefix { .. })));
        assert!(matches!(Tag::parse("B- -X- O"), Err(DataErrorKind::TagWhitespace { .. })));
    }

    #[test]
    fn encode_iob1_separates_adjacent_same_type() {
        let s = vec![Span::new(0, 2, "PER"), Span::new(2, 3, "PER"), Span::new(4, 5, "LOC")];
        assert_eq!(encode(&s, 5, TagScheme::Iob1), ["I-PER", "I-PER", "B-PER", "O", "I-LOC"]);
        assert_eq!(encode(&s, 5, TagScheme::Bioes), ["B-PER", "E-PER", "S-PER", "O", "S-LOC"]);
    }
}
