//! The pointer head (spec §5.5): for each decoder state h, a row of logits
//! `[bos | eos | labels | source positions]`. Labels are scored against their label-word
//! embeddings (one added row each, or a softmax-weighted sum over their pieces, §2.2); source
//! positions against the fused representation `α·H_enc + (1−α)·E[src]`.

use super::bart::Bart;
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
    /// `logit(α)` when α is learnt.
    pub alpha_logit: Option<Param<Tensor<1>>>,
}

/// The value masked logits get: the dtype minimum rather than DeepKE's −1e24/−1e32 (which
/// overflow in fp16, §13.18); any value that gets zero probability is equivalent.
pub const MASKED: f32 = f32::MIN;

/// The pointer head's fixed settings.
#[derive(Debug, Clone)]
pub struct PointerHead {
    /// Vocabulary id whose row scores eos (the tokenizer's eos; DeepKE hard-codes 2, §13.8).
    pub eos_id: u32,
    /// Label scoring.
    pub labels: LabelScoring,
    /// α when it is fixed.
    pub alpha: f64,
}

impl PointerHead {
    /// Number of labels C.
    pub fn num_labels(&self) -> usize {
        match &self.labels {
            LabelScoring::Rows(r) => r.len(),
            LabelScoring::Pieces(p) => p.len(),
        }
    }

    /// `[P, C]` weights spreading piece scores over labels: column j holds softmax(w_j) on the
    /// rows of label j's pieces (1 for single-piece labels, or for `Rows`).
    fn piece_matrix(&self, params: &HeadParams, device: &Device) -> Option<Tensor<2>> {
        let LabelScoring::Pieces(pieces) = &self.labels else { return None };
        let total: usize = pieces.iter().map(Vec::len).sum();
        let mut offset = 0;
        let mut cols = Vec::with_capacity(pieces.len());
        for (j, p) in pieces.iter().enumerate() {
            let w = match params.label_weights.get(j).and_then(Option::as_ref) {
                Some(w) => softmax(w.val(), 0),
                None => Tensor::<1>::ones([p.len()], device).div_scalar(p.len() as f64),
            };
            let mut parts = Vec::new();
            if offset > 0 {
                parts.push(Tensor::<1>::zeros([offset], device));
            }
            parts.push(w);
            if offset + p.len() < total {
                parts.push(Tensor::<1>::zeros([total - offset - p.len()], device));
            }
            cols.push(Tensor::cat(parts, 0));
            offset += p.len();
        }
        Some(Tensor::stack(cols, 1))
    }

    fn piece_ids(&self) -> Vec<i64> {
        match &self.labels {
            LabelScoring::Rows(r) => r.iter().map(|&i| i as i64).collect(),
            LabelScoring::Pieces(p) => p.iter().flatten().map(|&i| i as i64).collect(),
        }
    }

    /// α as a `[1]` tensor: fixed, or `sigmoid(logit)` when learnt.
    pub fn alpha_tensor(&self, params: &HeadParams, device: &Device) -> Tensor<1> {
        match &params.alpha_logit {
            Some(l) => sigmoid(l.val()),
            None => Tensor::<1>::from_data(TensorData::new(vec![self.alpha as f32], [1]), device),
        }
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
        let device = h.device();
        let [b, t, d] = h.dims();
        let s = enc.dims()[1];
        let e = bart.shared.val();
        let rows = |ids: Vec<i64>| {
            let n = ids.len();
            e.clone().select(0, Tensor::<1, Int>::from_data(TensorData::new(ids, [n]), &device))
        };
        let score = |rows: Tensor<2>| {
            let n = rows.dims()[0];
            h.clone().matmul(rows.transpose().unsqueeze_dim::<3>(0).expand([b, d, n]))
        };
        let eos = score(rows(vec![self.eos_id as i64]));
        let mut labels = score(rows(self.piece_ids()));
        if let Some(m) = self.piece_matrix(params, &device) {
            let [p, c] = m.dims();
            labels = labels.matmul(m.unsqueeze_dim::<3>(0).expand([b, p, c]));
        }
        // The fusion (spec §5.5): α weighs the contextual state, 1 − α the raw word embedding.
        let alpha = self.alpha_tensor(params, &device).reshape([1, 1, 1]);
        let fused = enc * alpha.clone().expand([b, s, d])
            + bart.token_embeddings(src) * (alpha.neg().add_scalar(1.0)).expand([b, s, d]);
        let words =
            h.matmul(fused.swap_dims(1, 2)).mask_fill(invalid.reshape([b, 1, s]).expand([b, t, s]), MASKED);
        let bos = Tensor::<3>::full([b, t, 1], MASKED, &device);
        Tensor::cat(vec![bos, eos, labels, words], 2)
    }
}
