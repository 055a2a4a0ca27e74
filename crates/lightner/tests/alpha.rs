//! The fusion weight α of the pointer (docs/deepke.md §5.5): source rows are α·H_enc + (1−α)·E[src].
//! Checked on the tensors: α = 0 leaves only the word embedding, α = 1 only the hidden state; a
//! pack trained with α = 0.3 predicts with 0.3; a learnt α receives a gradient and moves, and
//! its pack keeps the value it reached; so does one α per hidden dimension.

mod common;

use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use common::{labels, movie};
use lightner::data::Sentence;
use lightner::model::LightNer;
use lightner::pipeline::session::{self, TrainJob};
use lightner::pipeline::{Alpha, Backbone, ModelSpec, Pack, PromptSize, build};
use lightner::train::{TrainConfig, TrainWhat};
use std::path::Path;

fn spec(alpha: f64, learn: bool) -> ModelSpec {
    ModelSpec {
        prompt: Some(PromptSize { len: 4, dim: 32 }),
        alpha: if learn {
            Alpha::Learnt { init: alpha, per_dim: false, value: None }
        } else {
            Alpha::Fixed(alpha)
        },
        ..ModelSpec::default()
    }
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// The source rows of the head's keys for encoder states `enc` and source ids `src`, and the
/// two ingredients they fuse.
fn source_rows(model: &LightNer, enc: &Tensor<3>, src: &Tensor<2, Int>) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let [b, s, d] = enc.dims();
    let invalid = Tensor::<2, Bool>::from_data(TensorData::new(vec![false; b * s], [b, s]), &enc.device());
    let keys = model.head.keys(&model.bart, &model.trainable.head, enc.clone(), src.clone(), invalid).keys;
    let k = keys.dims()[1];
    let rows = keys.slice([0..b, k - s..k, 0..d]);
    (values(rows), values(enc.clone()), values(model.bart.token_embeddings(src.clone())))
}

fn inputs(bb: &Backbone, device: &Device) -> (Tensor<3>, Tensor<2, Int>) {
    let (b, s, d) = (2, 5, bb.config.d_model);
    // Distinct, arbitrary encoder states: the check must not depend on what the encoder computes.
    let enc: Vec<f32> = (0..b * s * d).map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0).collect();
    let ids: Vec<i64> = (0..b * s).map(|i| 4 + (i as i64 * 7) % 20).collect();
    (
        Tensor::<3>::from_data(TensorData::new(enc, [b, s, d]), device),
        Tensor::<2, Int>::from_data(TensorData::new(ids, [b, s]), device),
    )
}

#[test]
fn alpha_zero_is_the_word_embedding_alone_and_one_the_hidden_state_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let sents = movie(10);
    let bb = tiny(tmp.path(), &sents);
    let device = Device::flex();
    let (enc, src) = inputs(&bb, &device);
    for (alpha, want) in [(0.0, "embedding"), (1.0, "hidden"), (0.3, "mix")] {
        let (model, _) = build(&bb, &labels(&sents), &spec(alpha, false), 1, &device).unwrap();
        let (rows, h, e) = source_rows(&model, &enc, &src);
        let expect: Vec<f32> =
            h.iter().zip(&e).map(|(h, e)| alpha as f32 * h + (1.0 - alpha as f32) * e).collect();
        assert!(max_diff(&rows, &expect) < 1e-6, "α = {alpha}: rows are not α·H + (1−α)·E");
        match want {
            "embedding" => assert_eq!(rows, e, "α = 0 must leave the word embedding alone"),
            "hidden" => assert_eq!(rows, h, "α = 1 must leave the hidden state alone"),
            _ => assert!(max_diff(&rows, &h) > 0.1 && max_diff(&rows, &e) > 0.1),
        }
        // Perturbing the hidden states moves the rows unless α = 0.
        let (moved, _, _) = source_rows(&model, &enc.clone().add_scalar(1.0), &src);
        let shift = max_diff(&moved, &rows);
        if alpha == 0.0 {
            assert_eq!(shift, 0.0, "α = 0 rows depend on the hidden state");
        } else {
            assert!((shift - alpha as f32).abs() < 1e-5, "α = {alpha}: shift {shift}");
        }
    }
}

