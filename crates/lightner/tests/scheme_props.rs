//! Property tests of the tag schemes and of the file formats: encoding spans and decoding the
//! tags gives the spans back in every scheme; decoding any tag sequence is total and agrees with
//! a small reference implementation of seqeval's strict mode; and sentences written in every
//! format read back unchanged.

use lightner::data::scheme::{self, Tag, TagPrefix};
use lightner::data::words::{WordSplit, split_words};
use lightner::data::{self, Format, JsonlStyle, ReadOptions, Sentence, Span, TagScheme};
use proptest::prelude::*;
use serde_json::json;
use std::collections::BTreeSet;
use std::path::Path;

/// Labels as they occur in the staged corpora (and a few awkward ones: a dash, the letter O).
const LABELS: [&str; 6] = ["PER", "LOC", "fromloc.city_name", "Restaurant_Name", "A-B", "O"];

/// A stretch of a sentence: words outside any entity, or one entity.
#[derive(Debug, Clone)]
enum Seg {
    Gap(usize),
    Ent(usize, usize),
}

fn seg() -> impl Strategy<Value = Seg> {
    prop_oneof![
        (1usize..4).prop_map(Seg::Gap),
        // Two labels most of the time, so that adjacent entities of one type are common.
        (1usize..5, prop_oneof![4 => 0usize..2, 1 => 0..LABELS.len()]).prop_map(|(n, l)| Seg::Ent(n, l)),
    ]
}

/// Lays segments out: the number of words and the sorted, non-overlapping spans.
fn layout(segs: &[Seg]) -> (usize, Vec<Span>) {
    let mut n = 0;
    let mut spans = Vec::new();
    for s in segs {
        match *s {
            Seg::Gap(len) => n += len,
            Seg::Ent(len, label) => {
                spans.push(Span::new(n, n + len, LABELS[label]));
                n += len;
            }
        }
    }
    (n, spans)
}

fn spans_over_words() -> impl Strategy<Value = (usize, Vec<Span>)> {
    prop::collection::vec(seg(), 0..10).prop_map(|segs| layout(&segs))
}

/// Any tag, in any scheme, of two types.
fn any_tag() -> impl Strategy<Value = Tag> {
    (prop::sample::select(vec!['O', 'B', 'I', 'E', 'S', 'L', 'U']), prop::sample::select(vec!["X", "Y"]))
        .prop_map(|(letter, ty)| {
            if letter == 'O' {
                Tag::parse("O").unwrap()
            } else {
                Tag::parse(&format!("{letter}-{ty}")).unwrap()
            }
        })
}

fn parse_all(tags: &[String]) -> Vec<Tag> {
    tags.iter().map(|t| Tag::parse(t).unwrap_or_else(|e| panic!("{t}: {e}"))).collect()
}

fn tag_string(t: &Tag) -> String {
    if t.prefix == TagPrefix::O { "O".to_string() } else { format!("{}-{}", t.letter, t.ty) }
}

