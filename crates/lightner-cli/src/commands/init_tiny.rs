//! `lightner init-tiny`: a tiny random backbone folder.

use super::read;
use crate::cli::{GlobalArgs, InitTinyArgs};
use lightner::model::tiny::{TinySize, write_tiny};
use std::io::Write;

/// Reads the vocabulary files and writes the backbone.
pub fn run(global: &GlobalArgs, args: &InitTinyArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut corpus = Vec::new();
    for f in &args.vocab_from {
        corpus.extend(read(global, f, None)?.sentences.into_iter().map(|s| s.words));
    }
    if args.d_model == 0 || !args.d_model.is_multiple_of(4) {
        anyhow::bail!("--d-model must be a positive multiple of 4 (the tiny model has 4 heads)");
    }
    let size = TinySize {
        d_model: args.d_model,
        layers: args.layers.max(1),
        heads: 4,
        ffn: 2 * args.d_model,
        positions: args.positions.max(8),
    };
    write_tiny(&args.out, size, &corpus, args.seed)?;
    writeln!(out, "wrote a tiny random backbone to {}", args.out.display())?;
    Ok(())
}
