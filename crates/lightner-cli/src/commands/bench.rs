//! `lightner bench`: end-to-end timings at a model shape, random weights.

use crate::cli::{BenchArgs, BenchShapeArg, GlobalArgs};
use lightner::bench::{self, BenchShape};
use std::io::Write;

/// Runs the benchmark and prints its report.
pub fn run(global: &GlobalArgs, args: &BenchArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    super::set_threads(global)?;
    let shape = match args.shape {
        BenchShapeArg::BartBase => BenchShape::bart_base(),
        BenchShapeArg::Tiny => BenchShape::tiny(),
    };
    if !global.quiet {
        eprintln!("building a random model and timing {} repeats of each measurement...", args.repeats);
    }
    let report = bench::run(shape, args.repeats as usize, &burn::tensor::Device::flex())?;
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        write!(out, "{report}")?;
    }
    Ok(())
}
