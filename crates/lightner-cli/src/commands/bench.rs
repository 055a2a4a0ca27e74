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
    let report = bench::run(shape, args.repeats as usize, &lightner::model::device::device(&global.device)?)?;
    // The allocator settings and the library that multiplies change the timings (see `malloc`
    // and `blas`), so the report names them.
    let malloc = crate::malloc::current();
    if args.json {
        let mut v = serde_json::to_value(&report)?;
        v["glibc_tunables"] = serde_json::json!(malloc);
        v["products"] = serde_json::json!(lightner::model::kernels::blas::status());
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        write!(out, "{report}")?;
        writeln!(out, "GLIBC_TUNABLES: {}", malloc.as_deref().unwrap_or("(unset: glibc's defaults)"))?;
        // Which library multiplies changes the timings too (`LIGHTNER_BLAS`).
        writeln!(out, "matrix products: {}", lightner::model::kernels::blas::status())?;
    }
    Ok(())
}
