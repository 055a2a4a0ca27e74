//! Helpers shared by the library's integration tests: MIT-Movie sentences, a tiny random backbone
//! built over them, their label set, and a training job with the settings the tests start from.
#![allow(dead_code)] // each test file uses a different subset

use burn::tensor::Device;
use lightner::data::{self, LabelSet, ReadOptions, Sentence};
use lightner::model::tiny::{TinySize, write_tiny};
use lightner::pipeline::session::TrainJob;
use lightner::pipeline::{Backbone, DecodeSettings, ModelSpec};
use lightner::train::TrainConfig;
use std::path::Path;

/// The first `n` sentences of MIT-Movie's 10-shot training file.
pub fn movie(n: usize) -> Vec<Sentence> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mit-movie/10-shot-train.txt");
    data::read_file(&p, ReadOptions::default()).unwrap().sentences.into_iter().take(n).collect()
}

/// A tiny random backbone whose vocabulary covers `sents`, written to `dir` from `seed`.
pub fn tiny_seeded(dir: &Path, sents: &[Sentence], seed: u64) -> Backbone {
    let corpus: Vec<Vec<String>> = sents.iter().map(|s| s.words.clone()).collect();
    write_tiny(dir, TinySize::default(), &corpus, seed).unwrap();
    Backbone::open(dir.to_str().unwrap()).unwrap()
}

/// [`tiny_seeded`] with seed 3.
pub fn tiny(dir: &Path, sents: &[Sentence]) -> Backbone {
    tiny_seeded(dir, sents, 3)
}

/// MIT-Movie's label words, with the type names as `sents` spell them.
pub fn labels(sents: &[Sentence]) -> LabelSet {
    LabelSet::builtin("mit-movie")
        .unwrap()
        .with_names_from(sents.iter().flat_map(|s| s.spans.iter().map(|x| x.label.as_str())))
}

/// A job on the plain CPU device: no dev set, nothing held out (the last epoch is kept), no
/// checkpoint, no warm start, default decoding.
pub fn job<'a>(bb: &'a Backbone, train: Vec<Sentence>, spec: ModelSpec, config: TrainConfig) -> TrainJob<'a> {
    TrainJob {
        backbone: bb,
        labels: labels(&train),
        dev: None,
        train,
        holdout: 0.0,
        spec,
        config,
        decoding: DecodeSettings::default(),
        checkpoint: None,
        device: Device::flex(),
        init_from: None,
        keep_generator: false,
    }
}
