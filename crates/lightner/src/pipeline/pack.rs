//! Prompt packs: what training produced, small enough to keep many next to one backbone. A pack
//! is a directory with
//!
//! * `pack.safetensors`: the materialised per-layer prompt keys and values
//!   (`prefix.{encoder_self,decoder_self,cross}.{layer}.{key,value}`, `[H, L, d_h]`), the label
//!   rows (`label_rows`, `[C, d]`) or piece weights (`label_weights.{j}`), α (`alpha`), and any
//!   backbone parameter that was trained (`backbone.{path}`);
//! * `manifest.json`: labels, tokenizer ids, pointer space, α, decoding defaults, the backbone's id
//!   and weight hash, the training configuration, metrics, the library version, and a checksum
//!   of `pack.safetensors`.
//!
//! The directory is written under a temporary name and renamed into place.

use super::backbone::{Backbone, fnv_hex};
use super::tagger::DecodeSettings;
use super::{ModelSpec, label_scoring, load_bart};
use crate::data::LabelSet;
use crate::data::labels::Label;
use crate::data::words::WordSplit;
use crate::error::{Error, Result};
use crate::io::{F32Tensor, f32_safetensors, read_f32_safetensors};
use crate::model::label_init::write_rows;
use crate::model::lightner::PrefixSet;
use crate::model::params::host_f32s;
use crate::model::{HeadParams, LightNer, PointerHead, Trainable, attention::Prefix, params};
use crate::tokenize::{LabelWords, SpecialIds};
use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// A pack folder, as [`crate::io::write_dir_atomic`] sees it: one holding a `manifest.json`.
/// Commands that write a pack check their `--out` against it before training.
pub const PACK_DIR: crate::io::DirKind =
    crate::io::DirKind { what: "prompt pack", is_ours: |d| d.join("manifest.json").is_file() };

/// The file of a pack's prompt generators, when it keeps them (see [`Pack::keep_generator`]).
pub const GENERATOR_FILE: &str = "generator.safetensors";

/// The format name written in every manifest.
pub const FORMAT: &str = "lightner-pack";
/// The manifest format version this library reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// The backbone a pack belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackboneInfo {
    /// As the user named it when training.
    pub id: String,
    /// FNV-1a 64 of its `model.safetensors`.
    pub weights_hash: String,
    /// Its hidden width (for the record: the weights hash is what is checked).
    pub d_model: usize,
    /// Decoder layers.
    pub decoder_layers: usize,
    /// Embedding rows.
    pub vocab_size: usize,
    /// Whether it is a BERT-family encoder warm-started as encoder-decoder.
    #[serde(default)]
    pub warm_started: bool,
}

impl BackboneInfo {
    /// What a pack records of `bb`.
    pub fn of(bb: &Backbone) -> Self {
        Self {
            id: bb.id.clone(),
            weights_hash: bb.weights_hash.clone(),
            d_model: bb.config.d_model,
            decoder_layers: bb.config.decoder_layers,
            vocab_size: bb.config.vocab_size,
            warm_started: bb.warm_started,
        }
    }
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The library version that wrote the pack.
    pub library_version: String,
    /// The backbone.
    pub backbone: BackboneInfo,
    /// Labels in target order.
    pub labels: Vec<Label>,
    /// Model settings (α included).
    pub model: ModelSpec,
    /// The tokenizer's special ids.
    pub special: SpecialIds,
    /// Decoding defaults.
    pub decoding: DecodeSettings,
    /// Backbone parameters stored in the pack because they were trained.
    pub trained_backbone_params: Vec<String>,
    /// The training configuration (free-form, for the record).
    pub training: serde_json::Value,
    /// Dev/test metrics (free-form, for the record).
    pub metrics: serde_json::Value,
    /// How `predict` splits raw text into words: as the training data was (character by
    /// character for character-level corpora such as CLUENER2020).
    #[serde(default)]
    pub text_words: WordSplit,
    /// FNV-1a 64 of `pack.safetensors`.
    pub checksum: String,
    /// FNV-1a 64 of `generator.safetensors`, when the pack keeps its prompt generators (what
    /// `train --init-from` needs to go on training the prompts; `predict` never reads them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_checksum: Option<String>,
    /// The pack this one was warm-started from (`train --init-from`), and what it took over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_from: Option<super::warm_start::Lineage>,
}

