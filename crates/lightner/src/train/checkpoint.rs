//! Resumable training checkpoints: a directory with the trainable parameters (`params`), the best
//! parameters so far (`best`), the optimizer state (`optim.bpk`, burn's format) and the loop state
//! (`state.json`). A new checkpoint is written whole into `<dir>.tmp` and then swapped in, so a
//! crash leaves either the old or the new one.

use super::trainer::EpochLog;
use crate::error::{Error, Result};
use crate::model::params::SavedParam;
use burn::module::ParamId;
use burn::tensor::TensorData;
use safetensors::tensor::{Dtype, TensorView};
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
}

/// Writes parameters by path as safetensors (f32), ids in the metadata.
pub fn save_params(path: &Path, params: &BTreeMap<String, SavedParam>) -> Result<()> {
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = params
        .iter()
        .map(|(name, p)| {
            let v = p
                .data
                .clone()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .map_err(|e| Error::Invalid(format!("{e:?}")))?;
            Ok((name.clone(), v.iter().flat_map(|x| x.to_le_bytes()).collect(), p.data.shape().to_vec()))
        })
        .collect::<Result<_>>()?;
    let views: Vec<(String, TensorView<'_>)> = bytes
        .iter()
        .map(|(n, b, s)| {
            TensorView::new(Dtype::F32, s.clone(), b)
                .map(|v| (n.clone(), v))
                .map_err(|e| Error::Invalid(e.to_string()))
        })
        .collect::<Result<_>>()?;
    let ids: BTreeMap<String, String> =
        params.iter().map(|(n, p)| (n.clone(), p.id.val().to_string())).collect();
    let out = safetensors::serialize(views, Some(std::collections::HashMap::from_iter(ids)))
        .map_err(|e| Error::Invalid(e.to_string()))?;
    crate::io::write_atomic(path, &out)
}

/// Reads what [`save_params`] wrote.
pub fn load_params(path: &Path) -> Result<BTreeMap<String, SavedParam>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |m: String| Error::Invalid(format!("{}: {m}", path.display()));
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| bad(e.to_string()))?;
    let ids = meta.metadata().clone().unwrap_or_default();
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| bad(e.to_string()))?;
    let mut out = BTreeMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(bad(format!("{name} is not f32")));
        }
        let v: Vec<f32> =
            view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        let id = ids
            .get(&name)
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| bad(format!("no parameter id for {name}")))?;
        out.insert(
            name,
            SavedParam { id: ParamId::from(id), data: TensorData::new(v, view.shape().to_vec()) },
        );
    }
    Ok(out)
}

fn tmp_of(dir: &Path) -> PathBuf {
    let mut s = dir.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

/// The directory holding the newest complete checkpoint, if any.
pub fn existing(dir: &Path) -> Option<PathBuf> {
    [dir.to_path_buf(), tmp_of(dir)].into_iter().find(|d| d.join("state.json").is_file())
}

/// Writes a checkpoint: `write` fills the fresh directory it is given, then `state.json` is added
/// and the directory swapped in.
pub fn commit(dir: &Path, state: &LoopState, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let tmp = tmp_of(dir);
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    write(&tmp)?;
    let json = serde_json::to_vec_pretty(state).map_err(|e| Error::Invalid(e.to_string()))?;
    crate::io::write_atomic(&tmp.join("state.json"), &json)?;
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    std::fs::rename(&tmp, dir).map_err(|e| Error::io(dir, e))
}

/// Reads `state.json` of a checkpoint directory.
pub fn read_state(dir: &Path) -> Result<LoopState> {
    let p = dir.join("state.json");
    let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::Invalid(format!("{}:{}: not a training checkpoint: {e}", p.display(), e.line())))
}
