//! The binary against hostile but realistic input: no panic, no silent accept, nothing of the
//! user's overwritten. Each test is one class of the hostile-input review; the inputs are built
//! here (some are megabytes) and the README of `tests/fixtures/bad-input/` lists them.

mod common;

use common::{bin, movie, run, s, tiny_args};
use std::process::Output;

fn lightner(args: &[&str]) -> Output {
    bin().args(args).output().expect("run lightner")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit code 101 is Rust's panic; a signal leaves no code at all.
fn assert_no_crash(o: &Output, what: &str) {
    let code = o.status.code();
    assert!(matches!(code, Some(0..=2)), "{what}: exit {code:?}\n{}", stderr(o));
    assert!(!stderr(o).contains("panicked"), "{what}: {}", stderr(o));
}

fn usage_error(o: &Output, needle: &str, what: &str) {
    assert_eq!(o.status.code(), Some(2), "{what}: {}", stderr(o));
    assert!(stderr(o).contains(needle), "{what}: expected {needle:?} in\n{}", stderr(o));
}

/// A type name longer than a format width may be (u16::MAX) went through every table printer.
#[test]
fn a_type_name_of_70_000_characters_prints_in_every_table() {
    let dir = tempfile::tempdir().unwrap();
    let long = "X".repeat(70_000);
    let file = dir.path().join("long.txt");
    std::fs::write(&file, format!("Ann\tB-{long}\nsleeps\tO\n\nBob\tB-PER\n")).unwrap();
    for args in [
        vec!["stats", s(&file)],
        vec!["score", "--gold", s(&file), "--pred", s(&file)],
        vec!["sample", "-i", s(&file), "-k", "1", "-s", "1", "-o", s(&dir.path().join("o.txt"))],
    ] {
        let o = lightner(&args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert!(String::from_utf8_lossy(&o.stdout).contains(&long), "{:?}", args[0]);
    }
}

/// Every numeric option is checked when parsed: NaN, infinities, negatives and out-of-range
/// values are usage errors that state the range.
#[test]
fn nonsense_numbers_are_usage_errors_naming_the_range() {
    let base = ["train", "--model", "m", "--train", "t", "--out", "o"];
    let cases: &[(&[&str], &str)] = &[
        (&["--weight-decay", "nan"], "finite"),
        (&["--weight-decay", "-0.1"], ">= 0"),
        (&["--warmup-ratio", "1.5"], "[0, 1]"),
        (&["--warmup-ratio=-inf"], "finite"),
        (&["--max-grad-norm", "-1"], ">= 0"),
        (&["--length-penalty", "NaN"], "finite"),
        (&["--lr", "0"], "greater than 0"),
        (&["--lr", "inf"], "finite"),
        (&["--alpha-lr", "-1"], "greater than 0"),
        (&["--alpha-init", "2"], "[0, 1]"),
        (&["--holdout", "1"], "[0, 1)"),
        (&["--prompt-len", "0"], "0 is not allowed"),
        (&["--prompt-dim", "0"], "0 is not allowed"),
        (&["--prompt-dim", "99999999999"], "too large"),
        (&["--epochs", "0"], "0 is not allowed"),
        (&["--patience", "0"], "0 is not allowed"),
        (&["--decode-batch", "0"], "0 is not allowed"),
        (&["--beams", "0"], "0"),
        (&["--alpha", "nan"], "[0, 1]"),
    ];
    for (extra, needle) in cases {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        usage_error(&lightner(&args), needle, &format!("{extra:?}"));
    }
    let tune = ["tune", "--model", "m", "--train", "t", "--out", "o"];
    for (extra, needle) in [
        (["--prompt-len", "0"], "0 is not allowed"),
        (["--prompt-dim", "0"], "0 is not allowed"),
        (["--grid", "0,nan"], "finite"),
        (["--lr", "1e-3,-1"], "greater than 0"),
        (["--folds", "1"], ">= 2"),
        (["--epochs", "0"], "0 is not allowed"),
    ] {
        let mut args = tune.to_vec();
        args.extend_from_slice(&extra);
        usage_error(&lightner(&args), needle, &format!("tune {extra:?}"));
    }
    for extra in [["--length-penalty", "-1"], ["--beams", "100000"]] {
        let mut args = vec!["predict", "--pack", "p"];
        args.extend_from_slice(&extra);
        assert_eq!(lightner(&args).status.code(), Some(2), "predict {extra:?}");
    }
    usage_error(&lightner(&["init-tiny", "--out", "x", "--d-model", "6"]), "multiple of 4", "init-tiny");
    usage_error(&lightner(&["init-tiny", "--out", "x", "--layers", "0"]), "0", "init-tiny layers");
}

/// `predict --output` naming its `--input` would replace the user's gold file.
#[test]
fn predict_refuses_to_write_over_its_input() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("gold.txt");
    std::fs::write(&input, "Ann\tB-PER\n").unwrap();
    let same = dir.path().join(".").join("gold.txt");
    let o = lightner(&["predict", "--pack", "nope", "--input", s(&input), "--output", s(&same)]);
    usage_error(&o, "is the input file", "predict");
    assert_eq!(std::fs::read_to_string(&input).unwrap(), "Ann\tB-PER\n");
}

/// An existing folder that lightner did not write is refused before any work (not after a whole
/// training), and nothing is left beside it.
#[test]
fn outputs_that_are_not_ours_are_refused_before_the_work() {
    let dir = tempfile::tempdir().unwrap();
    let user = dir.path().join("results");
    std::fs::create_dir(&user).unwrap();
    std::fs::write(user.join("thesis.tex"), "keep").unwrap();
    // No backbone `m` and no training file `t`: a refusal must come before either is needed.
    let o = lightner(&["train", "--model", "m", "--train", "t", "--out", s(&user)]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("is not a prompt pack"), "{}", stderr(&o));
    let o = lightner(&["train", "--model", "m", "--train", "t", "--out", "p", "--checkpoint", s(&user)]);
    assert!(stderr(&o).contains("is not a training checkpoint"), "{}", stderr(&o));
    let o = lightner(&["tune", "--model", "m", "--train", "t", "--out", s(&user)]);
    assert!(stderr(&o).contains("is not a lightner tune folder"), "{}", stderr(&o));
    let o = lightner(&["init-tiny", "--out", s(&user)]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(user.join("thesis.tex")).unwrap(), "keep");
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert_eq!(std::fs::read_dir(&user).unwrap().count(), 1);
}

/// A user's `P.tmp` next to `--out P` is none of lightner's business; a rerun of init-tiny over
/// its own folder replaces it.
#[test]
fn training_leaves_a_users_tmp_folder_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (train, _) = movie(dir.path(), 4);
    let tiny = dir.path().join("tiny");
    run(&["init-tiny", "--out", s(&tiny), "--vocab-from", s(&train)]);
    run(&["init-tiny", "--out", s(&tiny), "--vocab-from", s(&train), "--seed", "2"]);
    let pack = dir.path().join("p");
    let theirs = dir.path().join("p.tmp");
    std::fs::create_dir(&theirs).unwrap();
    std::fs::write(theirs.join("notes.txt"), "keep").unwrap();
    let mut args = tiny_args("train", s(&tiny), s(&train), "mit-movie", s(&pack), "1");
    args.extend(["--no-dropout"]);
    run(&args);
    run(&args); // replacing its own pack
    assert!(pack.join("manifest.json").is_file());
    assert_eq!(std::fs::read_to_string(theirs.join("notes.txt")).unwrap(), "keep");
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["p", "p.tmp", "tiny", "train4.txt"]);
}

