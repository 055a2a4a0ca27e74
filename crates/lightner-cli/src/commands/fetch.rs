//! `lightner fetch`: a hub backbone into the local cache, ahead of training.

use crate::cli::{FetchArgs, GlobalArgs};
use lightner::pipeline::Backbone;
use std::io::Write;

/// Downloads (or finds in the cache) the model, checks that it opens, prints its folder.
pub fn run(global: &GlobalArgs, args: &FetchArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    if std::path::Path::new(&args.model).is_dir() {
        anyhow::bail!(
            "{} is a local folder: pass it to --model as it is, there is nothing to fetch",
            args.model
        );
    }
    if !global.quiet {
        eprintln!("fetching {} (config, weights, tokenizer)", args.model);
    }
    // Opening the backbone proves the files are complete and fit together (tokenizer vs
    // embedding rows, BART or BERT config), not just that they downloaded.
    let bb = Backbone::open(&args.model)?;
    if !global.quiet {
        let kind =
            if bb.warm_started { "BERT-family encoder (warm-started as encoder-decoder)" } else { "BART" };
        eprintln!(
            "{}: {kind}, d_model {}, {} + {} layers, vocabulary {}",
            args.model,
            bb.config.d_model,
            bb.config.encoder_layers,
            bb.config.decoder_layers,
            bb.config.vocab_size
        );
    }
    writeln!(out, "{}", bb.dir.display())?;
    Ok(())
}
