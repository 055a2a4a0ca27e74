//! The inference façade: a `Predictor` made from a backbone and a saved pack tags exactly as the
//! tagger does on the pack's model, tags a document in slices exactly as in one piece, and gives
//! entities whose character offsets cut their own text out of the document.

use burn::tensor::Device;
use lightner::data::{self, LabelSet, ReadOptions, Sentence};
use lightner::model::tiny::{TinySize, write_tiny};
use lightner::pipeline::session::{self, TrainJob};
use lightner::pipeline::{Backbone, DecodeSettings, ModelSpec, Pack, Predictor, PromptSize, Tagger};
use lightner::train::{TrainConfig, TrainWhat};
use std::path::Path;
use std::sync::Arc;

fn movie(n: usize) -> Vec<Sentence> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mit-movie/10-shot-train.txt");
    data::read_file(&p, ReadOptions::default()).unwrap().sentences.into_iter().take(n).collect()
}

/// A tiny backbone and a pack trained on it for a few epochs (enough to predict entities).
fn pack(dir: &Path) -> (Arc<Backbone>, Pack, Vec<Sentence>) {
    let sents = movie(12);
    let corpus: Vec<Vec<String>> = sents.iter().map(|s| s.words.clone()).collect();
    write_tiny(&dir.join("tiny"), TinySize::default(), &corpus, 4).unwrap();
    let bb = Backbone::open(dir.join("tiny").to_str().unwrap()).unwrap();
    let labels = LabelSet::builtin("mit-movie")
        .unwrap()
        .with_names_from(sents.iter().flat_map(|s| s.spans.iter().map(|x| x.label.as_str())));
    let job = TrainJob {
        backbone: &bb,
        labels,
        dev: None,
        train: sents.clone(),
        holdout: 0.0,
        spec: ModelSpec { prompt: Some(PromptSize { len: 4, dim: 32 }), ..ModelSpec::default() },
        config: TrainConfig {
            epochs: 25,
            batch_size: 4,
            lr: 1e-2,
            train: TrainWhat::Prompts,
            dropout: false,
            ..TrainConfig::default()
        },
        decoding: DecodeSettings::default(),
        checkpoint: None,
        device: Device::flex(),
        init_from: None,
        keep_generator: false,
    };
    let mut out = session::run(job, &mut (), &mut |_| {}).unwrap();
    out.pack.save(&dir.join("pack")).unwrap();
    (Arc::new(bb), Pack::load(&dir.join("pack")).unwrap(), sents)
}

#[test]
fn a_predictor_tags_as_the_tagger_and_its_offsets_cut_out_the_entities() {
    let tmp = tempfile::tempdir().unwrap();
    let (bb, pack, sents) = pack(tmp.path());
    let device = Device::flex();
    let predictor = Predictor::new(Arc::clone(&bb), &pack, &device).unwrap();
    let words: Vec<Vec<String>> = sents.iter().map(|s| s.words.clone()).collect();

    // The same as the tagger on the pack's model.
    let (model, label_words) = pack.model(&bb, &device).unwrap();
    let m = &pack.manifest;
    let tagger = Tagger::new(&bb, pack.labels().unwrap(), label_words, m.model.pointer_space, m.decoding);
    let direct = tagger.tag(&model, &words).unwrap();
    let via = predictor.tag(&words).unwrap();
    assert_eq!(via, direct);
    assert!(
        via.iter().any(|t| !t.spans.is_empty()),
        "the trained pack finds nothing: the test shows nothing"
    );

    // A document of many sentences: one piece or sentence by sentence, the same entities.
    let doc: String = sents.iter().map(|s| s.words.join(" ") + " .").collect::<Vec<_>>().join(" ");
    let whole = predictor.text(&doc).unwrap();
    assert!(!whole.is_empty());
    let chars: Vec<char> = doc.chars().collect();
    for e in &whole {
        assert_eq!(chars[e.start..e.end].iter().collect::<String>(), e.text, "{e:?}");
        assert!(e.score > 0.0 && e.score <= 1.0);
    }
    let sentences = data::text::sentences_with(&doc, predictor.text_words());
    let mut one_by_one = Vec::new();
    for s in &sentences {
        one_by_one.extend(predictor.document(std::slice::from_ref(s)).unwrap().0);
    }
    assert_eq!(one_by_one, whole, "tagging sentence by sentence differs from tagging the document");

    // Scoring is the tagger's.
    let (report, _) = predictor.evaluate(&sents).unwrap();
    assert_eq!(report, tagger.evaluate(&model, &sents).unwrap().0);
}
