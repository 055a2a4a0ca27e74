//! The training loop. The model lives on an autodiff device; only parameters that require
//! gradients (the prompts and head, plus the backbone parts [`TrainWhat`] names) are stepped.

use super::adamw::FusedAdamW;
use super::batches::length_grouped;
use super::checkpoint::{self, LoopState};
use super::schedule::linear_warmup_decay;
use super::{TrainConfig, TrainWhat};
use crate::error::{Error, Result};
use crate::model::batch::training_batch;
use crate::model::params::{self, SavedParam};
use crate::model::{LightNer, Trainable};
use crate::tokenize::{Example, TokenId};
use burn::module::ParamGroup;
use burn::optim::{GradientsParams, ModuleOptimizer};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Instant;

/// Dev-set scores of one evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DevScore {
    /// Micro precision.
    pub precision: f64,
    /// Micro recall.
    pub recall: f64,
    /// Micro F1 (the selection criterion).
    pub f1: f64,
}

/// One epoch's record (also a line of `metrics.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochLog {
    /// 0-based epoch.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches.
    pub loss: f64,
    /// Learning rate at the epoch's last step.
    pub lr: f64,
    /// Mean global gradient norm before clipping.
    pub grad_norm: f64,
    /// Dev scores, when evaluated.
    pub dev: Option<DevScore>,
    /// Whether this epoch is the best so far.
    pub best: bool,
    /// Wall time of the epoch (training and evaluation), seconds.
    pub seconds: f64,
    /// α at the end of the epoch, when it is learnt (its trajectory; the mean of a per-dimension α).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
}

/// Progress callbacks (the CLI draws bars; tests may stop a run early).
pub trait Observer {
    /// Called once with the total and already-done steps.
    fn begin(&mut self, _total_steps: usize, _done_steps: usize) {}
    /// Called after each optimizer step.
    fn step(&mut self, _step: usize, _loss: f64, _lr: f64) {}
    /// Called after each epoch (after its checkpoint); return false to stop here.
    fn epoch(&mut self, _log: &EpochLog) -> bool {
        true
    }
}

impl Observer for () {}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainSummary {
    /// Per-epoch log (including epochs done before a resume).
    pub history: Vec<EpochLog>,
    /// Best dev F1 and its epoch, when a dev set was used.
    pub best: Option<(f64, usize)>,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
    /// Whether the run resumed from a checkpoint.
    pub resumed: bool,
    /// Whether the run ran all its epochs (false when an observer stopped it).
    pub complete: bool,
}

/// FNV-1a, for a hash that stays the same across builds.
pub fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x100000001b3))
}

/// The checkpoint file of α's optimizer state (with `alpha_lr`).
const ALPHA_OPTIM: &str = "optim-alpha.bpk";

fn optimizer(cfg: &TrainConfig) -> Result<ModuleOptimizer> {
    let adamw = |wd: f64| FusedAdamW::new(wd as f32, 1e-8);
    // No decay on biases and LayerNorm parameters (burn names them gamma/beta).
    let no_decay = ParamGroup::from_any_regexes(vec![r"(^|\.)(bias|beta|gamma)$"])
        .map_err(|e| Error::Internal(format!("{e:?}")))?;
    Ok(ModuleOptimizer::from(adamw(cfg.weight_decay)).with_group(no_decay, adamw(0.0), None))
}

struct Snapshot {
    trainable: BTreeMap<String, SavedParam>,
    backbone: BTreeMap<String, SavedParam>,
}

/// The trained values of `m`: its trainable parts, and the backbone's trained parameters when
/// `backbone` (some train).
fn snapshot(m: &LightNer, backbone: bool) -> Snapshot {
    Snapshot {
        trainable: params::collect(&m.trainable, true),
        backbone: if backbone { params::collect(&m.bart, true) } else { BTreeMap::new() },
    }
}

/// `m` with the values of `s` in place, and whether every one of them found its parameter (same
/// path and shape).
fn apply(m: LightNer, s: &Snapshot) -> (LightNer, bool) {
    let LightNer { bart, trainable, head, fixed_prefixes } = m;
    let (trainable, a) = params::restore(trainable, &s.trainable);
    let (bart, b) = if s.backbone.is_empty() { (bart, 0) } else { params::restore(bart, &s.backbone) };
    let all = a == s.trainable.len() && b == s.backbone.len();
    (LightNer { bart, trainable, head, fixed_prefixes }, all)
}

/// Makes the backbone parts `cfg.train` names trainable.
pub fn prepare(m: LightNer, what: &TrainWhat) -> LightNer {
    if !what.touches_backbone() {
        return m;
    }
    let LightNer { bart, trainable, head, fixed_prefixes } = m;
    let bart = params::unfreeze(bart, &|p| what.trains_backbone_param(p));
    LightNer { bart, trainable, head, fixed_prefixes }
}

