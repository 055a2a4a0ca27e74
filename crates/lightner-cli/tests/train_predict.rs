//! The whole tool on a tiny random backbone, each command in its own process: `init-tiny`,
//! `train` until the 30 training sentences are memorised (training-set F1 1.0; on a random
//! backbone only full fine-tuning can memorise, prompts alone reach about 0.2), then `eval` and
//! `predict` from the saved pack in all three input formats, which must give the gold entities
//! back. And a run killed mid-way and rerun with its checkpoint gives the same pack as an
//! uninterrupted one.

mod common;

use common::{bin, run, s};
use lightner::data::{self, Format, JsonlStyle, ReadOptions, Sentence, Span};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

fn movie30(dir: &Path) -> (PathBuf, Vec<Sentence>) {
    common::movie(dir, 30)
}

fn train_args<'a>(tiny: &'a str, train: &'a str, out: &'a str, epochs: &'a str) -> Vec<&'a str> {
    let mut args = common::tiny_args("train", tiny, train, "mit-movie", out, epochs);
    args.extend(["--dev", train, "--batch-size", "8", "--full"]);
    args
}

/// Gold spans from predict's JSONL output (`tokens` are word indices within each sentence).
fn jsonl_spans(out: &[u8]) -> Vec<Vec<Span>> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let mut spans: Vec<Span> = v["entities"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    let t = &e["tokens"];
                    let sc = e["score"].as_f64().unwrap();
                    assert!(sc > 0.0 && sc <= 1.0, "score {sc}");
                    Span::new(
                        t[0].as_u64().unwrap() as usize,
                        t[1].as_u64().unwrap() as usize,
                        e["label"].as_str().unwrap(),
                    )
                })
                .collect();
            spans.sort();
            spans
        })
        .collect()
}

