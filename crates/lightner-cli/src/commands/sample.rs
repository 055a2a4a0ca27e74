//! `lightner sample`: draw a K-shot training set and write it atomically.

use super::{format_name, read};
use crate::cli::{Cli, GlobalArgs, OutputFormat, SampleArgs};
use clap::CommandFactory;
use lightner::data::fewshot::{Sample, sample_k_shot};
use lightner::data::{self, Format, JsonlStyle, TagScheme};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Draws the sample, writes it, and prints how many mentions of each type it holds.
pub fn run(global: &GlobalArgs, args: &SampleArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    if same_file(&args.input, &args.output) {
        // Overwriting the corpus with a sample of itself would destroy it; this is a mistake on
        // the command line, so it is reported (and exits) like one.
        let msg = format!(
            "--output {} is the input file; choose another path so the corpus is kept",
            args.output.display()
        );
        return Err(usage_error(msg).into());
    }
    let ds = read(global, &args.input, args.scheme)?;
    let sample = sample_k_shot(&ds.sentences, args.k, args.seed);
    if sample.per_type.is_empty() {
        anyhow::bail!(
            "{}: no entities in {} sentences, so there is nothing to sample; check the file with \
             `lightner stats`",
            args.input.display(),
            ds.sentences.len()
        );
    }

    let format = output_format(ds.format, args.format, args.output_scheme);
    let chosen = sample.sentences(&ds.sentences);
    data::write_file(&args.output, &chosen, format)?;

    if !global.quiet {
        warn_short_types(&sample, &args.input);
    }
    writeln!(
        out,
        "wrote {} of {} sentences ({}-shot, seed {}) to {} [{}]",
        chosen.len(),
        ds.sentences.len(),
        args.k,
        args.seed,
        args.output.display(),
        format_name(format)
    )?;
    let width = sample.per_type.keys().map(|t| t.chars().count()).max().unwrap_or(0).max(4);
    writeln!(out, "{:<width$}  {:>7}  {:>9}", "type", "sampled", "available")?;
    for (ty, c) in &sample.per_type {
        writeln!(out, "{ty:<width$}  {:>7}  {:>9}", c.sampled, c.available)?;
    }
    out.flush()?;
    Ok(())
}

/// One warning line for the types that have fewer than K mentions in the whole input (a long
/// list would bury the table; the `available` column has the details).
fn warn_short_types(sample: &Sample, input: &Path) {
    const SHOWN: usize = 5;
    let short: Vec<&str> = sample.short_types().map(|(t, _)| t).collect();
    if short.is_empty() {
        return;
    }
    let mut names = short.iter().take(SHOWN).copied().collect::<Vec<_>>().join(", ");
    if short.len() > SHOWN {
        names.push_str(&format!(" and {} more", short.len() - SHOWN));
    }
    eprintln!(
        "warning: {} of {} types have fewer than K = {} mentions in {} ({names}); the sample holds \
         all of their mentions (see the `available` column)",
        short.len(),
        sample.per_type.len(),
        sample.k,
        input.display()
    );
}

/// The format to write: the one asked for, else the input's. A CoNLL output's scheme is
/// `--output-scheme`, else the input's, else BIO.
fn output_format(input: Format, asked: Option<OutputFormat>, scheme: Option<TagScheme>) -> Format {
    let input_scheme = match input {
        Format::Conll(s) => Some(s),
        Format::Jsonl(_) => None,
    };
    let conll = Format::Conll(scheme.or(input_scheme).unwrap_or(TagScheme::Bio));
    match asked {
        Some(OutputFormat::Conll) => conll,
        Some(OutputFormat::Jsonl) => Format::Jsonl(JsonlStyle::Text),
        Some(OutputFormat::JsonlTokens) => Format::Jsonl(JsonlStyle::Tokens),
        None if input_scheme.is_some() => conll,
        None => input,
    }
}

/// A usage error rendered by clap under `sample`'s usage line, so that `main` exits 2.
fn usage_error(msg: String) -> clap::Error {
    let mut cmd = Cli::command();
    cmd.build();
    match cmd.find_subcommand_mut("sample") {
        Some(sub) => sub.error(clap::error::ErrorKind::ArgumentConflict, msg),
        None => cmd.error(clap::error::ErrorKind::ArgumentConflict, msg),
    }
}

/// Whether two paths name the same file, also through `./`, `..` or symlinks. The output may not
/// exist yet, so its folder is resolved instead.
fn same_file(a: &Path, b: &Path) -> bool {
    a == b || matches!((resolve(a), resolve(b)), (Some(x), Some(y)) if x == y)
}

fn resolve(p: &Path) -> Option<PathBuf> {
    if let Ok(c) = p.canonicalize() {
        return Some(c);
    }
    let name = p.file_name()?;
    let parent = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Some(parent.canonicalize().ok()?.join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_output_format_follows_input() {
        let bio = Format::Conll(TagScheme::Bio);
        assert_eq!(output_format(bio, None, None), bio);
        assert_eq!(output_format(bio, None, Some(TagScheme::Bioes)), Format::Conll(TagScheme::Bioes));
        let toks = Format::Jsonl(JsonlStyle::Tokens);
        assert_eq!(output_format(toks, None, None), toks);
        assert_eq!(output_format(toks, Some(OutputFormat::Conll), None), bio);
        assert_eq!(output_format(bio, Some(OutputFormat::Jsonl), None), Format::Jsonl(JsonlStyle::Text));
    }

    #[test]
    fn same_file_sees_through_dot_segments() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("train.txt");
        std::fs::write(&f, "a\tO\n").unwrap();
        assert!(same_file(&f, &dir.path().join(".").join("train.txt")));
        assert!(!same_file(&f, &dir.path().join("out.txt")));
        assert!(!same_file(&f, &dir.path().join("missing").join("train.txt")));
    }
}