impl Manifest {
    /// Parses and checks a `manifest.json` (`path` is only used in messages): its format and
    /// version, its label set, its model spec and its decoding defaults, so that a corrupted or
    /// hand-edited manifest is refused when the pack is opened, never half-way through a job.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Self> {
        let bad = |m: String| Error::Pack(format!("{}: {m}", path.display()));
        let manifest: Manifest = serde_json::from_slice(bytes).map_err(|e| {
            Error::Pack(format!("{}:{}: not a lightner pack manifest: {e}", path.display(), e.line()))
        })?;
        if manifest.format != FORMAT || manifest.format_version != FORMAT_VERSION {
            return Err(bad(format!(
                "format {:?} version {} is not {FORMAT} version {FORMAT_VERSION}",
                crate::error::elide(&manifest.format, crate::error::QUOTE_CHARS),
                manifest.format_version
            )));
        }
        LabelSet::new(manifest.labels.clone()).map_err(|e| bad(e.to_string()))?;
        manifest.model.validate().map_err(|e| bad(e.to_string()))?;
        manifest.decoding.validate().map_err(|e| bad(e.to_string()))?;
        Ok(manifest)
    }
}

/// A loaded pack: its manifest and tensors (host memory).
pub struct Pack {
    /// The manifest.
    pub manifest: Manifest,
    tensors: BTreeMap<String, TensorData>,
    /// The prompt generators' parameters by module path (`encoder_self.mlp0.weight`), when kept.
    generator: BTreeMap<String, TensorData>,
}

fn mean(xs: &[f32]) -> f64 {
    xs.iter().map(|&x| f64::from(x)).sum::<f64>() / xs.len().max(1) as f64
}

impl Pack {
    /// Collects a trained model's pack. `model` is the trained model (any device).
    pub fn from_model(
        model: &LightNer,
        bb: &Backbone,
        labels: &LabelSet,
        spec: &ModelSpec,
        decoding: DecodeSettings,
        training: serde_json::Value,
        metrics: serde_json::Value,
    ) -> Result<Self> {
        let mut tensors = BTreeMap::new();
        if let Some(p) = model.prefixes() {
            for (name, set) in
                [("encoder_self", &p.encoder_self), ("decoder_self", &p.decoder_self), ("cross", &p.cross)]
            {
                for (i, pre) in set.iter().enumerate() {
                    // [1, H, L, d_h] → [H, L, d_h].
                    let [_, h, l, dh] = pre.key.dims();
                    tensors.insert(
                        format!("prefix.{name}.{i}.key"),
                        pre.key.clone().reshape([h, l, dh]).into_data(),
                    );
                    tensors.insert(
                        format!("prefix.{name}.{i}.value"),
                        pre.value.clone().reshape([h, l, dh]).into_data(),
                    );
                }
            }
        }
        let device = model.bart.shared.val().device();
        match &model.head.labels {
            crate::model::LabelScoring::Rows(ids) => {
                let idx = Tensor::<1, burn::tensor::Int>::from_data(
                    TensorData::new(ids.iter().map(|&i| i as i64).collect::<Vec<_>>(), [ids.len()]),
                    &device,
                );
                tensors.insert("label_rows".into(), model.bart.rows(idx).into_data());
            }
            crate::model::LabelScoring::Pieces(_) => {
                for (j, w) in model.trainable.head.label_weights.iter().enumerate() {
                    if let Some(w) = w {
                        tensors.insert(format!("label_weights.{j}"), w.val().into_data());
                    }
                }
            }
        }
        let alpha = model.head.alpha_tensor(&model.trainable.head, &device).into_data();
        // The manifest reports one value: α itself, or the mean of a per-dimension α.
        let alpha_value = mean(&host_f32s(alpha.clone())?);
        tensors.insert("alpha".into(), alpha);
        let trained = params::collect(&model.bart, true);
        let trained_backbone_params: Vec<String> = trained.keys().cloned().collect();
        for (path, p) in trained {
            tensors.insert(format!("backbone.{path}"), p.data);
        }
        let mut spec = spec.clone();
        spec.alpha = spec.alpha.with_value(alpha_value);
        let manifest = Manifest {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            library_version: env!("CARGO_PKG_VERSION").into(),
            backbone: BackboneInfo::of(bb),
            labels: labels.labels().to_vec(),
            model: spec,
            special: bb.tokenizer.special(),
            decoding,
            trained_backbone_params,
            text_words: WordSplit::Words,
            training,
            metrics,
            checksum: String::new(),
            generator_checksum: None,
            init_from: None,
        };
        Ok(Self { manifest, tensors, generator: BTreeMap::new() })
    }

