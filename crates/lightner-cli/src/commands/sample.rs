//! `lightner sample`: draw a K-shot training set and write it atomically.

use super::{format_name, guard, read};
use crate::cli::{GlobalArgs, OutputFormat, SampleArgs};
use lightner::data::fewshot::{Sample, sample_k_shot};
use lightner::data::{self, Format, JsonlStyle, TagScheme};
use lightner::pad;
use std::io::Write;
use std::path::Path;

/// Draws the sample, writes it, and prints how many mentions of each type it holds.
pub fn run(global: &GlobalArgs, args: &SampleArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    // Overwriting the corpus with a sample of itself would destroy it.
    guard::output_not_input("sample", "--output", &args.output, &[&args.input])?;
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
    // Names padded by hand: a format width panics beyond u16::MAX (see `lightner::pad`).
    writeln!(out, "{}  {:>7}  {:>9}", pad::left("type", width), "sampled", "available")?;
    for (ty, c) in &sample.per_type {
        writeln!(out, "{}  {:>7}  {:>9}", pad::left(ty, width), c.sampled, c.available)?;
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
}
