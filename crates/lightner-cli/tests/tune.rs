//! `lightner tune` and `train --alpha learn` end to end on a tiny random backbone, each command in
//! its own process. The tiny model cannot generalise to held-out folds, so these tests check the
//! search's mechanics — every training run once, a killed search resumed without redoing any
//! finished training, the report, plot and best pack — not its scores.

mod common;

use common::{bin, run, s};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

fn tune_args<'a>(tiny: &'a str, train: &'a str, out: &'a str) -> Vec<&'a str> {
    let mut args = common::tiny_args("tune", tiny, train, "mit-movie", out, "3");
    args.extend(["--seeds", "1", "--folds", "2", "--batch-size", "8", "--full"]);
    args
}

fn log_lines(out: &Path) -> Vec<String> {
    std::fs::read_to_string(out.join("trials.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// (trial, seed, fold) of every finished unit in the log.
fn unit_keys(lines: &[String]) -> Vec<(u64, u64, u64)> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["kind"] == "unit")
        .map(|v| (v["trial"].as_u64().unwrap(), v["seed"].as_u64().unwrap(), v["fold"].as_u64().unwrap()))
        .collect()
}

fn setup(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (train, _) = common::movie(dir, 24);
    let tiny = dir.join("tiny");
    run(&["init-tiny", "--out", s(&tiny), "--vocab-from", s(&train), "--seed", "3"]);
    (tiny, train)
}

/// The header line of a one-trial, one-epoch search (not quiet) on `threads` threads, with
/// `extra` flags.
fn tune_header(threads: &'static str, extra: &[&'static str]) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let (tiny, train) = setup(tmp.path());
    let out = tmp.path().join("search");
    let mut args: Vec<&str> =
        tune_args(s(&tiny), s(&train), s(&out)).into_iter().filter(|a| *a != "-q").collect();
    let set = |args: &mut Vec<&str>, flag: &str, value: &'static str| {
        let i = args.iter().position(|a| *a == flag).unwrap() + 1;
        args[i] = value;
    };
    set(&mut args, "--epochs", "1");
    set(&mut args, "--threads", threads);
    args.extend(["--grid", "0.5"]);
    args.extend(extra);
    let o = run(&args);
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .find(|l| l.contains("trainings,"))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn tune_runs_one_training_per_thread_by_default() {
    let h = tune_header("2", &[]);
    assert!(h.contains("2 trainings, 2 at a time"), "{h}");
    let h = tune_header("1", &[]);
    assert!(h.contains("2 trainings, 1 at a time"), "{h}");
    let h = tune_header("2", &["--jobs", "1"]);
    assert!(h.contains("2 trainings, 1 at a time"), "{h}");
}