/// seqeval's strict mode written independently of the library, on the letters as written: a
/// single (`S`/`U`) is an entity; a `B-X` followed by the longest run of `I-X` is one in BIO, and
/// in BIOES/BILOU only when an end tag (`E-X`/`L-X`) follows the run. IOB1 is BIO after
/// [`scheme::iob1_to_bio`].
fn reference_spans(tags: &[Tag], scheme: TagScheme) -> Vec<Span> {
    let (end, single) = match scheme {
        TagScheme::Bio | TagScheme::Iob1 => (None, None),
        TagScheme::Bioes => (Some('E'), Some('S')),
        TagScheme::Bilou => (Some('L'), Some('U')),
    };
    let is = |k: usize, letter: char, ty: &str| tags.get(k).is_some_and(|t| t.letter == letter && t.ty == ty);
    let mut out = Vec::new();
    let mut k = 0;
    while k < tags.len() {
        let t = &tags[k];
        if Some(t.letter) == single {
            out.push(Span::new(k, k + 1, t.ty.clone()));
            k += 1;
        } else if t.letter == 'B' {
            let mut j = k + 1;
            while is(j, 'I', &t.ty) {
                j += 1;
            }
            match end {
                None => out.push(Span::new(k, j, t.ty.clone())),
                Some(e) if is(j, e, &t.ty) => {
                    j += 1;
                    out.push(Span::new(k, j, t.ty.clone()));
                }
                Some(_) => {}
            }
            k = j;
        } else {
            k += 1;
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// encode → Tag::parse → decode is the identity on well-formed span lists, in every scheme,
    /// with nothing ill-formed; and the scheme of the tags is detected as the one written.
    #[test]
    fn encode_then_decode_is_identity((n, spans) in spans_over_words()) {
        for scheme in TagScheme::ALL {
            let strings = scheme::encode(&spans, n, scheme);
            prop_assert_eq!(strings.len(), n);
            let tags = parse_all(&strings);
            prop_assert!(tags.iter().all(|t| t.fits(scheme)), "{scheme}: {strings:?}");
            let decoded = scheme::decode(&tags, scheme);
            prop_assert_eq!(&decoded.spans, &spans, "{}: {:?}", scheme, strings);
            prop_assert!(decoded.ill_formed.is_empty(), "{scheme}: {strings:?} ill-formed {:?}", decoded.ill_formed);
            let detected = scheme::detect([tags.as_slice()]);
            let expected = if spans.is_empty() { TagScheme::Bio } else { scheme };
            prop_assert_eq!(detected, expected, "{:?}", strings);
        }
    }

    /// Decoding any tag sequence in any scheme never panics and returns sorted, non-overlapping,
    /// in-range spans of one type made of tags of the scheme; every non-`O` position is either
    /// in a span or listed as ill-formed (never both); and the spans are those of the reference.
    #[test]
    fn decode_is_total_and_accounts_for_every_tag(tags in prop::collection::vec(any_tag(), 0..24)) {
        let n = tags.len();
        for scheme in TagScheme::ALL {
            let d = scheme::decode(&tags, scheme);
            let shown: Vec<String> = tags.iter().map(tag_string).collect();
            for w in d.spans.windows(2) {
                prop_assert!(w[0].end <= w[1].start, "{scheme}: {shown:?} → {:?}", d.spans);
            }
            let mut covered = BTreeSet::new();
            for s in &d.spans {
                prop_assert!(s.start < s.end && s.end <= n, "{scheme}: {shown:?} → {s}");
                for (k, t) in tags.iter().enumerate().take(s.end).skip(s.start) {
                    prop_assert!(t.prefix != TagPrefix::O && t.ty == s.label, "{scheme}: {shown:?} → {s}");
                    prop_assert!(t.fits(scheme), "{scheme}: {shown:?} → {s}");
                    covered.insert(k);
                }
            }
            prop_assert!(d.ill_formed.windows(2).all(|w| w[0] < w[1]), "{scheme}: ill-formed not sorted");
            let ill: BTreeSet<usize> = d.ill_formed.iter().copied().collect();
            prop_assert!(covered.is_disjoint(&ill), "{scheme}: {shown:?}");
            for (k, t) in tags.iter().enumerate() {
                let accounted = covered.contains(&k) || ill.contains(&k);
                prop_assert_eq!(accounted, t.prefix != TagPrefix::O, "{}: {:?} position {}", scheme, shown, k);
            }
            let reference = if scheme == TagScheme::Iob1 {
                reference_spans(&scheme::iob1_to_bio(&tags), TagScheme::Bio)
            } else {
                reference_spans(&tags, scheme)
            };
            prop_assert_eq!(&d.spans, &reference, "{}: {:?}", scheme, shown);
            // Decoding is a projection: re-encoding the spans and decoding gives them again.
            let again = scheme::decode(&parse_all(&scheme::encode(&d.spans, n, scheme)), scheme);
            prop_assert_eq!(&again.spans, &d.spans);
        }
    }

    /// IOB1 decoding is BIO decoding after `iob1_to_bio`, and IOB1 encoding converted to BIO is
    /// BIO encoding.
    #[test]
    fn iob1_is_bio_after_conversion(
        tags in prop::collection::vec(any_tag(), 0..24),
        (n, spans) in spans_over_words(),
    ) {
        prop_assert_eq!(scheme::decode(&tags, TagScheme::Iob1), scheme::decode(&scheme::iob1_to_bio(&tags), TagScheme::Bio));
        let iob1 = parse_all(&scheme::encode(&spans, n, TagScheme::Iob1));
        let converted: Vec<String> = scheme::iob1_to_bio(&iob1).iter().map(tag_string).collect();
        prop_assert_eq!(converted, scheme::encode(&spans, n, TagScheme::Bio));
    }
}

// ---------------------------------------------------------------------------------------------
// File round trips.

/// A word that `split_words` leaves whole: letters and digits (ASCII or not) or one CJK character.
fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[A-Za-z0-9]{1,7}",
        2 => "[äöüßéñÅЖжλ]{1,4}[a-z]{0,3}",
        1 => "[北京欢迎你上海]",
    ]
}

