//! Baking a pack's trained backbone into a plain backbone folder: what `lightner export` writes.
//!
//! A pack trained with `--full` or `--also-train` carries the backbone parameters it changed. To
//! build new prompt packs on that backbone (the transfer recipe of `docs/transfer.md`: adapt the
//! backbone on a source domain once, then tune small packs per target domain on it, frozen),
//! those parameters are written back into a backbone folder of the usual shape:
//!
//! * `config.json`: the backbone's BART config (for a BERT warm-started as encoder-decoder, the
//!   derived one, with its LayerNorm ε and position offset, which lightner reads; Hugging Face's
//!   `BartModel` ignores those two fields, so such a folder is for lightner only);
//! * `model.safetensors`: every backbone tensor under its `BartModel` name (no `model.` prefix),
//!   the pack's trained values in place of the backbone's; label rows are not part of it (they
//!   belong to packs: the embedding keeps the vocabulary's rows only);
//! * the tokenizer files of the source backbone, copied;
//! * `lightner-export.json`: where it came from (the source backbone and pack, their hashes).
//!
//! The folder is written under a temporary name and renamed into place.

use super::backbone::{Backbone, fnv_hex};
use super::pack::Pack;
use crate::error::{Error, Result};
use crate::io::{DirKind, F32Tensor, f32_safetensors, write_atomic, write_dir_atomic};
use crate::model::params::{self, host_f32s};
use burn::tensor::{Device, Tensor};
use std::path::Path;

/// The file that marks an exported backbone folder (and so one that a new export may replace).
pub const EXPORT_NOTE: &str = "lightner-export.json";

/// A backbone folder written by [`export`]: one holding an [`EXPORT_NOTE`].
pub const EXPORT_DIR: DirKind =
    DirKind { what: "exported backbone", is_ours: |d| d.join(EXPORT_NOTE).is_file() };

/// The tokenizer files copied from the source backbone's folder when present.
const TOKENIZER_FILES: [&str; 7] = [
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.json",
    "merges.txt",
    "vocab.txt",
    "added_tokens.json",
];

/// What [`export`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Exported {
    /// Tensors in `model.safetensors`.
    pub tensors: usize,
    /// Of those, how many hold the pack's trained values (a projection with an adapter folded in
    /// counts once).
    pub from_pack: usize,
    /// FNV-1a 64 of the written `model.safetensors` (what packs trained on it record).
    pub weights_hash: String,
}

/// The `BartModel` name of the backbone parameter at burn module path `path`, and whether its
/// value is stored transposed (burn keeps a linear layer's weight as `[in, out]`, Hugging Face
/// as `[out, in]`).
fn hf_name(path: &str) -> (String, bool) {
    if path == "shared" || path.ends_with("embed_positions") {
        return (format!("{path}.weight"), false);
    }
    if let Some(p) = path.strip_suffix(".gamma") {
        return (format!("{p}.weight"), false);
    }
    if let Some(p) = path.strip_suffix(".beta") {
        return (format!("{p}.bias"), false);
    }
    (path.to_string(), path.ends_with(".weight"))
}

/// The backbone tensors of the model that `pack` builds on `bb`, under their `BartModel` names,
/// as [`export`] writes them: the trained values in place, the embedding cut back to the
/// backbone's vocabulary.
pub fn backbone_tensors(pack: &Pack, bb: &Backbone) -> Result<Vec<F32Tensor>> {
    let device = Device::default();
    let (model, _) = pack.model(bb, &device)?;
    // Adapters (`--lora-rank`) become part of the projections they adapt.
    let bart = model.bart.merge_lora();
    let mut out = Vec::new();
    for (path, p) in params::collect(&bart, false) {
        let (name, transposed) = hf_name(&path);
        let data = if transposed {
            // HF stores a linear weight as [out, in]; burn's Linear keeps [in, out].
            Tensor::<2>::from_data(p.data, &device).transpose().into_data()
        } else {
            p.data
        };
        let shape = data.shape().to_vec();
        let mut values = host_f32s(data).map_err(|e| Error::Internal(format!("{path}: {e}")))?;
        let shape = match shape.as_slice() {
            &[rows, d] if path == "shared" && rows > bb.config.vocab_size => {
                // Added label rows live in packs, not in the backbone.
                values.truncate(bb.config.vocab_size * d);
                vec![bb.config.vocab_size, d]
            }
            _ => shape,
        };
        out.push((name, values, shape));
    }
    Ok(out)
}

