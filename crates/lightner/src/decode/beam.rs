//! Beam search over the KV cache (greedy is `num_beams = 1`), batched across sentences: the
//! encoder runs once, the cross-attention keys/values and the head's keys are computed once, and
//! each step feeds only the last token of every live hypothesis. Rows that are finished drop out
//! of the work (their cache rows are not carried to the next step).
//!
//! Scores are sums of log-probabilities; hypotheses are ranked by `score / len^length_penalty`
//! with `len` counting bos, as the reference's `BeamHypotheses` (docs/deepke.md §7.3). A row stops as soon
//! as it holds `num_beams` finished hypotheses, so one beam is exactly greedy search. Lengths
//! follow docs/deepke.md §7.1: eos is forced when a row reaches its `max_len`.

use super::constraint::Constraint;
use crate::model::LightNer;
use crate::model::pointer::HeadKeys;
use crate::tokenize::{TargetIdx, TokenId};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Bool, Int, Tensor, TensorData};

/// Search settings.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SearchConfig {
    /// Beams per sentence (1 = greedy).
    pub num_beams: usize,
    /// Exponent of the length normalisation.
    pub length_penalty: f64,
}

impl Default for SearchConfig {
    fn default() -> Self {
        Self { num_beams: 1, length_penalty: 1.0 }
    }
}

/// One decoded sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// Target indices, bos first and eos last.
    pub tokens: Vec<TargetIdx>,
    /// Log-probability of each token after bos, under the model (before any constraint).
    pub logprobs: Vec<f32>,
    /// Length-normalised score.
    pub score: f64,
}

/// What the search needs besides the model.
pub struct SearchInput<'a> {
    /// Source ids `[B, S]`.
    pub src_ids: Tensor<2, Int>,
    /// Source padding `[B, S]`.
    pub src_pad: Tensor<2, Bool>,
    /// Positions no pointer may address `[B, S]`.
    pub invalid: Tensor<2, Bool>,
    /// Per row, the length limit (bos included).
    pub max_len: &'a [usize],
    /// Maps a generated index of row b to the decoder's next input id.
    pub to_input: &'a dyn Fn(usize, TargetIdx) -> TokenId,
    /// Decoder start id (the tokenizer's bos).
    pub bos_id: TokenId,
    /// Per row, a constraint on what may follow (None: unconstrained).
    pub constraints: Option<&'a [Constraint]>,
}

/// A live hypothesis.
#[derive(Clone)]
struct Slot {
    row: usize,
    tokens: Vec<TargetIdx>,
    logprobs: Vec<f32>,
    score: f64,
}

fn norm(score: f64, len: usize, lp: f64) -> f64 {
    score / (len as f64).powf(lp)
}

fn select_keys(k: &HeadKeys, idx: Tensor<1, Int>) -> HeadKeys {
    HeadKeys { keys: k.keys.clone().select(0, idx.clone()), masked: k.masked.clone().select(0, idx) }
}

