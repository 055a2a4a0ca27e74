//! Rows for added label tokens (docs/deepke.md §2.1): each new row is the mean of the embeddings of its
//! label word's pieces. The means are taken from an unmodified copy of the embedding — DeepKE
//! accumulates in place into the first piece's own row, corrupting that vocabulary row and
//! every later mean that uses it (docs/deepke.md §13.5); that bug is not copied.

use super::params::host_f32s;
use crate::error::{Error, Result};
use crate::tokenize::{LabelWordMode, LabelWords};
use burn::tensor::{Tensor, TensorData};

/// The embedding `[rows, d]` with every added label row set to the mean of its pieces' rows
/// (taken from the embedding as given). The result has `max(rows, max label id + 1)` rows; rows
/// between the old end and a label row (none in practice) are zero.
pub fn with_label_rows(emb: Tensor<2>, words: &LabelWords) -> Result<Tensor<2>> {
    if words.mode != LabelWordMode::Added {
        return Ok(emb);
    }
    let device = emb.device();
    let [rows, d] = emb.dims();
    let original = host_f32s(emb.into_data())?;
    let needed = words.input_ids.iter().map(|t| t.0 as usize + 1).max().unwrap_or(rows).max(rows);
    let mut out = original.clone();
    out.resize(needed * d, 0.0);
    for (id, pieces) in words.input_ids.iter().zip(&words.init_pieces) {
        if pieces.is_empty() {
            return Err(Error::Weights(format!("label token {} has no pieces to initialise from", id.0)));
        }
        let row = &mut out[id.0 as usize * d..(id.0 as usize + 1) * d];
        row.iter_mut().for_each(|x| *x = 0.0);
        for p in pieces {
            let p = p.0 as usize;
            if p >= rows {
                return Err(Error::Weights(format!(
                    "label piece id {p} is outside the embedding ({rows} rows)"
                )));
            }
            // Read from the untouched copy, never from `out` (docs/deepke.md §13.5).
            for (x, y) in row.iter_mut().zip(&original[p * d..(p + 1) * d]) {
                *x += y;
            }
        }
        let n = pieces.len() as f32;
        row.iter_mut().for_each(|x| *x /= n);
    }
    Ok(Tensor::from_data(TensorData::new(out, [needed, d]), &device))
}

/// `emb` `[v, d]` with the given rows replaced (`(row index, d values)`), on the same device.
/// The caller decides whether the result trains. Used where a pack's (or a source pack's) label
/// rows go into an embedding that is itself trained or restored.
pub fn write_rows<'a>(
    emb: Tensor<2>,
    rows: impl IntoIterator<Item = (usize, &'a [f32])>,
) -> Result<Tensor<2>> {
    let device = emb.device();
    let [v, d] = emb.dims();
    let mut data = host_f32s(emb.into_data())?;
    for (id, row) in rows {
        if id >= v || row.len() != d {
            return Err(Error::Internal(format!(
                "label row {id} of width {} in a [{v}, {d}] embedding",
                row.len()
            )));
        }
        data[id * d..(id + 1) * d].copy_from_slice(row);
    }
    Ok(Tensor::from_data(TensorData::new(data, [v, d]), &device))
}
