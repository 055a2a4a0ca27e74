//! `lightner train`: read the data, train, save the pack with its metrics log and plot, and print
//! the per-type tables.

use super::{Labelled, decode_settings, guard, load_training, progress_bar, say, set_threads};
use crate::cli::{AlphaArg, GlobalArgs, LabelWordsArg, PointerSpaceArg, TrainArgs, TrainingArgs};
use crate::plot;
use anyhow::{Context, bail};
use burn::tensor::Device;
use indicatif::ProgressBar;
use lightner::data::Sentence;
use lightner::eval::Report;
use lightner::pipeline::pack::PACK_DIR;
use lightner::pipeline::session::{self, TrainJob, TrainOutcome};
use lightner::pipeline::warm_start::InitFrom;
use lightner::pipeline::{Alpha, Backbone, DecodeSettings, ModelSpec, Pack, Predictor, PromptSize};
use lightner::tokenize::{LabelWordMode, PointerSpace};
use lightner::train::checkpoint::CHECKPOINT_DIR;
use lightner::train::{EpochLog, Observer, TrainConfig, TrainWhat};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// Draws a progress bar over the steps and prints a line per epoch.
struct Progress {
    bar: ProgressBar,
    quiet: bool,
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

/// Whether the flags train nothing but prompts (no backbone part, no adapters).
fn nothing_else_trains(args: &TrainArgs) -> bool {
    !args.training.full && args.training.also_train.is_empty() && args.training.lora_rank.is_none()
}

/// Checks what the flag parsers cannot see alone (every number is range-checked when parsed, see
/// `values`): combinations of flags, and the outputs.
fn check(args: &TrainArgs) -> anyhow::Result<()> {
    if args.eval_from >= args.epochs {
        bail!(
            "--eval-from {} is past the last epoch (0-based {}); no epoch would be evaluated",
            args.eval_from,
            args.epochs - 1
        );
    }
    // (A warm start may bring adapters: checked once its pack is read.)
    if args.no_prompts && nothing_else_trains(args) && args.init_from.is_none() {
        bail!("--no-prompts leaves nothing to train; add --full (or --also-train PART, or --lora-rank R)");
    }
    // Outputs are checked before the training, not after it: a refused --out must cost nothing.
    let mut inputs = args.data.files();
    if let Some(p) = &args.init_from {
        inputs.push(p);
    }
    guard::output_not_input("train", "--out", &args.out, &inputs)?;
    lightner::io::check_dir_target(&args.out, PACK_DIR)?;
    if let Some(ckpt) = &args.checkpoint {
        guard::output_not_input("train", "--checkpoint", ckpt, &inputs)?;
        if guard::same_file(ckpt, &args.out) {
            return Err(guard::usage_error(
                "train",
                "--checkpoint and --out must be different folders".into(),
            ));
        }
        lightner::io::check_dir_target(ckpt, CHECKPOINT_DIR)?;
    }
    Ok(())
}

/// Runs `lightner train`.
pub fn run(global: &GlobalArgs, args: &TrainArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    check(args)?;
    set_threads(global)?;
    let (Labelled { train, dev, test, labels }, bb) = load_training(global, &args.data)?;
    let init_from = args.init_from.as_deref().map(Pack::load).transpose()?;
    // Without --alpha, a warm start keeps the source's alpha as it was: fixed at its value, or
    // learnt on from it (per dimension if it was).
    let alpha = match (args.alpha, &init_from) {
        (Some(a), _) => a,
        (None, Some(p)) => match p.manifest.model.alpha {
            Alpha::Fixed(v) => AlphaArg::Fixed(v),
            Alpha::Learnt { per_dim: true, .. } => AlphaArg::LearnPerDim,
            Alpha::Learnt { .. } => AlphaArg::Learn,
        },
        (None, None) => AlphaArg::Fixed(0.5),
    };
    let spec = ModelSpec {
        label_mode: match args.label_words {
            LabelWordsArg::Added => LabelWordMode::Added,
            LabelWordsArg::Pieces => LabelWordMode::Pieces,
        },
        pointer_space: match args.pointer_space {
            PointerSpaceArg::WordStart => PointerSpace::WordStart,
            PointerSpaceArg::SubToken => PointerSpace::SubToken,
        },
        prompt: (!args.no_prompts)
            .then_some(PromptSize { len: args.prompt_len, dim: args.training.prompt_dim }),
        // A warm start keeps the source's adapters unless others are asked for.
        lora: args.training.lora().or_else(|| init_from.as_ref().and_then(|p| p.manifest.model.lora.clone())),
        // `--learn-alpha` (the older spelling) learns from --alpha.
        alpha: match alpha {
            AlphaArg::Fixed(a) if args.learn_alpha => Alpha::Learnt { init: a, per_dim: false, value: None },
            AlphaArg::Fixed(a) => Alpha::Fixed(a),
            AlphaArg::Learn => Alpha::Learnt { init: args.alpha_init, per_dim: false, value: None },
            AlphaArg::LearnPerDim => Alpha::Learnt { init: args.alpha_init, per_dim: true, value: None },
        },
    };
    if spec.prompt.is_none() && spec.lora.is_none() && nothing_else_trains(args) {
        bail!(
            "--no-prompts leaves nothing to train: the --init-from pack has no adapters; add --full (or --also-train PART, or --lora-rank R)"
        );
    }
    let config = TrainConfig {
        epochs: args.epochs,
        batch_size: args.training.batch_size as usize,
        lr: args.lr,
        alpha_lr: spec.alpha.is_learnt().then_some(args.alpha_lr),
        weight_decay: args.weight_decay,
        warmup_ratio: args.warmup_ratio,
        max_grad_norm: args.max_grad_norm,
        seed: args.seed,
        eval_from_epoch: args.eval_from,
        patience: args.patience,
        dropout: !args.training.no_dropout,
        train: train_what(&bb, &args.training, global.quiet),
    };
    let decoding = decode_settings(DecodeSettings::default(), &args.decode);
    let device = lightner::model::device::device(&global.device)?;
    let bar = progress_bar(global.quiet, "steps")?;
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
        device: device.clone(),
        init_from: init_from
            .as_ref()
            .zip(args.init_from.as_ref())
            .map(|(pack, dir)| InitFrom { pack, name: dir.display().to_string() }),
        keep_generator: args.keep_generator,
    };
    let mut outcome = session::run(job, &mut progress, &mut |m| {
        if !quiet {
            say(&bar, m);
        }
    })?;
    bar.finish_and_clear();
    let test = args.data.test.as_deref().zip(test.as_deref());
    let test_report = save_pack(&bb, &mut outcome, test, &args.out, &device)?;
    if let Some(r) = &outcome.dev_report {
        let what = if args.data.dev.is_some() { "dev" } else { "held-out training sentences" };
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
    let learnt = match spec.alpha {
        Alpha::Learnt { per_dim: false, init, .. } => format!(", learnt from {init:.3}"),
        Alpha::Learnt { per_dim: true, init, .. } => {
            format!(": the mean of {} per-dimension values learnt from {init:.3}", bb.config.d_model)
        }
        Alpha::Fixed(_) => String::new(),
    };
    // What a server holds per domain: the pack's tensors (its generators, when kept, stay on disk).
    let size = std::fs::metadata(args.out.join("pack.safetensors")).map(|m| m.len()).unwrap_or(0);
    writeln!(
        out,
        "wrote {} ({:.2} MB; alpha {:.3}{learnt}); metrics.jsonl and training.svg inside",
        args.out.display(),
        size as f64 / 1e6,
        outcome.pack.manifest.model.alpha.value(),
    )?;
    Ok(())
}

/// What trains: everything (`--full`), or the prompts plus the `--also-train` parts, with a
/// warm-started backbone's new cross-attention added unless `--freeze-cross-attention`
/// (bert2bert).
pub(super) fn train_what(bb: &Backbone, args: &TrainingArgs, quiet: bool) -> TrainWhat {
    if args.full {
        return TrainWhat::Everything;
    }
    let mut parts = args.also_train.clone();
    if bb.warm_started && !args.freeze_cross_attention && !parts.iter().any(|p| p == "encoder_attn") {
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
    bb: &Arc<Backbone>,
    outcome: &mut TrainOutcome,
    test: Option<(&Path, &[Sentence])>,
    out: &Path,
    device: &Device,
) -> anyhow::Result<Option<Report>> {
    let mut test_report = None;
    if let Some((path, test)) = test {
        // Scored as the saved pack will predict: loaded onto the plain device, prompts folded
        // into fixed prefixes (faster than the training copy, which records a graph).
        let predictor = Predictor::new(Arc::clone(bb), &outcome.pack, device)?;
        let (r, _) = predictor.evaluate(test).with_context(|| format!("scoring {}", path.display()))?;
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
