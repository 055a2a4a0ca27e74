//! The staged corpora under `data/` (see `data/README.md`): every file reads without error or
//! warning as BIO, with the sentence, token, entity and type counts the README publishes, and
//! writing it back as CoNLL gives the original bytes.

use lightner::data::{self, Format, ReadOptions, Sentence, TagScheme};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `(file under data/, sentences, tokens, entities, entity types)`, from data/README.md's
/// "split sizes" tables.
#[rustfmt::skip]
const FILES: &[(&str, usize, usize, usize, usize)] = &[
    ("conll2003/train.txt", 14_041, 203_621, 23_499, 4),
    ("conll2003/dev.txt", 3_250, 51_362, 5_942, 4),
    ("conll2003/test.txt", 3_453, 46_435, 5_648, 4),
    ("conll2003/indomain-train.txt", 4_001, 53_071, 6_459, 4),
    ("mit-movie/train.txt", 9_775, 99_491, 21_295, 12),
    ("mit-movie/test.txt", 2_443, 24_686, 5_339, 12),
    ("mit-movie/10-shot-train.txt", 51, 505, 107, 12),
    ("mit-movie/20-shot-train.txt", 143, 1_394, 307, 12),
    ("mit-movie/50-shot-train.txt", 286, 2_923, 636, 12),
    ("mit-movie/100-shot-train.txt", 658, 6_624, 1_418, 12),
    ("mit-movie/200-shot-train.txt", 1_194, 12_209, 2_572, 12),
    ("mit-movie/500-shot-train.txt", 2_280, 23_520, 5_040, 12),
    ("mit-restaurant/train.txt", 7_660, 70_525, 15_363, 8),
    ("mit-restaurant/test.txt", 1_521, 14_256, 3_151, 8),
    ("mit-restaurant/10-shot-train.txt", 40, 414, 94, 8),
    ("mit-restaurant/20-shot-train.txt", 81, 826, 178, 8),
    ("mit-restaurant/50-shot-train.txt", 182, 1_835, 428, 8),
    ("mit-restaurant/100-shot-train.txt", 356, 3_695, 867, 8),
    ("mit-restaurant/200-shot-train.txt", 788, 7_757, 1_846, 8),
    ("mit-restaurant/500-shot-train.txt", 1_837, 18_669, 4_328, 8),
    ("atis/train.txt", 4_978, 56_590, 16_560, 79),
    ("atis/test.txt", 893, 9_198, 2_837, 69),
    ("atis/10-shot-train.txt", 340, 4_195, 1_315, 79),
    ("atis/20-shot-train.txt", 709, 8_790, 2_740, 79),
    ("atis/50-shot-train.txt", 1_327, 16_453, 5_091, 79),
    ("atis/original-tokenization/train.txt", 4_978, 56_200, 16_560, 79),
    ("atis/original-tokenization/test.txt", 893, 9_164, 2_837, 69),
    ("cluener2020/train.txt", 10_748, 401_764, 23_970, 10),
    ("cluener2020/dev.txt", 1_343, 50_260, 3_072, 10),
];

/// Entities per type, from data/README.md's "entities per type" tables (conll2003, cluener2020).
#[rustfmt::skip]
const PER_TYPE: &[(&str, &[(&str, usize)])] = &[
    ("conll2003/train.txt", &[("LOC", 7140), ("MISC", 3438), ("ORG", 6321), ("PER", 6600)]),
    ("conll2003/dev.txt", &[("LOC", 1837), ("MISC", 922), ("ORG", 1341), ("PER", 1842)]),
    ("conll2003/test.txt", &[("LOC", 1668), ("MISC", 702), ("ORG", 1661), ("PER", 1617)]),
    ("conll2003/indomain-train.txt", &[("LOC", 100), ("MISC", 100), ("ORG", 3763), ("PER", 2496)]),
    ("cluener2020/train.txt", &[
        ("address", 2891), ("book", 1139), ("company", 2978), ("game", 2376), ("government", 1835),
        ("movie", 1123), ("name", 3756), ("organization", 3210), ("position", 3141), ("scene", 1521),
    ]),
    ("cluener2020/dev.txt", &[
        ("address", 373), ("book", 154), ("company", 378), ("game", 295), ("government", 247),
        ("movie", 151), ("name", 465), ("organization", 367), ("position", 433), ("scene", 209),
    ]),
];

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data")
}

/// Every `*.txt` under `dir`, recursively, as paths relative to `root` with `/` separators.
fn txt_files(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            txt_files(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "txt") {
            let rel = path.strip_prefix(root).unwrap();
            out.insert(
                rel.components().map(|c| c.as_os_str().to_str().unwrap()).collect::<Vec<_>>().join("/"),
            );
        }
    }
}