/// A sentence of at least one word with random spans.
fn sentence() -> impl Strategy<Value = Sentence> {
    spans_over_words().prop_flat_map(|(n, spans)| {
        let n = n.max(1);
        prop::collection::vec(word(), n).prop_map(move |words| Sentence::new(words, spans.clone()))
    })
}

fn all_formats() -> Vec<Format> {
    let mut f: Vec<Format> = TagScheme::ALL.iter().map(|&s| Format::Conll(s)).collect();
    f.push(Format::Jsonl(JsonlStyle::Text));
    f.push(Format::Jsonl(JsonlStyle::Tokens));
    f
}

fn write(sentences: &[Sentence], format: Format) -> Vec<u8> {
    let mut out = Vec::new();
    data::write_to(&mut out, sentences, format).unwrap();
    out
}

fn words_and_spans(sentences: &[Sentence]) -> Vec<(Vec<String>, Vec<Span>)> {
    sentences.iter().map(|s| (s.words.clone(), s.spans.clone())).collect()
}

const AUTO: ReadOptions = ReadOptions { scheme: None, jsonl: None, words: WordSplit::Words };

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Sentences written in each format (CoNLL in each scheme, JSONL with text or tokens) and
    /// read back, with the format and scheme detected, give the same words and spans, no warning,
    /// and the right first line for each sentence.
    #[test]
    fn write_then_read_is_identity(sentences in prop::collection::vec(sentence(), 1..6)) {
        let any_entity = sentences.iter().any(|s| !s.spans.is_empty());
        for format in all_formats() {
            let bytes = write(&sentences, format);
            let path = Path::new("roundtrip");
            let ds = data::read_bytes(path, &bytes, AUTO)
                .unwrap_or_else(|e| panic!("{format:?}: {e}\n{}", String::from_utf8_lossy(&bytes)));
            prop_assert_eq!(words_and_spans(&ds.sentences), words_and_spans(&sentences), "{:?}", format);
            prop_assert!(ds.warnings.is_empty(), "{format:?}: {:?}", ds.warnings);
            let mut line = 1;
            for s in &ds.sentences {
                prop_assert_eq!(s.line, line, "{:?}", format);
                line += if matches!(format, Format::Conll(_)) { s.words.len() + 1 } else { 1 };
            }
            match format {
                Format::Conll(scheme) => {
                    let detected = if any_entity { scheme } else { TagScheme::Bio };
                    prop_assert_eq!(ds.format, Format::Conll(detected));
                    let forced = data::read_bytes(path, &bytes, ReadOptions { scheme: Some(scheme), jsonl: None, words: WordSplit::Words }).unwrap();
                    prop_assert_eq!(words_and_spans(&forced.sentences), words_and_spans(&sentences));
                    prop_assert!(ds.sentences.iter().all(|s| s.text.is_none()));
                }
                Format::Jsonl(style) => {
                    prop_assert_eq!(ds.format, format);
                    for (got, orig) in ds.sentences.iter().zip(&sentences) {
                        match style {
                            JsonlStyle::Text => prop_assert_eq!(got.text.as_ref().map(|a| a.text.to_string()), Some(orig.words.join(" "))),
                            JsonlStyle::Tokens => prop_assert!(got.text.is_none()),
                        }
                    }
                }
            }
        }
    }
}

