//! `lightner stats`: a table (or JSON) of counts per input file.

use super::{format_name, read};
use crate::cli::{GlobalArgs, StatsArgs};
use lightner::data::stats::Stats;
use lightner::data::{Format, JsonlStyle};
use std::io::Write;

/// Reads every file and prints its statistics. Stops at the first file that cannot be read,
/// after printing the tables of the files before it.
pub fn run(global: &GlobalArgs, args: &StatsArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut records = Vec::new();
    for (i, path) in args.files.iter().enumerate() {
        let ds = read(global, path, args.scheme)?;
        let stats = Stats::from_sentences(&ds.sentences);
        if args.json {
            // Collected and printed at the end, so that stdout is one valid JSON document.
            records.push(serde_json::json!({
                "file": path.display().to_string(),
                "format": match ds.format {
                    Format::Conll(_) => "conll",
                    Format::Jsonl(JsonlStyle::Text) => "jsonl",
                    Format::Jsonl(JsonlStyle::Tokens) => "jsonl-tokens",
                },
                "scheme": match ds.format {
                    Format::Conll(scheme) => Some(scheme.name()),
                    Format::Jsonl(_) => None,
                },
                "warnings": ds.warnings.len(),
                "stats": stats,
            }));
        } else {
            if i > 0 {
                writeln!(out)?;
            }
            writeln!(out, "{} [{}]", path.display(), format_name(ds.format))?;
            write!(out, "{stats}")?;
        }
    }
    if args.json {
        // Serialized first so that a closed stdout shows up as a plain `io::Error` (`main` treats
        // a broken pipe as success; a `serde_json::Error` would hide its kind).
        let text = serde_json::to_string_pretty(&records)?;
        writeln!(out, "{text}")?;
    }
    out.flush()?;
    Ok(())
}
