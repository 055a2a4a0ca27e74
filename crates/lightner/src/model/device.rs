//! Choosing the compute device at run time: the model code is the same on every backend, so a
//! GPU is a cargo feature (`cuda`) and a `--device` value away.

use crate::error::{Error, Result};
use burn::tensor::Device;

/// The device named by `spec`: `cpu` (burn's flex backend), or `cuda` / `cuda:N` in a build with
/// the `cuda` feature.
pub fn device(spec: &str) -> Result<Device> {
    match spec {
        "cpu" | "flex" => Ok(Device::flex()),
        s if s == "cuda" || s.starts_with("cuda:") => cuda(s.strip_prefix("cuda:").unwrap_or("0")),
        _ => Err(Error::Config(format!("unknown device {spec:?}; use cpu, or cuda[:N] in a CUDA build"))),
    }
}

#[cfg(feature = "cuda")]
fn cuda(index: &str) -> Result<Device> {
    let n: usize = index.parse().map_err(|_| Error::Config(format!("bad CUDA device index {index:?}")))?;
    Ok(Device::cuda(n))
}

#[cfg(not(feature = "cuda"))]
fn cuda(_index: &str) -> Result<Device> {
    Err(Error::Config(
        "this build has no CUDA backend; rebuild with `--features lightner/cuda` on a machine with CUDA"
            .into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(device("cpu").is_ok());
        assert!(device("tpu").is_err());
        #[cfg(not(feature = "cuda"))]
        assert!(device("cuda:0").unwrap_err().to_string().contains("CUDA"));
    }
}