#[test]
fn table_lists_every_staged_file() {
    let root = data_dir();
    let mut on_disk = BTreeSet::new();
    for d in ["conll2003", "mit-movie", "mit-restaurant", "atis", "cluener2020"] {
        txt_files(&root, &root.join(d), &mut on_disk);
    }
    let in_table: BTreeSet<String> = FILES.iter().map(|f| f.0.to_string()).collect();
    assert_eq!(in_table.len(), FILES.len(), "a file is listed twice");
    assert_eq!(on_disk, in_table);
}

/// Reads one file and checks everything about it; returns a description of each problem.
fn check(rel: &str, sentences: usize, tokens: usize, entities: usize, types: usize) -> Vec<String> {
    let path = data_dir().join(rel);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut problems = Vec::new();
    let ds = match data::read_bytes(&path, &bytes, ReadOptions::default()) {
        Ok(ds) => ds,
        Err(e) => return vec![format!("{rel}: {e}")],
    };
    if ds.format != Format::Conll(TagScheme::Bio) {
        problems.push(format!("{rel}: read as {:?}", ds.format));
    }
    if let Some(w) = ds.warnings.first() {
        problems.push(format!("{rel}: {} warnings, the first: {w}", ds.warnings.len()));
    }
    let mut per_type: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &ds.sentences {
        for sp in &s.spans {
            *per_type.entry(sp.label.as_str()).or_default() += 1;
        }
    }
    let got = (
        ds.sentences.len(),
        ds.sentences.iter().map(|s| s.words.len()).sum::<usize>(),
        ds.sentences.iter().map(|s| s.spans.len()).sum::<usize>(),
        per_type.len(),
    );
    if got != (sentences, tokens, entities, types) {
        problems.push(format!(
            "{rel}: (sentences, tokens, entities, types) = {got:?}, README says {:?}",
            (sentences, tokens, entities, types)
        ));
    }
    if let Some((_, expected)) = PER_TYPE.iter().find(|(f, _)| *f == rel) {
        let expected: BTreeMap<&str, usize> = expected.iter().copied().collect();
        if per_type != expected {
            problems.push(format!("{rel}: entities per type {per_type:?}, README says {expected:?}"));
        }
    }
    // Lines: each sentence starts one line after the blank line that ends the previous one.
    let mut line = 1;
    for s in &ds.sentences {
        if s.line != line {
            problems.push(format!("{rel}: sentence at line {} recorded as line {}", line, s.line));
            break;
        }
        line += s.words.len() + 1;
    }
    let mut written = Vec::with_capacity(bytes.len());
    data::write_to(&mut written, &ds.sentences, Format::Conll(TagScheme::Bio)).unwrap();
    if written != bytes {
        let at =
            written.iter().zip(&bytes).position(|(a, b)| a != b).unwrap_or(written.len().min(bytes.len()));
        let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        problems.push(format!(
            "{rel}: CoNLL write differs from the original from line {line} (byte {at}; {} vs {} bytes)",
            written.len(),
            bytes.len()
        ));
    }
    problems.extend(check_sentences(rel, &ds.sentences));
    problems
}

/// The invariants every reader promises about its sentences.
fn check_sentences(rel: &str, sentences: &[Sentence]) -> Vec<String> {
    let mut problems = Vec::new();
    for s in sentences {
        let ok_words =
            !s.words.is_empty() && s.words.iter().all(|w| !w.is_empty() && !w.contains(char::is_whitespace));
        let ok_spans = s.spans.iter().all(|sp| sp.start < sp.end && sp.end <= s.words.len())
            && s.spans.windows(2).all(|w| w[0].end <= w[1].start);
        if !ok_words || !ok_spans {
            problems.push(format!("{rel}:{}: bad sentence {s:?}", s.line));
        }
    }
    problems
}

/// All files, on as many threads as there are cores (the whole corpus is about 1.3M tokens).
#[test]
fn staged_files_read_as_documented_and_round_trip() {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(FILES.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let problems: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut problems = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&(rel, s, t, e, ty)) = FILES.get(i) else { break };
                        problems.extend(check(rel, s, t, e, ty));
                    }
                    problems
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Reading a staged file through `read_file` (the path-taking entry point) gives what
/// `read_bytes` gives, and the JSONL writers round-trip a real corpus too.
#[test]
fn a_staged_file_round_trips_through_jsonl() {
    let path = data_dir().join("mit-restaurant/test.txt");
    let ds = data::read_file(&path, ReadOptions::default()).unwrap();
    assert_eq!(ds.sentences.len(), 1_521);
    let mut tokens_jsonl = Vec::new();
    data::write_to(&mut tokens_jsonl, &ds.sentences, Format::Jsonl(data::JsonlStyle::Tokens)).unwrap();
    let back = data::read_bytes(Path::new("test.jsonl"), &tokens_jsonl, ReadOptions::default()).unwrap();
    assert_eq!(back.format, Format::Jsonl(data::JsonlStyle::Tokens));
    let strip = |v: &[Sentence]| v.iter().map(|s| (s.words.clone(), s.spans.clone())).collect::<Vec<_>>();
    assert_eq!(strip(&back.sentences), strip(&ds.sentences));
}
