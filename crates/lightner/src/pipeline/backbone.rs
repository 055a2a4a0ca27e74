//! A backbone: its folder (given, or fetched from the hub into the local cache), config,
//! tokenizer, weights, and a hash of the weights that packs record so that a pack is never
//! plugged onto a backbone it was not trained on.

use crate::error::{Error, Result};
use crate::model::bert2bert::{is_bert_config, warm_start};
use crate::model::source::ModelSource;
use crate::model::{Bart, BartConfig, Weights};
use crate::tokenize::WordTokenizer;
use burn::tensor::Device;
use std::path::PathBuf;
use std::sync::Mutex;

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
    /// The model built from `weights`, one per device, kept to be cloned (see [`Backbone::bart`]).
    built: Mutex<Vec<(Device, Bart)>>,
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
        Ok(Self::from_parts(id, dir, config, tokenizer, weights, weights_hash, warm_started))
    }

    /// A backbone from its parts (a test's control with other weights, say); nothing is read.
    pub fn from_parts(
        id: String,
        dir: PathBuf,
        config: BartConfig,
        tokenizer: WordTokenizer,
        weights: Weights,
        weights_hash: String,
        warm_started: bool,
    ) -> Self {
        Self { id, dir, config, tokenizer, weights, weights_hash, warm_started, built: Mutex::default() }
    }

    /// The backbone's model on `device`, as its weights say (no label rows, nothing trained).
    /// It is built once per device and cloned afterwards: a clone shares every weight tensor
    /// with the first (burn's tensors are reference-counted and copied on write), so the packs
    /// of one backbone, in a server say, hold its weights once between them, and a pack that
    /// changes a tensor (its label rows, its trained parameters) gets its own copy of that
    /// tensor only.
    pub fn bart(&self, device: &Device) -> Result<Bart> {
        // A poisoned lock only means a build panicked half-way; the list itself is still whole.
        let mut built = self.built.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, bart)) = built.iter().find(|(d, _)| d == device) {
            return Ok(bart.clone());
        }
        let bart = Bart::load(&self.config, &self.weights, device)?;
        built.push((device.clone(), bart.clone()));
        Ok(bart)
    }
}
