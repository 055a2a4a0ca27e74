//! Rows for added label tokens (docs/deepke.md §2.1): each new row is the mean of the embeddings of its
//! label word's pieces. The means are taken from an unmodified copy of the embedding — DeepKE
//! accumulates in place into the first piece's own row, corrupting that vocabulary row and
//! every later mean that uses it (docs/deepke.md §13.5); that bug is not copied.

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
    let original: Vec<f32> = emb
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| Error::Internal(format!("{e:?}")))?;
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
