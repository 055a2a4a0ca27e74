//! `lightner score`: entity-level P/R/F1 of a prediction file against a gold file.

use super::read;
use crate::cli::{GlobalArgs, ScoreArgs};
use anyhow::bail;
use lightner::eval::Evaluator;
use std::io::Write;

/// Pairs the sentences of both files, checks that their words agree, and prints the report.
pub fn run(global: &GlobalArgs, args: &ScoreArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let gold = read(global, &args.gold, args.scheme)?;
    let pred = read(global, &args.pred, args.scheme)?;
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
