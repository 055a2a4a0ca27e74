//! `lightner tune`: search α (and learning rate, prompt length, epochs) by held-out F1 with a
//! live table and a resumable trial log; then the report, the F1-against-α plot and the best
//! configuration trained on all the data.

use super::train::{save_pack, train_what};
use super::{Labelled, decode_settings, guard, load_training, progress_bar, say, set_threads};
use crate::cli::{GlobalArgs, TuneArgs};
use crate::plot;
use anyhow::{Context, bail};
use lightner::data::Sentence;
use lightner::pipeline::pack::PACK_DIR;
use lightner::pipeline::session::{self, TrainJob};
use lightner::pipeline::tuning::{TuneData, TuneSetup};
use lightner::pipeline::{DecodeSettings, ModelSpec, PromptSize};
use lightner::train::{Observer, TrainConfig};
use lightner::tune::{self, Bayes, Event, Plan, Strategy, TrialConfig, TrialLog, TrialSummary};
use std::io::Write;
use std::path::Path;

/// Checks what the flag parsers cannot see alone (every number is range-checked when parsed, see
/// `values`): combinations of flags, and the output folder.
fn check(args: &TuneArgs) -> anyhow::Result<()> {
    let &[lo, hi] = args.alpha_range.as_slice() else {
        bail!("--alpha-range takes two values, LO,HI");
    };
    if lo >= hi {
        bail!("--alpha-range {lo},{hi} must be two increasing values in [0, 1]");
    }
    if args.bayes.is_some() && (args.lr.len() > 1 || args.prompt_len.len() > 1 || args.epochs.len() > 1) {
        bail!(
            "--bayes searches alpha only: give one value each to --lr, --prompt-len and --epochs (or use --grid)"
        );
    }
    let inputs = args.data.files();
    guard::output_not_input("tune", "--out", &args.out, &inputs)?;
    lightner::io::check_dir_target(&args.out, TUNE_DIR)?;
    lightner::io::check_dir_target(&args.out.join("best.pack"), PACK_DIR)?;
    let mut seeds = args.seeds.clone();
    seeds.sort_unstable();
    seeds.dedup();
    if seeds.len() != args.seeds.len() {
        bail!("--seeds lists a seed twice");
    }
    Ok(())
}

/// A tune folder: one holding the trial log (it is resumed, and its files are replaced).
const TUNE_DIR: lightner::io::DirKind =
    lightner::io::DirKind { what: "lightner tune folder", is_ours: |d| d.join("trials.jsonl").is_file() };

/// The grid: every combination of the listed values (α varies fastest).
fn grid(args: &TuneArgs) -> Vec<TrialConfig> {
    let alphas: Vec<f64> = if args.grid.is_empty() {
        (0..=10).map(|i| f64::from(i) / 10.0).collect()
    } else {
        args.grid.clone()
    };
    let mut out = Vec::new();
    for &lr in &args.lr {
        for &prompt_len in &args.prompt_len {
            for &epochs in &args.epochs {
                for &alpha in &alphas {
                    out.push(TrialConfig { alpha, lr, prompt_len, epochs });
                }
            }
        }
    }
    out
}

/// FNV-1a of a file's bytes: a resumed search must see the same data.
fn file_hash(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(lightner::pipeline::backbone::fnv_hex(&bytes))
}

/// The default `--jobs` never exceeds this: every concurrent training holds its own activations
/// and optimizer state (about 0.6 GB for MiniLM prompts, several GB for bart-large).
const MAX_DEFAULT_JOBS: usize = 4;