fn job<'a>(bb: &'a Backbone, train: Vec<Sentence>, spec: ModelSpec, epochs: usize) -> TrainJob<'a> {
    let config =
        TrainConfig { epochs, batch_size: 8, lr: 1e-2, train: TrainWhat::Prompts, ..TrainConfig::default() };
    common::job(bb, train, spec, config)
}

fn tiny(dir: &Path, sents: &[Sentence]) -> Backbone {
    common::tiny_seeded(dir, sents, 5)
}

#[test]
fn a_pack_trained_with_alpha_point_three_predicts_with_it() {
    let tmp = tempfile::tempdir().unwrap();
    let sents = movie(10);
    let bb = tiny(&tmp.path().join("tiny"), &sents);
    let mut out = session::run(job(&bb, sents, spec(0.3, false), 1), &mut (), &mut |_| {}).unwrap();
    let dir = tmp.path().join("pack");
    out.pack.save(&dir).unwrap();
    let pack = Pack::load(&dir).unwrap();
    assert_eq!(pack.manifest.model.alpha, Alpha::Fixed(0.3));
    let device = Device::flex();
    let (model, _) = pack.model(&bb, &device).unwrap();
    let (enc, src) = inputs(&bb, &device);
    let (rows, h, e) = source_rows(&model, &enc, &src);
    let expect: Vec<f32> = h.iter().zip(&e).map(|(h, e)| 0.3 * h + 0.7 * e).collect();
    assert!(max_diff(&rows, &expect) < 1e-6, "the loaded pack does not fuse with α = 0.3");
}

#[test]
fn a_learnt_alpha_receives_a_gradient_moves_and_is_kept_by_the_pack() {
    let tmp = tempfile::tempdir().unwrap();
    let sents = movie(16);
    let bb = tiny(&tmp.path().join("tiny"), &sents);
    let mut out = session::run(job(&bb, sents, spec(0.5, true), 4), &mut (), &mut |_| {}).unwrap();
    let logit = out.model.trainable.head.alpha_logit.as_ref().expect("α is learnt").val();
    let learnt = 1.0 / (1.0 + (-(values(logit)[0] as f64)).exp());
    eprintln!("learnt α after 4 epochs on 16 sentences: 0.5 → {learnt:.4}");
    assert!((learnt - 0.5).abs() > 1e-3, "α did not move from 0.5 (now {learnt})");
    let dir = tmp.path().join("pack");
    out.pack.save(&dir).unwrap();
    let pack = Pack::load(&dir).unwrap();
    let a = pack.manifest.model.alpha;
    assert!(a.is_learnt() && !a.per_dim() && a.init() == 0.5, "{a:?}");
    assert!((a.value() - learnt).abs() < 1e-6, "{a:?} vs {learnt}");
    let (model, _) = pack.model(&bb, &Device::flex()).unwrap();
    assert!((model.head.alpha - learnt).abs() < 1e-6);
}

