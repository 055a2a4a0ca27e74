//! Fuzzing on stable Rust: every reader of user input (labelled data in CoNLL and JSONL, label
//! maps, pack manifests, raw text) gets arbitrary bytes and mutations of real files, and must
//! neither panic nor accept nonsense: it returns a located error, or a well-formed result.
//!
//! CI runs the default number of cases (proptest's 256 per property). A long session is the
//! same tests with more cases, e.g. `PROPTEST_CASES=200000 cargo test -p lightner --test
//! fuzz_readers` (the figures of the last long session are in `tests/fixtures/bad-input/README.md`).

use lightner::Error;
use lightner::data::words::WordSplit;
use lightner::data::{self, Dataset, LabelSet, ReadOptions, TagScheme, text};
use lightner::pipeline::Manifest;
use proptest::prelude::*;
use std::path::Path;

const PATH: &str = "fuzz/input.txt";

/// Real files to mutate (read once): CoNLL (BIO, IOB1 and 4 columns, Chinese) and both JSONL
/// layouts.
fn seeds() -> &'static [Vec<u8>] {
    static SEEDS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    SEEDS.get_or_init(read_seeds)
}

fn read_seeds() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut out = Vec::new();
    for f in [
        "data/mit-movie/10-shot-train.txt",
        "data/conll2003/10-shot-train.txt",
        "data/cluener2020/10-shot-train.txt",
        "data/atis/10-shot-train.txt",
    ] {
        if let Ok(b) = std::fs::read(root.join(f)) {
            out.push(b[..b.len().min(4000)].to_vec());
        }
    }
    let odd = root.join("tests/fixtures/odd-input");
    for e in std::fs::read_dir(odd).into_iter().flatten().flatten() {
        if e.file_name() != "README.md" {
            out.push(std::fs::read(e.path()).unwrap_or_default());
        }
    }
    out.push(
        br#"{"text": "Ann lives in Paris", "entities": [{"start": 13, "end": 18, "label": "LOC"}]}"#.to_vec(),
    );
    out.push(
        br#"{"tokens": ["Ann", "lives", "in", "Paris"], "spans": [[0, 1, "PER"], [3, 4, "LOC"]]}"#.to_vec(),
    );
    assert!(out.len() >= 6, "seed files missing");
    out
}

/// Bytes that matter to the readers, spliced in by mutations.
const TOKENS: &[&[u8]] = &[
    b"\t",
    b" ",
    b"\n",
    b"\r\n",
    b"\r",
    b"\n\n",
    b"B-",
    b"I-",
    b"E-",
    b"S-",
    b"L-",
    b"U-",
    b"O",
    b"-",
    b"-DOCSTART-",
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b",",
    b":",
    b"\\",
    b"\\u0000",
    b"\xEF\xBB\xBF",
    b"\xFF",
    b"\xC3",
    b"\xE2\x80\xA8",
    b"\xC2\xA0",
    b"-1",
    b"18446744073709551616",
    b"1e9",
    b"null",
    b"\"start\"",
    b"\"end\"",
    b"\"label\"",
    b"\"text\"",
    b"\"tokens\"",
    b"\"spans\"",
    b"\"entities\"",
    b"\xE4\xB8\xAD",
];

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, usize),
    Delete(usize, usize),
    Duplicate(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(i, t)| Mutation::Insert(i, t)),
        (any::<usize>(), 1usize..40).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<usize>(), 1usize..200).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
    ]
}

fn mutate(mut b: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        let len = b.len().max(1);
        match *m {
            Mutation::Flip(i, x) if !b.is_empty() => b[i % len] = x,
            Mutation::Insert(i, t) => {
                let at = i % (b.len() + 1);
                b.splice(at..at, TOKENS[t].iter().copied());
            }
            Mutation::Delete(i, n) if !b.is_empty() => {
                let at = i % len;
                b.drain(at..(at + n).min(b.len()));
            }
            Mutation::Duplicate(i, n) if !b.is_empty() => {
                let at = i % len;
                let piece: Vec<u8> = b[at..(at + n).min(b.len())].to_vec();
                b.splice(at..at, piece);
            }
            _ => {}
        }
    }
    b
}

