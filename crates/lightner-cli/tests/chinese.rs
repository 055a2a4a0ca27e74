//! Chinese end to end on a tiny random WordPiece backbone (no Chinese pretrained model is
//! reachable from the development machines): CLUENER2020's character-per-line CoNLL trains a
//! pack, and raw Chinese text — no spaces, no prefix space — comes back with its entities at
//! character offsets. The tiny model can only memorise, so the test trains on the sentences it
//! then tags; what it proves is the pipeline (characters as words, WordPiece without a prefix
//! space, offsets in characters), not accuracy.

mod common;

use common::{bin, run, s};
use lightner::data::{self, Format, ReadOptions, Sentence, Span};
use std::path::Path;
use std::process::Stdio;

/// The first `n` CLUENER training sentences that are one sentence for the text splitter (no
/// sentence-final punctuation inside) and at most 40 characters long.
fn cluener(n: usize) -> Vec<Sentence> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/cluener2020/train.txt");
    data::read_file(&src, ReadOptions::default())
        .unwrap()
        .sentences
        .into_iter()
        .filter(|s| {
            s.words.len() <= 40
                && !s.words.iter().any(|w| matches!(w.as_str(), "。" | "！" | "？" | "!" | "?"))
        })
        .take(n)
        .collect()
}

#[test]
fn chinese_characters_train_and_come_back_at_character_offsets() {
    let tmp = tempfile::tempdir().unwrap();
    let gold = cluener(24);
    assert!(
        gold.iter().all(|s| s.words.iter().all(|w| w.chars().count() == 1)),
        "CLUENER is one character per line"
    );
    let train = tmp.path().join("train.txt");
    data::write_file(&train, &gold, Format::Conll(data::TagScheme::Bio)).unwrap();
    let tiny = tmp.path().join("tiny-zh");
    run(&["init-tiny", "--out", s(&tiny), "--vocab-from", s(&train)]);
    let pack = tmp.path().join("zh.pack");
    let mut args = common::tiny_args("train", s(&tiny), s(&train), "cluener2020", s(&pack), "60");
    args.extend(["--dev", s(&train), "--batch-size", "8", "--full"]);
    let o = run(&args);
    let text = String::from_utf8_lossy(&o.stdout);
    let micro = text.lines().find(|l| l.trim_start().starts_with("micro avg")).expect(&text);
    assert!(micro.contains("1.0000    1.0000    1.0000"), "training set not memorised:\n{text}");

    // The pack remembers that the data was character-level, so raw text is split the same way.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(pack.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["text_words"], "chars");

    // Raw text (one document per line) and JSONL `{"text"}` records: the characters joined
    // without spaces. Both must be split into characters, as the training data was.
    let texts: Vec<String> = gold.iter().map(|s| s.words.concat()).collect();
    // A run of Latin letters or digits is where splitting by words and by characters differ.
    let latin_run = |t: &String| {
        t.chars().collect::<Vec<_>>().windows(2).any(|w| w.iter().all(char::is_ascii_alphanumeric))
    };
    assert!(texts.iter().any(latin_run), "the sample has no Latin run, so it cannot tell the splits apart");
    let plain: String = texts.iter().map(|t| format!("{t}\n")).collect();
    let jsonl: String = texts.iter().map(|t| format!("{}\n", serde_json::json!({ "text": t }))).collect();
    for (format, input) in [("text", plain), ("jsonl", jsonl)] {
        let entities = predict_matches_gold(&pack, format, &input, &gold);
        assert!(entities >= 40, "too few entities ({entities}) for the test to mean anything");
    }
}

/// Runs `predict --format FORMAT` on `input` and checks every document's entities, as character
/// offsets, against `gold`; returns the number of gold entities.
fn predict_matches_gold(pack: &Path, format: &str, input: &str, gold: &[Sentence]) -> usize {
    let mut child = bin()
        .args(["-q", "predict", "--pack", s(pack), "--format", format])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "predict --format {format}");
    let lines: Vec<String> = String::from_utf8_lossy(&o.stdout).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), gold.len());
    let mut entities = 0;
    for (line, g) in lines.iter().zip(gold) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let doc = v["text"].as_str().unwrap();
        if let Some(tokens) = v["tokens"].as_array() {
            // JSONL input echoes its words: one per character, Latin letters and digits included.
            assert_eq!(tokens.len(), doc.chars().filter(|c| !c.is_whitespace()).count(), "{format}: {doc}");
        }
        let mut got: Vec<Span> = v["entities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let (a, b) = (e["start"].as_u64().unwrap() as usize, e["end"].as_u64().unwrap() as usize);
                // Gold is one character per word, so gold word indices are character offsets.
                assert_eq!(doc.chars().skip(a).take(b - a).collect::<String>(), e["text"].as_str().unwrap());
                Span::new(a, b, e["label"].as_str().unwrap())
            })
            .collect();
        got.sort();
        let mut want = g.spans.clone();
        want.sort();
        assert_eq!(got, want, "{format}: {doc}");
        entities += want.len();
    }
    entities
}