/// Decodes every row of the batch; returns the best hypothesis per row.
pub fn search(model: &LightNer, input: SearchInput<'_>, cfg: SearchConfig) -> Vec<Generated> {
    let device = input.src_ids.device();
    let b = input.max_len.len();
    let k = cfg.num_beams.max(1);
    let pre = model.prefixes();
    let enc = model.bart.encode(
        input.src_ids.clone(),
        input.src_pad.clone(),
        pre.as_ref().map(|p| p.encoder_self.as_slice()),
    );
    let mut cache = model.bart.start_cache(
        enc.clone(),
        input.src_pad,
        pre.as_ref().map(|p| p.decoder_self.as_slice()),
        pre.as_ref().map(|p| p.cross.as_slice()),
    );
    let mut keys = model.head.keys(&model.bart, &model.trainable.head, enc, input.src_ids, input.invalid);
    let mut slots: Vec<Slot> =
        (0..b).map(|row| Slot { row, tokens: vec![TargetIdx::BOS], logprobs: vec![], score: 0.0 }).collect();
    let mut finished: Vec<Vec<Generated>> = vec![Vec::new(); b];
    while !slots.is_empty() {
        let n = slots.len();
        let inputs: Vec<i64> = slots
            .iter()
            .map(|s| match s.tokens.as_slice() {
                [.., last] if s.tokens.len() > 1 => (input.to_input)(s.row, *last).0 as i64,
                _ => input.bos_id.0 as i64,
            })
            .collect();
        let ids = Tensor::<2, Int>::from_data(TensorData::new(inputs, [n, 1]), &device);
        let h = model.bart.decode_step(ids, &mut cache);
        let logits = model.head.score(&keys, h);
        let width = logits.dims()[2];
        // Invariant: the model computes in f32, so the read-back is f32 of `n * width` values.
        let lp: Vec<f32> = log_softmax(logits, 2)
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .expect("log-probabilities read back as f32");
        let eos = TargetIdx::EOS.0 as usize;
        // Candidates per row: (score, slot, token).
        let mut cands: Vec<Vec<(f64, usize, TargetIdx)>> = vec![Vec::new(); b];
        for (i, s) in slots.iter().enumerate() {
            let len = s.tokens.len();
            let row_lp = &lp[i * width..(i + 1) * width];
            let forced = input.max_len[s.row] <= len + 1;
            let allowed =
                input.constraints.map(|c| c[s.row].next(&s.tokens, input.max_len[s.row].saturating_sub(len)));
            for (y, &l) in row_lp.iter().enumerate() {
                let ok = if forced {
                    y == eos
                } else {
                    allowed.as_ref().is_none_or(|a| a.get(y).copied().unwrap_or(false))
                };
                if ok && l.is_finite() {
                    cands[s.row].push((s.score + l as f64, i, TargetIdx(y as u32)));
                }
            }
            if forced && !row_lp[eos].is_finite() {
                // eos has no probability mass left (cannot happen with a finite model); force it.
                cands[s.row].push((s.score + f32::MIN as f64, i, TargetIdx::EOS));
            }
        }
        let mut next: Vec<Slot> = Vec::new();
        let mut parents: Vec<i64> = Vec::new();
        for (row, mut c) in cands.into_iter().enumerate() {
            if c.is_empty() || finished[row].len() >= k {
                continue;
            }
            c.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
            let mut alive = 0;
            for (rank, &(score, i, y)) in c.iter().enumerate().take(2 * k) {
                let parent = &slots[i];
                let mut tokens = parent.tokens.clone();
                tokens.push(y);
                let mut logprobs = parent.logprobs.clone();
                logprobs.push(lp[i * width + y.0 as usize]);
                if y == TargetIdx::EOS {
                    if rank < k && finished[row].len() < k {
                        let s = norm(score, tokens.len(), cfg.length_penalty);
                        finished[row].push(Generated { tokens, logprobs, score: s });
                    }
                } else if alive < k {
                    alive += 1;
                    next.push(Slot { row, tokens, logprobs, score });
                    parents.push(i as i64);
                }
            }
            if finished[row].len() >= k {
                // The row is done: drop its live beams.
                while next.last().is_some_and(|s| s.row == row) {
                    next.pop();
                    parents.pop();
                }
            }
        }
        if next.is_empty() {
            break;
        }
        if parents.len() != n || parents.iter().enumerate().any(|(a, &p)| a as i64 != p) {
            let m = parents.len();
            let idx = Tensor::<1, Int>::from_data(TensorData::new(parents, [m]), &device);
            cache = cache.select(idx.clone());
            keys = select_keys(&keys, idx);
        }
        slots = next;
    }
    finished
        .into_iter()
        .map(|mut f| {
            f.sort_by(|a, b| b.score.total_cmp(&a.score));
            f.into_iter().next().unwrap_or(Generated {
                tokens: vec![TargetIdx::BOS, TargetIdx::EOS],
                logprobs: vec![0.0],
                score: 0.0,
            })
        })
        .collect()
}
