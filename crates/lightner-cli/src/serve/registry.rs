//! The packs a server knows: every sub-folder of the packs folder, named by its folder, loaded
//! onto its backbone. Backbones are opened once and shared by all their packs (recognised by the
//! hash of their weights, so a pack that names another copy of an opened backbone shares it). A pack that cannot
//! be loaded (corrupt, half-written, backbone missing) is listed as unavailable with the reason;
//! it never stops the others. No async here: the model worker owns the registry.

use lightner::pipeline::{Backbone, Pack, Predictor};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What `GET /v1/packs` says of a pack.
#[derive(Debug, Clone, Serialize)]
pub struct PackInfo {
    /// Its folder's name: what requests name.
    pub name: String,
    /// `ready` or `unavailable`.
    pub status: &'static str,
    /// Why it is unavailable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Entity types, in target order.
    pub labels: Vec<String>,
    /// The fusion weight α.
    pub alpha: Option<f64>,
    /// The backbone it runs on (folder or hub id).
    pub backbone: Option<String>,
    /// The metrics its manifest records (dev/test scores).
    pub metrics: serde_json::Value,
    /// Bytes of its files.
    pub size_bytes: u64,
}

impl PackInfo {
    /// Pack `name` (`size_bytes` on disk) as unavailable for `reason`, knowing nothing of its
    /// manifest yet; `Registry::load` fills both in as far as it gets.
    fn unavailable(name: &str, size_bytes: u64, reason: Option<String>) -> Self {
        Self {
            name: name.to_string(),
            status: "unavailable",
            reason,
            labels: vec![],
            alpha: None,
            backbone: None,
            metrics: serde_json::Value::Null,
            size_bytes,
        }
    }
}

struct Entry {
    /// Hash of `manifest.json` when loaded: a replaced pack has another manifest (its checksum
    /// of the tensors changes with it).
    stamp: Option<String>,
    info: PackInfo,
    predictor: Option<Predictor>,
    /// Unavailable because its backbone could not be opened.
    backbone_missing: bool,
}

impl Entry {
    fn log_line(&self, name: &str) -> String {
        match &self.info.reason {
            None => format!("pack {name}: ready ({} labels)", self.info.labels.len()),
            Some(r) => format!("pack {name}: unavailable: {r}"),
        }
    }
}

/// Why a pack cannot answer.
pub enum Lookup<'a> {
    /// Loaded and ready to tag.
    Ready(&'a Predictor),
    /// No pack of that name.
    NotFound,
    /// Known but not loaded, with the reason.
    Unavailable(String),
}

/// The packs of one folder over shared backbones.
pub struct Registry {
    dir: PathBuf,
    model: Option<String>,
    device: burn::tensor::Device,
    backbones: HashMap<String, Arc<Backbone>>,
    packs: BTreeMap<String, Entry>,
}

impl Registry {
    /// An empty registry of `dir`; `model` overrides every pack's recorded backbone.
    pub fn new(dir: PathBuf, model: Option<String>, device: burn::tensor::Device) -> Self {
        Self { dir, model, device, backbones: HashMap::new(), packs: BTreeMap::new() }
    }

