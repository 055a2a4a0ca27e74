//! Packs over one backbone share its weights: the second and later predictors of a backbone add
//! only what is theirs (prefixes, label rows), not another copy of the encoder, the decoder or
//! the token embedding. This is what lets one server hold many domains. Alone in its test
//! binary, so that no other test allocates while the resident memory is measured.

#![cfg(target_os = "linux")]

use burn::tensor::Device;
use lightner::data::LabelSet;
use lightner::model::tiny::{TinySize, write_tiny};
use lightner::pipeline::{Backbone, DecodeSettings, ModelSpec, Pack, Predictor, PromptSize, build};
use std::sync::Arc;

/// Resident memory of this process, in bytes (`/proc/self/statm` counts pages).
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[test]
fn predictors_of_one_backbone_hold_its_weights_once() {
    let tmp = tempfile::tempdir().unwrap();
    // About 7.4 M parameters in the layers (30 MB) and a 20,000-word embedding (21 MB): a copy
    // of either per pack stands out (six copies of the embedding alone exceed the weights).
    let size = TinySize { d_model: 256, layers: 4, heads: 4, ffn: 1024, positions: 128 };
    let mut words: Vec<String> = ["show", "me", "films", "with", "tom"].map(String::from).to_vec();
    words.extend((0..20_000).map(|i| format!("w{i}")));
    let corpus = vec![words];
    write_tiny(&tmp.path().join("bb"), size, &corpus, 3).unwrap();
    let bb = Arc::new(Backbone::open(tmp.path().join("bb").to_str().unwrap()).unwrap());
    let weight_bytes = std::fs::metadata(tmp.path().join("bb/model.safetensors")).unwrap().len();
    let device = Device::flex();
    let labels = LabelSet::builtin("mit-movie").unwrap();
    let spec = ModelSpec { prompt: Some(PromptSize { len: 4, dim: 16 }), ..ModelSpec::default() };
    let (model, _) = build(&bb, &labels, &spec, 1, &device).unwrap();
    let mut pack = Pack::from_model(
        &model,
        &bb,
        &labels,
        &spec,
        DecodeSettings::default(),
        serde_json::Value::Null,
        serde_json::Value::Null,
    )
    .unwrap();
    drop(model);
    pack.save(&tmp.path().join("pack")).unwrap();
    let pack = Pack::load(&tmp.path().join("pack")).unwrap();

    let first = Predictor::new(Arc::clone(&bb), &pack, &device).unwrap();
    let words = vec![vec!["show".to_string(), "me".into(), "films".into()]];
    let expected = first.tag(&words).unwrap();
    let before = rss();
    let more: Vec<Predictor> =
        (0..6).map(|_| Predictor::new(Arc::clone(&bb), &pack, &device).unwrap()).collect();
    let grown = rss().saturating_sub(before);
    // A copy per predictor would add about 6 × the weights; sharing adds their small own parts.
    assert!(
        grown < weight_bytes,
        "6 more predictors grew resident memory by {grown} bytes, the weights are {weight_bytes}: each holds its own copy"
    );
    for p in &more {
        assert_eq!(p.tag(&words).unwrap(), expected, "a predictor sharing weights tags differently");
    }
}
