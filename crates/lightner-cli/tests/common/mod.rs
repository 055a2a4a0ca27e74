//! Helpers shared by the CLI's end-to-end tests: the binary under test, running it, paths as
//! arguments, and small training files cut from the data folder.
#![allow(dead_code)] // each test file uses a different subset

use lightner::data::{self, Format, ReadOptions, Sentence};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `lightner` binary built for these tests.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lightner"))
}

/// Runs `lightner args…` and asserts that it succeeds.
pub fn run(args: &[&str]) -> Output {
    let o = bin().args(args).output().expect("run lightner");
    assert_eq!(o.status.code(), Some(0), "lightner {args:?} failed:\n{}", String::from_utf8_lossy(&o.stderr));
    o
}

/// A path as a command-line argument.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// The arguments every tiny-backbone training in these tests starts from: quiet, one thread,
/// and a high learning rate with a small prompt, so that a few epochs learn something. Callers
/// append what their test is about.
pub fn tiny_args<'a>(
    command: &'a str,
    model: &'a str,
    train: &'a str,
    labels: &'a str,
    out: &'a str,
    epochs: &'a str,
) -> Vec<&'a str> {
    vec![
        "-q",
        "--threads",
        "1",
        command,
        "--model",
        model,
        "--train",
        train,
        "--labels",
        labels,
        "--out",
        out,
        "--epochs",
        epochs,
        "--lr",
        "1e-2",
        "--prompt-len",
        "4",
        "--prompt-dim",
        "32",
    ]
}

/// The first `n` sentences of MIT-Movie's 10-shot training file, written to `dir` as CoNLL.
pub fn movie(dir: &Path, n: usize) -> (PathBuf, Vec<Sentence>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mit-movie/10-shot-train.txt");
    let sents: Vec<Sentence> =
        data::read_file(&src, ReadOptions::default()).unwrap().sentences.into_iter().take(n).collect();
    let path = dir.join(format!("train{n}.txt"));
    data::write_file(&path, &sents, Format::Conll(data::TagScheme::Bio)).unwrap();
    (path, sents)
}
