//! The pointer head (docs/deepke.md §5.5): for each decoder state h, a row of logits
//! `[bos | eos | labels | source positions]`. Labels are scored against their label-word
//! embeddings (one added row each, or a softmax-weighted sum over their pieces, docs/deepke.md §2.2); source
//! positions against the fused representation `α·H_enc + (1−α)·E[src]`.

use super::bart::Bart;
use super::layers::dropout;
use burn::module::{Module, Param};
use burn::tensor::activation::{sigmoid, softmax};
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

/// How labels are scored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelScoring {
    /// Label j is scored with its own embedding row `ids[j]` (added label tokens).
    Rows(Vec<u32>),
    /// Label j is the softmax-weighted sum of the scores of its pieces.
    Pieces(Vec<Vec<u32>>),
}

/// The head's trainable parts: label-piece weights (one vector per multi-piece label, in target
/// order) and, when α is learnt, its logit.
#[derive(Module, Debug)]
pub struct HeadParams {
    /// `Some(w_j)` for labels with more than one piece.
    pub label_weights: Vec<Option<Param<Tensor<1>>>>,
    /// `logit(α)` when α is learnt: `[1]`, or `[d]` for one α per hidden dimension.
    pub alpha_logit: Option<Param<Tensor<1>>>,
}

/// The value masked logits get: the dtype minimum rather than DeepKE's −1e24/−1e32 (which
/// overflow in fp16, docs/deepke.md §13.18); any value that gets zero probability is equivalent.
pub const MASKED: f32 = f32::MIN;

/// The pointer head's fixed settings.
#[derive(Debug, Clone)]
pub struct PointerHead {
    /// Vocabulary id whose row scores eos (the tokenizer's eos; DeepKE hard-codes 2, docs/deepke.md §13.8).
    pub eos_id: u32,
    /// Label scoring.
    pub labels: LabelScoring,
    /// α when it is fixed (the mean of `alpha_dims` when those are set).
    pub alpha: f64,
    /// A fixed α per hidden dimension (a pack trained with a per-dimension α); overrides `alpha`.
    pub alpha_dims: Option<Vec<f32>>,
    /// Dropout on the decoder state, the eos/label rows and the source word embeddings
    /// (DeepKE's `dropout_layer`, 0.3), in training only.
    pub dropout: f64,
    /// Whether dropout is on.
    pub training: bool,
}

impl PointerHead {
    /// A head with DeepKE's dropout (0.3), in evaluation mode.
    pub fn new(eos_id: u32, labels: LabelScoring, alpha: f64) -> Self {
        Self { eos_id, labels, alpha, alpha_dims: None, dropout: 0.3, training: false }
    }