#[test]
fn train_then_eval_and_predict_in_fresh_processes() {
    let tmp = tempfile::tempdir().unwrap();
    let (train, gold) = movie30(tmp.path());
    let tiny = tmp.path().join("tiny");
    run(&["init-tiny", "--out", s(&tiny), "--vocab-from", s(&train)]);
    let pack = tmp.path().join("movie.pack");
    let o = run(&train_args(s(&tiny), s(&train), s(&pack), "60"));
    let text = String::from_utf8_lossy(&o.stdout);
    let micro = text.lines().find(|l| l.trim_start().starts_with("micro avg")).expect(&text);
    assert!(micro.contains("1.0000    1.0000    1.0000"), "training set not memorised:\n{text}");
    for f in ["manifest.json", "pack.safetensors", "metrics.jsonl", "training.svg"] {
        assert!(pack.join(f).is_file(), "{f} missing from the pack");
    }
    let log = std::fs::read_to_string(pack.join("metrics.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 60);
    // The tiny model's weights are below the system BLAS's size, so gemm did every product, and
    // the manifest says so (what multiplied decides a pack's last bits).
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(pack.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["training"]["products"], "gemm (pure Rust)", "{}", manifest["training"]);

    // eval, fresh process.
    let o = run(&["-q", "eval", "--pack", s(&pack), "--data", s(&train), "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["micro"]["f1"], 1.0);
    let o = run(&["-q", "eval", "--pack", s(&pack), "--data", s(&train), "--json", "--deepke-compat"]);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["deepke"]["scores"]["f"], 100.0, "{report}");
    assert_eq!(report["deepke"]["scores"]["em"], 1.0, "{report}");
    assert_eq!(report["deepke"]["sentences"], 30);

    let gold_spans: Vec<Vec<Span>> = gold.iter().map(|s| s.spans.clone()).collect();
    // predict: CoNLL in, CoNLL out.
    let out = tmp.path().join("pred.txt");
    run(&[
        "-q",
        "predict",
        "--pack",
        s(&pack),
        "--input",
        s(&train),
        "--format",
        "conll",
        "--output-format",
        "conll",
        "--output",
        s(&out),
    ]);
    let pred = data::read_file(&out, ReadOptions::default()).unwrap().sentences;
    assert_eq!(pred.iter().map(|s| s.spans.clone()).collect::<Vec<_>>(), gold_spans);

    // The same CoNLL file given as text (the default format) is tagged line by line, with a
    // warning that names the file and the flag to use.
    let o = run(&["predict", "--pack", s(&pack), "--input", s(&train), "--output", s(&out)]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("looks like CoNLL") && err.contains("--format conll") && err.contains(s(&train)),
        "{err}"
    );

    // predict: JSONL (tokens) in, JSONL out.
    let jl = tmp.path().join("train30.jsonl");
    data::write_file(&jl, &gold, Format::Jsonl(JsonlStyle::Tokens)).unwrap();
    let o = run(&["-q", "predict", "--pack", s(&pack), "--input", s(&jl), "--format", "jsonl"]);
    assert_eq!(jsonl_spans(&o.stdout), gold_spans);

    // predict: raw text on stdin, one document per line (sentences without punctuation, so that
    // the text splitter finds the same words as the CoNLL file).
    let plain: Vec<&Sentence> =
        gold.iter().filter(|s| s.words.iter().all(|w| w.chars().all(char::is_alphanumeric))).collect();
    assert!(plain.len() >= 20);
    let input: String = plain.iter().map(|s| format!("{}\n", s.words.join(" "))).collect();
    let mut child = bin()
        .args(["-q", "predict", "--pack", s(&pack), "--format", "text"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let expect: Vec<Vec<Span>> = plain.iter().map(|s| s.spans.clone()).collect();
    assert_eq!(jsonl_spans(&o.stdout), expect);
    // Plain text draws no CoNLL warning.
    let text_file = tmp.path().join("plain.txt");
    std::fs::write(&text_file, &input).unwrap();
    let o = run(&["predict", "--pack", s(&pack), "--input", s(&text_file), "--output", s(&out)]);
    assert!(!String::from_utf8_lossy(&o.stderr).contains("looks like CoNLL"));
    // Character offsets point at the entity text.
    for (line, s) in String::from_utf8_lossy(&o.stdout).lines().zip(&plain) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let text = v["text"].as_str().unwrap();
        for e in v["entities"].as_array().unwrap() {
            let (a, b) = (e["start"].as_u64().unwrap() as usize, e["end"].as_u64().unwrap() as usize);
            let got: String = text.chars().skip(a).take(b - a).collect();
            assert_eq!(got, e["text"].as_str().unwrap());
            let t = &e["tokens"];
            let words = s.words[t[0].as_u64().unwrap() as usize..t[1].as_u64().unwrap() as usize].join(" ");
            assert_eq!(got, words);
        }
    }
}

#[test]
fn a_killed_run_resumes_to_the_same_pack() {
    let tmp = tempfile::tempdir().unwrap();
    let (train, _) = movie30(tmp.path());
    let tiny = tmp.path().join("tiny");
    run(&["init-tiny", "--out", s(&tiny), "--vocab-from", s(&train)]);
    let a = tmp.path().join("a.pack");
    run(&train_args(s(&tiny), s(&train), s(&a), "30"));

    let b = tmp.path().join("b.pack");
    let ck = tmp.path().join("b.ckpt");
    let mut args = train_args(s(&tiny), s(&train), s(&b), "30");
    args.extend(["--checkpoint", s(&ck)]);
    // Kill it once a few epochs are checkpointed, then run the same command again.
    let mut child = bin().args(&args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let state = ck.join("state.json");
    let t0 = std::time::Instant::now();
    while !state.exists() && t0.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let _ = child.kill();
    let _ = child.wait();
    assert!(!b.exists(), "the run finished before it could be interrupted; the test needs a longer run");
    run(&args);
    assert_eq!(
        std::fs::read(a.join("pack.safetensors")).unwrap(),
        std::fs::read(b.join("pack.safetensors")).unwrap(),
        "the resumed run's pack differs from the uninterrupted run's"
    );
}