    /// Keeps the prompt generators of `model` (the parameters the prompts train as, several
    /// times the size of the prefixes they make) in `generator.safetensors` when the pack is
    /// saved, so that `train --init-from` can go on training them.
    pub fn keep_generator(&mut self, model: &LightNer) {
        self.generator = model
            .trainable
            .prompts
            .as_ref()
            .map(|p| params::collect(p, false).into_iter().map(|(k, v)| (k, v.data)).collect())
            .unwrap_or_default();
    }

    /// Whether the pack keeps its prompt generators.
    pub fn has_generator(&self) -> bool {
        !self.generator.is_empty()
    }

    /// The kept prompt generators' parameters by module path, as [`params::restore`] takes them.
    pub fn generator_params(&self) -> BTreeMap<String, params::SavedParam> {
        self.generator
            .iter()
            .map(|(k, v)| {
                (k.clone(), params::SavedParam { id: burn::module::ParamId::new(), data: v.clone() })
            })
            .collect()
    }

    /// A stored tensor by name (`label_rows`, `alpha`, `label_weights.{j}`, ...).
    pub fn host_tensor(&self, name: &str) -> Option<&TensorData> {
        self.tensors.get(name)
    }

    /// The backbone parameters the pack trained, by module path, as [`params::restore`] takes them.
    pub fn backbone_params(&self) -> Result<BTreeMap<String, params::SavedParam>> {
        self.manifest
            .trained_backbone_params
            .iter()
            .map(|p| {
                let data = self
                    .tensors
                    .get(&format!("backbone.{p}"))
                    .cloned()
                    .ok_or_else(|| Error::Pack(format!("the pack lacks backbone parameter {p}")))?;
                Ok((p.clone(), params::SavedParam { id: burn::module::ParamId::new(), data }))
            })
            .collect()
    }

    fn serialize(tensors: &BTreeMap<String, TensorData>) -> Result<Vec<u8>> {
        let tensors: Vec<F32Tensor> = tensors
            .iter()
            .map(|(n, t)| Ok((n.clone(), host_f32s(t.clone())?, t.shape().to_vec())))
            .collect::<Result<_>>()?;
        f32_safetensors(&tensors, None)
    }

    /// Writes the pack directory `dir` atomically, replacing an existing pack there; any other
    /// existing folder is refused (see [`PACK_DIR`]).
    pub fn save(&mut self, dir: &Path) -> Result<()> {
        let bytes = Self::serialize(&self.tensors)?;
        self.manifest.checksum = fnv_hex(&bytes);
        let generator =
            if self.generator.is_empty() { None } else { Some(Self::serialize(&self.generator)?) };
        self.manifest.generator_checksum = generator.as_deref().map(fnv_hex);
        let json = serde_json::to_vec_pretty(&self.manifest).map_err(|e| Error::Internal(e.to_string()))?;
        crate::io::write_dir_atomic(dir, PACK_DIR, |tmp| {
            crate::io::write_atomic(&tmp.join("pack.safetensors"), &bytes)?;
            if let Some(g) = &generator {
                crate::io::write_atomic(&tmp.join(GENERATOR_FILE), g)?;
            }
            crate::io::write_atomic(&tmp.join("manifest.json"), &json)
        })
    }