/// An error about a 10 MB line quotes a bounded part of it.
#[test]
fn an_error_on_a_huge_line_is_short() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("huge.txt");
    std::fs::write(&file, format!("Ann\tB-PER\n{}\n", "w".repeat(10_000_000))).unwrap();
    let o = lightner(&["stats", s(&file)]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.len() < 1000, "{} bytes of error", err.len());
    assert!(err.contains(&format!("{}:2:", file.display())) && err.contains("elided"), "{err}");
}

/// Label maps: a byte-order mark is fine (as in data files); errors name the map file.
#[test]
fn label_maps_take_a_bom_and_errors_name_the_map() {
    let dir = tempfile::tempdir().unwrap();
    let (train, _) = movie(dir.path(), 4);
    let map = dir.path().join("map.json");
    std::fs::write(&map, "\u{feff}{\"ACTOR\": \"actor\", \"ACTOR\": \"star\"}").unwrap();
    let o = lightner(&["train", "--model", "m", "--train", s(&train), "--labels", s(&map), "--out", "p"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(&format!("{}:1: type \"ACTOR\" is listed twice", map.display())),
        "{}",
        stderr(&o)
    );
    // A map without a type of the data: the message names the map and the data line.
    std::fs::write(&map, "\u{feff}{\"ACTOR\": \"actor\"}").unwrap();
    let o = lightner(&["train", "--model", "m", "--train", s(&train), "--labels", s(&map), "--out", "p"]);
    let err = stderr(&o);
    assert!(
        err.contains(s(&map)) && err.contains(s(&train)) && err.contains("not in the label set"),
        "{err}"
    );
}

/// 100,000 entities in one JSONL record: offsets map in n log n, not words x entities (the
/// quadratic version took over a minute for 200,000 in a release build).
#[test]
fn a_record_with_100_000_entities_reads_in_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let n = 100_000;
    let text = vec!["Ann"; n].join(" ");
    let ents: Vec<String> =
        (0..n).map(|i| format!("{{\"start\":{},\"end\":{},\"label\":\"PER\"}}", 4 * i, 4 * i + 3)).collect();
    let file = dir.path().join("many.jsonl");
    std::fs::write(&file, format!("{{\"text\":\"{text}\",\"entities\":[{}]}}\n", ents.join(","))).unwrap();
    let start = std::time::Instant::now();
    let o = lightner(&["stats", "--json", s(&file)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["stats"]["entities"], n);
    // A bound, not a benchmark: linear work takes well under a second here, quadratic minutes.
    assert!(start.elapsed().as_secs() < 60, "{:?}", start.elapsed());
}

/// Gold in BIO, predictions that look IOB1: scored with the gold's scheme, with a warning.
#[test]
fn score_decodes_both_files_with_the_golds_scheme_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let gold = dir.path().join("gold.txt");
    let pred = dir.path().join("pred.txt");
    std::fs::write(&gold, "Ann\tB-PER\nmet\tO\nBob\tB-PER\n").unwrap();
    // `I-PER` after `O` opens an entity in IOB1, but is ill-formed (no entity) in strict BIO.
    std::fs::write(&pred, "Ann\tI-PER\nmet\tO\nBob\tI-PER\n").unwrap();
    let o = lightner(&["score", "--gold", s(&gold), "--pred", s(&pred), "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("scored as bio"), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["micro"]["f1"], 0.0, "{v}");
    // Told otherwise, both are IOB1, and the predictions match.
    let o = lightner(&["score", "--gold", s(&gold), "--pred", s(&pred), "--json", "--scheme", "iob1"]);
    assert_no_crash(&o, "score --scheme iob1");
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
}

/// A file to train on, test on or score that holds no sentence is refused by name, before any
/// model is opened: a report of zeros, or a pack trained on nothing, would pass for a result.
#[test]
fn files_with_no_sentences_are_refused_by_name_where_sentences_are_needed() {
    let dir = tempfile::tempdir().unwrap();
    let (train, _) = movie(dir.path(), 3);
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "").unwrap();
    let blank = dir.path().join("blank.txt");
    std::fs::write(&blank, "\r\n\n-DOCSTART- -X- O O\n\n").unwrap();
    let missing = dir.path().join("no-such-pack");
    let out = dir.path().join("out.pack");
    for file in [&empty, &blank] {
        let cases: [(Vec<&str>, &str); 5] = [
            (
                vec![
                    "train",
                    "--model",
                    s(&missing),
                    "--train",
                    s(file),
                    "--labels",
                    "mit-movie",
                    "--out",
                    s(&out),
                ],
                "to train on",
            ),
            (
                vec![
                    "train",
                    "--model",
                    s(&missing),
                    "--train",
                    s(&train),
                    "--test",
                    s(file),
                    "--labels",
                    "mit-movie",
                    "--out",
                    s(&out),
                ],
                "to test on",
            ),
            (
                vec![
                    "train",
                    "--model",
                    s(&missing),
                    "--train",
                    s(&train),
                    "--dev",
                    s(file),
                    "--labels",
                    "mit-movie",
                    "--out",
                    s(&out),
                ],
                "to pick epochs with",
            ),
            (vec!["eval", "--pack", s(&missing), "--data", s(file)], "to score"),
            (vec!["score", "--gold", s(file), "--pred", s(&train)], "to score against"),
        ];
        for (args, purpose) in cases {
            let o = lightner(&args);
            assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
            let err = stderr(&o);
            assert!(err.contains(&format!("{}: no sentences in this file", s(file))), "{args:?}: {err}");
            assert!(err.contains(purpose), "{args:?}: {err}");
        }
    }
    assert!(!out.exists(), "nothing was written");
    // `predict` takes empty input and writes no sentence.
    let o = lightner(&["predict", "--pack", s(&missing), "--input", s(&empty)]);
    assert_no_crash(&o, "predict on an empty file");
}
