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
    let mut h = Fnv::default();
    h.update(bytes);
    h.finish()
}

/// [`fnv_hex`] of a file, read in pieces (a weight file is never held whole for its hash).
pub fn fnv_file(path: &std::path::Path) -> Result<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Fnv::default();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            return Ok(h.finish());
        }
        h.update(&buf[..n]);
    }
}

/// The hash of [`fnv_hex`] over bytes given in pieces. Eight interleaved lanes keep the loop
/// fast on large weight files: byte `i` of each 8-byte chunk goes to lane `i`; the lanes, then
/// the last incomplete chunk, are folded into one FNV-1a at the end.
struct Fnv {
    lanes: [u64; 8],
    pending: Vec<u8>,
}

impl Default for Fnv {
    fn default() -> Self {
        Self { lanes: [0xcbf29ce484222325u64; 8], pending: Vec::with_capacity(8) }
    }
}

impl Fnv {
    fn mix(lanes: &mut [u64; 8], chunk: &[u8]) {
        for (l, &b) in lanes.iter_mut().zip(chunk) {
            *l = (*l ^ b as u64).wrapping_mul(0x100000001b3);
        }
    }

    fn update(&mut self, mut bytes: &[u8]) {
        if !self.pending.is_empty() {
            let take = (8 - self.pending.len()).min(bytes.len());
            self.pending.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.pending.len() < 8 {
                return;
            }
            Self::mix(&mut self.lanes, &self.pending);
            self.pending.clear();
        }
        let chunks = bytes.chunks_exact(8);
        self.pending.extend_from_slice(chunks.remainder());
        for c in chunks {
            Self::mix(&mut self.lanes, c);
        }
    }

    fn finish(self) -> String {
        let mut h = 0xcbf29ce484222325u64;
        for b in self.lanes.iter().flat_map(|l| l.to_le_bytes()).chain(self.pending.iter().copied()) {
            h = (h ^ b as u64).wrapping_mul(0x100000001b3);
        }
        format!("{h:016x}")
    }
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
        let weights_hash = fnv_file(&file)?;
        let cfg_path = dir.join("config.json");
        let warm_started = is_bert_config(&cfg_path);
        let (config, weights) = if warm_started {
            let (cfg, host) = warm_start(&cfg_path, &Weights::open(&[file])?)?;
            (cfg, Weights::from_host(host)?)
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
    ///
    /// On an autodiff device (training) every call builds a model of its own: a clone would
    /// share the autodiff leaves of the parameters, and two trainings that unfreeze the same
    /// leaf (side by side in `tune --jobs`) would consume each other's graph.
    pub fn bart(&self, device: &Device) -> Result<Bart> {
        if device.is_autodiff() {
            return Bart::load(&self.config, &self.weights, device);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_of_pieces_is_the_hash_of_the_whole() {
        let bytes: Vec<u8> = (0..1000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
        let whole = fnv_hex(&bytes);
        // Pinned: packs record this hash, so it must never change.
        assert_eq!(
            (fnv_hex(b"lightner").as_str(), fnv_hex(b"lightner-pack").as_str()),
            ("6bd37941d984c7a3", "d69b9cba7d705403")
        );
        for cuts in
            [vec![0, 1000], vec![0, 3, 1000], vec![0, 7, 8, 9, 15, 999, 1000], vec![0, 1, 2, 500, 1000]]
        {
            let mut h = Fnv::default();
            for w in cuts.windows(2) {
                h.update(&bytes[w[0]..w[1]]);
            }
            assert_eq!(h.finish(), whole, "cut at {cuts:?}");
        }
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("w"), &bytes).unwrap();
        assert_eq!(fnv_file(&tmp.path().join("w")).unwrap(), whole);
    }
}
