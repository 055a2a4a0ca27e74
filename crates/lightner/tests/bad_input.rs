//! The labelled-data readers against a corpus of malformed files (`tests/fixtures/bad-input/`,
//! one mistake per file) and of good-but-unusual files (`tests/fixtures/odd-input/`).
//!
//! Every bad file must fail with the exact [`DataErrorKind`], the right 1-based line and the path
//! it was read from; every odd file must read to exactly the sentences, spans, scheme and warnings
//! listed here. Adding a file to either directory without a row here fails the test.

use lightner::Error;
use lightner::data::words::WordSplit;
use lightner::data::{self, Format, JsonlStyle, ReadOptions, TagScheme};
use lightner::error::DataErrorKind as K;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn fixtures(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures").join(dir)
}

/// Every file of a fixture directory except its README.
fn listed(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| e.file_name().into_string().unwrap())
        .filter(|n| n != "README.md")
        .collect()
}

const AUTO: ReadOptions = ReadOptions { scheme: None, jsonl: None, words: WordSplit::Words };

const fn forced(scheme: TagScheme) -> ReadOptions {
    ReadOptions { scheme: Some(scheme), jsonl: None, words: WordSplit::Words }
}

const JSONL: ReadOptions = ReadOptions { scheme: None, jsonl: Some(true), words: WordSplit::Words };

/// One malformed file: how it is read, the line the error must name, and a check of the kind.
struct Bad {
    file: &'static str,
    opts: ReadOptions,
    line: usize,
    kind: fn(&K) -> bool,
}

fn bad_json(msg: &K, needle: &str) -> bool {
    matches!(msg, K::BadJson { msg } if msg.contains(needle))
}

fn utf8(k: &K, offset: usize) -> bool {
    matches!(k, K::InvalidUtf8 { byte_offset } if *byte_offset == offset)
}

fn tag_prefix(k: &K, t: &str) -> bool {
    matches!(k, K::UnknownTagPrefix { tag } if tag == t)
}

fn not_in_scheme(k: &K, t: &str, s: &str) -> bool {
    matches!(k, K::TagNotInScheme { tag, scheme } if tag == t && scheme == s)
}

fn overlap(k: &K, a: &str, b: &str) -> bool {
    matches!(k, K::Overlap { first, second } if first == a && second == b)
}

fn off_boundary(k: &K, s: usize, e: usize, o: usize, l: &str) -> bool {
    matches!(k, K::OffTokenBoundary { start, end, offset, label, context }
        if (*start, *end, *offset) == (s, e, o) && label == l && !context.is_empty())
}

fn bad_token(k: &K, i: usize, t: &str) -> bool {
    matches!(k, K::BadToken { index, token } if *index == i && token == t)
}