/// Trains `model` (on an autodiff device, backbone parts already unfrozen with [`prepare`]) on
/// `examples`. `eval` scores the dev set (None: no dev set, the last epoch is kept); the best
/// epoch's parameters are restored at the end. With `checkpoint`, the loop state is saved after
/// every epoch and a run with the same configuration resumes from it.
pub fn train(
    mut model: LightNer,
    examples: &[Example],
    pad: TokenId,
    cfg: &TrainConfig,
    eval: &mut dyn FnMut(&LightNer) -> Result<Option<DevScore>>,
    obs: &mut dyn Observer,
    checkpoint: Option<checkpoint::At<'_>>,
) -> Result<(LightNer, TrainSummary)> {
    cfg.validate()?;
    if examples.is_empty() {
        return Err(Error::Training("no training sentences".into()));
    }
    let device = model.bart.shared.val().device();
    // Backbone parameters train when `cfg.train` unfroze some, or when the model was built with
    // trainable ones (low-rank adapters, `crate::model::lora`).
    let backbone_trains = cfg.train.touches_backbone() || params::any_trainable(&model.bart);
    let lengths: Vec<usize> = examples.iter().map(|e| e.src.len() + e.target.len()).collect();
    let steps_per_epoch = examples.len().div_ceil(cfg.batch_size.max(1));
    let total = steps_per_epoch * cfg.epochs;
    let config_hash =
        fnv(format!("{}|{}", serde_json::to_string(cfg).unwrap_or_default(), examples.len()).as_bytes());
    let mut optim = optimizer(cfg)?;
    // A learnt α with its own learning rate gets its own AdamW (no weight decay: it is a gate
    // between two representations, not a weight to keep small).
    let mut alpha_optim = ModuleOptimizer::from(FusedAdamW::new(0.0, 1e-8));
    let mut state = LoopState {
        epochs_done: 0,
        steps_done: 0,
        best: None,
        bad_epochs: 0,
        history: vec![],
        config_hash,
        model_hash: checkpoint.map(|c| c.model),
    };
    let mut best: Option<Snapshot> = None;
    let mut resumed = false;
    if let Some(dir) = checkpoint.and_then(|c| checkpoint::existing(c.dir)) {
        let s = checkpoint::read_state(&dir)?;
        let other_model = matches!((s.model_hash, state.model_hash), (Some(a), Some(b)) if a != b);
        if other_model {
            return Err(Error::Checkpoint(format!(
                "{}: this checkpoint trains another model (other prompt sizes, adapters, alpha or labels); \
                 delete it or choose another --checkpoint directory",
                dir.display()
            )));
        }
        if s.config_hash != config_hash {
            return Err(Error::Checkpoint(format!(
                "{}: this checkpoint belongs to another training configuration or data; \
                 delete it or choose another --checkpoint directory",
                dir.display()
            )));
        }
        let load = |name: &str| -> Result<BTreeMap<String, SavedParam>> {
            let p = dir.join(name);
            if p.is_file() { checkpoint::load_params(&p) } else { Ok(BTreeMap::new()) }
        };
        let (resumed_model, fits) = apply(
            model,
            &Snapshot { trainable: load("trainable.safetensors")?, backbone: load("backbone.safetensors")? },
        );
        if !fits {
            // A checkpoint from before models were hashed, of a model of another shape.
            return Err(Error::Checkpoint(format!(
                "{}: this checkpoint's parameters do not fit this model (other prompt sizes, adapters or labels); \
                 delete it or choose another --checkpoint directory",
                dir.display()
            )));
        }
        model = resumed_model;
        if dir.join("best-trainable.safetensors").is_file() {
            best = Some(Snapshot {
                trainable: load("best-trainable.safetensors")?,
                backbone: load("best-backbone.safetensors")?,
            });
        }
        optim = optim
            .load(dir.join("optim.bpk"))
            .map_err(|e| Error::Checkpoint(format!("{}: {e:?}", dir.join("optim.bpk").display())))?;
        if dir.join(ALPHA_OPTIM).is_file() {
            alpha_optim = alpha_optim
                .load(dir.join(ALPHA_OPTIM))
                .map_err(|e| Error::Checkpoint(format!("{}: {e:?}", dir.join(ALPHA_OPTIM).display())))?;
        }
        state = s;
        resumed = true;
    }
    // Read after a resume: restoring a checkpoint restores the saved parameter ids too.
    let alpha_param = model.trainable.head.alpha_logit.as_ref().map(|p| p.id);
    obs.begin(total, state.steps_done);
    let mut complete = true;
    let mut stopped_early = false;
    for epoch in state.epochs_done..cfg.epochs {
        let t0 = Instant::now();
        // Per-epoch seeds: a resumed run draws the same batches and dropout masks.
        crate::model::layers::seed_dropout(cfg.seed.wrapping_mul(1_000_003).wrapping_add(epoch as u64));
        model.set_training(cfg.dropout);
        let (mut loss_sum, mut norm_sum, mut lr) = (0.0, 0.0, 0.0);
        let batches = length_grouped(&lengths, cfg.batch_size, cfg.seed.wrapping_add(epoch as u64));
        for idx in &batches {
            let ex: Vec<Example> = idx.iter().map(|&i| examples[i].clone()).collect();
            let batch = training_batch(&ex, pad, &device);
            let out = model.forward(&batch);
            let loss = LightNer::loss(out.logits, batch.targets, batch.target_mask);
            let loss_value = loss.clone().into_scalar::<f32>() as f64;
            if !loss_value.is_finite() {
                return Err(Error::NonFinite(format!(
                    "the training loss became {loss_value} at step {}; lower --lr",
                    state.steps_done + 1
                )));
            }
            let mut g = loss.backward();
            let mut gt = GradientsParams::from_module(&mut g, &model.trainable);
            let mut gb = backbone_trains.then(|| GradientsParams::from_module(&mut g, &model.bart));
            let sq = params::grad_sq_sum(&model.trainable, &gt)
                + gb.as_ref().map_or(0.0, |gb| params::grad_sq_sum(&model.bart, gb));
            let norm = sq.sqrt();
            let f = params::clip_factor(norm, cfg.max_grad_norm);
            if f < 1.0 {
                params::scale_grads(&model.trainable, &mut gt, f);
                if let Some(gb) = gb.as_mut() {
                    params::scale_grads(&model.bart, gb, f);
                }
            }
            lr = linear_warmup_decay(state.steps_done, total, cfg.warmup_ratio, cfg.lr);
            // α's gradient (clipped with the rest above) goes to its own optimizer.
            let ga = match (cfg.alpha_lr, alpha_param) {
                (Some(_), Some(id)) => gt.remove::<1>(id).map(|g| {
                    let mut ga = GradientsParams::new();
                    ga.register(id, g);
                    ga
                }),
                _ => None,
            };
            let LightNer { bart, trainable, head, fixed_prefixes } = model;
            let mut trainable: Trainable = optim.step(lr, trainable, gt);
            if let (Some(ga), Some(peak)) = (ga, cfg.alpha_lr) {
                let alpha_lr = linear_warmup_decay(state.steps_done, total, cfg.warmup_ratio, peak);
                trainable = alpha_optim.step(alpha_lr, trainable, ga);
            }
            let bart = match gb {
                Some(gb) => optim.step(lr, bart, gb),
                None => bart,
            };
            model = LightNer { bart, trainable, head, fixed_prefixes };
            state.steps_done += 1;
            loss_sum += loss_value;
            norm_sum += norm;
            obs.step(state.steps_done, loss_value, lr);
        }
        model.set_training(false);
        let mut log = EpochLog {
            epoch,
            loss: loss_sum / batches.len() as f64,
            lr,
            grad_norm: norm_sum / batches.len() as f64,
            dev: None,
            best: false,
            seconds: 0.0,
            alpha: model
                .trainable
                .head
                .alpha_logit
                .as_ref()
                // The mean when α is learnt per dimension.
                .map(|l| burn::tensor::activation::sigmoid(l.val()).mean().into_scalar::<f32>() as f64),
        };
        if epoch >= cfg.eval_from_epoch
            && let Some(score) = eval(&model)?
        {
            log.dev = Some(score);
            // Ties go to the later epoch, as the reference's `>=` (docs/deepke.md §6.2), but only a
            // strictly better F1 resets the patience.
            let improved = state.best.is_none_or(|(f, _)| score.f1 > f);
            if improved || state.best.is_some_and(|(f, _)| score.f1 == f) {
                state.best = Some((score.f1, epoch));
                best = Some(snapshot(&model, backbone_trains));
                log.best = true;
            }
            state.bad_epochs = if improved { 0 } else { state.bad_epochs + 1 };
        }
        log.seconds = t0.elapsed().as_secs_f64();
        state.history.push(log.clone());
        state.epochs_done = epoch + 1;
        if let Some(checkpoint::At { dir, .. }) = checkpoint {
            let now = snapshot(&model, backbone_trains);
            checkpoint::commit(dir, &state, |tmp| {
                checkpoint::save_params(&tmp.join("trainable.safetensors"), &now.trainable)?;
                if !now.backbone.is_empty() {
                    checkpoint::save_params(&tmp.join("backbone.safetensors"), &now.backbone)?;
                }
                if let Some(b) = &best {
                    checkpoint::save_params(&tmp.join("best-trainable.safetensors"), &b.trainable)?;
                    if !b.backbone.is_empty() {
                        checkpoint::save_params(&tmp.join("best-backbone.safetensors"), &b.backbone)?;
                    }
                }
                if cfg.alpha_lr.is_some() && alpha_param.is_some() {
                    alpha_optim
                        .save(tmp.join(ALPHA_OPTIM))
                        .map_err(|e| Error::Internal(format!("saving α's optimizer state: {e:?}")))?;
                }
                optim
                    .save(tmp.join("optim.bpk"))
                    .map_err(|e| Error::Internal(format!("saving the optimizer state: {e:?}")))
            })?;
        }
        if !obs.epoch(&log) {
            complete = epoch + 1 == cfg.epochs;
            break;
        }
        if cfg.patience.is_some_and(|p| state.bad_epochs >= p) {
            stopped_early = true;
            break;
        }
    }
    if let Some(b) = &best {
        model = apply(model, b).0;
    }
    model.set_training(false);
    Ok((model, TrainSummary { history: state.history, best: state.best, stopped_early, resumed, complete }))
}