fn options() -> impl Strategy<Value = ReadOptions> {
    let scheme = prop_oneof![
        Just(None),
        Just(Some(TagScheme::Bio)),
        Just(Some(TagScheme::Iob1)),
        Just(Some(TagScheme::Bioes)),
        Just(Some(TagScheme::Bilou)),
    ];
    let jsonl = prop_oneof![Just(None), Just(Some(true)), Just(Some(false))];
    let words = prop_oneof![Just(WordSplit::Words), Just(WordSplit::Chars)];
    (scheme, jsonl, words).prop_map(|(scheme, jsonl, words)| ReadOptions { scheme, jsonl, words })
}

/// A reader's result is a located error, or sentences that keep every promise of `Sentence`.
fn check_read(bytes: &[u8], result: lightner::Result<Dataset>) -> Result<(), TestCaseError> {
    let lines = 1 + bytes.iter().filter(|&&b| b == b'\n' || b == b'\r').count();
    match result {
        Err(Error::Data { location, kind }) => {
            prop_assert_eq!(location.path.as_path(), Path::new(PATH));
            prop_assert!(location.line >= 1 && location.line <= lines, "line {} of {lines}", location.line);
            let msg = kind.to_string();
            prop_assert!(!msg.is_empty() && msg.chars().count() < 3000, "message of {} chars", msg.len());
        }
        Err(other) => prop_assert!(false, "not a located data error: {other}"),
        Ok(ds) => {
            for s in &ds.sentences {
                prop_assert!(!s.words.is_empty());
                for w in &s.words {
                    prop_assert!(!w.is_empty() && !w.chars().any(char::is_whitespace), "word {w:?}");
                }
                let mut end = 0;
                for sp in &s.spans {
                    prop_assert!(sp.start >= end && sp.start < sp.end && sp.end <= s.words.len(), "{sp}");
                    prop_assert!(
                        !sp.label.is_empty() && !sp.label.chars().any(char::is_whitespace),
                        "label {:?} of {:?} at line {} in {:?}",
                        sp.label,
                        s.words,
                        s.line,
                        String::from_utf8_lossy(bytes)
                    );
                    end = sp.end;
                }
                if let Some(a) = &s.text {
                    prop_assert_eq!(a.offsets.len(), s.words.len());
                    let index = text::CharIndex::new(&a.text);
                    for (w, &(b, e)) in s.words.iter().zip(&a.offsets) {
                        prop_assert_eq!(index.slice(&a.text, b, e), Some(w.as_str()));
                    }
                }
                prop_assert!(s.line >= 1 && s.line <= lines);
            }
            for w in &ds.warnings {
                prop_assert!(w.to_string().chars().count() < 3000);
            }
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn arbitrary_bytes_read_to_a_located_error_or_good_sentences(bytes in proptest::collection::vec(any::<u8>(), 0..300), opts in options()) {
        check_read(&bytes, data::read_bytes(Path::new(PATH), &bytes, opts))?;
    }

    #[test]
    fn mutated_real_files_read_to_a_located_error_or_good_sentences(
        seed in 0usize..64, muts in proptest::collection::vec(mutation(), 1..8), opts in options()
    ) {
        let seeds = seeds();
        let bytes = mutate(seeds[seed % seeds.len()].clone(), &muts);
        check_read(&bytes, data::read_bytes(Path::new(PATH), &bytes, opts))?;
    }

    #[test]
    fn label_maps_are_a_label_set_or_an_error_naming_the_map(
        base in 0usize..3, muts in proptest::collection::vec(mutation(), 0..6), raw in proptest::collection::vec(any::<u8>(), 0..60)
    ) {
        let bases: [&[u8]; 3] = [br#"{"PER": "<<person>>", "LOC": "place"}"#, b"\xEF\xBB\xBF{\"A\": \"a\"}", &raw];
        let bytes = mutate(bases[base].to_vec(), &muts);
        let path = Path::new("fuzz/map.json");
        match LabelSet::from_json_bytes(path, &bytes) {
            Ok(set) => {
                prop_assert!(!set.is_empty());
                prop_assert!(LabelSet::new(set.labels().to_vec()).is_ok());
            }
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(msg.starts_with("fuzz/map.json"), "{msg}");
            }
        }
    }

    #[test]
    fn manifests_are_checked_or_refused_with_their_path(
        muts in proptest::collection::vec(mutation(), 1..6),
        adapters in any::<bool>(),
    ) {
        let seed = if adapters { manifest_with_adapters(r#"{"rank": 8, "alpha": 16.0, "on": ["encoder_attn"]}"#) } else { MANIFEST.to_string() };
        let bytes = mutate(seed.into_bytes(), &muts);
        let path = Path::new("fuzz/manifest.json");
        match Manifest::parse(path, &bytes) {
            Ok(m) => {
                prop_assert!(LabelSet::new(m.labels.clone()).is_ok());
                prop_assert!(m.model.validate().is_ok() && m.decoding.validate().is_ok());
            }
            Err(e) => prop_assert!(e.to_string().starts_with("fuzz/manifest.json"), "{e}"),
        }
    }

    #[test]
    fn raw_text_splits_into_words_at_their_offsets(doc in "\\PC{0,200}", chars in any::<bool>()) {
        let split = if chars { WordSplit::Chars } else { WordSplit::Words };
        let index = text::CharIndex::new(&doc);
        let mut last = 0;
        for s in text::sentences_with(&doc, split) {
            let a = s.text.as_ref().unwrap();
            prop_assert!(!s.words.is_empty());
            for (w, &(b, e)) in s.words.iter().zip(&a.offsets) {
                prop_assert!(b >= last && b < e);
                prop_assert_eq!(index.slice(&doc, b, e), Some(w.as_str()));
                prop_assert!(!w.chars().any(char::is_whitespace));
                last = e;
            }
        }
    }
}

/// A manifest as `train` writes it (tiny backbone, two labels).
const MANIFEST: &str = r#"{
  "format": "lightner-pack",
  "format_version": 1,
  "library_version": "0.1.0",
  "backbone": {"id": "tiny", "weights_hash": "c0209273b544f12c", "d_model": 32, "decoder_layers": 2, "vocab_size": 171, "warm_started": false},
  "labels": [{"name": "PER", "word": "<<person>>"}, {"name": "LOC", "word": "<<location>>"}],
  "model": {"label_mode": "Added", "pointer_space": "word-start", "prompt": {"len": 2, "dim": 8}, "alpha": 0.5, "learn_alpha": false, "alpha_per_dim": false},
  "special": {"bos": 2, "eos": 3, "pad": 0, "unk": 1},
  "decoding": {"num_beams": 1, "length_penalty": 1.0, "src_seq_ratio": 0.8, "tgt_max_len": 10, "constrained": true, "batch_size": 16},
  "trained_backbone_params": [],
  "training": {},
  "metrics": {},
  "text_words": "words",
  "checksum": "00"
}"#;

/// [`MANIFEST`] with low-rank adapters `lora` (a JSON object) in its model settings.
fn manifest_with_adapters(lora: &str) -> String {
    MANIFEST.replace(r#""alpha_per_dim": false}"#, &format!(r#""alpha_per_dim": false, "lora": {lora}}}"#))
}

#[test]
fn the_manifest_seed_parses() {
    // The mutations above start from a manifest that is valid, or they would test only refusals.
    Manifest::parse(Path::new("m.json"), MANIFEST.as_bytes()).unwrap();
    let m = manifest_with_adapters(r#"{"rank": 8, "alpha": 16.0, "on": ["encoder_attn"]}"#);
    let parsed = Manifest::parse(Path::new("m.json"), m.as_bytes()).unwrap();
    assert_eq!(parsed.model.lora.unwrap().rank, 8);
}

#[test]
fn adapter_settings_no_model_could_hold_are_refused_when_the_pack_opens() {
    for lora in [
        r#"{"rank": 1000000000000, "alpha": 16.0, "on": ["encoder_attn"]}"#,
        r#"{"rank": 0, "alpha": 16.0, "on": ["encoder_attn"]}"#,
        r#"{"rank": 8, "alpha": -1.0, "on": ["encoder_attn"]}"#,
        r#"{"rank": 8, "alpha": 16.0, "on": []}"#,
    ] {
        let err = Manifest::parse(Path::new("p/manifest.json"), manifest_with_adapters(lora).as_bytes())
            .expect_err(lora)
            .to_string();
        assert!(err.starts_with("p/manifest.json") && err.contains("LoRA"), "{lora}: {err}");
    }
}
