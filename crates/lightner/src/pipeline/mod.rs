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

/// Everything that shapes a model besides its backbone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// How labels enter the vocabulary.
    pub label_mode: LabelWordMode,
    /// Which positions pointers address.
    pub pointer_space: PointerSpace,
    /// Prompt sizes (None: no prompts, plain BARTNER).
    pub prompt: Option<PromptSize>,
    /// The fusion weight α (the initial value when learnt).
    pub alpha: f64,
    /// Whether α is learnt.
    pub learn_alpha: bool,
    /// With `learn_alpha`: one α per hidden dimension (`[d]`, each through its own sigmoid)
    /// instead of one scalar, so that each dimension can weigh context against the word
    /// embedding on its own. `alpha` then reports their mean.
    #[serde(default)]
    pub alpha_per_dim: bool,
}

impl ModelSpec {
    /// Checks the spec can be built: α in [0, 1], a per-dimension α learnt, prompts of at least
    /// one position and one unit (a zero-sized prompt has no shape the attention can take).
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.alpha) {
            return Err(Error::Config(format!("alpha {} is not in [0, 1]", self.alpha)));
        }
        if self.alpha_per_dim && !self.learn_alpha {
            return Err(Error::Config("a per-dimension alpha is learnt: set learn_alpha too".into()));
        }
        if let Some(p) = self.prompt
            && (p.len == 0 || p.dim == 0)
        {
            return Err(Error::Config(format!(
                "prompt length {} and width {} must both be at least 1 (no prompts at all: none)",
                p.len, p.dim
            )));
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
            alpha: 0.5,
            learn_alpha: false,
            alpha_per_dim: false,
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
    let bart = load_bart(bb, &words, device)?;
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
    let alpha_logit = spec.learn_alpha.then(|| {
        // A learnt α starts at the configured value; clamp so that 0 and 1 stay finite.
        let a = spec.alpha.clamp(1e-4, 1.0 - 1e-4);
        let logit = (a / (1.0 - a)).ln() as f32;
        let n = if spec.alpha_per_dim { bb.config.d_model } else { 1 };
        Param::from_tensor(Tensor::<1>::from_data(TensorData::new(vec![logit; n], [n]), device))
            .set_require_grad(true)
    });
    let head = PointerHead::new(bb.tokenizer.special().eos.0, label_scoring(&words), spec.alpha);
    let model =
        LightNer::new(bart, Trainable { prompts, head: HeadParams { label_weights, alpha_logit } }, head);
    Ok((model, words))
}