    fn drop<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        dropout(x, self.dropout, self.training)
    }

    /// Number of labels C.
    pub fn num_labels(&self) -> usize {
        match &self.labels {
            LabelScoring::Rows(r) => r.len(),
            LabelScoring::Pieces(p) => p.len(),
        }
    }

    /// `[C, d]` label rows: label j's own row, or the softmax(w_j)-weighted sum of its pieces'
    /// rows. Scoring h against the sum equals the weighted sum of h's scores against each piece
    /// (docs/deepke.md §2.2), and costs one row per label instead of one per piece.
    fn label_rows(&self, bart: &Bart, params: &HeadParams, device: &Device) -> Tensor<2> {
        let rows = |ids: Vec<i64>| {
            let n = ids.len();
            bart.rows(Tensor::<1, Int>::from_data(TensorData::new(ids, [n]), device))
        };
        match &self.labels {
            LabelScoring::Rows(r) => rows(r.iter().map(|&i| i as i64).collect()),
            LabelScoring::Pieces(pieces) => {
                let per_label: Vec<Tensor<2>> = pieces
                    .iter()
                    .enumerate()
                    .map(|(j, p)| {
                        let r = rows(p.iter().map(|&i| i as i64).collect());
                        let w = match params.label_weights.get(j).and_then(Option::as_ref) {
                            Some(w) => softmax(w.val(), 0),
                            None => Tensor::<1>::ones([p.len()], device).div_scalar(p.len() as f64),
                        };
                        w.reshape([1, p.len()]).matmul(r)
                    })
                    .collect();
                Tensor::cat(per_label, 0)
            }
        }
    }

    /// α as a `[1]` tensor, or `[d]` when there is one per dimension: fixed, or
    /// `sigmoid(logit)` when learnt.
    pub fn alpha_tensor(&self, params: &HeadParams, device: &Device) -> Tensor<1> {
        match (&params.alpha_logit, &self.alpha_dims) {
            (Some(l), _) => sigmoid(l.val()),
            (None, Some(a)) => Tensor::<1>::from_data(TensorData::new(a.clone(), [a.len()]), device),
            (None, None) => Tensor::<1>::from_data(TensorData::new(vec![self.alpha as f32], [1]), device),
        }
    }

    /// The per-batch keys of the head: `[B, 1 + C + S, d]` rows that score eos, the labels and
    /// the source positions, and which columns are masked. They do not depend on the decoder
    /// state, so decoding computes them once per batch instead of once per step.
    pub fn keys(
        &self,
        bart: &Bart,
        params: &HeadParams,
        enc: Tensor<3>,
        src: Tensor<2, Int>,
        invalid: Tensor<2, Bool>,
    ) -> HeadKeys {
        let device = enc.device();
        let [b, s, d] = enc.dims();
        let eos =
            bart.rows(Tensor::<1, Int>::from_data(TensorData::new(vec![self.eos_id as i64], [1]), &device));
        let labels = self.label_rows(bart, params, &device);
        let (eos, labels) = (self.drop(eos), self.drop(labels));
        let c = labels.dims()[0];
        let fixed = Tensor::cat(vec![eos, labels], 0).unsqueeze_dim::<3>(0).expand([b, 1 + c, d]);
        // The fusion (docs/deepke.md §5.5): α weighs the contextual state, 1 − α the raw word embedding
        // (element-wise, so a per-dimension α broadcasts along the last axis).
        let alpha = self.alpha_tensor(params, &device);
        let k = alpha.dims()[0];
        let alpha = alpha.reshape([1, 1, k]);
        let fused = enc * alpha.clone().expand([b, s, d])
            + self.drop(bart.token_embeddings(src)) * alpha.neg().add_scalar(1.0).expand([b, s, d]);
        let keys = Tensor::cat(vec![fixed, fused], 1);
        let open =
            Tensor::<2, Bool>::from_data(TensorData::new(vec![false; b * (1 + c)], [b, 1 + c]), &device);
        let masked = Tensor::cat(vec![open, invalid], 1).reshape([b, 1, 1 + c + s]);
        HeadKeys { keys, masked }
    }

    /// Logits `[B, T, C + 2 + S]` of decoder states `h` `[B, T, d]` against precomputed keys:
    /// `[bos (always masked) | eos | labels | source positions]`.
    pub fn score(&self, keys: &HeadKeys, h: Tensor<3>) -> Tensor<3> {
        let [b, t, _] = h.dims();
        let k = keys.keys.dims()[1];
        let scores = self
            .drop(h)
            .matmul(keys.keys.clone().swap_dims(1, 2))
            .mask_fill(keys.masked.clone().expand([b, t, k]), MASKED);
        let bos = Tensor::<3>::full([b, t, 1], MASKED, &scores.device());
        Tensor::cat(vec![bos, scores], 2)
    }

    /// Logits `[B, T, C + 2 + S]` for decoder states `h` `[B, T, d]`, encoder states `enc`
    /// `[B, S, d]`, source ids `src` `[B, S]`, and `invalid` `[B, S]` (true where no pointer may
    /// point: bos, eos, padding, and, in the word-start space, non-initial pieces).
    pub fn logits(
        &self,
        bart: &Bart,
        params: &HeadParams,
        h: Tensor<3>,
        enc: Tensor<3>,
        src: Tensor<2, Int>,
        invalid: Tensor<2, Bool>,
    ) -> Tensor<3> {
        self.score(&self.keys(bart, params, enc, src, invalid), h)
    }
}

/// Precomputed keys of the pointer head for one batch (see [`PointerHead::keys`]).
#[derive(Debug, Clone)]
pub struct HeadKeys {
    /// `[B, 1 + C + S, d]`: eos row, label rows, fused source rows.
    pub keys: Tensor<3>,
    /// `[B, 1, 1 + C + S]`: true for columns no pointer may take.
    pub masked: Tensor<3, Bool>,
}
