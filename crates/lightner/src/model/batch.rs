//! Padding examples into a [`Batch`] of tensors: the one place where data meets tensors.

use super::lightner::Batch;
use crate::tokenize::{Example, TokenId};
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

/// Pads `examples` (with targets) into a training batch: sources with `pad`, targets with eos
/// (index 1, unsupervised), decoder inputs with `pad`. The decoder reads `dec_ids[..T-1]` and
/// predicts `target[1..]` (docs/deepke.md §6.1).
pub fn training_batch(examples: &[Example], pad: TokenId, device: &Device) -> Batch {
    let b = examples.len();
    let t = examples.iter().map(|e| e.target.len()).max().unwrap_or(2).max(2) - 1;
    let mut dec = Vec::with_capacity(b * t);
    let mut dec_pad = Vec::with_capacity(b * t);
    let mut targets = Vec::with_capacity(b * t);
    let mut mask = Vec::with_capacity(b * t);
    for e in examples {
        for k in 0..t {
            let id = e.dec_ids.get(k).copied().unwrap_or(pad);
            dec.push(id.0 as i64);
            dec_pad.push(id == pad);
            let y = e.target.get(k + 1);
            targets.push(y.map_or(1, |y| y.0 as i64));
            mask.push(if y.is_some() { 1.0f32 } else { 0.0 });
        }
    }
    let (src_ids, src_pad, invalid) = source_tensors(examples, pad, device);
    Batch {
        src_ids,
        src_pad,
        invalid,
        dec_ids: ints(dec, [b, t], device),
        dec_pad: bools(dec_pad, [b, t], device),
        targets: ints(targets, [b, t], device),
        target_mask: Tensor::from_data(TensorData::new(mask, [b, t]), device),
    }
}

/// Source tensors only (`src_ids`, `src_pad`, `invalid`), for decoding.
pub fn source_tensors(
    examples: &[Example],
    pad: TokenId,
    device: &Device,
) -> (Tensor<2, Int>, Tensor<2, Bool>, Tensor<2, Bool>) {
    let b = examples.len();
    let s = examples.iter().map(|e| e.src.len()).max().unwrap_or(1);
    let mut src = Vec::with_capacity(b * s);
    let mut src_pad = Vec::with_capacity(b * s);
    let mut invalid = Vec::with_capacity(b * s);
    for e in examples {
        for p in 0..s {
            src.push(e.src.get(p).map_or(pad.0, |x| x.0) as i64);
            src_pad.push(p >= e.src.len());
            invalid.push(e.invalid.get(p).copied().unwrap_or(true));
        }
    }
    (ints(src, [b, s], device), bools(src_pad, [b, s], device), bools(invalid, [b, s], device))
}

fn ints(v: Vec<i64>, shape: [usize; 2], device: &Device) -> Tensor<2, Int> {
    Tensor::from_data(TensorData::new(v, shape), device)
}

fn bools(v: Vec<bool>, shape: [usize; 2], device: &Device) -> Tensor<2, Bool> {
    Tensor::from_data(TensorData::new(v, shape), device)
}