    /// Reads and checks a pack directory.
    pub fn load(dir: &Path) -> Result<Self> {
        let mpath = dir.join("manifest.json");
        let bytes = std::fs::read(&mpath).map_err(|e| Error::io(&mpath, e))?;
        let manifest = Manifest::parse(&mpath, &bytes)?;
        let tpath = dir.join("pack.safetensors");
        let bytes = std::fs::read(&tpath).map_err(|e| Error::io(&tpath, e))?;
        if fnv_hex(&bytes) != manifest.checksum {
            return Err(Error::Pack(format!(
                "{}: checksum mismatch (the file is corrupted or truncated); retrain or copy the pack again",
                tpath.display()
            )));
        }
        let read = |path: &Path, bytes: &[u8]| -> Result<BTreeMap<String, TensorData>> {
            Ok(read_f32_safetensors(path, bytes)?
                .0
                .into_iter()
                .map(|(name, v, shape)| (name, TensorData::new(v, shape)))
                .collect())
        };
        let tensors = read(&tpath, &bytes)?;
        let generator = match &manifest.generator_checksum {
            None => BTreeMap::new(),
            Some(sum) => {
                let gpath = dir.join(GENERATOR_FILE);
                let bytes = std::fs::read(&gpath).map_err(|e| Error::io(&gpath, e))?;
                if &fnv_hex(&bytes) != sum {
                    return Err(Error::Pack(format!(
                        "{}: checksum mismatch (the file is corrupted or truncated); retrain or copy the pack again",
                        gpath.display()
                    )));
                }
                read(&gpath, &bytes)?
            }
        };
        Ok(Self { manifest, tensors, generator })
    }

    /// The label set.
    pub fn labels(&self) -> Result<LabelSet> {
        LabelSet::new(self.manifest.labels.clone())
    }

    fn tensor<const D: usize>(&self, name: &str, device: &Device) -> Result<Tensor<D>> {
        let t =
            self.tensors.get(name).ok_or_else(|| Error::Pack(format!("the pack has no tensor {name}")))?;
        if t.shape().len() != D {
            return Err(Error::Pack(format!(
                "pack tensor {name} has rank {}, expected {D}",
                t.shape().len()
            )));
        }
        Ok(Tensor::from_data(t.clone(), device))
    }

    /// Checks that `bb` is the backbone this pack was trained on.
    pub fn check_backbone(&self, bb: &Backbone) -> Result<()> {
        let b = &self.manifest.backbone;
        if b.weights_hash != bb.weights_hash {
            return Err(Error::Pack(format!(
                "this pack was trained on backbone {:?} (weights {}), but --model {:?} has weights {}; \
                 use the backbone the pack was trained on",
                b.id, b.weights_hash, bb.id, bb.weights_hash
            )));
        }
        Ok(())
    }

