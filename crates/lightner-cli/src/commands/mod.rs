//! One module per subcommand, plus what they share: reading a file with its warnings shown, and
//! naming formats. Commands write results to the writer they are given (stdout in `main`, a
//! buffer in tests) and warnings to stderr.

mod bench;
mod sample;
mod score;
mod stats;

use crate::cli::{Cli, Command, GlobalArgs};
use lightner::data::{self, Dataset, Format, JsonlStyle, ReadOptions, TagScheme};
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
    }
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
