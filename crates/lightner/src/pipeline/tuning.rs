//! Scoring one unit of a `tune` trial on a real model: train with the trial's settings on the
//! kept sentences (the training file, or all folds but one), then score the held-out ones (the
//! dev set, or that fold). The last epoch is kept: selecting epochs on the held-out part would
//! score the selection, not the configuration.

use super::backbone::Backbone;
use super::session::{self, TrainJob};
use super::tagger::{DecodeSettings, Tagger};
use super::{Alpha, ModelSpec, PromptSize};
use crate::data::{LabelSet, Sentence};
use crate::error::Result;
use crate::train::{Observer, TrainConfig};
use crate::tune::folds::{k_fold, split};
use crate::tune::{TrialConfig, UnitScore};
use burn::tensor::Device;

/// The data a search scores on.
#[derive(Debug, Clone)]
pub struct TuneData {
    /// Training sentences.
    pub train: Vec<Sentence>,
    /// Dev sentences; without them, `folds`-fold cross-validation on `train`.
    pub dev: Option<Vec<Sentence>>,
    /// Folds when there is no dev set.
    pub folds: usize,
}

impl TuneData {
    /// Units per seed: 1 with a dev set, else the folds.
    pub fn folds_per_seed(&self) -> usize {
        if self.dev.is_some() { 1 } else { self.folds }
    }

    /// The (training, held-out) sentences of `fold` for `seed`.
    pub fn split(&self, seed: u64, fold: usize) -> Result<(Vec<Sentence>, Vec<Sentence>)> {
        match &self.dev {
            Some(d) => Ok((self.train.clone(), d.clone())),
            None => {
                let folds = k_fold(self.train.len(), self.folds, seed)?;
                Ok(split(&self.train, &folds[fold]))
            }
        }
    }
}

/// Everything a trial does not vary.
pub struct TuneSetup<'a> {
    /// The backbone.
    pub backbone: &'a Backbone,
    /// The entity types, in target order.
    pub labels: LabelSet,
    /// Model settings (α and the prompt length come from the trial).
    pub spec: ModelSpec,
    /// Loop settings (learning rate, epochs and seed come from the trial).
    pub config: TrainConfig,
    /// Decoding settings.
    pub decoding: DecodeSettings,
    /// Where the trainings run.
    pub device: Device,
}

struct Silent;
impl Observer for Silent {}

impl TuneSetup<'_> {
    /// The model and loop settings of `trial` trained with `seed`.
    pub fn settings(&self, trial: &TrialConfig, seed: u64) -> (ModelSpec, TrainConfig) {
        let spec = ModelSpec {
            alpha: Alpha::Fixed(trial.alpha),
            prompt: self.spec.prompt.map(|p| PromptSize { len: trial.prompt_len, ..p }),
            ..self.spec.clone()
        };
        let config = TrainConfig { lr: trial.lr, epochs: trial.epochs, seed, ..self.config.clone() };
        (spec, config)
    }

    /// Trains `trial` with `seed` on fold `fold`'s training part and scores its held-out part.
    pub fn score_unit(
        &self,
        data: &TuneData,
        trial: &TrialConfig,
        seed: u64,
        fold: usize,
    ) -> Result<UnitScore> {
        let start = std::time::Instant::now();
        let (train, held) = data.split(seed, fold)?;
        let (spec, config) = self.settings(trial, seed);
        let job = TrainJob {
            backbone: self.backbone,
            train,
            dev: None,
            holdout: 0.0,
            labels: self.labels.clone(),
            spec: spec.clone(),
            config,
            decoding: self.decoding,
            checkpoint: None,
            device: self.device.clone(),
            init_from: None,
            keep_generator: false,
        };
        let outcome = session::run(job, &mut Silent, &mut |_| {})?;
        // Scored as its pack loads (plain device, prompts folded into fixed prefixes).
        let (model, words) = outcome.pack.model(self.backbone, &self.device)?;
        let tagger =
            Tagger::new(self.backbone, self.labels.clone(), words, spec.pointer_space, self.decoding);
        let (report, _) = tagger.evaluate(&model, &held)?;
        Ok(UnitScore {
            precision: report.micro.precision,
            recall: report.micro.recall,
            f1: report.micro.f1,
            seconds: start.elapsed().as_secs_f64(),
        })
    }
}