#[rustfmt::skip]
fn bad_cases() -> Vec<Bad> {
    vec![
        // ---- CoNLL ----
        Bad { file: "conll-missing-tag.txt", opts: AUTO, line: 4, kind: |k| matches!(k, K::MissingTag { text } if text == "call") },
        Bad { file: "conll-missing-tag-crlf.txt", opts: AUTO, line: 4, kind: |k| matches!(k, K::MissingTag { text } if text == "BRUSSELS") },
        Bad { file: "conll-empty-word.txt", opts: AUTO, line: 2, kind: |k| matches!(k, K::MissingTag { text } if text == "\tB-PER") },
        Bad { file: "conll-space-in-word.txt", opts: AUTO, line: 4, kind: |k| matches!(k, K::BadToken { index: 3, token } if token == "New York") },
        Bad { file: "conll-space-in-tag.txt", opts: AUTO, line: 3, kind: |k| matches!(k, K::TagWhitespace { tag } if tag == "B-CITY NAME") },
        Bad { file: "conll-unknown-prefix-x.txt", opts: AUTO, line: 3, kind: |k| tag_prefix(k, "X-PER") },
        Bad { file: "conll-bare-type.txt", opts: AUTO, line: 2, kind: |k| tag_prefix(k, "LOC") },
        Bad { file: "conll-lowercase-prefix.txt", opts: AUTO, line: 1, kind: |k| tag_prefix(k, "b-per") },
        Bad { file: "conll-lowercase-o.txt", opts: AUTO, line: 5, kind: |k| tag_prefix(k, "o") },
        Bad { file: "conll-o-with-type.txt", opts: AUTO, line: 2, kind: |k| tag_prefix(k, "O-PER") },
        Bad { file: "conll-underscore-prefix.txt", opts: AUTO, line: 1, kind: |k| tag_prefix(k, "B_PER") },
        Bad { file: "conll-columns-swapped.txt", opts: AUTO, line: 1, kind: |k| tag_prefix(k, "what") },
        Bad { file: "conll-empty-type.txt", opts: AUTO, line: 2, kind: |k| matches!(k, K::EmptyType { tag } if tag == "B-") },
        Bad { file: "conll-empty-type-inside.txt", opts: AUTO, line: 2, kind: |k| matches!(k, K::EmptyType { tag } if tag == "I-") },
        Bad { file: "conll-invalid-utf8.txt", opts: AUTO, line: 3, kind: |k| utf8(k, 1) },
        Bad { file: "conll-invalid-utf8-truncated.txt", opts: AUTO, line: 6, kind: |k| utf8(k, 3) },
        Bad { file: "conll-invalid-utf8-tag.txt", opts: AUTO, line: 2, kind: |k| utf8(k, 11) },
        Bad { file: "conll-utf16.txt", opts: AUTO, line: 1, kind: |k| utf8(k, 0) },
        Bad { file: "conll-bom-latin1.txt", opts: AUTO, line: 1, kind: |k| utf8(k, 3) },
        Bad { file: "conll-bioes-forced-bio.txt", opts: forced(TagScheme::Bio), line: 4, kind: |k| not_in_scheme(k, "S-LOC", "bio") },
        Bad { file: "conll-bilou-forced-bioes.txt", opts: forced(TagScheme::Bioes), line: 4, kind: |k| not_in_scheme(k, "U-LOC", "bioes") },
        Bad { file: "conll-bioes-forced-iob1.txt", opts: forced(TagScheme::Iob1), line: 6, kind: |k| not_in_scheme(k, "E-ORG", "iob1") },
        Bad { file: "conll-mixed-bioes-bilou.txt", opts: AUTO, line: 6, kind: |k| not_in_scheme(k, "U-LOC", "bioes") },
        // ---- JSONL: syntax and record shape ----
        Bad { file: "jsonl-not-json.jsonl", opts: AUTO, line: 2, kind: |k| bad_json(k, "trailing comma") },
        Bad { file: "jsonl-truncated.jsonl", opts: AUTO, line: 3, kind: |k| bad_json(k, "EOF") },
        Bad { file: "jsonl-conll-line.jsonl", opts: AUTO, line: 2, kind: |k| bad_json(k, "") },
        Bad { file: "jsonl-not-object.jsonl", opts: AUTO, line: 2, kind: |k| bad_json(k, "expected a JSON object") },
        Bad { file: "jsonl-forced-not-object.jsonl", opts: JSONL, line: 1, kind: |k| bad_json(k, "expected a JSON object") },
        Bad { file: "jsonl-missing-text.jsonl", opts: AUTO, line: 3, kind: |k| bad_json(k, "missing `text`") },
        Bad { file: "jsonl-missing-tokens.jsonl", opts: AUTO, line: 2, kind: |k| bad_json(k, "`tokens` (with `spans`)") },
        Bad { file: "jsonl-both-text-tokens.jsonl", opts: AUTO, line: 1, kind: |k| bad_json(k, "not both") },
        Bad { file: "jsonl-text-not-string.jsonl", opts: AUTO, line: 2, kind: |k| bad_json(k, "`text` must be a string") },
        Bad { file: "jsonl-tokens-not-strings.jsonl", opts: AUTO, line: 2, kind: |k| bad_json(k, "`tokens` must be an array of strings") },
        Bad { file: "jsonl-entities-not-array.jsonl", opts: AUTO, line: 1, kind: |k| bad_json(k, "`entities` must be an array") },
        Bad { file: "jsonl-entity-not-object.jsonl", opts: AUTO, line: 2, kind: |k| bad_json(k, "each entity must be an object") },
        Bad { file: "jsonl-entity-missing-label.jsonl", opts: AUTO, line: 2, kind: |k| bad_json(k, "`label`") },
        Bad { file: "jsonl-entity-type-not-label.jsonl", opts: AUTO, line: 1, kind: |k| bad_json(k, "`label`") },
        Bad { file: "jsonl-negative-offset.jsonl", opts: AUTO, line: 2, kind: |k| bad_json(k, "`start` must be a non-negative integer") },
        Bad { file: "jsonl-float-offset.jsonl", opts: AUTO, line: 1, kind: |k| bad_json(k, "`end` must be a non-negative integer") },
        Bad { file: "jsonl-string-offset.jsonl", opts: AUTO, line: 4, kind: |k| bad_json(k, "`start` must be a non-negative integer") },
        Bad { file: "jsonl-span-not-triple.jsonl", opts: AUTO, line: 2, kind: |k| bad_json(k, "each span must be [start, end, label]") },
        Bad { file: "jsonl-span-object.jsonl", opts: AUTO, line: 1, kind: |k| bad_json(k, "each span must be [start, end, label]") },
        Bad { file: "jsonl-spans-not-array.jsonl", opts: AUTO, line: 2, kind: |k| bad_json(k, "`spans` must be an array") },
        Bad { file: "jsonl-span-negative.jsonl", opts: AUTO, line: 1, kind: |k| bad_json(k, "span start/end must be non-negative integers") },
        // ---- JSONL: entity semantics ----
        Bad { file: "jsonl-overlap-text.jsonl", opts: AUTO, line: 1, kind: |k| overlap(k, "LOC[0, 8)", "LOC[4, 13)") },
        Bad { file: "jsonl-duplicate-entity.jsonl", opts: AUTO, line: 2, kind: |k| overlap(k, "PER[0, 3)", "PER[0, 3)") },
        Bad { file: "jsonl-overlap-tokens.jsonl", opts: AUTO, line: 2, kind: |k| overlap(k, "LOC[0, 2)", "LOC[1, 3)") },
        Bad { file: "jsonl-nested-tokens.jsonl", opts: AUTO, line: 1, kind: |k| overlap(k, "ORG[0, 3)", "LOC[2, 3)") },
        Bad { file: "jsonl-out-of-range-chars.jsonl", opts: AUTO, line: 1, kind: |k| *k == K::OutOfRange { start: 13, end: 20, len: 19, label: "LOC".into() } },
        Bad { file: "jsonl-out-of-range-tokens.jsonl", opts: AUTO, line: 3, kind: |k| *k == K::OutOfRange { start: 2, end: 4, len: 3, label: "LOC".into() } },
        Bad { file: "jsonl-empty-span.jsonl", opts: AUTO, line: 1, kind: |k| *k == K::EmptySpan { start: 4, end: 4, label: "ACT".into() } },
        Bad { file: "jsonl-reversed-span-tokens.jsonl", opts: AUTO, line: 2, kind: |k| *k == K::EmptySpan { start: 2, end: 1, label: "LOC".into() } },
        Bad { file: "jsonl-inclusive-end.jsonl", opts: AUTO, line: 2, kind: |k| off_boundary(k, 0, 2, 2, "PER") },
        Bad { file: "jsonl-start-mid-word.jsonl", opts: AUTO, line: 1, kind: |k| off_boundary(k, 6, 12, 6, "PER") },
        Bad { file: "jsonl-start-on-space.jsonl", opts: AUTO, line: 2, kind: |k| off_boundary(k, 7, 11, 7, "PER") },
        Bad { file: "jsonl-end-on-space.jsonl", opts: AUTO, line: 1, kind: |k| off_boundary(k, 0, 6, 6, "LOC") },
        Bad { file: "jsonl-empty-label.jsonl", opts: AUTO, line: 2, kind: |k| *k == K::EmptyLabel { start: 0, end: 3 } },
        Bad { file: "jsonl-blank-label-tokens.jsonl", opts: AUTO, line: 1, kind: |k| *k == K::EmptyLabel { start: 0, end: 1 } },
        Bad { file: "jsonl-token-whitespace.jsonl", opts: AUTO, line: 2, kind: |k| bad_token(k, 0, "New York") },
        Bad { file: "jsonl-empty-token.jsonl", opts: AUTO, line: 1, kind: |k| bad_token(k, 1, "") },
        Bad { file: "jsonl-token-nbsp.jsonl", opts: AUTO, line: 1, kind: |k| bad_token(k, 1, "Smith\u{a0}Jr") },
        // ---- JSONL: encoding ----
        Bad { file: "jsonl-invalid-utf8.jsonl", opts: AUTO, line: 3, kind: |k| utf8(k, 11) },
        Bad { file: "jsonl-invalid-utf8-crlf.jsonl", opts: AUTO, line: 4, kind: |k| utf8(k, 24) },
    ]
}

