//! The glue between data and model: a backbone opened from a folder or hub id, a LightNER model
//! built on it from a [`ModelSpec`], prompt packs that save and restore what training produced,
//! and a [`Tagger`] that turns sentences into scored entities. The CLI is a thin layer over this.

pub mod backbone;
pub mod entities;
pub mod export;
pub mod pack;
pub mod predictor;
pub mod session;
pub mod tagger;
pub mod tuning;
pub mod warm_start;
pub mod windows;

pub use backbone::Backbone;
pub use entities::{Entity, document_entities};
pub use pack::{Manifest, Pack};
pub use predictor::Predictor;
pub use tagger::{DecodeSettings, Tagged, Tagger};

use crate::data::LabelSet;
use crate::error::{Error, Result};
use crate::model::label_init::with_label_rows;
use crate::model::layers::frozen;
use crate::model::lora::LoraSpec;
use crate::model::prompt::PromptShape;
use crate::model::{Bart, HeadParams, LabelScoring, LightNer, PointerHead, Prompts, Trainable};
use crate::tokenize::{LabelWordMode, LabelWords, PointerSpace};
use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// Prompt sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptSize {
    /// Prompt length L.
    pub len: usize,
    /// MLP width P.
    pub dim: usize,
}

/// The fusion weight α of the pointer head (α·H_enc + (1−α)·E[word], docs/deepke.md §5.5): one
/// type for every way to set it, so that no invalid combination (a per-dimension α that is not
/// learnt, say) can be built. Its learning rate is an optimizer setting (`TrainConfig::alpha_lr`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Alpha {
    /// A fixed value in [0, 1].
    Fixed(f64),
    /// Learnt with the prompts through a sigmoid.
    Learnt {
        /// The starting value, in [0, 1].
        init: f64,
        /// One α per hidden dimension (`[d]`, each through its own sigmoid) instead of one
        /// scalar, so that each dimension can weigh context against the word embedding on its own.
        per_dim: bool,
        /// What training ended at (the mean over dimensions when per dimension); set in packs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<f64>,
    },
}

impl Alpha {
    /// The value in use: the fixed one, or the learnt one (its start before training).
    pub fn value(&self) -> f64 {
        match *self {
            Self::Fixed(v) => v,
            Self::Learnt { init, value, .. } => value.unwrap_or(init),
        }
    }

    /// The starting value.
    pub fn init(&self) -> f64 {
        match *self {
            Self::Fixed(v) | Self::Learnt { init: v, .. } => v,
        }
    }

    /// Whether α trains.
    pub fn is_learnt(&self) -> bool {
        matches!(self, Self::Learnt { .. })
    }

    /// Whether α is learnt per hidden dimension.
    pub fn per_dim(&self) -> bool {
        matches!(self, Self::Learnt { per_dim: true, .. })
    }

    /// The same setting with the value training ended at recorded (a fixed α stays as it is).
    pub fn with_value(self, v: f64) -> Self {
        match self {
            Self::Fixed(_) => self,
            Self::Learnt { init, per_dim, .. } => Self::Learnt { init, per_dim, value: Some(v) },
        }
    }
}

/// Everything that shapes a model besides its backbone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "ModelSpecRepr")]
pub struct ModelSpec {
    /// How labels enter the vocabulary.
    pub label_mode: LabelWordMode,
    /// Which positions pointers address.
    pub pointer_space: PointerSpace,
    /// Prompt sizes (None: no prompts, plain BARTNER).
    pub prompt: Option<PromptSize>,
    /// The fusion weight α.
    pub alpha: Alpha,
    /// Low-rank adapters on attention blocks (None: none; [`crate::model::lora`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lora: Option<LoraSpec>,
}

