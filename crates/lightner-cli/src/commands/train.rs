//! `lightner train`: read the data, train, save the pack with its metrics log and plot, and print
//! the per-type tables.

use super::{Labelled, decode_settings, read_labelled, set_threads};
use crate::cli::{AlphaArg, GlobalArgs, LabelWordsArg, PointerSpaceArg, TrainArgs};
use crate::plot;
use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lightner::data::{LabelSet, Sentence};
use lightner::eval::Report;
use lightner::pipeline::session::{self, TrainJob, TrainOutcome};
use lightner::pipeline::{Backbone, DecodeSettings, ModelSpec, PromptSize, Tagger};
use lightner::tokenize::{LabelWordMode, PointerSpace};
use lightner::train::{EpochLog, Observer, TrainConfig, TrainWhat};
use std::io::Write;
use std::path::Path;

/// Draws a progress bar over the steps and prints a line per epoch.
struct Progress {
    bar: ProgressBar,
    quiet: bool,
}

/// Prints a line above the bar, or plainly when the bar is not drawn (stderr is not a terminal:
/// indicatif then drops `println` too, and logs would lose the per-epoch lines).
fn say(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
}

impl Observer for Progress {
    fn begin(&mut self, total: usize, done: usize) {
        self.bar.set_length(total as u64);
        self.bar.set_position(done as u64);
        if done > 0 && !self.quiet {
            say(&self.bar, format!("resuming at step {done} of {total}"));
        }
    }

    fn step(&mut self, step: usize, loss: f64, lr: f64) {
        self.bar.set_position(step as u64);
        self.bar.set_message(format!("loss {loss:.4}  lr {lr:.2e}"));
    }

    fn epoch(&mut self, l: &EpochLog) -> bool {
        if !self.quiet {
            let dev = l.dev.map_or("no dev set".to_string(), |d| {
                format!("dev P {:.4} R {:.4} F1 {:.4}", d.precision, d.recall, d.f1)
            });
            say(
                &self.bar,
                format!(
                    "epoch {:>3}  loss {:.4}  grad-norm {:.3}  {dev}{}{}  ({:.1} s)",
                    l.epoch + 1,
                    l.loss,
                    l.grad_norm,
                    l.alpha.map_or(String::new(), |a| format!("  alpha {a:.4}")),
                    if l.best { "  best" } else { "" },
                    l.seconds
                ),
            );
        }
        true
    }
}

fn check(args: &TrainArgs) -> anyhow::Result<()> {
    if !(0.0..=1.0).contains(&args.alpha_init) {
        bail!("--alpha-init {} is not in [0, 1]", args.alpha_init);
    }
    if !(0.0..1.0).contains(&args.holdout) {
        bail!("--holdout {} is not in [0, 1)", args.holdout);
    }
    if args.lr <= 0.0 || !args.lr.is_finite() {
        bail!("--lr must be a positive number");
    }
    if args.epochs == 0 {
        bail!("--epochs must be at least 1");
    }
    if args.no_prompts && !args.full && args.also_train.is_empty() {
        bail!("--no-prompts leaves nothing to train; add --full (or --also-train PART)");
    }
    Ok(())
}

