//! One module per subcommand, plus what they share: reading a file with its warnings shown, and
//! naming formats. Commands write results to the writer they are given (stdout in `main`, a
//! buffer in tests) and warnings to stderr.

mod bench;
mod eval;
mod fetch;
mod init_tiny;
mod predict;
mod sample;
mod score;
mod stats;
mod train;
mod tune;

use crate::cli::{Cli, Command, DecodeArgs, GlobalArgs};
use lightner::data::{self, Dataset, Format, JsonlStyle, ReadOptions, TagScheme};
use lightner::pipeline::{Backbone, DecodeSettings, Pack};
use std::io::Write;
use std::path::Path;

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
fn open_pack(global: &GlobalArgs, pack: &Path, model: Option<&str>) -> anyhow::Result<(Backbone, Pack)> {
    let pack = Pack::load(pack)?;
    let id = model.map_or_else(|| pack.manifest.backbone.id.clone(), str::to_string);
    if !global.quiet && model.is_none() {
        eprintln!("backbone: {id} (recorded in the pack; --model overrides)");
    }
    let bb = Backbone::open(&id)?;
    pack.check_backbone(&bb)?;
    Ok((bb, pack))
}

/// Reads a labelled file, printing its warnings on stderr unless `--quiet`.
fn read(global: &GlobalArgs, path: &Path, scheme: Option<TagScheme>) -> anyhow::Result<Dataset> {
    // Library errors already name the file (and line), so no context is added here.
    let ds = data::read_file(path, ReadOptions { scheme, jsonl: None })?;
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

/// A format as the user would name it: `conll (bio)`, `jsonl`, `jsonl-tokens`.
fn format_name(format: Format) -> String {
    match format {
        Format::Conll(scheme) => format!("conll ({scheme})"),
        Format::Jsonl(JsonlStyle::Text) => "jsonl".to_string(),
        Format::Jsonl(JsonlStyle::Tokens) => "jsonl-tokens".to_string(),
    }
}

/// Sizes the global thread pool from `--threads` (model commands only; default: all cores).
fn set_threads(global: &GlobalArgs) -> anyhow::Result<()> {
    if let Some(n) = global.threads {
        rayon::ThreadPoolBuilder::new().num_threads(n as usize).build_global()?;
    }
    Ok(())
}