/// Writes the backbone of `pack` (opened on `bb`, the backbone it was trained on) as a plain
/// backbone folder `out`. Refuses a pack that trained no backbone parameter (there is nothing to
/// bake: its backbone is `bb` as it is) and an existing folder that is not an earlier export.
pub fn export(pack: &Pack, pack_dir: &Path, bb: &Backbone, out: &Path) -> Result<Exported> {
    let trained = &pack.manifest.trained_backbone_params;
    if trained.is_empty() {
        return Err(Error::Config(format!(
            "{}: the pack trained no backbone parameter, so there is nothing to bake; its backbone is {} as it is (export packs trained with --full or --also-train)",
            pack_dir.display(),
            bb.id
        )));
    }
    crate::io::check_dir_target(out, EXPORT_DIR)?;
    let tensors = backbone_tensors(pack, bb)?;
    let metadata = std::collections::HashMap::from([("format".to_string(), "pt".to_string())]);
    let bytes = f32_safetensors(&tensors, Some(metadata))?;
    let weights_hash = fnv_hex(&bytes);
    let mut config = serde_json::to_value(&bb.config).map_err(|e| Error::Internal(e.to_string()))?;
    if let Some(c) = config.as_object_mut() {
        c.insert("model_type".into(), "bart".into());
        c.insert("architectures".into(), serde_json::json!(["BartModel"]));
    }
    let note = serde_json::json!({
        "written_by": format!("lightner {} export", env!("CARGO_PKG_VERSION")),
        "source_backbone": { "id": bb.id, "weights_hash": bb.weights_hash, "warm_started": bb.warm_started },
        "source_pack": {
            "path": pack_dir.display().to_string(),
            "checksum": pack.manifest.checksum,
            "labels": pack.manifest.labels.iter().map(|l| l.name.clone()).collect::<Vec<_>>(),
            "training": pack.manifest.training,
            "metrics": pack.manifest.metrics,
        },
        "trained_backbone_params": trained,
        "weights_hash": weights_hash,
        "note": "lightner reads this folder as a BART-shaped backbone; config.json keeps lightner's layer_norm_eps and position_offset, which Hugging Face's BartModel does not read.",
    });
    let json =
        |v: &serde_json::Value| serde_json::to_vec_pretty(v).map_err(|e| Error::Internal(e.to_string()));
    let (config, note) = (json(&config)?, json(&note)?);
    write_dir_atomic(out, EXPORT_DIR, |tmp| {
        write_atomic(&tmp.join("model.safetensors"), &bytes)?;
        write_atomic(&tmp.join("config.json"), &config)?;
        for f in TOKENIZER_FILES {
            let src = bb.dir.join(f);
            if src.is_file() {
                let b = std::fs::read(&src).map_err(|e| Error::io(&src, e))?;
                write_atomic(&tmp.join(f), &b)?;
            }
        }
        // Last: its presence marks a complete export.
        write_atomic(&tmp.join(EXPORT_NOTE), &note)
    })?;
    // An adapter's A and B fold into one projection weight.
    let folded = trained.iter().filter(|p| p.contains(".lora.") && p.ends_with(".a")).count();
    let from_pack = trained.iter().filter(|p| !p.contains(".lora.")).count() + folded;
    Ok(Exported { tensors: tensors.len(), from_pack, weights_hash })
}

#[cfg(test)]
mod tests {
    use super::hf_name;

    #[test]
    fn burn_paths_map_to_bart_names() {
        assert_eq!(hf_name("shared"), ("shared.weight".into(), false));
        assert_eq!(hf_name("decoder.embed_positions"), ("decoder.embed_positions.weight".into(), false));
        assert_eq!(
            hf_name("encoder.layers.3.self_attn_layer_norm.gamma"),
            ("encoder.layers.3.self_attn_layer_norm.weight".into(), false)
        );
        assert_eq!(
            hf_name("decoder.layernorm_embedding.beta"),
            ("decoder.layernorm_embedding.bias".into(), false)
        );
        assert_eq!(
            hf_name("decoder.layers.0.encoder_attn.k_proj.weight"),
            ("decoder.layers.0.encoder_attn.k_proj.weight".into(), true)
        );
        assert_eq!(hf_name("encoder.layers.1.fc2.bias"), ("encoder.layers.1.fc2.bias".into(), false));
    }
}
