//! `lightner init-tiny`: a tiny random backbone folder.

use super::{guard, read};
use crate::cli::{GlobalArgs, InitTinyArgs};
use lightner::model::tiny::{TINY_DIR, TinySize, write_tiny};
use std::io::Write;

/// Reads the vocabulary files and writes the backbone.
pub fn run(global: &GlobalArgs, args: &InitTinyArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let inputs: Vec<&std::path::Path> = args.vocab_from.iter().map(|p| p.as_path()).collect();
    guard::output_not_input("init-tiny", "--out", &args.out, &inputs)?;
    lightner::io::check_dir_target(&args.out, TINY_DIR)?;
    let mut corpus = Vec::new();
    for f in &args.vocab_from {
        corpus.extend(read(global, f, None)?.sentences.into_iter().map(|s| s.words));
    }
    let size = TinySize {
        d_model: args.d_model,
        layers: args.layers,
        heads: 4,
        ffn: 2 * args.d_model,
        positions: args.positions,
    };
    write_tiny(&args.out, size, &corpus, args.seed)?;
    writeln!(out, "wrote a tiny random backbone to {}", args.out.display())?;
    Ok(())
}
