//! Reading tensors from Hugging Face safetensors files by their HF names, one tensor at a time
//! (a model built from them holds the only copy of the weights). Both
//! `BartForConditionalGeneration` (`model.`-prefixed) and bare `BartModel` checkpoints are
//! accepted, and the tied token embedding is found under any of its names.

use super::random::HostTensor;
use crate::error::{Error, Result};
use burn::tensor::{Device, Tensor, TensorData};
use safetensors::Dtype;
use safetensors::tensor::{Metadata, TensorInfo};
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// One safetensors file: its header, parsed once, and where its data starts. The data stays on
/// disk and is read tensor by tensor when a model is built, so that an opened backbone holds no
/// copy of its weights.
struct File {
    path: PathBuf,
    meta: Metadata,
    data_start: u64,
}

impl File {
    /// Reads the header of the file at `path` (the data stays on disk), checking that the
    /// header's tensors fill the file exactly.
    fn open(path: &Path) -> Result<Self> {
        let bad = |why: String| {
            Error::Weights(format!("{}: not a safetensors file ({why}); re-download it", path.display()))
        };
        let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let file_len = f.metadata().map_err(|e| Error::io(path, e))?.len();
        let mut n = [0u8; 8];
        f.read_exact(&mut n).map_err(|_| bad("shorter than its header".into()))?;
        let n = u64::from_le_bytes(n);
        // safetensors caps headers at 100 MB; a larger length is a damaged file, not a big model.
        if n > 100_000_000 || 8 + n > file_len {
            return Err(bad(format!("a header of {n} bytes in a file of {file_len}")));
        }
        let mut header = vec![0u8; n as usize];
        f.read_exact(&mut header).map_err(|e| Error::io(path, e))?;
        let meta: Metadata = serde_json::from_slice(&header).map_err(|e| bad(e.to_string()))?;
        if 8 + n + meta.data_len() as u64 != file_len {
            return Err(bad(format!(
                "its header describes {} bytes of tensors, the file holds {}",
                meta.data_len(),
                file_len - 8 - n
            )));
        }
        Ok(Self { path: path.to_path_buf(), meta, data_start: 8 + n })
    }

    /// A tensor's stored elements of `width` bytes each, converted by `convert` as they are
    /// read, through a small buffer. The result is the only allocation as large as the tensor:
    /// reading all the bytes first and converting them after freed a buffer as large as each
    /// tensor while the next was being read, and those holes, of every tensor's size in turn,
    /// left the heap some 10 % larger than the weights (`docs/performance.md`, "`predict` on a
    /// bart-base-shaped backbone").
    fn values(&self, info: &TensorInfo, width: usize, convert: impl Fn(&[u8]) -> f32) -> Result<Vec<f32>> {
        const CHUNK: usize = 1 << 18;
        let (s, e) = info.data_offsets;
        if (e - s) % width != 0 {
            return Err(Error::Weights(format!(
                "{}: a tensor of {} bytes is not a whole number of {width}-byte elements; re-download it",
                self.path.display(),
                e - s
            )));
        }
        let mut f = std::fs::File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
        f.seek(SeekFrom::Start(self.data_start + s as u64)).map_err(|e| Error::io(&self.path, e))?;
        let mut out = Vec::with_capacity((e - s) / width);
        let mut buf = vec![0u8; CHUNK - CHUNK % width];
        let mut left = e - s;
        while left > 0 {
            let chunk = &mut buf[..left.min(CHUNK - CHUNK % width)];
            f.read_exact(chunk).map_err(|e| Error::io(&self.path, e))?;
            out.extend(chunk.chunks_exact(width).map(&convert));
            left -= chunk.len();
        }
        Ok(out)
    }

    /// The stored bytes of a tensor.
    fn data(&self, info: &TensorInfo) -> Result<Vec<u8>> {
        let (s, e) = info.data_offsets;
        let mut f = std::fs::File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
        f.seek(SeekFrom::Start(self.data_start + s as u64)).map_err(|e| Error::io(&self.path, e))?;
        let mut out = vec![0u8; e - s];
        f.read_exact(&mut out).map_err(|e| Error::io(&self.path, e))?;
        Ok(out)
    }
}

/// The tensors of one or more safetensors files, read tensor by tensor when asked (their
/// headers once, when opened), or of host tensors held in memory (random backbones, backbones
/// derived from another, perturbed copies in tests).
pub struct Weights {
    files: Vec<File>,
    host: HashMap<String, (Vec<f32>, Vec<usize>)>,
    prefix: String,
}

impl Weights {
    /// Opens safetensors files; a name is looked up in each in turn.
    pub fn open(paths: &[PathBuf]) -> Result<Self> {
        let files = paths.iter().map(|p| File::open(p)).collect::<Result<Vec<_>>>()?;
        Ok(Self::with_prefix(files, HashMap::new()))
    }

    /// Weights held in memory, copied from `tensors`.
    pub fn from_tensors(tensors: &[HostTensor]) -> Result<Self> {
        Self::from_host(tensors.to_vec())
    }

