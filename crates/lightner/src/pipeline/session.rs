//! A whole training run, from sentences to a pack: label words, encoding (over-long sentences
//! skipped and counted), a held-out split when no dev set is given, the training loop with dev
//! evaluation, and the pack.

use super::backbone::Backbone;
use super::pack::Pack;
use super::tagger::{DecodeSettings, Tagger};
use super::warm_start::{self, InitFrom};
use super::{ModelSpec, build};
use crate::data::{LabelSet, Sentence};
use crate::error::{Error, Result};
use crate::eval::Report;
use crate::model::LightNer;
use crate::tokenize::align::encode_all;
use crate::tokenize::{Example, OverlongPolicy};
use crate::train::checkpoint;
use crate::train::trainer::fnv;
use crate::train::trainer::prepare;
use crate::train::{DevScore, Observer, TrainConfig, TrainSummary, train};
use burn::tensor::Device;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use std::path::PathBuf;

/// What to train.
pub struct TrainJob<'a> {
    /// The backbone.
    pub backbone: &'a Backbone,
    /// Training sentences.
    pub train: Vec<Sentence>,
    /// Dev sentences (None: hold out part of the training set, or select nothing).
    pub dev: Option<Vec<Sentence>>,
    /// Fraction of the training sentences held out for selection when there is no dev set
    /// (0: none; the last epoch is kept).
    pub holdout: f64,
    /// The entity types, in target order (the pack records them).
    pub labels: LabelSet,
    /// Model settings.
    pub spec: ModelSpec,
    /// Loop settings.
    pub config: TrainConfig,
    /// Decoding settings (dev evaluation, and the pack's defaults).
    pub decoding: DecodeSettings,
    /// Resumable checkpoint directory.
    pub checkpoint: Option<PathBuf>,
    /// Device (plain; training runs on its autodiff twin).
    pub device: Device,
    /// A pack to start from (`--init-from`; see [`super::warm_start`]).
    pub init_from: Option<InitFrom<'a>>,
    /// Keep the prompt generators in the pack, for later warm starts ([`Pack::keep_generator`]).
    pub keep_generator: bool,
}

/// What a run produced.
pub struct TrainOutcome {
    /// The trained model (autodiff device, dropout off).
    pub model: LightNer,
    /// The pack (not yet saved).
    pub pack: Pack,
    /// The loop's record.
    pub summary: TrainSummary,
    /// Dev report of the kept parameters, when there was a dev or held-out set.
    pub dev_report: Option<Report>,
    /// Training sentences held out for selection.
    pub held_out: usize,
    /// Training sentences skipped because they exceed the model's positions.
    pub skipped: usize,
}

/// Splits off `frac` of `sentences` (at least one, when there are 5 or more) with `seed`.
pub fn hold_out(sentences: Vec<Sentence>, frac: f64, seed: u64) -> (Vec<Sentence>, Vec<Sentence>) {
    let n = sentences.len();
    if frac <= 0.0 || n < 5 {
        return (sentences, Vec::new());
    }
    let k = ((frac * n as f64).round() as usize).clamp(1, n - 1);
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5eed));
    let held: std::collections::BTreeSet<usize> = idx[..k].iter().copied().collect();
    let (mut keep, mut out) = (Vec::new(), Vec::new());
    for (i, s) in sentences.into_iter().enumerate() {
        if held.contains(&i) { out.push(s) } else { keep.push(s) }
    }
    (keep, out)
}

