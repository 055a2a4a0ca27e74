//! Where a backbone comes from: a local model folder, or a Hugging Face hub id resolved through
//! `hf-hub`'s cache (`$HF_HOME`, offline with `HF_HUB_OFFLINE=1`).

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The files a backbone folder may hold; `config.json` and the weights are required, and one of
/// the tokenizer layouts.
const WANTED: [&str; 8] = [
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "special_tokens_map.json",
    "tokenizer_config.json",
    "vocab.json",
    "merges.txt",
    "vocab.txt",
];

/// A backbone's origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// A folder with `config.json`, `model.safetensors` and a tokenizer.
    Dir(PathBuf),
    /// A hub repository id (`facebook/bart-base`).
    Hub(String),
}

impl ModelSource {
    /// An existing folder, or else a hub id of the form `owner/name`.
    pub fn parse(spec: &str) -> Result<Self> {
        let path = Path::new(spec);
        if path.is_dir() {
            return Ok(Self::Dir(path.to_path_buf()));
        }
        let parts: Vec<&str> = spec.split('/').collect();
        if parts.len() == 2 && parts.iter().all(|p| !p.is_empty()) && !spec.starts_with('.') {
            return Ok(Self::Hub(spec.to_string()));
        }
        Err(Error::Hub(format!(
            "--model {spec:?} is neither a folder nor a hub id like facebook/bart-base; \
             point it to a folder holding config.json, model.safetensors and tokenizer.json"
        )))
    }

    /// A local folder holding the backbone's files (downloading them into the hub cache first when
    /// the source is a hub id and the hub is reachable).
    pub fn resolve(&self) -> Result<PathBuf> {
        match self {
            Self::Dir(d) => {
                for f in ["config.json", "model.safetensors"] {
                    if !d.join(f).exists() {
                        return Err(Error::Hub(format!(
                            "{}: no {f}; a model folder needs config.json, model.safetensors and a tokenizer",
                            d.display()
                        )));
                    }
                }
                Ok(d.clone())
            }
            Self::Hub(id) => resolve_hub(id, None, offline()),
        }
    }
}

/// Whether the user asked for no network (`HF_HUB_OFFLINE=1`, as the Python hub library).
fn offline() -> bool {
    std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| matches!(v.as_str(), "1" | "true" | "TRUE" | "yes"))
}

/// Without the `hub` feature, hub ids cannot be resolved.
#[cfg(not(feature = "hub"))]
pub fn resolve_hub(id: &str, _cache: Option<&Path>, _local_only: bool) -> Result<PathBuf> {
    Err(Error::Hub(format!(
        "hub model {id}: this build has no hub support (feature `hub`); pass a model folder with --model DIR"
    )))
}

/// Resolves a hub id into a cached snapshot folder. `cache`: the hub cache (default: hf-hub's,
/// from `HF_HUB_CACHE`/`HF_HOME`); `local_only`: never touch the network.
#[cfg(feature = "hub")]
pub fn resolve_hub(id: &str, cache: Option<&Path>, local_only: bool) -> Result<PathBuf> {
    let how = "download the model folder on a machine with access (or copy an HF cache) and pass it \
               with --model DIR, or set HF_HOME to a cache that holds it";
    let (owner, name) = id.split_once('/').unwrap_or(("", id));
    let mut builder = hf_hub::HFClient::builder();
    if let Some(c) = cache {
        builder = builder.cache_dir(c);
    }
    let client = builder
        .build_sync()
        .map_err(|e| Error::Hub(format!("cannot start the hub client for {id}: {e}; {how}")))?;
    let repo = client.model(owner, name);
    let mut dir: Option<PathBuf> = None;
    for file in WANTED {
        match repo.download_file().filename(file).local_files_only(local_only).send() {
            Ok(p) => {
                if dir.is_none() {
                    dir = p.parent().map(Path::to_path_buf);
                }
            }
            Err(e) if file == "config.json" || file == "model.safetensors" => {
                let mode =
                    if local_only { "not in the local cache (HF_HUB_OFFLINE is set)" } else { "unreachable" };
                return Err(Error::Hub(format!("hub model {id}: {file} is {mode} ({e}); {how}")));
            }
            // Optional files: a model has one tokenizer layout, not all of them.
            Err(_) => {}
        }
    }
    dir.ok_or_else(|| Error::Hub(format!("hub model {id}: nothing could be resolved; {how}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_tells_folders_from_hub_ids() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            ModelSource::parse(dir.path().to_str().unwrap()).unwrap(),
            ModelSource::Dir(dir.path().into())
        );
        assert_eq!(
            ModelSource::parse("facebook/bart-base").unwrap(),
            ModelSource::Hub("facebook/bart-base".into())
        );
        assert!(ModelSource::parse("no-such-dir").is_err());
        assert!(ModelSource::parse("./a/b").is_err());
        let err = ModelSource::Dir(dir.path().into()).resolve().unwrap_err().to_string();
        assert!(err.contains("config.json"), "{err}");
    }

    #[cfg(feature = "hub")]
    #[test]
    fn offline_hub_miss_says_how_to_use_a_folder() {
        // An empty cache, offline: resolution fails at once with advice, and never hangs.
        let cache = tempfile::tempdir().unwrap();
        let err = resolve_hub("facebook/bart-base", Some(cache.path()), true).unwrap_err().to_string();
        assert!(err.contains("--model DIR"), "{err}");
        assert!(err.contains("HF_HUB_OFFLINE"), "{err}");
    }

    #[cfg(feature = "hub")]
    #[test]
    fn cached_snapshot_resolves_offline() {
        // A cache laid out as the hub library writes it: blobs, snapshots/<rev>, refs/main.
        let cache = tempfile::tempdir().unwrap();
        let repo = cache.path().join("models--facebook--bart-base");
        let snap = repo.join("snapshots").join("abc123");
        std::fs::create_dir_all(&snap).unwrap();
        std::fs::create_dir_all(repo.join("refs")).unwrap();
        std::fs::write(repo.join("refs/main"), "abc123").unwrap();
        for f in ["config.json", "model.safetensors", "tokenizer.json"] {
            std::fs::write(snap.join(f), "{}").unwrap();
        }
        let dir = resolve_hub("facebook/bart-base", Some(cache.path()), true).unwrap();
        assert_eq!(dir, snap);
    }
}
