//! Training: the loop (AdamW with decoupled weight decay, linear warm-up and decay, global
//! gradient-norm clipping, length-grouped shuffled batches, dropout in training only), evaluation
//! on a dev set with best-epoch selection and early stopping, and resumable checkpoints.

pub mod adamw;
pub mod batches;
pub mod checkpoint;
pub mod schedule;
pub mod trainer;

pub use trainer::{DevScore, EpochLog, Observer, TrainSummary, train};

use serde::{Deserialize, Serialize};

/// What trains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum TrainWhat {
    /// The prompt generators and head parameters only (LightNER).
    #[default]
    Prompts,
    /// The prompts plus the backbone parameters whose path contains one of these parts
    /// (`encoder_attn` trains every cross-attention).
    PromptsAnd(Vec<String>),
    /// Everything, backbone included (full fine-tuning).
    Everything,
}

impl TrainWhat {
    /// Whether backbone parameter `path` trains.
    pub fn trains_backbone_param(&self, path: &str) -> bool {
        match self {
            TrainWhat::Prompts => false,
            TrainWhat::PromptsAnd(parts) => parts.iter().any(|p| path.contains(p.as_str())),
            TrainWhat::Everything => true,
        }
    }

    /// Whether any backbone parameter trains.
    pub fn touches_backbone(&self) -> bool {
        !matches!(self, TrainWhat::Prompts)
    }
}

/// Training settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Passes over the training sentences.
    pub epochs: usize,
    /// Sentences per batch.
    pub batch_size: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Peak learning rate of a learnt α (same schedule, no weight decay); `None`: `lr`. Adam
    /// moves a parameter by about its learning rate per step whatever the gradient's size, so
    /// with the prompts' rate (5e-4) α's logit can travel at most 0.1 in 200 steps: a learnt α
    /// would barely leave its start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha_lr: Option<f64>,
    /// Decoupled weight decay (none on biases and LayerNorm parameters).
    pub weight_decay: f64,
    /// Fraction of the steps spent warming up.
    pub warmup_ratio: f64,
    /// Global gradient-norm clip (0 = none).
    pub max_grad_norm: f64,
    /// Seed of the shuffling, the dropout masks and the prompt initialisation.
    pub seed: u64,
    /// First 0-based epoch evaluated on the dev set.
    pub eval_from_epoch: usize,
    /// Stop after this many evaluated epochs without a better dev F1.
    pub patience: Option<usize>,
    /// Dropout in training (backbone rates from its config, 0.3 in the head).
    pub dropout: bool,
    /// What trains.
    pub train: TrainWhat,
}

impl TrainConfig {
    /// Checks every number: a NaN or out-of-range setting would otherwise train on silently
    /// (a NaN weight decay turns every weight into NaN, and the run blames nothing).
    pub fn validate(&self) -> crate::Result<()> {
        let bad =
            |what: &str, v: f64, range: &str| Err(crate::Error::Config(format!("{what} {v} is not {range}")));
        // The model computes in 32-bit floats: a setting must survive the conversion (1e-300
        // would become 0, 1e300 infinity).
        let positive = |x: f64| x > 0.0 && (x as f32).is_normal();
        let non_negative = |x: f64| x == 0.0 || positive(x);
        if self.epochs == 0 || self.batch_size == 0 {
            return Err(crate::Error::Config("epochs and batch size must be at least 1".into()));
        }
        if !positive(self.lr) {
            return bad("the learning rate", self.lr, "a number > 0 within the 32-bit float range");
        }
        if let Some(a) = self.alpha_lr
            && !positive(a)
        {
            return bad("alpha's learning rate", a, "a number > 0 within the 32-bit float range");
        }
        if !non_negative(self.weight_decay) {
            return bad("the weight decay", self.weight_decay, "a number >= 0 within the 32-bit float range");
        }
        if !(0.0..=1.0).contains(&self.warmup_ratio) {
            return bad("the warm-up ratio", self.warmup_ratio, "in [0, 1]");
        }
        if !non_negative(self.max_grad_norm) {
            return bad(
                "the gradient-norm clip",
                self.max_grad_norm,
                "a number >= 0 within the 32-bit float range",
            );
        }
        if self.patience == Some(0) {
            return Err(crate::Error::Config("patience must be at least 1 evaluated epoch".into()));
        }
        Ok(())
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 30,
            batch_size: 4,
            lr: 5e-5,
            alpha_lr: None,
            weight_decay: 0.01,
            warmup_ratio: 0.01,
            max_grad_norm: 1.0,
            seed: 1,
            eval_from_epoch: 0,
            patience: None,
            dropout: true,
            train: TrainWhat::Prompts,
        }
    }
}