/// Runs `lightner tune`.
pub fn run(global: &GlobalArgs, args: &TuneArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    check(args)?;
    set_threads(global)?;
    let (Labelled { train, dev, test, labels }, bb) = load_training(global, &args.data)?;
    let spec = ModelSpec {
        prompt: Some(PromptSize { len: args.prompt_len[0], dim: args.training.prompt_dim }),
        lora: args.training.lora(),
        ..ModelSpec::default()
    };
    let config = TrainConfig {
        batch_size: args.training.batch_size as usize,
        dropout: !args.training.no_dropout,
        train: train_what(&bb, &args.training, global.quiet),
        ..TrainConfig::default()
    };
    let decoding = decode_settings(DecodeSettings::default(), &args.decode);
    let strategy = match args.bayes {
        Some(n) => Strategy::Bayes(Bayes {
            budget: n as usize,
            range: (args.alpha_range[0], args.alpha_range[1]),
            base: TrialConfig {
                alpha: 0.5,
                lr: args.lr[0],
                prompt_len: args.prompt_len[0],
                epochs: args.epochs[0],
            },
            seed: 0,
        }),
        None => Strategy::Grid(grid(args)),
    };
    let data = TuneData { train, dev, folds: args.folds };
    let plan = Plan {
        strategy: strategy.clone(),
        seeds: args.seeds.clone(),
        folds: data.folds_per_seed(),
        // Trainings side by side use the cores better than one training on all of them: on 2
        // cores, two one-thread MiniLM trainings did 1.9x the work of one on two threads
        // (docs/results.md), because the small per-layer operations of a few-shot batch do not
        // split well over threads.
        jobs: args.jobs.map_or_else(|| rayon::current_num_threads().min(MAX_DEFAULT_JOBS), |j| j as usize),
    };
    // Everything that changes what a finished unit means; `--jobs` and `--test` do not.
    let settings = serde_json::json!({
        "backbone": bb.id, "backbone_hash": bb.weights_hash,
        "train": file_hash(&args.data.train)?,
        "dev": args.data.dev.as_deref().map(file_hash).transpose()?,
        "labels": labels.labels().iter().map(|l| format!("{l:?}")).collect::<Vec<_>>(),
        "strategy": match &strategy {
            Strategy::Grid(g) => serde_json::json!({"grid": g}),
            Strategy::Bayes(b) => serde_json::json!({"bayes": b.budget, "range": [b.range.0, b.range.1], "base": b.base}),
        },
        "seeds": args.seeds, "folds": plan.folds,
        "config": config, "prompt_dim": args.training.prompt_dim, "decoding": format!("{decoding:?}"),
    });
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let mut log = TrialLog::open(&args.out.join("trials.jsonl"), &settings)?;
    let per_trial = plan.seeds.len() * plan.folds;
    let setup = TuneSetup {
        backbone: &bb,
        labels: labels.clone(),
        spec: spec.clone(),
        config: config.clone(),
        decoding,
        device: lightner::model::device::device(&global.device)?,
    };
    if !global.quiet {
        let how = match &data.dev {
            Some(d) => format!("scored on {} dev sentences", d.len()),
            None => {
                format!("{}-fold cross-validation on {} training sentences", data.folds, data.train.len())
            }
        };
        eprintln!(
            "{} trials x {} seeds, {how}: {} trainings, {} at a time (--jobs); log {}",
            strategy.budget(),
            plan.seeds.len(),
            strategy.budget() * per_trial,
            plan.jobs,
            log.path().display()
        );
    }
    let bar = progress_bar(global.quiet, "trainings")?;
    bar.set_length((strategy.budget() * per_trial) as u64);
    let say = |line: String| {
        if !global.quiet {
            say(&bar, line);
        }
    };
    say(header());
    // Trials finished by an earlier, interrupted run.
    for t in tune::summaries(&log).iter().filter(|t| t.units.len() == per_trial) {
        say(row(t));
    }
    let mut events = |e: Event<'_>| match e {
        Event::Resumed { trials, units } => {
            bar.set_position(units as u64);
            say(format!("resumed: {trials} trials proposed and {units} trainings finished earlier (above)"));
        }
        Event::Running { .. } => {}
        Event::Unit(u) => {
            bar.inc(1);
            bar.set_message(format!(
                "last: trial {} seed {} fold {} F1 {:.4}",
                u.trial, u.seed, u.fold, u.f1
            ));
        }
        Event::Trial(t) => say(row(t)),
    };
    let unit = |c: &TrialConfig, seed: u64, fold: usize| setup.score_unit(&data, c, seed, fold);
    let trials = tune::run(&plan, &mut log, &unit, &mut events)?;
    bar.finish_and_clear();
    let best = tune::best(&trials, per_trial).context("no trial finished")?.clone();
    let report = report(args, &trials, &best, per_trial);
    write!(out, "{report}")?;
    lightner::io::write_atomic(&args.out.join("report.md"), report.as_bytes())?;
    plot::alpha_curve(&args.out.join("alpha.svg"), &trials, &best)?;
    // The best configuration on all the data (train + dev), with the first seed.
    let mut all: Vec<Sentence> = data.train.clone();
    all.extend(data.dev.clone().unwrap_or_default());
    if !global.quiet {
        eprintln!("training the best configuration on all {} sentences", all.len());
    }
    let (spec, config) = setup.settings(&best.config, plan.seeds[0]);
    let job = TrainJob {
        backbone: &bb,
        train: all,
        dev: None,
        holdout: 0.0,
        labels: labels.clone(),
        spec: spec.clone(),
        config,
        decoding,
        checkpoint: None,
        device: setup.device.clone(),
        init_from: None,
        keep_generator: false,
    };
    struct Quiet;
    impl Observer for Quiet {}
    let mut outcome = session::run(job, &mut Quiet, &mut |_| {})?;
    let pack = args.out.join("best.pack");
    let test = args.data.test.as_deref().zip(test.as_deref());
    let test_report = save_pack(&bb, &mut outcome, test, &pack, &setup.device)?;
    if let Some(r) = test_report {
        writeln!(out, "\nbest pack on the test set ({} sentences):", r.sentences)?;
        write!(out, "{r}")?;
    }
    writeln!(out, "\nwrote {}: trials.jsonl, report.md, alpha.svg, best.pack", args.out.display())?;
    Ok(())
}

