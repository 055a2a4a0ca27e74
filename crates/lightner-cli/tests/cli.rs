//! End-to-end tests of the `lightner` binary: real data files, exit codes, messages.

use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data").join(rel)
}

fn lightner(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lightner")).args(args).output().expect("run lightner")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// `stats --json` of one file, as the `stats` object.
fn stats_json(path: &Path) -> serde_json::Value {
    let o = lightner(&["stats", "--json", s(path)]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stats --json prints JSON");
    v[0]["stats"].clone()
}

#[test]
fn stats_counts_the_mit_movie_10_shot_file() {
    let path = data("mit-movie/10-shot-train.txt");
    let st = stats_json(&path);
    assert_eq!(st["sentences"], 51);
    assert_eq!(st["tokens"], 505);
    assert_eq!(st["entities"], 107);
    assert_eq!(st["per_type"].as_object().map(|m| m.len()), Some(12));

    let o = lightner(&["stats", s(&path)]);
    assert_eq!(o.status.code(), Some(0));
    let table = stdout(&o);
    for (name, n) in [("sentences", "51"), ("tokens", "505"), ("entities", "107")] {
        assert!(
            table.lines().any(|l| l.starts_with(name) && l.split_whitespace().last() == Some(n)),
            "no `{name} {n}` row in:\n{table}"
        );
    }
    assert!(table.contains("ACTOR"), "{table}");
}

#[test]
fn stats_json_lists_every_file() {
    let a = data("mit-movie/10-shot-train.txt");
    let b = data("mit-restaurant/10-shot-train.txt");
    let o = lightner(&["stats", "--json", s(&a), s(&b)]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v.as_array().map(Vec::len), Some(2));
    assert_eq!(v[0]["format"], "conll");
    assert_eq!(v[0]["scheme"], "bio");
}

#[test]
fn sample_is_k_shot_reproducible_and_readable() {
    let dir = tempfile::tempdir().unwrap();
    let input = data("mit-movie/train.txt");
    let (a, b) = (dir.path().join("a.txt"), dir.path().join("b.txt"));
    for out in [&a, &b] {
        let o = lightner(&["sample", "--input", s(&input), "--k", "5", "--seed", "1", "--output", s(out)]);
        assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
        assert!(stdout(&o).contains("ACTOR"), "per-type report: {}", stdout(&o));
    }
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap(), "same seed, different files");

    let full = stats_json(&input);
    let st = stats_json(&a);
    let sampled = st["per_type"].as_object().unwrap();
    assert_eq!(sampled.len(), full["per_type"].as_object().unwrap().len(), "a type is missing");
    for (ty, n) in sampled {
        assert!(n.as_u64().unwrap() >= 5, "{ty} has {n} mentions");
    }
    assert_eq!(st["sentences_without_entities"], 0);

    // Another seed draws another sample.
    let c = dir.path().join("c.txt");
    let o = lightner(&["sample", "-i", s(&input), "-k", "5", "-s", "2", "-o", s(&c)]);
    assert_eq!(o.status.code(), Some(0));
    assert_ne!(std::fs::read(&a).unwrap(), std::fs::read(&c).unwrap());
}

#[test]
fn sample_converts_formats() {
    let dir = tempfile::tempdir().unwrap();
    let input = data("mit-restaurant/10-shot-train.txt");
    let out = dir.path().join("s.jsonl");
    let o = lightner(&[
        "sample",
        "-i",
        s(&input),
        "-k",
        "2",
        "-s",
        "0",
        "-o",
        s(&out),
        "--format",
        "jsonl-tokens",
    ]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with("{\"tokens\""), "{text}");
    let o = lightner(&["stats", "--json", s(&out)]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["format"], "jsonl-tokens");
}

#[test]
fn bad_input_is_a_runtime_error_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, "the\tO\ncat\tB-ANIMAL\n\nbroken\n").unwrap();
    let o = lightner(&["stats", s(&bad)]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(&format!("{}:4", bad.display())), "no file:line in {err}");

    let missing = dir.path().join("missing.txt");
    let o = lightner(&["stats", s(&missing)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("missing.txt"), "{}", stderr(&o));

    // A failed sample leaves no output behind.
    let out = dir.path().join("out.txt");
    let o = lightner(&["sample", "-i", s(&bad), "-k", "1", "-s", "1", "-o", s(&out)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!out.exists());
}

#[test]
fn usage_errors_exit_2() {
    let input = data("mit-movie/10-shot-train.txt");
    let out = std::env::temp_dir().join("lightner-cli-test-never-written.txt");
    let cases: [&[&str]; 5] = [
        &["stats", "--no-such-flag", s(&input)],
        &["stats"],
        &["stats", "--scheme", "iobx", s(&input)],
        &["sample", "-i", s(&input), "-k", "0", "-s", "1", "-o", s(&out)],
        &["frobnicate"],
    ];
    for args in cases {
        let o = lightner(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("error"), "{args:?}: {}", stderr(&o));
    }
    assert!(stderr(&lightner(cases[3])).contains("at least 1"));
    assert!(!out.exists());
}

#[test]
fn sample_refuses_to_overwrite_its_input() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("train.txt");
    std::fs::copy(data("mit-movie/10-shot-train.txt"), &input).unwrap();
    let before = std::fs::read(&input).unwrap();
    let same = dir.path().join(".").join("train.txt");
    let o = lightner(&["sample", "-i", s(&input), "-k", "1", "-s", "1", "-o", s(&same)]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("input"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&input).unwrap(), before);
}

