//! One module per subcommand, plus what they share: reading a file with its warnings shown, and
//! naming formats. Commands write results to the writer they are given (stdout in `main`, a
//! buffer in tests) and warnings to stderr.

mod bench;
mod eval;
mod export;
mod fetch;
mod guard;
mod init_tiny;
mod predict;
mod sample;
mod score;
mod stats;
mod train;
mod tune;

use crate::cli::{Cli, Command, DataArgs, DecodeArgs, GlobalArgs};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lightner::data::words::WordSplit;
use lightner::data::{self, Dataset, Format, JsonlStyle, LabelSet, ReadOptions, Sentence, TagScheme};
use lightner::pipeline::{Backbone, DecodeSettings, Pack, Predictor};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// At most this many warnings are printed per file; a file with a systematic problem would
/// otherwise bury the output under thousands of identical lines.
const MAX_WARNINGS: usize = 20;

/// Runs the parsed command line.
pub fn run(cli: &Cli, out: &mut dyn Write) -> anyhow::Result<()> {
    match &cli.command {
        Command::Stats(args) => stats::run(&cli.global, args, out),
        Command::Sample(args) => sample::run(&cli.global, args, out),
        Command::Score(args) => score::run(&cli.global, args, out),
        Command::Bench(args) => bench::run(&cli.global, args, out),
        Command::Train(args) => train::run(&cli.global, args, out),
        Command::Eval(args) => eval::run(&cli.global, args, out),
        Command::Predict(args) => predict::run(&cli.global, args, out),
        Command::Tune(args) => tune::run(&cli.global, args, out),
        Command::InitTiny(args) => init_tiny::run(&cli.global, args, out),
        Command::Fetch(args) => fetch::run(&cli.global, args, out),
        Command::Export(args) => export::run(&cli.global, args, out),
        Command::Serve(args) => crate::serve::run(&cli.global, args, out),
    }
}

/// Decoding settings: `base` with the flags given on the command line.
fn decode_settings(base: DecodeSettings, args: &DecodeArgs) -> DecodeSettings {
    DecodeSettings {
        num_beams: args.beams.map_or(base.num_beams, |b| b as usize),
        length_penalty: args.length_penalty.unwrap_or(base.length_penalty),
        constrained: base.constrained && !args.unconstrained,
        batch_size: args.decode_batch.unwrap_or(base.batch_size).max(1),
        ..base
    }
}

/// Opens a pack and its backbone (`--model`, or the one the pack records).
fn open_pack(global: &GlobalArgs, pack: &Path, model: Option<&str>) -> anyhow::Result<(Arc<Backbone>, Pack)> {
    let pack = Pack::load(pack)?;
    let id = model.map_or_else(|| pack.manifest.backbone.id.clone(), str::to_string);
    if !global.quiet && model.is_none() {
        eprintln!("backbone: {id} (recorded in the pack; --model overrides)");
    }
    let bb = Backbone::open(&id)?;
    pack.check_backbone(&bb)?;
    Ok((Arc::new(bb), pack))
}

/// A pack on its backbone (`--model`, or the one the pack records) on `--device`, decoding with
/// the pack's defaults overridden by the decoding flags.
fn open_predictor(
    global: &GlobalArgs,
    pack: &Path,
    model: Option<&str>,
    decode: &DecodeArgs,
) -> anyhow::Result<Predictor> {
    let (bb, pack) = open_pack(global, pack, model)?;
    let device = lightner::model::device::device(&global.device)?;
    let settings = decode_settings(pack.manifest.decoding, decode);
    Ok(Predictor::new(bb, &pack, &device)?.with_settings(settings))
}

/// Reads a labelled file, printing its warnings on stderr unless `--quiet`.
fn read(global: &GlobalArgs, path: &Path, scheme: Option<TagScheme>) -> anyhow::Result<Dataset> {
    // Library errors already name the file (and line), so no context is added here.
    let ds = data::read_file(path, ReadOptions { scheme, jsonl: None, words: WordSplit::Words })?;
    if !global.quiet {
        for w in ds.warnings.iter().take(MAX_WARNINGS) {
            eprintln!("{w}");
        }
        if ds.warnings.len() > MAX_WARNINGS {
            eprintln!(
                "{}: {} more warnings not shown (--quiet hides all of them)",
                path.display(),
                ds.warnings.len() - MAX_WARNINGS
            );
        }
    }
    Ok(ds)
}

/// [`read`] for a file that must hold sentences (what `train`, `tune`, `eval` and `score` learn
/// from or score): an empty one (or one of blank and `-DOCSTART-` lines) is an error naming it, since
/// a report of zeros or a pack trained on nothing would pass for a result. `predict` reads empty
/// input as no sentences, and writes none.
fn read_sentences(
    global: &GlobalArgs,
    path: &Path,
    scheme: Option<TagScheme>,
    purpose: &str,
) -> anyhow::Result<Dataset> {
    let ds = read(global, path, scheme)?;
    if ds.sentences.is_empty() {
        anyhow::bail!(
            "{}: no sentences in this file (it is empty, or holds only blank lines and `-DOCSTART-` lines); nothing {purpose}",
            path.display()
        );
    }
    Ok(ds)
}