/// Runs `lightner train`.
pub fn run(global: &GlobalArgs, args: &TrainArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    check(args)?;
    set_threads(global)?;
    let Labelled { train, dev, test, labels } =
        read_labelled(global, &args.train, args.dev.as_deref(), args.test.as_deref(), &args.labels)?;
    if !global.quiet {
        eprintln!("loading backbone {}", args.model);
    }
    let bb = Backbone::open(&args.model)?;
    let spec = ModelSpec {
        label_mode: match args.label_words {
            LabelWordsArg::Added => LabelWordMode::Added,
            LabelWordsArg::Pieces => LabelWordMode::Pieces,
        },
        pointer_space: match args.pointer_space {
            PointerSpaceArg::WordStart => PointerSpace::WordStart,
            PointerSpaceArg::SubToken => PointerSpace::SubToken,
        },
        prompt: (!args.no_prompts).then_some(PromptSize { len: args.prompt_len, dim: args.prompt_dim }),
        // `--learn-alpha` (the older spelling) starts from --alpha.
        alpha: match args.alpha {
            AlphaArg::Fixed(a) => a,
            AlphaArg::Learn => args.alpha_init,
        },
        learn_alpha: args.learn_alpha || args.alpha == AlphaArg::Learn,
    };
    let config = TrainConfig {
        epochs: args.epochs,
        batch_size: args.batch_size as usize,
        lr: args.lr,
        weight_decay: args.weight_decay,
        warmup_ratio: args.warmup_ratio,
        max_grad_norm: args.max_grad_norm,
        seed: args.seed,
        eval_from_epoch: args.eval_from,
        patience: args.patience,
        dropout: !args.no_dropout,
        train: train_what(&bb, args.full, &args.also_train, args.freeze_cross_attention, global.quiet),
    };
    let decoding = decode_settings(DecodeSettings::default(), &args.decode);
    let bar = if global.quiet { ProgressBar::hidden() } else { ProgressBar::new(0) };
    bar.set_draw_target(if global.quiet {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    });
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} steps  {msg}  ETA {eta}")
            .context("progress bar template")?
            .progress_chars("=> "),
    );
    let mut progress = Progress { bar: bar.clone(), quiet: global.quiet };
    let quiet = global.quiet;
    let job = TrainJob {
        backbone: &bb,
        train,
        dev,
        holdout: args.holdout,
        labels: labels.clone(),
        spec: spec.clone(),
        config,
        decoding,
        checkpoint: args.checkpoint.clone(),
        device: lightner::model::device::device("cpu")?,
    };
    let mut outcome = session::run(job, &mut progress, &mut |m| {
        if !quiet {
            say(&bar, m);
        }
    })?;
    bar.finish_and_clear();
    let test = args.test.as_deref().zip(test.as_deref());
    let test_report = save_pack(&bb, &labels, &spec, decoding, &mut outcome, test, &args.out)?;
    if let Some(r) = &outcome.dev_report {
        let what = if args.dev.is_some() { "dev" } else { "held-out training sentences" };
        writeln!(
            out,
            "{what} ({} sentences), best epoch {}:",
            r.sentences,
            outcome.summary.best.map_or(0, |b| b.1 + 1)
        )?;
        write!(out, "{r}")?;
    }
    if let Some(r) = &test_report {
        writeln!(out, "test ({} sentences):", r.sentences)?;
        write!(out, "{r}")?;
    }
    if outcome.summary.stopped_early {
        writeln!(out, "stopped early: no better dev F1 for {} evaluations", args.patience.unwrap_or(0))?;
    }
    let learnt = match spec.learn_alpha {
        true => format!(", learnt from {:.3}", spec.alpha),
        false => String::new(),
    };
    writeln!(
        out,
        "wrote {} (alpha {:.3}{learnt}); metrics.jsonl and training.svg inside",
        args.out.display(),
        outcome.pack.manifest.model.alpha,
    )?;
    Ok(())
}

/// What trains: everything (`full`), or the prompts plus the named backbone parts, with a
/// warm-started backbone's new cross-attention added unless `freeze_cross` (bert2bert).
pub(super) fn train_what(
    bb: &Backbone,
    full: bool,
    also: &[String],
    freeze_cross: bool,
    quiet: bool,
) -> TrainWhat {
    if full {
        return TrainWhat::Everything;
    }
    let mut parts = also.to_vec();
    if bb.warm_started && !freeze_cross && !parts.iter().any(|p| p == "encoder_attn") {
        parts.push("encoder_attn".into());
        if !quiet {
            eprintln!(
                "{} is a BERT-family encoder warm-started as encoder-decoder: its new cross-attention trains too (--freeze-cross-attention keeps it frozen)",
                bb.id
            );
        }
    }
    if parts.is_empty() { TrainWhat::Prompts } else { TrainWhat::PromptsAnd(parts) }
}

/// Scores the trained model on `test` when given (recording the score in the manifest), then
/// saves the pack with its per-epoch log (metrics.jsonl) and plot (training.svg).
pub(super) fn save_pack(
    bb: &Backbone,
    labels: &LabelSet,
    spec: &ModelSpec,
    decoding: DecodeSettings,
    outcome: &mut TrainOutcome,
    test: Option<(&Path, &[Sentence])>,
    out: &Path,
) -> anyhow::Result<Option<Report>> {
    let mut test_report = None;
    if let Some((path, test)) = test {
        let tagger = Tagger::new(bb, labels.clone(), words(bb, labels, spec)?, spec.pointer_space, decoding);
        let (r, _) =
            tagger.evaluate(&outcome.model, test).with_context(|| format!("scoring {}", path.display()))?;
        if let Some(m) = outcome.pack.manifest.metrics.as_object_mut() {
            m.insert(
                "test".into(),
                serde_json::json!({"precision": r.micro.precision, "recall": r.micro.recall, "f1": r.micro.f1, "sentences": r.sentences}),
            );
        }
        test_report = Some(r);
    }
    outcome.pack.save(out)?;
    // The per-epoch log and its plot go next to the pack's own files.
    let mut log = Vec::new();
    for l in &outcome.summary.history {
        serde_json::to_writer(&mut log, l)?;
        log.push(b'\n');
    }
    lightner::io::write_atomic(&out.join("metrics.jsonl"), &log)?;
    plot::training_curves(&out.join("training.svg"), &outcome.summary.history)?;
    Ok(test_report)
}

fn words(
    bb: &Backbone,
    labels: &LabelSet,
    spec: &ModelSpec,
) -> anyhow::Result<lightner::tokenize::LabelWords> {
    Ok(lightner::tokenize::LabelWords::new(labels, &bb.tokenizer, spec.label_mode)?)
}