    /// Brings the registry in line with the folder: new packs are loaded, replaced ones
    /// reloaded, removed ones dropped. Returns a log line per change.
    pub fn scan(&mut self) -> Vec<String> {
        let mut log = Vec::new();
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) => return vec![format!("cannot read {}: {e}", self.dir.display())],
        };
        let mut seen: Vec<(String, PathBuf)> = entries
            .flatten()
            .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
            // Hidden folders are lightner's staging folders (a pack being written) or the user's.
            .filter(|(name, path)| !name.starts_with('.') && path.is_dir())
            .collect();
        seen.sort();
        let opened = self.backbones.len();
        for (name, path) in &seen {
            let stamp = manifest_stamp(path);
            if self.packs.get(name).is_some_and(|p| p.stamp == stamp) {
                continue;
            }
            let entry = self.load_guarded(name, path, stamp);
            log.push(entry.log_line(name));
            self.packs.insert(name.clone(), entry);
        }
        // A pack whose recorded backbone is missing may share, by hash, one opened after it.
        if self.backbones.len() > opened {
            let waiting: Vec<(String, PathBuf)> = seen
                .iter()
                .filter(|(name, _)| self.packs.get(name).is_some_and(|p| p.backbone_missing))
                .cloned()
                .collect();
            for (name, path) in waiting {
                let entry = self.load_guarded(&name, &path, manifest_stamp(&path));
                if !entry.backbone_missing {
                    log.push(entry.log_line(&name));
                }
                self.packs.insert(name, entry);
            }
        }
        let gone: Vec<String> =
            self.packs.keys().filter(|k| !seen.iter().any(|(n, _)| n == *k)).cloned().collect();
        for name in gone {
            self.packs.remove(&name);
            log.push(format!("pack {name}: removed"));
        }
        log
    }

    /// [`Self::load`], with a panic inside the model (a damaged pack that passed the file checks)
    /// turned into an unavailable pack: one bad folder must not take the server down.
    fn load_guarded(&mut self, name: &str, dir: &Path, stamp: Option<String>) -> Entry {
        let loaded =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.load(name, dir, stamp.clone())));
        loaded.unwrap_or_else(|_| Entry {
            stamp,
            info: PackInfo::unavailable(
                name,
                folder_size(dir),
                Some(format!(
                    "{}: the model failed while loading this pack (a damaged or hand-edited file?); \
                     retrain it or copy it again",
                    dir.display()
                )),
            ),
            predictor: None,
            backbone_missing: false,
        })
    }

    fn load(&mut self, name: &str, dir: &Path, stamp: Option<String>) -> Entry {
        let mut info = PackInfo::unavailable(name, folder_size(dir), None);
        let pack = match Pack::load(dir) {
            Ok(p) => p,
            Err(e) => {
                info.reason = Some(lightner::error::report(&e));
                return Entry { stamp, info, predictor: None, backbone_missing: false };
            }
        };
        let m = &pack.manifest;
        info.labels = m.labels.iter().map(|l| l.name.clone()).collect();
        info.alpha = Some(m.model.alpha.value());
        info.metrics = m.metrics.clone();
        info.backbone = Some(m.backbone.id.clone());
        let bb = match self.backbone_for(&m.backbone.id, &m.backbone.weights_hash) {
            Ok(bb) => bb,
            Err(e) => {
                info.reason = Some(lightner::error::report(&e));
                return Entry { stamp, info, predictor: None, backbone_missing: true };
            }
        };
        info.backbone = Some(bb.id.clone());
        match Predictor::new(bb, &pack, &self.device) {
            Ok(p) => {
                info.status = "ready";
                Entry { stamp, info, predictor: Some(p), backbone_missing: false }
            }
            Err(e) => {
                info.reason = Some(lightner::error::report(&e));
                Entry { stamp, info, predictor: None, backbone_missing: false }
            }
        }
    }

    /// The backbone of a pack that records `id` and `hash`: `--model` when given; else an
    /// opened backbone with the same weights (by hash, wherever the pack says it was: packs
    /// trained on a copy of a backbone share it); else `id`, opened.
    fn backbone_for(&mut self, id: &str, hash: &str) -> lightner::Result<Arc<Backbone>> {
        if let Some(model) = self.model.clone() {
            return self.backbone(&model);
        }
        if let Some(bb) = self.backbones.values().find(|b| b.weights_hash == hash) {
            return Ok(Arc::clone(bb));
        }
        self.backbone(id)
    }

    /// The backbone `id`, opened on first use and shared afterwards.
    fn backbone(&mut self, id: &str) -> lightner::Result<Arc<Backbone>> {
        if let Some(bb) = self.backbones.get(id) {
            return Ok(Arc::clone(bb));
        }
        let bb = Arc::new(Backbone::open(id)?);
        self.backbones.insert(id.to_string(), Arc::clone(&bb));
        Ok(bb)
    }

    /// The pack `name` (a name, never a path: only folder names found by the scan match).
    pub fn get(&self, name: &str) -> Lookup<'_> {
        match self.packs.get(name) {
            None => Lookup::NotFound,
            Some(Entry { predictor: Some(p), .. }) => Lookup::Ready(p),
            Some(e) => Lookup::Unavailable(e.info.reason.clone().unwrap_or_default()),
        }
    }

    /// Every pack, by name.
    pub fn infos(&self) -> Vec<PackInfo> {
        self.packs.values().map(|e| e.info.clone()).collect()
    }

    /// The backbones opened so far.
    pub fn backbone_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.backbones.keys().cloned().collect();
        ids.sort();
        ids
    }
}

/// A hash of a pack folder's manifest, `None` when it cannot be read (a folder being filled).
fn manifest_stamp(dir: &Path) -> Option<String> {
    std::fs::read(dir.join("manifest.json")).ok().map(|b| lightner::pipeline::backbone::fnv_hex(&b))
}

fn folder_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|d| d.flatten().filter_map(|e| e.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum())
        .unwrap_or(0)
}