#[test]
fn a_per_dimension_alpha_learns_each_dimension_and_its_pack_fuses_with_all_of_them() {
    let tmp = tempfile::tempdir().unwrap();
    let sents = movie(16);
    let bb = tiny(&tmp.path().join("tiny"), &sents);
    let d = bb.config.d_model;
    let per_dim =
        ModelSpec { alpha: Alpha::Learnt { init: 0.5, per_dim: true, value: None }, ..spec(0.5, true) };
    let mut out = session::run(job(&bb, sents, per_dim, 4), &mut (), &mut |_| {}).unwrap();
    let logits = values(out.model.trainable.head.alpha_logit.as_ref().expect("α is learnt").val());
    assert_eq!(logits.len(), d, "one α per hidden dimension");
    let learnt: Vec<f32> = logits.iter().map(|l| 1.0 / (1.0 + (-l).exp())).collect();
    // Each dimension gets its own gradient, so the values part from their common start.
    let (lo, hi) = learnt.iter().fold((f32::MAX, f32::MIN), |(lo, hi), &a| (lo.min(a), hi.max(a)));
    eprintln!("per-dimension α after 4 epochs: {lo:.4} … {hi:.4}");
    assert!(hi - lo > 1e-3, "the dimensions did not move apart ({lo} … {hi})");
    let mean = learnt.iter().map(|&a| f64::from(a)).sum::<f64>() / d as f64;
    assert!(
        (out.summary.history.last().unwrap().alpha.unwrap() - mean).abs() < 1e-5,
        "the log reports the mean"
    );

    let dir = tmp.path().join("pack");
    out.pack.save(&dir).unwrap();
    let pack = Pack::load(&dir).unwrap();
    let a = pack.manifest.model.alpha;
    assert!(a.per_dim(), "{a:?}");
    assert!((a.value() - mean).abs() < 1e-6, "{a:?} vs {mean}");
    let device = Device::flex();
    let (model, _) = pack.model(&bb, &device).unwrap();
    let (enc, src) = inputs(&bb, &device);
    let (rows, h, e) = source_rows(&model, &enc, &src);
    let expect: Vec<f32> =
        (0..rows.len()).map(|i| learnt[i % d] * h[i] + (1.0 - learnt[i % d]) * e[i]).collect();
    assert!(max_diff(&rows, &expect) < 1e-5, "the loaded pack does not fuse dimension by dimension");
}

#[test]
fn alpha_on_its_own_learning_rate_travels_further_than_at_the_prompts_rate() {
    let tmp = tempfile::tempdir().unwrap();
    let sents = movie(16);
    let bb = tiny(&tmp.path().join("tiny"), &sents);
    let moved = |alpha_lr: Option<f64>| {
        let mut j = job(&bb, sents.clone(), spec(0.5, true), 4);
        j.config.lr = 1e-3;
        j.config.alpha_lr = alpha_lr;
        let out = session::run(j, &mut (), &mut |_| {}).unwrap();
        (out.summary.history.last().unwrap().alpha.unwrap() - 0.5).abs()
    };
    // Adam moves the logit by about the learning rate per step: 8 steps at 1e-3 move α by at
    // most 0.002; at 0.1 it can move by up to about 0.2.
    let (shared, own) = (moved(None), moved(Some(0.1)));
    eprintln!("|α − 0.5| after 8 steps: {shared:.5} at the prompts' rate, {own:.5} at its own");
    assert!(shared < 0.002 + 1e-6, "{shared}");
    assert!(own > 0.01 && own > 5.0 * shared, "α on its own rate moved {own}, at the prompts' rate {shared}");
}

#[test]
fn manifests_written_before_the_alpha_type_still_load() {
    // Packs written before `Alpha` held three fields; the old `alpha` was the value in use.
    let old = |extra: &str| {
        format!(
            r#"{{"label_mode": "Added", "pointer_space": "word-start", "prompt": null, "alpha": 0.25{extra}}}"#
        )
    };
    let parse = |t: String| serde_json::from_str::<ModelSpec>(&t).unwrap().alpha;
    assert_eq!(parse(old("")), Alpha::Fixed(0.25));
    assert_eq!(parse(old(r#", "learn_alpha": false, "alpha_per_dim": false"#)), Alpha::Fixed(0.25));
    assert_eq!(
        parse(old(r#", "learn_alpha": true, "alpha_per_dim": true"#)),
        Alpha::Learnt { init: 0.25, per_dim: true, value: Some(0.25) }
    );
    // Today's shape round-trips.
    for a in [Alpha::Fixed(0.7), Alpha::Learnt { init: 0.5, per_dim: false, value: Some(0.61) }] {
        let spec = ModelSpec { alpha: a, ..ModelSpec::default() };
        let back: ModelSpec = serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
        assert_eq!(back, spec);
    }
}