    /// This pack moved onto `bb`, a backbone [`super::export::export`]ed from it: the same
    /// prompts, label rows and α, without the backbone parameters that `bb` now holds. Refuses a
    /// backbone that was not exported from this pack (its `lightner-export.json` names the pack
    /// by checksum).
    pub fn rebased(&self, bb: &Backbone) -> Result<Self> {
        let note = bb.dir.join(super::export::EXPORT_NOTE);
        let source = std::fs::read(&note)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v["source_pack"]["checksum"].as_str().map(str::to_string));
        if source.as_deref() != Some(self.manifest.checksum.as_str()) {
            return Err(Error::Pack(format!(
                "{} was not exported from this pack (checksum {}): a pack moves only onto the backbone `lightner export` baked from it",
                bb.dir.display(),
                self.manifest.checksum
            )));
        }
        let mut manifest = self.manifest.clone();
        manifest.backbone = BackboneInfo::of(bb);
        manifest.trained_backbone_params.clear();
        // The export folded the adapters into the projections.
        manifest.model.lora = None;
        let tensors = self
            .tensors
            .iter()
            .filter(|(n, _)| !n.starts_with("backbone."))
            .map(|(n, t)| (n.clone(), t.clone()))
            .collect();
        Ok(Self { manifest, tensors, generator: self.generator.clone() })
    }

    /// The inference model: the backbone with the pack's label rows, prefixes, α and trained
    /// backbone parameters plugged in.
    pub fn model(&self, bb: &Backbone, device: &Device) -> Result<(LightNer, LabelWords)> {
        self.check_backbone(bb)?;
        let labels = self.labels()?;
        let words = LabelWords::new(&labels, &bb.tokenizer, self.manifest.model.label_mode)?;
        // A pack that did not train the token embedding shares the backbone's: its label rows
        // stand in for their tokens' rows (`Bart::rows`) instead of being written into a copy of
        // it. (The backbone parameters it trained replace the backbone's own below; the others
        // stay shared too.)
        let shares = !self.manifest.trained_backbone_params.iter().any(|p| p == "shared");
        let mut bart = if shares { bb.bart(device)? } else { load_bart(bb, &words, device)? };
        if let Some(l) = &self.manifest.model.lora
            && bart.add_lora(l, 0) == 0
        {
            return Err(Error::Pack(format!(
                "the pack's adapters are on {:?}, which names no attention block of this backbone",
                l.on
            )));
        }
        if let crate::model::LabelScoring::Rows(ids) = label_scoring(&words) {
            let rows: Tensor<2> = self.tensor("label_rows", device)?;
            if rows.dims()[0] != ids.len() {
                return Err(Error::Pack(format!(
                    "the pack has {} label rows for {} labels",
                    rows.dims()[0],
                    ids.len()
                )));
            }
            if shares {
                bart.overrides = Some(crate::model::RowOverrides { ids, rows });
            } else {
                // Write the pack's label rows into the embedding (the one the pack then
                // restores, as it trained it).
                let d = rows.dims()[1];
                let r = host_f32s(rows.into_data())?;
                let written = write_rows(
                    bart.shared.val(),
                    ids.iter().enumerate().map(|(j, &id)| (id as usize, &r[j * d..(j + 1) * d])),
                )?;
                bart.shared = crate::model::layers::frozen(written);
            }
        }
        if !self.manifest.trained_backbone_params.is_empty() {
            let saved = self.backbone_params()?;
            let (b, n) = params::restore(bart, &saved);
            if n != saved.len() {
                return Err(Error::Pack(format!(
                    "only {n} of the pack's {} backbone parameters fit this backbone",
                    saved.len()
                )));
            }
            bart = b;
        }
        let c = labels.len();
        let label_weights = (0..c)
            .map(|j| {
                self.tensors
                    .contains_key(&format!("label_weights.{j}"))
                    .then(|| self.tensor::<1>(&format!("label_weights.{j}"), device))
            })
            .map(|t| t.transpose().map(|t| t.map(Param::from_tensor)))
            .collect::<Result<Vec<_>>>()?;
        let alpha = host_f32s(self.tensor::<1>("alpha", device)?.into_data())?;
        if alpha.len() != 1 && alpha.len() != bb.config.d_model {
            return Err(Error::Pack(format!(
                "the pack's alpha has {} values; expected 1 or one per hidden dimension ({})",
                alpha.len(),
                bb.config.d_model
            )));
        }
        let mut head = PointerHead::new(bb.tokenizer.special().eos.0, label_scoring(&words), mean(&alpha));
        if alpha.len() > 1 {
            head.alpha_dims = Some(alpha);
        }
        let fixed = if self.manifest.model.prompt.is_some() {
            let n = bb.config.decoder_layers;
            let get = |name: &str| -> Result<Vec<Prefix>> {
                (0..n)
                    .map(|i| {
                        let k: Tensor<3> = self.tensor(&format!("prefix.{name}.{i}.key"), device)?;
                        let v: Tensor<3> = self.tensor(&format!("prefix.{name}.{i}.value"), device)?;
                        Ok(Prefix { key: k.unsqueeze_dim(0), value: v.unsqueeze_dim(0) })
                    })
                    .collect()
            };
            Some(PrefixSet {
                encoder_self: get("encoder_self")?,
                decoder_self: get("decoder_self")?,
                cross: get("cross")?,
            })
        } else {
            None
        };
        let mut model = LightNer::new(
            bart,
            Trainable { prompts: None, head: HeadParams { label_weights, alpha_logit: None } },
            head,
        );
        model.fixed_prefixes = fixed;
        Ok((model, words))
    }
}