#[test]
fn help_and_version_exit_0() {
    let o = lightner(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    let help = stdout(&o);
    for sub in ["stats", "sample"] {
        assert!(help.contains(sub), "--help does not mention {sub}:\n{help}");
    }
    assert!(help.contains("Examples"), "{help}");
    for sub in ["stats", "sample"] {
        let o = lightner(&[sub, "--help"]);
        assert_eq!(o.status.code(), Some(0));
        assert!(stdout(&o).contains("Examples"), "{sub} --help");
    }
    let o = lightner(&["--version"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).starts_with("lightner "));
}

#[test]
fn quiet_hides_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("ill.txt");
    // An I- after O is no entity under seqeval's strict rules, and is reported.
    std::fs::write(&f, "a\tO\nb\tI-X\n\nc\tB-X\n").unwrap();
    let o = lightner(&["stats", s(&f)]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).contains(&format!("{}:2: warning", f.display())), "{}", stderr(&o));
    let o = lightner(&["--quiet", "stats", s(&f)]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stderr(&o), "");
}

#[test]
fn score_reports_per_type_and_micro_scores() {
    let gold = data("mit-movie/10-shot-train.txt");
    let text = std::fs::read_to_string(&gold).unwrap();
    // Predictions that miss every ACTOR (13 of 107 entities) and get the rest right.
    let pred_text = text.replace("B-ACTOR", "O").replace("I-ACTOR", "O");
    let dir = tempfile::tempdir().unwrap();
    let pred = dir.path().join("pred.txt");
    std::fs::write(&pred, pred_text).unwrap();
    let o = lightner(&["score", "--gold", s(&gold), "--pred", s(&pred), "--json"]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["per_type"]["ACTOR"]["recall"], 0.0);
    assert_eq!(v["per_type"]["ACTOR"]["support"], 13);
    assert_eq!(v["per_type"]["GENRE"]["f1"], 1.0);
    assert_eq!(v["micro"]["precision"], 1.0);
    assert!((v["micro"]["recall"].as_f64().unwrap() - 94.0 / 107.0).abs() < 1e-12);

    let table = lightner(&["score", "--gold", s(&gold), "--pred", s(&pred)]);
    assert!(stdout(&table).contains("micro avg"), "{}", stdout(&table));

    // Different sentences: a runtime error that names both files.
    let other = data("mit-movie/20-shot-train.txt");
    let o = lightner(&["score", "--gold", s(&gold), "--pred", s(&other)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("10-shot-train.txt") && stderr(&o).contains("20-shot-train.txt"));
}

#[test]
fn bench_runs_on_the_tiny_shape() {
    let o = lightner(&["--threads", "1", "bench", "--shape", "tiny", "--repeats", "1", "--json"]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for k in ["forward_ms", "fwd_bwd_ms", "train_step_ms", "greedy_ms"] {
        let (median, best) = (v[k][0].as_f64().unwrap(), v[k][1].as_f64().unwrap());
        assert!(median >= best && best > 0.0, "{k}: {median} {best}");
    }
    assert!(v["greedy_tokens"].as_u64().unwrap() > 0);
    assert!(v["trainable_params"].as_u64().unwrap() > 0);
}

/// The malloc settings a model command ends up running with (bench reports them), given the
/// environment it was started with.
fn bench_malloc(env: &[(&str, &str)]) -> serde_json::Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lightner"));
    cmd.env_remove("GLIBC_TUNABLES").env_remove("LIGHTNER_SYSTEM_MALLOC").envs(env.iter().copied());
    let o = cmd
        .args(["-q", "--threads", "1", "bench", "--shape", "tiny", "--repeats", "1", "--json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["glibc_tunables"].clone()
}

#[test]
fn model_commands_run_with_tuned_malloc_unless_the_user_says_otherwise() {
    let tuned = "glibc.malloc.mmap_threshold=268435456:glibc.malloc.trim_threshold=4294967296";
    // glibc on Linux: the binary re-executes itself with the settings.
    let expected =
        if cfg!(all(target_os = "linux", target_env = "gnu")) { json!(tuned) } else { json!(null) };
    assert_eq!(bench_malloc(&[]), expected);
    // A user's own GLIBC_TUNABLES is kept as it is; the opt-out keeps the defaults.
    assert_eq!(
        bench_malloc(&[("GLIBC_TUNABLES", "glibc.malloc.arena_max=2")]),
        json!("glibc.malloc.arena_max=2")
    );
    assert_eq!(bench_malloc(&[("LIGHTNER_SYSTEM_MALLOC", "1")]), json!(null));
}

/// The library that multiplies, as `bench --json` reports it, given `LIGHTNER_BLAS`.
fn bench_products(blas: Option<&str>) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lightner"));
    cmd.env_remove("LIGHTNER_BLAS");
    if let Some(v) = blas {
        cmd.env("LIGHTNER_BLAS", v);
    }
    let o = cmd
        .args(["-q", "--threads", "1", "bench", "--shape", "tiny", "--repeats", "1", "--json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let v = serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap();
    v["products"].as_str().expect("bench names the library that multiplies").to_string()
}

#[test]
fn the_system_blas_is_used_where_found_and_the_variable_turns_it_off_or_picks_a_file() {
    assert_eq!(bench_products(Some("off")), "gemm (pure Rust): LIGHTNER_BLAS is off");
    // A file that is not there: the model still runs, on gemm, and the report says why.
    let missing = bench_products(Some("/nonexistent/libopenblas.so"));
    assert!(missing.starts_with("gemm (pure Rust): /nonexistent/libopenblas.so"), "{missing}");
    // CI installs Debian's OpenBLAS (`.ci/run`); elsewhere it may be missing.
    let found = bench_products(None);
    if std::env::var_os("CI").is_some() {
        assert!(found.starts_with("OpenBLAS (libopenblas.so.0"), "{found}");
    } else {
        assert!(found.starts_with("OpenBLAS (") || found.starts_with("gemm (pure Rust): "), "{found}");
    }
}

/// `--device cuda` in a build without the `cuda` feature: a runtime error that says how to
/// rebuild (a typo of the device name is a usage error, tested in `cli.rs`).
#[test]
#[cfg(not(feature = "cuda"))]
fn a_cuda_device_without_the_feature_says_how_to_rebuild() {
    let o = lightner(&["bench", "--shape", "tiny", "--repeats", "1", "--device", "cuda:0"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("--features"), "{}", stderr(&o));
}