#[test]
fn a_killed_grid_search_resumes_without_redoing_finished_trainings() {
    let tmp = tempfile::tempdir().unwrap();
    let (tiny, train) = setup(tmp.path());
    let out = tmp.path().join("search");
    let mut args = tune_args(s(&tiny), s(&train), s(&out));
    args.extend(["--grid", "0,0.25,0.5,0.75,1"]);
    let total = 5 * 2;

    // Kill the search once two trainings are logged.
    let mut child = bin().args(&args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let t0 = std::time::Instant::now();
    while unit_keys(&log_lines(&out)).len() < 2 && t0.elapsed() < Duration::from_secs(300) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    let before = log_lines(&out);
    let done_before = unit_keys(&before);
    assert!(done_before.len() >= 2, "no training finished within the time limit");
    assert!(done_before.len() < total, "the search finished before it could be interrupted; lengthen it");
    assert!(!out.join("report.md").exists());

    // Other settings on the same folder are refused, naming what changed.
    let mut other = args.clone();
    let folds = other.iter().position(|a| *a == "--folds").unwrap() + 1;
    other[folds] = "3";
    let o = bin().args(&other).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("folds was 2, now 3"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // The same command resumes (two trainings at a time now: --jobs is not a setting).
    let mut resumed = args.clone();
    resumed.extend(["--jobs", "2"]);
    let o = run(&resumed);
    let after = log_lines(&out);
    let keys = unit_keys(&after);
    assert_eq!(keys.len(), total, "every training exactly once");
    assert_eq!(keys.iter().collect::<BTreeSet<_>>().len(), total, "a training was redone: {keys:?}");
    // The earlier lines are kept as they were (a torn last line may be dropped).
    let kept = before.len()
        - usize::from(serde_json::from_str::<serde_json::Value>(before.last().unwrap()).is_err());
    assert_eq!(after[..kept], before[..kept]);

    let stdout = String::from_utf8_lossy(&o.stdout);
    let best: f64 = stdout
        .split("**best:** alpha ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no best line in:\n{stdout}"));
    assert!(stdout.matches("| grid |").count() == 5, "{stdout}");
    for f in ["report.md", "alpha.svg", "best.pack/manifest.json", "best.pack/pack.safetensors"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let svg = std::fs::read_to_string(out.join("alpha.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains("F1 against alpha"));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("best.pack/manifest.json")).unwrap()).unwrap();
    assert!((alpha_of(&manifest) - best).abs() < 1e-6, "{manifest}");

    // A third run finds everything done and trains nothing but the best pack.
    run(&args);
    assert_eq!(unit_keys(&log_lines(&out)).len(), total);
}

#[test]
fn bayesian_search_starts_from_its_design_and_spends_its_budget() {
    let tmp = tempfile::tempdir().unwrap();
    let (tiny, train) = setup(tmp.path());
    let out = tmp.path().join("bayes");
    let mut args = tune_args(s(&tiny), s(&train), s(&out));
    args.extend(["--bayes", "4", "--alpha-range", "0.2,0.8"]);
    run(&args);
    let trials: Vec<serde_json::Value> = log_lines(&out)
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == "trial")
        .collect();
    assert_eq!(trials.len(), 4);
    let alphas: Vec<f64> = trials.iter().map(|t| t["config"]["alpha"].as_f64().unwrap()).collect();
    assert_eq!(&alphas[..3], &[0.2, 0.8, 0.5]);
    assert_eq!(trials[3]["origin"], "bayes");
    assert!((0.2..=0.8).contains(&alphas[3]) && alphas[..3].iter().all(|a| (a - alphas[3]).abs() >= 5e-3));
    assert_eq!(unit_keys(&log_lines(&out)).len(), 4 * 2);
}

#[test]
fn a_learnt_alpha_reports_its_trajectory() {
    let tmp = tempfile::tempdir().unwrap();
    let (tiny, train) = setup(tmp.path());
    let pack = tmp.path().join("learn.pack");
    let mut args = common::tiny_args("train", s(&tiny), s(&train), "mit-movie", s(&pack), "4");
    args.extend(["--alpha", "learn", "--alpha-init", "0.3", "--holdout", "0"]);
    let o = run(&args);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("learnt from 0.300"), "{stdout}");
    let alphas: Vec<f64> = std::fs::read_to_string(pack.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["alpha"].as_f64().unwrap())
        .collect();
    assert_eq!(alphas.len(), 4);
    assert!(alphas.iter().all(|a| (a - 0.3).abs() > 1e-6), "alpha never moved: {alphas:?}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(pack.join("manifest.json")).unwrap()).unwrap();
    assert!((alpha_of(&manifest) - alphas[3]).abs() < 1e-6, "{manifest}");
    // `learn` is the only word --alpha takes besides a number.
    let o = bin()
        .args(["train", "--model", "x", "--train", "x", "--out", "x", "--alpha", "1.5"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

/// The α a pack uses, from its manifest: `{"fixed": v}`, or `{"learnt": {"value": v, ...}}`.
fn alpha_of(manifest: &serde_json::Value) -> f64 {
    let a = &manifest["model"]["alpha"];
    a["fixed"].as_f64().or_else(|| a["learnt"]["value"].as_f64()).unwrap_or_else(|| panic!("no alpha in {a}"))
}