/// A piece of raw text: a word (possibly several CJK characters, which split into one word each)
/// or a separator (whitespace, punctuation, a symbol).
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[A-Za-z0-9]{1,6}",
        1 => "[äéñЖλ]{1,3}",
        1 => "[北京欢迎]{1,3}",
        1 => "[0-9]{1,2}[.,][0-9]{1,2}",
        2 => prop::sample::select(vec![" ", "  ", "\t", ", ", ". ", "-", "(", ")", " 🙂 ", "\u{301}", " \u{a0}"]).prop_map(str::to_string),
    ]
}

/// Raw text and entities on word boundaries (character offsets), as a JSONL record.
fn text_record() -> impl Strategy<Value = (String, Vec<(usize, usize, String)>)> {
    // Records without any word are an error (`NoWords`), so every text here has one.
    let texts = prop::collection::vec(piece(), 1..12)
        .prop_filter("a record needs a word", |p| !split_words(&p.concat()).is_empty());
    texts.prop_flat_map(|pieces| {
        let text: String = pieces.concat();
        let nwords = split_words(&text).len();
        let segs = prop::collection::vec(seg(), 0..8);
        (Just(text), segs).prop_map(move |(text, segs)| {
            let (_, spans) = layout(&segs);
            let words = split_words(&text);
            let ents = spans
                .into_iter()
                .filter(|s| s.end <= nwords)
                .map(|s| (words[s.start].start, words[s.end - 1].end, s.label))
                .collect();
            (text, ents)
        })
    })
}

fn record_line(text: &str, ents: &[(usize, usize, String)]) -> String {
    let ents: Vec<_> = ents.iter().map(|(s, e, l)| json!({"start": s, "end": e, "label": l})).collect();
    json!({"text": text, "entities": ents}).to_string()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// JSONL text records with arbitrary text (punctuation, CJK, combining marks, emoji, odd
    /// whitespace) and entities on word boundaries: reading then writing gives the same bytes,
    /// the entities' surface strings are kept, and CoNLL keeps the words and spans.
    #[test]
    fn jsonl_text_read_write_is_identity(records in prop::collection::vec(text_record(), 1..5)) {
        let input: String = records.iter().map(|(t, e)| record_line(t, e) + "\n").collect();
        let ds = data::read_bytes(Path::new("t.jsonl"), input.as_bytes(), AUTO)
            .unwrap_or_else(|e| panic!("{e}\n{input}"));
        prop_assert_eq!(ds.format, Format::Jsonl(JsonlStyle::Text));
        for (s, (text, ents)) in ds.sentences.iter().zip(&records) {
            let anchor = s.text.as_ref().unwrap();
            prop_assert_eq!(&anchor.text, text);
            prop_assert_eq!(s.spans.len(), ents.len());
            let chars: Vec<char> = text.chars().collect();
            for (span, (a, b, label)) in s.spans.iter().zip(ents) {
                prop_assert_eq!(&span.label, label);
                prop_assert_eq!((anchor.offsets[span.start].0, anchor.offsets[span.end - 1].1), (*a, *b));
                let surface: String = chars[*a..*b].iter().collect();
                prop_assert!(surface.starts_with(&s.words[span.start]) && surface.ends_with(&s.words[span.end - 1]));
            }
        }
        let written = write(&ds.sentences, Format::Jsonl(JsonlStyle::Text));
        prop_assert_eq!(String::from_utf8(written).unwrap(), input);
        let conll = write(&ds.sentences, Format::Conll(TagScheme::Bio));
        let back = data::read_bytes(Path::new("t.txt"), &conll, AUTO).unwrap();
        let nonempty: Vec<Sentence> = ds.sentences.iter().filter(|s| !s.words.is_empty()).cloned().collect();
        prop_assert_eq!(words_and_spans(&back.sentences), words_and_spans(&nonempty));
    }
}
