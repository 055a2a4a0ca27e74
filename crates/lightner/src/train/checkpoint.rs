//! Resumable training checkpoints: a directory with the trainable parameters (`params`), the best
//! parameters so far (`best`), the optimizer state (`optim.bpk`, burn's format) and the loop state
//! (`state.json`). A new checkpoint is written whole into a staging folder beside it and then
//! swapped in ([`crate::io::write_dir_atomic`]), so a crash leaves either the old or the new one.

use super::trainer::EpochLog;
use crate::error::{Error, Result};
use crate::io::{F32Tensor, f32_safetensors, read_f32_safetensors};
use crate::model::params::{SavedParam, host_f32s};
use burn::module::ParamId;
use burn::tensor::TensorData;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The loop's state after an epoch.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LoopState {
    /// Epochs completed.
    pub epochs_done: usize,
    /// Optimizer steps taken.
    pub steps_done: usize,
    /// Best dev F1 so far and its epoch.
    pub best: Option<(f64, usize)>,
    /// Evaluated epochs since the best.
    pub bad_epochs: usize,
    /// Per-epoch log.
    pub history: Vec<EpochLog>,
    /// Hash of the training configuration the checkpoint belongs to.
    pub config_hash: u64,
    /// Hash of the model the checkpoint trains ([`At::model`]); absent in checkpoints written
    /// before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_hash: Option<u64>,
}

/// Where a resumable run keeps its checkpoint, and a hash of what it trains (the model's settings
/// and labels, which the loop itself does not see): a checkpoint of another model is refused
/// instead of resumed into a model it does not fit.
#[derive(Debug, Clone, Copy)]
pub struct At<'a> {
    /// The checkpoint directory.
    pub dir: &'a Path,
    /// The model's hash.
    pub model: u64,
}

/// Writes parameters by path as safetensors (f32), ids in the metadata.
pub fn save_params(path: &Path, params: &BTreeMap<String, SavedParam>) -> Result<()> {
    let tensors: Vec<F32Tensor> = params
        .iter()
        .map(|(name, p)| {
            let v = host_f32s(p.data.clone())?;
            Ok((name.clone(), v, p.data.shape().to_vec()))
        })
        .collect::<Result<_>>()?;
    let ids = params.iter().map(|(n, p)| (n.clone(), p.id.val().to_string())).collect();
    crate::io::write_atomic(path, &f32_safetensors(&tensors, Some(ids))?)
}

/// Reads what [`save_params`] wrote.
pub fn load_params(path: &Path) -> Result<BTreeMap<String, SavedParam>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let (tensors, ids) = read_f32_safetensors(path, &bytes)?;
    tensors
        .into_iter()
        .map(|(name, v, shape)| {
            let id = ids.get(&name).and_then(|s| s.parse::<u64>().ok()).ok_or_else(|| {
                Error::Checkpoint(format!("{}: no parameter id for {name}", path.display()))
            })?;
            Ok((name, SavedParam { id: ParamId::from(id), data: TensorData::new(v, shape) }))
        })
        .collect()
}

/// A checkpoint folder, as [`crate::io::write_dir_atomic`] sees it: one holding `state.json`.
pub const CHECKPOINT_DIR: crate::io::DirKind =
    crate::io::DirKind { what: "training checkpoint", is_ours: |d| d.join("state.json").is_file() };

/// The directory holding the newest complete checkpoint, if any: `dir`, or what an interrupted
/// swap left beside it (`state.json` is written last, so a folder holding it is complete).
pub fn existing(dir: &Path) -> Option<PathBuf> {
    let [staging, old] = crate::io::dir_leftovers(dir);
    [dir.to_path_buf(), staging, old].into_iter().find(|d| d.join("state.json").is_file())
}

/// Writes a checkpoint: `write` fills the fresh directory it is given, then `state.json` is added
/// and the directory swapped in.
pub fn commit(dir: &Path, state: &LoopState, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let json = serde_json::to_vec_pretty(state).map_err(|e| Error::Internal(e.to_string()))?;
    crate::io::write_dir_atomic(dir, CHECKPOINT_DIR, |tmp| {
        write(tmp)?;
        crate::io::write_atomic(&tmp.join("state.json"), &json)
    })
}

/// Reads `state.json` of a checkpoint directory.
pub fn read_state(dir: &Path) -> Result<LoopState> {
    let p = dir.join("state.json");
    let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
    serde_json::from_str(&text).map_err(|e| {
        Error::Checkpoint(format!("{}:{}: not a training checkpoint: {e}", p.display(), e.line()))
    })
}