/// Column names of the trial table, and their widths in the live table.
const COLUMNS: [(&str, usize); 9] = [
    ("trial", 5),
    ("from", 6),
    ("alpha", 6),
    ("lr", 8),
    ("len", 3),
    ("epochs", 6),
    ("F1 mean ± std", 17),
    ("F1 per seed", 24),
    ("time (s)", 8),
];

fn header() -> String {
    COLUMNS.iter().map(|(name, w)| format!("{name:>w$}")).collect::<Vec<_>>().join("  ")
}

/// A trial's cells, in the order of [`COLUMNS`].
fn cells(t: &TrialSummary) -> [String; 9] {
    [
        (t.index + 1).to_string(),
        origin(t).to_string(),
        format!("{:.3}", t.config.alpha),
        format!("{:.1e}", t.config.lr),
        t.config.prompt_len.to_string(),
        t.config.epochs.to_string(),
        format!("{:.4} ± {:.4}", t.mean(), t.std()),
        per_seed(t),
        format!("{:.0}", t.seconds()),
    ]
}

/// Each seed's mean F1 over its folds.
fn per_seed(t: &TrialSummary) -> String {
    let mut seeds: Vec<u64> = t.units.iter().map(|u| u.seed).collect();
    seeds.sort_unstable();
    seeds.dedup();
    seeds
        .iter()
        .map(|&s| {
            let f: Vec<f64> = t.units.iter().filter(|u| u.seed == s).map(|u| u.f1).collect();
            format!("{s}:{:.3}", tune::mean_std(&f).0)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn origin(t: &TrialSummary) -> &'static str {
    match t.origin {
        tune::Origin::Grid => "grid",
        tune::Origin::Design => "design",
        tune::Origin::Bayes => "bayes",
    }
}

fn row(t: &TrialSummary) -> String {
    cells(t).iter().zip(COLUMNS).map(|(c, (_, w))| format!("{c:>w$}")).collect::<Vec<_>>().join("  ")
}

/// The final report (stdout and report.md): the best configuration, then every trial by α.
fn report(args: &TuneArgs, trials: &[TrialSummary], best: &TrialSummary, per_trial: usize) -> String {
    let mut s = String::new();
    let scored = match &args.data.dev {
        Some(d) => format!("dev set {}", d.display()),
        None => format!("{}-fold cross-validation on {}", args.folds, args.data.train.display()),
    };
    s.push_str(&format!(
        "# lightner tune\n\nbackbone {}, {scored}; {} trainings per trial (seeds {:?}); F1 is micro-F1 on the held-out sentences, mean ± sample std over the trainings.\n\n",
        args.data.model, per_trial, args.seeds
    ));
    s.push_str(&format!(
        "**best:** alpha {:.3}, lr {:.1e}, prompt length {}, {} epochs: F1 {:.4} ± {:.4} (trial {})\n\n",
        best.config.alpha,
        best.config.lr,
        best.config.prompt_len,
        best.config.epochs,
        best.mean(),
        best.std(),
        best.index + 1
    ));
    let names: Vec<&str> = COLUMNS.iter().map(|c| c.0).collect();
    s.push_str(&format!("| {} |\n|---:|---|---:|---:|---:|---:|---:|---|---:|\n", names.join(" | ")));
    let mut sorted: Vec<&TrialSummary> = trials.iter().collect();
    sorted.sort_by(|a, b| a.config.alpha.total_cmp(&b.config.alpha).then(a.index.cmp(&b.index)));
    for t in sorted {
        let mut c = cells(t);
        if t.index == best.index {
            c[6].push_str(" **best**");
        }
        s.push_str(&format!("| {} |\n", c.join(" | ")));
    }
    s.push_str("\nPlot: alpha.svg (mean F1 against alpha, bars ±1 std). Trial log: trials.jsonl.\n");
    s
}
