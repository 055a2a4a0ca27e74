//! Fuzzing of the command line's validation (tests only): arbitrary values for every numeric
//! flag of every command either parse to a value inside the flag's range or are a usage error
//! (exit 2) with a bounded message — never a panic, never NaN or an out-of-range value that
//! reaches a command. `PROPTEST_CASES=N` sets the cases per property (256 by default).

use crate::cli::{Cli, Command};
use clap::Parser;
use proptest::prelude::*;

/// Arbitrary flag values: numbers of every kind, special spellings, and junk.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<f64>().prop_map(|x| x.to_string()),
        any::<i64>().prop_map(|x| x.to_string()),
        any::<u64>().prop_map(|x| x.to_string()),
        (-3.0f64..3.0).prop_map(|x| format!("{x}")),
        prop::sample::select(vec![
            "nan", "NaN", "-nan", "inf", "-inf", "infinity", "1e309", "-0", "0", "1", "-1", "0.5", "1e-400",
            "", " ", "1,2", "0x10", "1_000", "１", "5e-5", "+3", "00", "1.", ".5", "4096", "4097", "16385",
        ])
        .prop_map(String::from),
        "\\PC{0,12}",
    ]
}

/// (command line before the flag, flag, its range as a predicate over what parsed).
fn cases() -> Vec<(Vec<&'static str>, &'static str)> {
    let train = vec!["lightner", "train", "--model", "m", "--train", "t", "--out", "o"];
    let tune = vec!["lightner", "tune", "--model", "m", "--train", "t", "--out", "o"];
    let predict = vec!["lightner", "predict", "--pack", "p"];
    let mut out = Vec::new();
    for f in [
        "--epochs",
        "--lr",
        "--warmup-ratio",
        "--weight-decay",
        "--max-grad-norm",
        "--holdout",
        "--alpha",
        "--alpha-init",
        "--alpha-lr",
        "--prompt-len",
        "--prompt-dim",
        "--patience",
        "--batch-size",
        "--beams",
        "--length-penalty",
        "--decode-batch",
        "--eval-from",
        "--seed",
    ] {
        out.push((train.clone(), f));
    }
    for f in [
        "--grid",
        "--bayes",
        "--alpha-range",
        "--lr",
        "--prompt-len",
        "--epochs",
        "--seeds",
        "--folds",
        "--jobs",
        "--prompt-dim",
        "--batch-size",
    ] {
        out.push((tune.clone(), f));
    }
    for f in ["--beams", "--length-penalty", "--decode-batch", "--threads"] {
        out.push((predict.clone(), f));
    }
    out.push((vec!["lightner", "init-tiny", "--out", "x"], "--d-model"));
    out.push((vec!["lightner", "init-tiny", "--out", "x"], "--layers"));
    out.push((vec!["lightner", "init-tiny", "--out", "x"], "--positions"));
    out.push((vec!["lightner", "sample", "-i", "a", "-s", "1", "-o", "b"], "-k"));
    out.push((vec!["lightner", "bench"], "--repeats"));
    out
}

fn finite_in(x: f64, lo: f64, hi: f64) -> bool {
    x.is_finite() && (lo..=hi).contains(&x)
}

/// > 0 and kept by a 32-bit float.
fn positive(x: f64) -> bool {
    x > 0.0 && (x as f32).is_normal()
}

/// >= 0 and kept by a 32-bit float.
fn non_negative(x: f64) -> bool {
    x == 0.0 || positive(x)
}

/// Every numeric setting of a parsed command line is inside its range.
fn in_range(cli: &Cli) -> bool {
    let threads = cli.global.threads.is_none_or(|t| (1..=1024).contains(&t));
    threads
        && match &cli.command {
            Command::Train(a) => {
                a.epochs >= 1
                    && positive(a.lr)
                    && finite_in(a.warmup_ratio, 0.0, 1.0)
                    && non_negative(a.weight_decay)
                    && non_negative(a.max_grad_norm)
                    && finite_in(a.holdout, 0.0, 1.0)
                    && a.holdout < 1.0
                    && finite_in(a.alpha_init, 0.0, 1.0)
                    && positive(a.alpha_lr)
                    && (1..=512).contains(&a.prompt_len)
                    && (1..=16_384).contains(&a.training.prompt_dim)
                    && a.patience.is_none_or(|p| p >= 1)
                    && (1..=4096).contains(&a.training.batch_size)
                    && match a.alpha {
                        Some(crate::cli::AlphaArg::Fixed(x)) => finite_in(x, 0.0, 1.0),
                        _ => true,
                    }
                    && decode_ok(&a.decode)
            }
            Command::Tune(a) => {
                a.grid.iter().all(|&x| finite_in(x, 0.0, 1.0))
                    && a.alpha_range.iter().all(|&x| finite_in(x, 0.0, 1.0))
                    && a.lr.iter().all(|&x| positive(x))
                    && a.prompt_len.iter().all(|p| (1..=512).contains(p))
                    && a.epochs.iter().all(|&e| e >= 1)
                    && a.folds >= 2
                    && a.jobs.is_none_or(|j| j >= 1)
                    && a.bayes.is_none_or(|b| b >= 3)
                    && (1..=16_384).contains(&a.training.prompt_dim)
                    && decode_ok(&a.decode)
            }
            Command::Predict(a) => decode_ok(&a.decode),
            Command::InitTiny(a) => {
                a.d_model % 4 == 0
                    && (4..=4096).contains(&a.d_model)
                    && (1..=48).contains(&a.layers)
                    && (8..=8192).contains(&a.positions)
            }
            Command::Sample(a) => a.k >= 1,
            Command::Bench(a) => a.repeats >= 1,
            _ => true,
        }
}

fn decode_ok(d: &crate::cli::DecodeArgs) -> bool {
    d.beams.is_none_or(|b| (1..=128).contains(&b))
        && d.length_penalty.is_none_or(non_negative)
        && d.decode_batch.is_none_or(|b| (1..=4096).contains(&b))
}

proptest! {
    #[test]
    fn numeric_flags_parse_into_their_range_or_are_usage_errors(case in 0usize..1000, v in value()) {
        let all = cases();
        let (base, flag) = &all[case % all.len()];
        let mut args: Vec<String> = base.iter().map(|s| s.to_string()).collect();
        // `--flag=value`, so that a value starting with '-' is a value, not a flag.
        args.push(format!("{flag}={v}"));
        match Cli::try_parse_from(&args) {
            Ok(cli) => prop_assert!(in_range(&cli), "{args:?} parsed out of range: {cli:?}"),
            Err(e) => {
                prop_assert_eq!(e.exit_code(), 2, "{:?}: {}", args, e);
                prop_assert!(e.to_string().chars().count() < 2000);
            }
        }
    }
}
