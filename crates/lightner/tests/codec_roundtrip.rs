//! File → spans → target → spans → file is the identity on every sentence of the staged
//! CoNLL-2003, MIT-Movie, MIT-Restaurant and ATIS files, in both pointer spaces, with the fixture
//! byte-level BPE tokenizer (which splits real words into several pieces, so word starts matter).

use lightner::data::{self, Format, LabelSet, ReadOptions, TagScheme};
use lightner::tokenize::{Alignment, Codec, PointerSpace, WordTokenizer};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn roundtrip_dir(dataset: &str, dir: &str, tok: &WordTokenizer) -> usize {
    let mut checked = 0;
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("data").join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for path in files {
        checked += roundtrip_file(dataset, &path, tok);
    }
    checked
}

fn roundtrip_file(dataset: &str, path: &Path, tok: &WordTokenizer) -> usize {
    let original = std::fs::read(path).unwrap();
    let ds = data::read_bytes(path, &original, ReadOptions::default()).unwrap();
    assert_eq!(ds.format, Format::Conll(TagScheme::Bio));
    let types: Vec<&str> =
        ds.sentences.iter().flat_map(|s| s.spans.iter().map(|sp| sp.label.as_str())).collect();
    let labels = LabelSet::builtin(dataset).unwrap().with_names_from(types);
    labels.check_covers(path, &ds.sentences).unwrap();
    for space in [PointerSpace::SubToken, PointerSpace::WordStart] {
        let codec = Codec::new(labels.len(), space);
        let mut back = Vec::with_capacity(ds.sentences.len());
        for s in &ds.sentences {
            let align = Alignment::encode(tok, &s.words).unwrap();
            let target = codec.encode(&align, &s.spans, &labels).unwrap();
            let valid = codec.valid_pointers(&align);
            for t in &target.seq[1..target.seq.len() - 1] {
                if t.0 as usize >= codec.src_start() {
                    assert!(
                        valid[t.0 as usize - codec.src_start()],
                        "{}:{} gold pointer masked",
                        path.display(),
                        s.line
                    );
                }
            }
            let d = codec.decode(&target.seq, &align, &labels);
            assert!(d.issues.is_empty(), "{}:{}: {:?}", path.display(), s.line, d.issues);
            assert_eq!(d.spans, s.spans, "{}:{}", path.display(), s.line);
            let mut t = s.clone();
            t.spans = d.spans;
            back.push(t);
        }
        let mut out = Vec::new();
        data::write_to(&mut out, &back, Format::Conll(TagScheme::Bio)).unwrap();
        assert!(out == original, "{} changed in the round trip ({space:?})", path.display());
    }
    ds.sentences.len()
}

#[test]
fn staged_files_roundtrip_through_the_codec() {
    let tok =
        WordTokenizer::from_file(&repo().join("tests/fixtures/parity/tokenizer/tokenizer.json")).unwrap();
    let mut n = 0;
    for (dataset, dir) in [
        ("conll2003", "conll2003"),
        ("mit-movie", "mit-movie"),
        ("mit-restaurant", "mit-restaurant"),
        ("atis", "atis"),
    ] {
        n += roundtrip_dir(dataset, dir, &tok);
    }
    // Every sentence of every staged file (README counts: 24,745 CoNLL + 16,830 movie +
    // 12,465 restaurant + 8,247 ATIS).
    assert_eq!(n, 24_745 + 16_830 + 12_465 + 8_247);
}