/// A [`ModelSpec`] as manifests hold it: today's `alpha` ([`Alpha`]), or the three fields that
/// packs written before it had (`alpha`, the value in use; `learn_alpha`; `alpha_per_dim`).
#[derive(Deserialize)]
struct ModelSpecRepr {
    label_mode: LabelWordMode,
    pointer_space: PointerSpace,
    prompt: Option<PromptSize>,
    alpha: AlphaRepr,
    #[serde(default)]
    learn_alpha: bool,
    #[serde(default)]
    alpha_per_dim: bool,
    #[serde(default)]
    lora: Option<LoraSpec>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum AlphaRepr {
    Typed(Alpha),
    Old(f64),
}

impl From<ModelSpecRepr> for ModelSpec {
    fn from(r: ModelSpecRepr) -> Self {
        let alpha = match r.alpha {
            AlphaRepr::Typed(a) => a,
            // The old field held the learnt value once trained; where it started is not known.
            AlphaRepr::Old(v) if r.learn_alpha => {
                Alpha::Learnt { init: v, per_dim: r.alpha_per_dim, value: Some(v) }
            }
            AlphaRepr::Old(v) => Alpha::Fixed(v),
        };
        Self {
            label_mode: r.label_mode,
            pointer_space: r.pointer_space,
            prompt: r.prompt,
            alpha,
            lora: r.lora,
        }
    }
}

impl ModelSpec {
    /// Checks the spec can be built: α in [0, 1], prompts of at least one position and one unit
    /// (a zero-sized prompt has no shape the attention can take).
    pub fn validate(&self) -> Result<()> {
        for (what, v) in [("alpha", self.alpha.init()), ("alpha", self.alpha.value())] {
            if !(0.0..=1.0).contains(&v) {
                return Err(Error::Config(format!("{what} {v} is not in [0, 1]")));
            }
        }
        if let Some(p) = self.prompt
            && (p.len == 0 || p.dim == 0)
        {
            return Err(Error::Config(format!(
                "prompt length {} and width {} must both be at least 1 (no prompts at all: none)",
                p.len, p.dim
            )));
        }
        if let Some(l) = &self.lora {
            l.validate().map_err(Error::Config)?;
        }
        Ok(())
    }
}

impl Default for ModelSpec {
    fn default() -> Self {
        Self {
            label_mode: LabelWordMode::Added,
            pointer_space: PointerSpace::WordStart,
            prompt: Some(PromptSize { len: 10, dim: 800 }),
            alpha: Alpha::Fixed(0.5),
            lora: None,
        }
    }
}

/// The prompt shape of `spec` on `bb` (the decoder's shape for all three uses, docs/deepke.md §5.2).
pub fn prompt_shape(bb: &Backbone, p: PromptSize) -> PromptShape {
    PromptShape {
        len: p.len,
        dim: p.dim,
        d_model: bb.config.d_model,
        layers: bb.config.decoder_layers,
        heads: bb.config.decoder_attention_heads,
    }
}

/// The backbone with the label rows in place (new rows for added label tokens, docs/deepke.md §2.1).
pub fn load_bart(bb: &Backbone, words: &LabelWords, device: &Device) -> Result<Bart> {
    let mut bart = bb.bart(device)?;
    if words.mode == LabelWordMode::Added {
        bart.shared = frozen(with_label_rows(bart.shared.val(), words)?);
    }
    Ok(bart)
}

/// Gives `bart` the adapters of `spec` (fresh: a pack's trained values replace them when it is
/// opened). An adapter setting that names no attention block is refused with the blocks there are.
pub fn add_lora(bart: &mut Bart, spec: &ModelSpec, seed: u64) -> Result<()> {
    if let Some(l) = &spec.lora
        && bart.add_lora(l, seed) == 0
    {
        return Err(Error::Config(format!(
            "--lora-on {:?} names no attention block; the blocks are encoder.layers.N.self_attn, decoder.layers.N.self_attn and decoder.layers.N.encoder_attn (encoder_attn: every cross-attention; self_attn: every self-attention)",
            l.on
        )));
    }
    Ok(())
}

/// The label scoring of `words`.
pub fn label_scoring(words: &LabelWords) -> LabelScoring {
    match words.mode {
        LabelWordMode::Added => LabelScoring::Rows(words.pieces.iter().map(|p| p[0].0).collect()),
        LabelWordMode::Pieces => {
            LabelScoring::Pieces(words.pieces.iter().map(|p| p.iter().map(|t| t.0).collect()).collect())
        }
    }
}

/// A fresh model for training: backbone frozen, prompts initialised from `seed`, label-piece
/// weights uniform (zeros before the softmax), α's logit at `logit(alpha)` when learnt (in every
/// dimension when learnt per dimension).
pub fn build(
    bb: &Backbone,
    labels: &LabelSet,
    spec: &ModelSpec,
    seed: u64,
    device: &Device,
) -> Result<(LightNer, LabelWords)> {
    spec.validate()?;
    let words = LabelWords::new(labels, &bb.tokenizer, spec.label_mode)?;
    let mut bart = load_bart(bb, &words, device)?;
    add_lora(&mut bart, spec, seed)?;
    let prompts = spec.prompt.map(|p| Prompts::init(prompt_shape(bb, p), seed, device));
    let label_weights = match words.mode {
        LabelWordMode::Added => vec![None; words.pieces.len()],
        LabelWordMode::Pieces => words
            .pieces
            .iter()
            .map(|p| {
                (p.len() > 1)
                    .then(|| Param::from_tensor(Tensor::<1>::zeros([p.len()], device)).set_require_grad(true))
            })
            .collect(),
    };
    let alpha_logit = spec.alpha.is_learnt().then(|| {
        // A learnt α starts at the configured value; clamp so that 0 and 1 stay finite.
        let a = spec.alpha.init().clamp(1e-4, 1.0 - 1e-4);
        let logit = (a / (1.0 - a)).ln() as f32;
        let n = if spec.alpha.per_dim() { bb.config.d_model } else { 1 };
        Param::from_tensor(Tensor::<1>::from_data(TensorData::new(vec![logit; n], [n]), device))
            .set_require_grad(true)
    });
    let head = PointerHead::new(bb.tokenizer.special().eos.0, label_scoring(&words), spec.alpha.init());
    let model =
        LightNer::new(bart, Trainable { prompts, head: HeadParams { label_weights, alpha_logit } }, head);
    Ok((model, words))
}
