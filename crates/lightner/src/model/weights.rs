//! Reading tensors from Hugging Face safetensors files by their HF names. Both
//! `BartForConditionalGeneration` (`model.`-prefixed) and bare `BartModel` checkpoints are
//! accepted, and the tied token embedding is found under any of its names.

use crate::error::{Error, Result};
use burn::tensor::{Device, Tensor, TensorData};
use safetensors::{Dtype, SafeTensors};
use std::path::{Path, PathBuf};

/// The tensors of one or more safetensors files, held in memory.
pub struct Weights {
    files: Vec<(PathBuf, Vec<u8>)>,
    prefix: String,
}

impl Weights {
    /// Opens safetensors files; a name is looked up in each in turn.
    pub fn open(paths: &[PathBuf]) -> Result<Self> {
        let mut files = Vec::new();
        for p in paths {
            let bytes = std::fs::read(p).map_err(|e| Error::io(p, e))?;
            SafeTensors::deserialize(&bytes).map_err(|e| {
                Error::Weights(format!("{}: not a safetensors file ({e}); re-download it", p.display()))
            })?;
            files.push((p.clone(), bytes));
        }
        let mut w = Self { files, prefix: String::new() };
        // `model.shared.weight` marks a BartForConditionalGeneration checkpoint.
        if w.find("model.shared.weight").is_some() || w.find("model.encoder.embed_tokens.weight").is_some() {
            w.prefix = "model.".into();
        }
        Ok(w)
    }

    /// Weights held in memory (random backbones, perturbed copies in tests).
    pub fn from_tensors(tensors: &[super::random::HostTensor]) -> Result<Self> {
        let bytes = super::random::to_safetensors(tensors);
        SafeTensors::deserialize(&bytes).map_err(|e| Error::Internal(format!("in-memory weights: {e}")))?;
        let mut w = Self { files: vec![(PathBuf::from("<memory>"), bytes)], prefix: String::new() };
        if w.find("model.shared.weight").is_some() || w.find("model.encoder.embed_tokens.weight").is_some() {
            w.prefix = "model.".into();
        }
        Ok(w)
    }

    fn find(&self, name: &str) -> Option<(&Path, safetensors::tensor::TensorView<'_>)> {
        self.files.iter().find_map(|(p, b)| {
            let st = SafeTensors::deserialize(b).ok()?;
            st.tensor(name).ok().map(|t| (p.as_path(), t))
        })
    }

    /// Whether a tensor is stored under exactly `name` (no prefix added).
    pub fn has_raw(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// Whether the backbone tensor `name` (without the `model.` prefix) exists.
    pub fn has(&self, name: &str) -> bool {
        self.find(&format!("{}{name}", self.prefix)).is_some()
    }

    /// The raw f32 values and shape of `name`, read as it is stored (no prefix added).
    pub fn raw(&self, name: &str) -> Result<(Vec<f32>, Vec<usize>)> {
        let (path, t) =
            self.find(name).ok_or_else(|| Error::Weights(format!("tensor {name:?} not found")))?;
        let shape = t.shape().to_vec();
        let data = t.data();
        let values: Vec<f32> = match t.dtype() {
            Dtype::F32 => {
                data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
            }
            Dtype::F16 => {
                data.chunks_exact(2).map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]]))).collect()
            }
            Dtype::BF16 => data
                .chunks_exact(2)
                .map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16))
                .collect(),
            other => {
                return Err(Error::Weights(format!(
                    "{}: tensor {name} has dtype {other:?}, expected a float",
                    path.display()
                )));
            }
        };
        Ok((values, shape))
    }

    /// A float tensor by raw name, checked against `shape`.
    pub fn tensor<const D: usize>(
        &self,
        name: &str,
        shape: [usize; D],
        device: &Device,
    ) -> Result<Tensor<D>> {
        let (values, got) = self.raw(name)?;
        if got != shape {
            return Err(Error::Weights(format!(
                "tensor {name} has shape {got:?}, the config implies {shape:?}"
            )));
        }
        Ok(Tensor::from_data(TensorData::new(values, shape), device))
    }

    /// A backbone tensor by its `BartModel` name (the `model.` prefix is added when needed).
    pub fn backbone<const D: usize>(
        &self,
        name: &str,
        shape: [usize; D],
        device: &Device,
    ) -> Result<Tensor<D>> {
        self.tensor(&format!("{}{name}", self.prefix), shape, device)
    }

    /// The shared token embedding, under whichever name the checkpoint uses.
    pub fn shared_embedding(&self, shape: [usize; 2], device: &Device) -> Result<Tensor<2>> {
        for name in ["shared.weight", "encoder.embed_tokens.weight", "decoder.embed_tokens.weight"] {
            if self.has(name) {
                return self.backbone(name, shape, device);
            }
        }
        Err(Error::Weights("no token embedding (shared.weight) in the checkpoint".into()))
    }

    /// The raw i64 values and shape of `name` (ids and lengths in fixtures).
    pub fn raw_i64(&self, name: &str) -> Result<(Vec<i64>, Vec<usize>)> {
        let (path, t) =
            self.find(name).ok_or_else(|| Error::Weights(format!("tensor {name:?} not found")))?;
        let shape: Vec<usize> = t.shape().to_vec();
        let values: Vec<i64> = match t.dtype() {
            Dtype::I64 => t
                .data()
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect(),
            other => {
                return Err(Error::Weights(format!(
                    "{}: {name} has dtype {other:?}, expected I64",
                    path.display()
                )));
            }
        };
        Ok((values, shape))
    }
}

/// IEEE half → single (for fp16 checkpoints).
fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match exp {
        0 if frac == 0 => sign,
        0 => {
            // Subnormal: renormalise.
            let mut e = 127 - 15 + 1;
            let mut f = frac;
            while f & 0x400 == 0 {
                f <<= 1;
                e -= 1;
            }
            sign | (e << 23) | ((f & 0x3ff) << 13)
        }
        0x1f => sign | 0x7f80_0000 | (frac << 13),
        _ => sign | ((exp + 127 - 15) << 23) | (frac << 13),
    };
    f32::from_bits(bits)
}