/// The variant name of a kind, as in its `Debug` form (`MissingTag { .. }` → `MissingTag`).
fn variant(k: &K) -> String {
    format!("{k:?}").split([' ', '(']).next().unwrap().to_string()
}

#[test]
fn every_bad_file_fails_with_its_kind_line_and_path() {
    let dir = fixtures("bad-input");
    let cases = bad_cases();
    let mut failures = Vec::new();
    for case in &cases {
        let path = dir.join(case.file);
        match data::read_file(&path, case.opts) {
            Err(ref err @ Error::Data { ref location, ref kind }) => {
                if !(case.kind)(kind) {
                    failures.push(format!("{}: unexpected kind {kind:?}", case.file));
                }
                if location.line != case.line {
                    failures.push(format!("{}: line {} instead of {}", case.file, location.line, case.line));
                }
                if location.path != path {
                    failures.push(format!("{}: path {}", case.file, location.path.display()));
                }
                let shown = err.to_string();
                let at = format!("{}:{}", case.file, case.line);
                if !shown.contains(&at) {
                    failures.push(format!("{}: message {shown:?} does not contain {at:?}", case.file));
                }
                if !shown.contains(&kind.to_string()) {
                    failures.push(format!("{}: message {shown:?} lacks the kind's explanation", case.file));
                }
            }
            Err(other) => failures.push(format!("{}: not a data error: {other}", case.file)),
            Ok(ds) => failures.push(format!(
                "{}: read without error ({} sentences, {:?})",
                case.file,
                ds.sentences.len(),
                ds.format
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} bad files misbehave:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn bad_input_table_covers_every_file() {
    let cases = bad_cases();
    let in_table: BTreeSet<String> = cases.iter().map(|c| c.file.to_string()).collect();
    assert_eq!(in_table.len(), cases.len(), "a file appears twice in the table");
    let on_disk = listed(&fixtures("bad-input"));
    assert!(on_disk.len() >= 25, "only {} bad-input files", on_disk.len());
    let missing: Vec<_> = on_disk.difference(&in_table).collect();
    let stale: Vec<_> = in_table.difference(&on_disk).collect();
    assert!(missing.is_empty(), "bad-input files without a table row: {missing:?}");
    assert!(stale.is_empty(), "table rows without a file: {stale:?}");
}

/// The README's table (`| \`file\` | read as | mistake | \`Kind\` | line |`) must agree with the
/// test table and with what the reader does, so that it stays a true description.
#[test]
fn bad_input_readme_matches_the_table() {
    let dir = fixtures("bad-input");
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    let mut rows = std::collections::BTreeMap::new();
    for line in readme.lines() {
        let cols: Vec<&str> = line.split('|').map(str::trim).collect();
        if cols.len() == 7 && cols[1].starts_with('`') && cols[1] != "`file`" {
            let file = cols[1].trim_matches('`').to_string();
            let kind = cols[4].trim_matches('`').to_string();
            let lineno: usize =
                cols[5].parse().unwrap_or_else(|_| panic!("README row {line:?}: bad line number"));
            assert!(
                rows.insert(file.clone(), (cols[2].to_string(), kind, lineno)).is_none(),
                "{file} twice in README"
            );
        }
    }
    let cases = bad_cases();
    assert_eq!(rows.len(), cases.len(), "README rows vs table rows");
    for case in &cases {
        let (read_as, kind, line) =
            rows.get(case.file).unwrap_or_else(|| panic!("{} is not in the README table", case.file));
        assert_eq!(*line, case.line, "{}: README line", case.file);
        let expected_read_as = match (case.opts.scheme, case.opts.jsonl) {
            (None, None) => "auto".to_string(),
            (Some(s), None) => format!("--scheme {s}"),
            (None, Some(true)) => "--jsonl".to_string(),
            other => panic!("unexpected options {other:?}"),
        };
        assert_eq!(*read_as, expected_read_as, "{}: README 'read as'", case.file);
        let err = data::read_file(&dir.join(case.file), case.opts).unwrap_err();
        assert_eq!(*kind, variant(err.data_kind().unwrap()), "{}: README kind", case.file);
    }
}

/// Reading from memory names the path it is given, also for `<stdin>`-like names.
#[test]
fn read_bytes_reports_the_given_name() {
    let err = data::read_bytes(Path::new("<stdin>"), b"a\tO\nb\n", AUTO).unwrap_err();
    assert_eq!(err.to_string().split(": ").next(), Some("<stdin>:2"));
}

// ---------------------------------------------------------------------------------------------
// Good-but-unusual inputs.

type Spans<'a> = &'a [(usize, usize, &'a str)];

/// The expected reading of one odd file.
struct Odd<'a> {
    file: &'static str,
    format: Format,
    /// Each sentence: its first line, its words (space-separated), its spans.
    sentences: Vec<(usize, &'a str, Spans<'a>)>,
    /// The lines of the warnings, in order.
    warnings: &'a [usize],
}

const BIO: Format = Format::Conll(TagScheme::Bio);

/// A sentence as compared: first line, words, spans as `(start, end, label)`.
type Read = (usize, Vec<String>, Vec<(usize, usize, String)>);

#[rustfmt::skip]
fn odd_cases() -> Vec<Odd<'static>> {
    let eu: Spans = &[(0, 1, "ORG"), (2, 3, "MISC")];
    vec![
        Odd { file: "crlf.txt", format: BIO, warnings: &[], sentences: vec![
            (1, "EU rejects German call .", eu),
            (7, "Peter Blackburn", &[(0, 2, "PER")]),
        ]},
        Odd { file: "bom.txt", format: BIO, warnings: &[], sentences: vec![(1, "Paris is nice", &[(0, 1, "LOC")])] },
        Odd { file: "no-trailing-blank.txt", format: BIO, warnings: &[], sentences: vec![
            (1, "EU rejects", &[(0, 1, "ORG")]),
            (4, "Peter Blackburn", &[(0, 2, "PER")]),
        ]},
        Odd { file: "no-final-newline.txt", format: BIO, warnings: &[], sentences: vec![
            (1, "EU rejects", &[(0, 1, "ORG")]),
            (4, "Peter Blackburn", &[(0, 2, "PER")]),
        ]},
        Odd { file: "docstart.txt", format: BIO, warnings: &[], sentences: vec![
            (3, "SOCCER - JAPAN", &[(2, 3, "LOC")]),
            (8, "Nadim Ladki", &[(0, 2, "PER")]),
            (13, "AL-AIN", &[(0, 1, "LOC")]),
        ]},
        Odd { file: "four-columns.txt", format: BIO, warnings: &[], sentences: vec![
            (1, "EU rejects German call", eu),
            (6, "Peter Blackburn", &[(0, 2, "PER")]),
        ]},
        Odd { file: "spaces.txt", format: BIO, warnings: &[], sentences: vec![(1, "New York is big", &[(0, 2, "LOC")])] },
        Odd { file: "multi-blank.txt", format: BIO, warnings: &[], sentences: vec![
            (3, "Ann left", &[(0, 1, "PER")]),
            (9, "Bob stayed", &[(0, 1, "PER")]),
        ]},
        Odd { file: "no-entities.txt", format: BIO, warnings: &[], sentences: vec![
            (1, "It rained", &[]),
            (4, "Ann left", &[(0, 1, "PER")]),
            (7, "Nothing happened", &[]),
        ]},
        Odd { file: "iob1.txt", format: Format::Conll(TagScheme::Iob1), warnings: &[], sentences: vec![
            (3, "EU rejects German call", eu),
            (8, "Germany Austria and Peter Blackburn", &[(0, 1, "LOC"), (1, 2, "LOC"), (3, 5, "PER")]),
        ]},
        Odd { file: "bioes.txt", format: Format::Conll(TagScheme::Bioes), warnings: &[], sentences: vec![
            (1, "Angela Merkel visited Paris and New York City", &[(0, 2, "PER"), (3, 4, "LOC"), (5, 8, "LOC")]),
        ]},
        Odd { file: "bilou.txt", format: Format::Conll(TagScheme::Bilou), warnings: &[], sentences: vec![
            (1, "Angela Merkel visited Paris and New York City", &[(0, 2, "PER"), (3, 4, "LOC"), (5, 8, "LOC")]),
        ]},
        // seqeval strict: an I- after O, and an I- of another type, start no entity.
        Odd { file: "orphan-inside.txt", format: BIO, warnings: &[3, 7], sentences: vec![
            (1, "EU rejects German call", &[(0, 1, "ORG")]),
            (6, "Peter Blackburn", &[(0, 1, "PER")]),
        ]},
        // A BIOES entity without its E- is no entity.
        Odd { file: "bioes-unended.txt", format: Format::Conll(TagScheme::Bioes), warnings: &[1, 2], sentences: vec![
            (1, "Angela Merkel spoke in Paris", &[(4, 5, "LOC")]),
        ]},
        Odd { file: "non-ascii.jsonl", format: Format::Jsonl(JsonlStyle::Text), warnings: &[], sentences: vec![
            (1, "Zoë visited Zürich .", &[(0, 1, "PER"), (2, 3, "LOC")]),
            (2, "北 京 欢 迎 你", &[(0, 2, "LOC")]),
            (3, "Jose\u{301} Marti\u{301} nacio\u{301} en La Habana .", &[(0, 2, "PER"), (4, 6, "LOC")]),
            (4, "🙂 Ann met Bob", &[(1, 2, "PER"), (3, 4, "PER")]),
            (5, "Nothing here .", &[]),
        ]},
        Odd { file: "tokens.jsonl", format: Format::Jsonl(JsonlStyle::Tokens), warnings: &[], sentences: vec![
            (1, "EU rejects German call", eu),
            (2, "Peter Blackburn", &[(0, 2, "PER")]),
            (3, "no entities", &[]),
            (4, "Zürich 北京 🙂", &[(0, 2, "LOC")]),
            (5, "x", &[]),
        ]},
        Odd { file: "bom-crlf-blank-lines.jsonl", format: Format::Jsonl(JsonlStyle::Text), warnings: &[], sentences: vec![
            (1, "Ann lives in Paris", &[(0, 1, "PER"), (3, 4, "LOC")]),
            (4, "Bob", &[]),
        ]},
        Odd { file: "mixed-styles.jsonl", format: Format::Jsonl(JsonlStyle::Tokens), warnings: &[], sentences: vec![
            (1, "Ann lives in Paris", &[(3, 4, "LOC")]),
            (2, "Bob Smith", &[(0, 2, "PER")]),
        ]},
    ]
}

#[test]
fn every_odd_file_reads_exactly() {
    let dir = fixtures("odd-input");
    for case in odd_cases() {
        let path = dir.join(case.file);
        let ds = data::read_file(&path, AUTO).unwrap_or_else(|e| panic!("{}: {e}", case.file));
        assert_eq!(ds.format, case.format, "{}: format", case.file);
        let got: Vec<Read> = ds
            .sentences
            .iter()
            .map(|s| {
                (s.line, s.words.clone(), s.spans.iter().map(|p| (p.start, p.end, p.label.clone())).collect())
            })
            .collect();
        let want: Vec<Read> = case
            .sentences
            .iter()
            .map(|(line, words, spans)| {
                (
                    *line,
                    words.split(' ').map(str::to_string).collect(),
                    spans.iter().map(|&(a, b, l)| (a, b, l.to_string())).collect(),
                )
            })
            .collect();
        assert_eq!(got, want, "{}: sentences", case.file);
        let lines: Vec<usize> = ds.warnings.iter().map(|w| w.location.line).collect();
        assert_eq!(lines, case.warnings, "{}: warning lines ({:?})", case.file, ds.warnings);
        for w in &ds.warnings {
            assert_eq!(w.location.path, path, "{}: warning path", case.file);
            assert!(w.to_string().contains(&format!("{}:{}", case.file, w.location.line)), "{w}");
        }
        for s in &ds.sentences {
            assert!(
                s.words
                    .iter()
                    .all(|w| !w.is_empty() && !w.contains(char::is_whitespace) && !w.contains('\u{feff}'))
            );
        }
    }
}

#[test]
fn odd_input_table_covers_every_file() {
    let in_table: BTreeSet<String> = odd_cases().iter().map(|c| c.file.to_string()).collect();
    assert_eq!(listed(&fixtures("odd-input")), in_table);
}

/// The warnings name the offending tag, and the dropped tags are the ones seqeval strict drops.
#[test]
fn orphan_warnings_name_the_tag() {
    let ds = data::read_file(&fixtures("odd-input").join("orphan-inside.txt"), AUTO).unwrap();
    assert!(ds.warnings[0].message.contains("I-MISC"), "{}", ds.warnings[0]);
    assert!(ds.warnings[1].message.contains("I-LOC"), "{}", ds.warnings[1]);
    let ds = data::read_file(&fixtures("odd-input").join("bioes-unended.txt"), AUTO).unwrap();
    assert!(ds.warnings[0].message.contains("B-PER") && ds.warnings[1].message.contains("I-PER"));
}

/// Character offsets of JSONL text records are kept (Unicode scalar values, not bytes or UTF-16).
#[test]
fn jsonl_text_offsets_are_characters() {
    let ds = data::read_file(&fixtures("odd-input").join("non-ascii.jsonl"), AUTO).unwrap();
    let a = ds.sentences[0].text.as_ref().unwrap();
    assert_eq!(a.text, "Zoë visited Zürich.");
    assert_eq!(a.offsets, [(0, 3), (4, 11), (12, 18), (18, 19)]);
    let a = ds.sentences[2].text.as_ref().unwrap();
    assert_eq!(a.offsets[..2], [(0, 5), (6, 12)]);
    let a = ds.sentences[3].text.as_ref().unwrap();
    assert_eq!(a.text, "🙂 Ann  met\tBob");
    assert_eq!(a.offsets, [(0, 1), (2, 5), (7, 10), (11, 14)]);
    let ds = data::read_file(&fixtures("odd-input").join("tokens.jsonl"), AUTO).unwrap();
    assert!(ds.sentences.iter().all(|s| s.text.is_none()));
}

/// The same odd CoNLL files read under a forced scheme that fits them give the same result.
#[test]
fn forced_scheme_agrees_with_detection() {
    let dir = fixtures("odd-input");
    for case in odd_cases() {
        let Format::Conll(scheme) = case.format else { continue };
        let path = dir.join(case.file);
        let auto = data::read_file(&path, AUTO).unwrap();
        let with_scheme = data::read_file(&path, forced(scheme)).unwrap();
        assert_eq!(auto.sentences, with_scheme.sentences, "{}", case.file);
        assert_eq!(auto.warnings, with_scheme.warnings, "{}", case.file);
    }
}

// ---------------------------------------------------------------------------------------------
// Reader bugs found while writing these tests, left failing for the library's owner.

/// A JSONL record with the layouts mixed up (`text` with word-index `spans`, or `tokens` with
/// character `entities`) reads as a sentence with no entities: every annotation is dropped
/// without a word. It should be a `BadJson` error naming the misplaced field.
#[test]

fn jsonl_mixed_layout_is_rejected() {
    for (input, what) in [
        (&b"{\"text\": \"Ann lives\", \"entities\": []}\n{\"text\": \"Bob lives\", \"spans\": [[0, 1, \"PER\"]]}\n"[..], "spans with text"),
        (b"{\"tokens\": [\"Ann\"], \"spans\": []}\n{\"tokens\": [\"Bob\", \"lives\"], \"entities\": [{\"start\": 0, \"end\": 3, \"label\": \"PER\"}]}\n", "entities with tokens"),
    ] {
        match data::read_bytes(Path::new("mixed.jsonl"), input, AUTO) {
            Err(Error::Data { location, kind: K::BadJson { .. } }) => assert_eq!(location.line, 2, "{what}"),
            other => panic!("{what}: expected BadJson at line 2, got {other:?}"),
        }
    }
}

/// A JSONL label with surrounding or inner whitespace (`" PER"`, `"New Label"`) is accepted, but
/// it makes a distinct type from `PER` and cannot be written as a CoNLL tag: `B-New Label` is read
/// back as word + tag `Label`, an `UnknownTagPrefix` error. It should be rejected when read.
#[test]

fn jsonl_label_with_whitespace_is_rejected() {
    for label in [" PER", "PER ", "New Label", "PER\t"] {
        let input = format!(
            "{{\"tokens\": [\"Ann\"], \"spans\": []}}\n{{\"tokens\": [\"Ann\", \"lives\"], \"spans\": [[0, 1, {}]]}}\n",
            serde_json::to_string(label).unwrap()
        );
        match data::read_bytes(Path::new("labels.jsonl"), input.as_bytes(), AUTO) {
            Err(Error::Data { location, .. }) => assert_eq!(location.line, 2, "{label:?}"),
            Ok(ds) => panic!("label {label:?} accepted: {:?}", ds.sentences[1].spans),
            Err(e) => panic!("{label:?}: {e}"),
        }
    }
}

/// A JSONL record without words (`"tokens": []`, `"text": ""`, `"text": "  "`) becomes a sentence
/// of zero words; it cannot be written to CoNLL (it becomes a bare blank line and the sentence
/// vanishes on reading back, so sentence counts change) and gives the model an empty input. It
/// should be an error at its line.
#[test]

fn jsonl_record_without_words_is_rejected() {
    for record in [r#"{"tokens": []}"#, r#"{"text": ""}"#, r#"{"text": "   "}"#] {
        let input = format!("{{\"text\": \"Ann\"}}\n{record}\n");
        match data::read_bytes(Path::new("empty.jsonl"), input.as_bytes(), AUTO) {
            Err(Error::Data { location, .. }) => assert_eq!(location.line, 2, "{record}"),
            Ok(ds) => panic!("{record} accepted as {:?}", ds.sentences[1]),
            Err(e) => panic!("{record}: {e}"),
        }
    }
}

/// A CoNLL file with classic-Mac line endings (CR only) is one single line: the reader returns a
/// single one-word sentence whose tag is the file's last tag, silently dropping everything else.
/// It should either split on CR or reject the file.
#[test]

fn conll_cr_only_line_endings_are_not_silently_collapsed() {
    let input = b"EU\tB-ORG\rrejects\tO\rGerman\tB-MISC\r\rPeter\tB-PER\r";
    match data::read_bytes(Path::new("mac.txt"), input, AUTO) {
        Err(Error::Data { .. }) => {}
        Ok(ds) => {
            let words: Vec<_> = ds.sentences.iter().map(|s| s.words.join(" ")).collect();
            assert_eq!(words, ["EU rejects German", "Peter"]);
        }
        Err(e) => panic!("{e}"),
    }
}

/// A CoNLL file whose first token is `{` (a bracket token, as in code or some Chinese corpora) is
/// taken for JSONL by content sniffing (`read_bytes` looks only at the first non-blank byte) and
/// fails with `BadJson` at line 1 although it is a valid CoNLL file. Sniffing should require a
/// JSON object on the first line (e.g. `{"`), or fall back to CoNLL when it does not parse.
#[test]

fn conll_file_starting_with_brace_is_conll() {
    let ds = data::read_bytes(Path::new("brace.txt"), b"{\tO\nx\tB-VAR\n}\tO\n", AUTO)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ds.format, Format::Conll(TagScheme::Bio));
    assert_eq!(ds.sentences[0].words, ["{", "x", "}"]);
}

/// A character-level pack (CLUENER) reads `{"text"}` records one character per word, so an
/// entity may end inside a run of Latin letters; split by words, the same record is refused
/// with the offset that falls inside a word.
#[test]
fn jsonl_text_is_split_as_asked() {
    let bytes = r#"{"text": "玩CSOL游戏", "entities": [{"start": 1, "end": 3, "label": "game"}]}"#.as_bytes();
    let chars = ReadOptions { words: WordSplit::Chars, ..JSONL };
    let ds = data::read_bytes(Path::new("x.jsonl"), bytes, chars).unwrap();
    let s = &ds.sentences[0];
    assert_eq!(s.words, ["玩", "C", "S", "O", "L", "游", "戏"]);
    assert_eq!((s.spans[0].start, s.spans[0].end), (1, 3));
    let err = data::read_bytes(Path::new("x.jsonl"), bytes, JSONL).unwrap_err();
    assert!(matches!(err, Error::Data { kind: K::OffTokenBoundary { offset: 3, .. }, .. }), "{err}");
}