/// The labelled data of a training command.
struct Labelled {
    train: Vec<Sentence>,
    dev: Option<Vec<Sentence>>,
    test: Option<Vec<Sentence>>,
    /// From `--labels`, with the type names as the training data spells them; it covers every
    /// type of train and dev (checked).
    labels: LabelSet,
}

/// Reads the training, dev and test files of `train`/`tune`, resolves their label set and opens
/// the backbone.
fn load_training(global: &GlobalArgs, args: &DataArgs) -> anyhow::Result<(Labelled, Arc<Backbone>)> {
    let (train, dev, test, labels) = (&args.train, args.dev.as_deref(), args.test.as_deref(), &args.labels);
    let train_sents = read_sentences(global, train, None, "to train on")?.sentences;
    let dev_sents =
        dev.map(|p| read_sentences(global, p, None, "to pick epochs with")).transpose()?.map(|d| d.sentences);
    let test_sents =
        test.map(|p| read_sentences(global, p, None, "to test on")).transpose()?.map(|d| d.sentences);
    let types = || train_sents.iter().flat_map(|s| s.spans.iter().map(|x| x.label.as_str()));
    let labels = LabelSet::resolve(labels, types())?.with_names_from(types());
    // Library errors name the data file and line; a map file of the user's is named too, since
    // the fix may belong in either.
    let map_file = LabelSet::builtin(&args.labels).is_none() && Path::new(&args.labels).is_file();
    let covers = |path: &Path, sents: &[Sentence]| {
        labels.check_covers(path, sents).with_context(|| {
            if map_file { format!("label map {}", args.labels) } else { format!("--labels {}", args.labels) }
        })
    };
    covers(train, &train_sents)?;
    if let (Some(p), Some(d)) = (dev, &dev_sents) {
        covers(p, d)?;
    }
    if !global.quiet {
        eprintln!("loading backbone {}", args.model);
    }
    let bb = Backbone::open(&args.model)?;
    Ok((Labelled { train: train_sents, dev: dev_sents, test: test_sents, labels }, Arc::new(bb)))
}

/// A progress bar on stderr counting `unit`s (hidden with `--quiet`).
fn progress_bar(quiet: bool, unit: &str) -> anyhow::Result<ProgressBar> {
    let bar = if quiet { ProgressBar::hidden() } else { ProgressBar::new(0) };
    bar.set_draw_target(if quiet { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() });
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{elapsed_precise}} [{{bar:30}}] {{pos}}/{{len}} {unit}  {{msg}}  ETA {{eta}}"
        ))
        .context("progress bar template")?
        .progress_chars("=> "),
    );
    Ok(bar)
}

/// Prints a line above the bar, or plainly when the bar is not drawn (stderr is not a terminal:
/// indicatif then drops `println` too, and logs would lose the line).
fn say(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
}

/// A format as the user would name it: `conll (bio)`, `jsonl`, `jsonl-tokens`.
fn format_name(format: Format) -> String {
    match format {
        Format::Conll(scheme) => format!("conll ({scheme})"),
        Format::Jsonl(JsonlStyle::Text) => "jsonl".to_string(),
        Format::Jsonl(JsonlStyle::Tokens) => "jsonl-tokens".to_string(),
    }
}

/// Sizes the global thread pool from `--threads` (model commands only; default: all cores) and
/// makes the calling thread its first worker, so that a command's own thread computes instead of
/// waiting for the pool.
///
/// Why: the model's parallel kernels are called from the command's thread. When that thread is
/// outside the pool, every call hands its work to a pool thread and sleeps until woken (a futex
/// wake and sleep per kernel, thousands per training step), and at `--threads 1` the step's data
/// moves between two cores' caches with each hand-over. Measured in one process, alternating the
/// two ways on a bart-base prompt-tuning step (`examples/train_step.rs`), see docs/performance.md.
///
/// Only for commands whose model work runs on the calling thread: `serve` computes on its own
/// model threads while its calling thread runs the HTTP server, so it uses [`set_pool_threads`].
pub(crate) fn set_threads(global: &GlobalArgs) -> anyhow::Result<()> {
    let mut pool = rayon::ThreadPoolBuilder::new().use_current_thread();
    if let Some(n) = global.threads {
        pool = pool.num_threads(n as usize);
    }
    pool.build_global()?;
    Ok(())
}

/// Sizes the global thread pool from `--threads` (default: all cores), all of its threads its own.
pub(crate) fn set_pool_threads(global: &GlobalArgs) -> anyhow::Result<()> {
    if let Some(n) = global.threads {
        rayon::ThreadPoolBuilder::new().num_threads(n as usize).build_global()?;
    }
    Ok(())
}
