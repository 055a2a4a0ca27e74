//! A backbone: its folder (given, or fetched from the hub into the local cache), config,
//! tokenizer, weights, and a hash of the weights that packs record so that a pack is never
//! plugged onto a backbone it was not trained on.

use crate::error::{Error, Result};
use crate::model::bert2bert::{is_bert_config, warm_start};
use crate::model::source::ModelSource;
use crate::model::{BartConfig, Weights};
use crate::tokenize::WordTokenizer;
use std::path::PathBuf;

/// An opened backbone.
pub struct Backbone {
    /// Its absolute folder path, or its hub id.
    pub id: String,
    /// Its folder.
    pub dir: PathBuf,
    /// `config.json`.
    pub config: BartConfig,
    /// The tokenizer.
    pub tokenizer: WordTokenizer,
    /// The weights (in memory).
    pub weights: Weights,
    /// FNV-1a 64 of `model.safetensors`, hex.
    pub weights_hash: String,
    /// Whether this is a BERT-family encoder warm-started as an encoder-decoder (its
    /// cross-attention is new and should train).
    pub warm_started: bool,
}

impl std::fmt::Debug for Backbone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Backbone({} at {}, hash {})", self.id, self.dir.display(), self.weights_hash)
    }
}

/// FNV-1a 64 of `bytes`, as 16 hex digits (stable across builds and machines).
pub fn fnv_hex(bytes: &[u8]) -> String {
    // Eight interleaved lanes keep the loop fast on large weight files; the lanes are folded at the end.
    let mut lanes = [0xcbf29ce484222325u64; 8];
    let chunks = bytes.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (l, &b) in lanes.iter_mut().zip(c) {
            *l = (*l ^ b as u64).wrapping_mul(0x100000001b3);
        }
    }
    let mut h = 0xcbf29ce484222325u64;
    for b in lanes.iter().flat_map(|l| l.to_le_bytes()).chain(rest.iter().copied()) {
        h = (h ^ b as u64).wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")
}

impl Backbone {
    /// Opens `spec`: a folder, or a hub id (downloaded once into the hub cache).
    pub fn open(spec: &str) -> Result<Self> {
        let source = ModelSource::parse(spec)?;
        let dir = source.resolve()?;
        // Packs record the backbone: a folder by its absolute path, so that the pack works from
        // any working directory; a hub id as it is.
        let id = match &source {
            ModelSource::Dir(d) => {
                d.canonicalize().map_or_else(|_| spec.to_string(), |p| p.display().to_string())
            }
            ModelSource::Hub(h) => h.clone(),
        };
        let tokenizer = WordTokenizer::from_dir(&dir)?;
        let file = dir.join("model.safetensors");
        let bytes = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
        let weights_hash = fnv_hex(&bytes);
        drop(bytes);
        let cfg_path = dir.join("config.json");
        let warm_started = is_bert_config(&cfg_path);
        let (config, weights) = if warm_started {
            let (cfg, host) = warm_start(&cfg_path, &Weights::open(&[file])?)?;
            (cfg, Weights::from_tensors(&host)?)
        } else {
            (BartConfig::from_file(&cfg_path)?, Weights::open(&[file])?)
        };
        if tokenizer.vocab_size() > config.vocab_size {
            return Err(Error::Weights(format!(
                "{}: the tokenizer has {} tokens but the model only {} embedding rows; the folder mixes two models",
                dir.display(),
                tokenizer.vocab_size(),
                config.vocab_size
            )));
        }
        Ok(Self { id, dir, config, tokenizer, weights, weights_hash, warm_started })
    }
}