/// Runs a training job. `note` receives one-line messages for the user.
pub fn run(job: TrainJob<'_>, obs: &mut dyn Observer, note: &mut dyn FnMut(String)) -> Result<TrainOutcome> {
    let bb = job.backbone;
    let ad = job.device.clone().autodiff();
    let (model, words) = build(bb, &job.labels, &job.spec, job.config.seed, &ad)?;
    let (model, lineage) = match &job.init_from {
        Some(src) => {
            warm_start::check(src, bb, &job.spec)?;
            let (m, l) = warm_start::apply(model, &job.labels, &words, &job.spec, src)?;
            note(format!(
                "warm start from {}: {}; labels kept {:?}, new {:?}",
                l.pack,
                if l.carried.is_empty() { "nothing else".to_string() } else { l.carried.join(", ") },
                l.kept_labels,
                l.new_labels
            ));
            (m, Some(l))
        }
        None => (model, None),
    };
    let model = prepare(model, &job.config.train);
    let (train_sents, dev, held_out) = match job.dev {
        Some(d) => (job.train, d, 0),
        None => {
            let (t, h) = hold_out(job.train, job.holdout, job.config.seed);
            let n = h.len();
            if n > 0 {
                note(format!(
                    "no --dev given: holding out {n} of {} training sentences to pick the best epoch \
                     (never the test set, unlike the reference)",
                    t.len() + n
                ));
            } else {
                note("no --dev given and nothing held out: keeping the last epoch".into());
            }
            (t, h, n)
        }
    };
    let (encoded, over) =
        encode_all(&bb.tokenizer, &train_sents, bb.config.max_position_embeddings, OverlongPolicy::Skip)?;
    if !over.lines.is_empty() {
        note(format!(
            "skipped {} training sentences longer than the model's {} positions (lines {:?})",
            over.lines.len(),
            bb.config.max_position_embeddings,
            over.lines.iter().take(10).collect::<Vec<_>>()
        ));
    }
    let codec = crate::tokenize::Codec::new(job.labels.len(), job.spec.pointer_space);
    let examples: Vec<Example> = encoded
        .iter()
        .map(|e| {
            Example::with_target(
                &e.align,
                &e.sentence.spans,
                &codec,
                &job.labels,
                &words,
                bb.tokenizer.special(),
            )
        })
        .collect::<Result<_>>()?;
    if examples.is_empty() {
        return Err(Error::Training("no training sentence fits the model; nothing to train on".into()));
    }
    let tagger = Tagger::new(bb, job.labels.clone(), words.clone(), job.spec.pointer_space, job.decoding);
    let mut eval = |m: &LightNer| -> Result<Option<DevScore>> {
        if dev.is_empty() {
            return Ok(None);
        }
        // Off the graph: the same scores, without autodiff bookkeeping on every decoding step.
        let (r, _) = tagger.evaluate(&m.for_inference(), &dev)?;
        Ok(Some(DevScore { precision: r.micro.precision, recall: r.micro.recall, f1: r.micro.f1 }))
    };
    // What a checkpoint must have been written for: these model settings and labels.
    let model_hash =
        fnv(serde_json::to_string(&(&job.spec, job.labels.labels())).unwrap_or_default().as_bytes());
    let (model, summary) = train(
        model,
        &examples,
        bb.tokenizer.special().pad,
        &job.config,
        &mut eval,
        obs,
        job.checkpoint.as_deref().map(|dir| checkpoint::At { dir, model: model_hash }),
    )?;
    // Which library multiplied decides the last bits of the trained values (`model::kernels::blas`),
    // so the manifest says which, for whoever wants to reproduce the pack bit for bit.
    let training = serde_json::json!({
        "config": job.config, "train_sentences": examples.len(), "skipped": over.lines.len(),
        "products": crate::model::kernels::blas::products_used(),
    });
    let mut pack =
        Pack::from_model(&model, bb, &job.labels, &job.spec, job.decoding, training, serde_json::json!({}))?;
    pack.manifest.init_from = lineage;
    if job.keep_generator {
        pack.keep_generator(&model);
    }
    // The final dev score is that of the pack as `predict` will load it, on the plain device.
    let dev_report =
        if dev.is_empty() { None } else { Some(tagger.evaluate(&pack.model(bb, &job.device)?.0, &dev)?.0) };
    pack.manifest.metrics = serde_json::json!({
        "dev": dev_report.as_ref().map(|r| serde_json::json!({"precision": r.micro.precision, "recall": r.micro.recall, "f1": r.micro.f1, "sentences": r.sentences})),
        "held_out": held_out,
        "best_epoch": summary.best.map(|b| b.1),
    });
    pack.manifest.text_words = crate::data::words::WordSplit::detect(
        train_sents.iter().flat_map(|s| s.words.iter().map(String::as_str)),
    );
    Ok(TrainOutcome { model, pack, summary, dev_report, held_out, skipped: over.lines.len() })
}