    /// Weights held in memory, taking `tensors` as they are (no copy).
    pub fn from_host(tensors: Vec<HostTensor>) -> Result<Self> {
        let mut host = HashMap::with_capacity(tensors.len());
        for (name, values, shape) in tensors {
            if values.len() != shape.iter().product::<usize>() {
                return Err(Error::Internal(format!(
                    "in-memory tensor {name} has {} values for shape {shape:?}",
                    values.len()
                )));
            }
            if host.insert(name.clone(), (values, shape)).is_some() {
                return Err(Error::Internal(format!("in-memory tensor {name} given twice")));
            }
        }
        Ok(Self::with_prefix(Vec::new(), host))
    }

    fn with_prefix(files: Vec<File>, host: HashMap<String, (Vec<f32>, Vec<usize>)>) -> Self {
        let mut w = Self { files, host, prefix: String::new() };
        // `model.shared.weight` marks a BartForConditionalGeneration checkpoint.
        if w.has_raw("model.shared.weight") || w.has_raw("model.encoder.embed_tokens.weight") {
            w.prefix = "model.".into();
        }
        w
    }

    fn find(&self, name: &str) -> Option<(&File, &TensorInfo)> {
        self.files.iter().find_map(|f| f.meta.info(name).map(|t| (f, t)))
    }

    /// Whether a tensor is stored under exactly `name` (no prefix added).
    pub fn has_raw(&self, name: &str) -> bool {
        self.host.contains_key(name) || self.find(name).is_some()
    }

    /// Whether the backbone tensor `name` (without the `model.` prefix) exists.
    pub fn has(&self, name: &str) -> bool {
        self.has_raw(&format!("{}{name}", self.prefix))
    }

    /// The raw f32 values and shape of `name`, read as it is stored (no prefix added).
    pub fn raw(&self, name: &str) -> Result<(Vec<f32>, Vec<usize>)> {
        if let Some((values, shape)) = self.host.get(name) {
            return Ok((values.clone(), shape.clone()));
        }
        let (file, t) =
            self.find(name).ok_or_else(|| Error::Weights(format!("tensor {name:?} not found")))?;
        let shape = t.shape.clone();
        let path = &file.path;
        let values: Vec<f32> = match t.dtype {
            Dtype::F32 => file.values(t, 4, |c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))?,
            Dtype::F16 => file.values(t, 2, |c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))?,
            Dtype::BF16 => {
                file.values(t, 2, |c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16))?
            }
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
        let (file, t) =
            self.find(name).ok_or_else(|| Error::Weights(format!("tensor {name:?} not found")))?;
        let shape: Vec<usize> = t.shape.clone();
        let path = &file.path;
        let values: Vec<i64> = match t.dtype {
            Dtype::I64 => file
                .data(t)?
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

#[cfg(test)]
mod tests {
    use super::*;
    use safetensors::tensor::TensorView;

    /// A safetensors file holding `tensors` (name, dtype, shape, stored bytes).
    fn write(dir: &Path, tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)]) -> PathBuf {
        let views: Vec<(String, TensorView<'_>)> = tensors
            .iter()
            .map(|(n, d, s, b)| (n.to_string(), TensorView::new(*d, s.clone(), b).expect("a view")))
            .collect();
        let path = dir.join("model.safetensors");
        std::fs::write(&path, safetensors::serialize(views, None).expect("serialised")).expect("written");
        path
    }

    #[test]
    fn reads_f32_f16_and_bf16_tensors_across_read_chunks() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        // 100,000 f32 values span two 256 KB read chunks and end inside a third.
        let f32s: Vec<f32> = (0..100_000).map(|i| i as f32 * 0.25 - 7.0).collect();
        let halves: Vec<f32> = vec![1.0, -2.5, 0.0, 65504.0, 0.099975586];
        let f16_bits: Vec<u16> = vec![0x3c00, 0xc100, 0x0000, 0x7bff, 0x2e66];
        let bf16_bits: Vec<u16> = halves.iter().map(|v| (v.to_bits() >> 16) as u16).collect();
        let le16 = |b: &[u16]| b.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let path = write(
            dir.path(),
            &[
                ("a", Dtype::F32, vec![400, 250], f32s.iter().flat_map(|x| x.to_le_bytes()).collect()),
                ("h", Dtype::F16, vec![5], le16(&f16_bits)),
                ("b", Dtype::BF16, vec![5], le16(&bf16_bits)),
            ],
        );
        let w = Weights::open(&[path]).expect("opened");
        assert_eq!(w.raw("a").expect("f32"), (f32s, vec![400, 250]));
        assert_eq!(w.raw("h").expect("f16").0, halves);
        let truncated: Vec<f32> = halves.iter().map(|v| f32::from_bits(v.to_bits() & 0xffff_0000)).collect();
        assert_eq!(w.raw("b").expect("bf16").0, truncated);
    }
}
