//! `lightner score`: entity-level P/R/F1 of a prediction file against a gold file.

use super::{format_name, read, read_sentences};
use crate::cli::{GlobalArgs, ScoreArgs};
use anyhow::bail;
use lightner::data::{Dataset, Format};
use lightner::error::DataErrorKind;
use lightner::eval::Evaluator;
use std::io::Write;

/// Reads the predictions with the gold file's tag scheme unless `--scheme` says otherwise: tags
/// are decoded one way for both files, as seqeval does with one `scheme` argument. Each file's
/// scheme detected alone could differ silently (an `I-X` after `O` reads as IOB1's entity start
/// but is no entity under BIO's strict rules) and change the score.
fn read_pred(global: &GlobalArgs, args: &ScoreArgs, gold: Format) -> anyhow::Result<Dataset> {
    let (Format::Conll(gold_scheme), None) = (gold, args.scheme) else {
        return read(global, &args.pred, args.scheme);
    };
    let detected = read(&GlobalArgs { quiet: true, ..global.clone() }, &args.pred, None)?;
    match detected.format {
        Format::Conll(s) if s != gold_scheme => {}
        _ => return read(global, &args.pred, None),
    }
    match read(global, &args.pred, Some(gold_scheme)) {
        Ok(pred) => {
            if !global.quiet {
                eprintln!(
                    "warning: {} looks like {} but {} is {gold_scheme}; both are scored as {gold_scheme} \
                     (--scheme to choose)",
                    args.pred.display(),
                    format_name(detected.format),
                    args.gold.display()
                );
            }
            Ok(pred)
        }
        Err(e)
            if matches!(
                e.downcast_ref::<lightner::Error>().and_then(|e| e.data_kind()),
                Some(DataErrorKind::TagNotInScheme { .. })
            ) =>
        {
            if !global.quiet {
                eprintln!(
                    "warning: {} is {} and {} is {gold_scheme}; the predictions hold tags {gold_scheme} \
                     does not have, so each file is decoded with its own scheme (--scheme to choose)",
                    args.pred.display(),
                    format_name(detected.format),
                    args.gold.display()
                );
            }
            read(global, &args.pred, None)
        }
        Err(e) => Err(e),
    }
}

/// Pairs the sentences of both files, checks that their words agree, and prints the report.
pub fn run(global: &GlobalArgs, args: &ScoreArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let gold = read_sentences(global, &args.gold, args.scheme, "to score against")?;
    let pred = read_pred(global, args, gold.format)?;
    if gold.sentences.len() != pred.sentences.len() {
        bail!(
            "{} has {} sentences but {} has {}; score a prediction file made from the gold file",
            args.gold.display(),
            gold.sentences.len(),
            args.pred.display(),
            pred.sentences.len()
        );
    }
    let mut eval = Evaluator::new();
    for (g, p) in gold.sentences.iter().zip(&pred.sentences) {
        if g.words != p.words {
            bail!(
                "{}:{} and {}:{} are different sentences ({:?}… vs {:?}…); both files must hold the same \
                 sentences in the same order",
                args.gold.display(),
                g.line,
                args.pred.display(),
                p.line,
                g.words.iter().take(5).collect::<Vec<_>>(),
                p.words.iter().take(5).collect::<Vec<_>>()
            );
        }
        eval.add(&g.spans, &p.spans);
    }
    let report = eval.report();
    if args.json {
        let text = serde_json::to_string_pretty(&report)?;
        writeln!(out, "{text}")?;
    } else {
        write!(out, "{report}")?;
    }
    out.flush()?;
    Ok(())
}
