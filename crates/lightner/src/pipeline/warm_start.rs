//! Warm starts (`train --init-from PACK`): a new training that begins where another pack ended.
//!
//! DeepKE transfers between domains by loading a whole checkpoint (`load_path`), matching tensors
//! by name and shape only, and its maintainers' recipe for label sets that differ is to keep the
//! source's rows for the types both share and start the new types from their label words
//! (docs/deepke.md §6.2 and §13.22; the study: `docs/transfer.md`). Here the source is a pack on the *same* backbone (checked by weights
//! hash), and the new model takes from it:
//!
//! * the backbone parameters the source trained (`--full`, `--also-train`), by module path (a
//!   trained embedding brings its vocabulary's rows, and every label row is then made again
//!   from its label words in that embedding);
//! * the prompt generators, when the source kept them (`train --keep-generator`) and the prompt
//!   shapes agree; a pack holds its prompts as materialised prefixes otherwise, which cannot be
//!   trained further, so a source with prompts but no generator is refused with what to do;
//! * for each label whose type name is in both, the source's label row (added label words) or
//!   piece weights (label words as pieces); the other labels start from their label words;
//! * a learnt α starts at the source's α (a fixed α is what the caller configured; the CLI uses
//!   the source's value unless `--alpha` is given).

use super::ModelSpec;
use super::backbone::Backbone;
use super::pack::Pack;
use crate::data::LabelSet;
use crate::error::{Error, Result};
use crate::model::label_init::write_rows;
use crate::model::params::host_f32s;
use crate::model::{LightNer, params};
use crate::tokenize::{LabelWordMode, LabelWords};
use burn::module::Param;
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// A warm start's source pack and the name it is known by (its folder, for the record).
pub struct InitFrom<'a> {
    /// The source pack.
    pub pack: &'a Pack,
    /// How the user named it.
    pub name: String,
}

/// What a warm-started pack records of its source (`manifest.json`, `init_from`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lineage {
    /// The source pack as named on the command line.
    pub pack: String,
    /// The source's `pack.safetensors` checksum.
    pub checksum: String,
    /// Labels that took the source's row or weights.
    pub kept_labels: Vec<String>,
    /// Labels that started from their label words.
    pub new_labels: Vec<String>,
    /// What else came over: `prompts`, `alpha`, `backbone` (its trained parameters).
    pub carried: Vec<String>,
}

fn f32s(t: &TensorData) -> Result<Vec<f32>> {
    host_f32s(t.clone())
}

/// Checks, before any training, that `src` can warm-start a model of `spec` on `bb`.
pub fn check(src: &InitFrom<'_>, bb: &Backbone, spec: &ModelSpec) -> Result<()> {
    let m = &src.pack.manifest;
    if m.backbone.weights_hash != bb.weights_hash {
        return Err(Error::Config(format!(
            "--init-from {}: that pack was trained on backbone {:?} (weights {}), this training uses {:?} (weights {}); a warm start needs the same backbone",
            src.name, m.backbone.id, m.backbone.weights_hash, bb.id, bb.weights_hash
        )));
    }
    if m.model.lora.is_some() && spec.lora != m.model.lora {
        let show = |l: &Option<crate::model::lora::LoraSpec>| match l {
            Some(l) => format!("rank {} on {:?} (alpha {})", l.rank, l.on, l.alpha),
            None => "none".to_string(),
        };
        return Err(Error::Config(format!(
            "--init-from {}: its adapters are {}, this training asks for {}; use the same --lora-rank, --lora-on and --lora-alpha (or leave them out to keep the source's)",
            src.name,
            show(&m.model.lora),
            show(&spec.lora)
        )));
    }
    if let (Some(want), Some(had)) = (spec.prompt, m.model.prompt) {
        if want != had {
            return Err(Error::Config(format!(
                "--init-from {}: its prompts are L = {}, P = {}, this training asks for L = {}, P = {}; use the same --prompt-len and --prompt-dim",
                src.name, had.len, had.dim, want.len, want.dim
            )));
        }
        if !src.pack.has_generator() {
            return Err(Error::Config(format!(
                "--init-from {}: the pack keeps its prompts only as fixed prefixes, which cannot train further; retrain it with --keep-generator, or add --no-prompts here",
                src.name
            )));
        }
    }
    Ok(())
}

/// Writes `rows[(id, values)]` into the embedding of `model`, keeping its id and gradient flag.
fn set_rows(model: &mut LightNer, rows: &[(usize, Vec<f32>)]) -> Result<()> {
    let p = &model.bart.shared;
    let e = p.val();
    let grad = e.is_require_grad();
    let t = write_rows(e, rows.iter().map(|(id, r)| (*id, r.as_slice())))?.set_require_grad(grad);
    model.bart.shared = Param::initialized(p.id, t);
    Ok(())
}

/// `model` (freshly built for `labels` with `words`, before training) with what `src` carries
/// over put in place; see the module's documentation. Call [`check`] first.
pub fn apply(
    mut model: LightNer,
    labels: &LabelSet,
    words: &LabelWords,
    spec: &ModelSpec,
    src: &InitFrom<'_>,
) -> Result<(LightNer, Lineage)> {
    let pack = src.pack;
    let m = &pack.manifest;
    let mut carried = Vec::new();
    let vocab = m.backbone.vocab_size;

    // Trained backbone parameters. The source's embedding has its own label rows after the
    // vocabulary: only the vocabulary's rows come over (the labels are handled below).
    let mut saved = pack.backbone_params()?;
    if !saved.is_empty() {
        if let Some(shared) = saved.remove("shared") {
            let d = model.bart.shared.val().dims()[1];
            let values = f32s(&shared.data)?;
            let rows: Vec<(usize, Vec<f32>)> =
                (0..vocab).map(|i| (i, values[i * d..(i + 1) * d].to_vec())).collect();
            set_rows(&mut model, &rows)?;
            // The labels' rows start from their words in the embedding as it is now.
            let p = &model.bart.shared;
            let e = p.val();
            let grad = e.is_require_grad();
            let e = crate::model::label_init::with_label_rows(e, words)?.set_require_grad(grad);
            model.bart.shared = Param::initialized(p.id, e);
        }
        let want = saved.len();
        let (bart, n) = params::restore(model.bart, &saved);
        model.bart = bart;
        if n != want {
            return Err(Error::Pack(format!(
                "--init-from {}: only {n} of its {want} trained backbone parameters fit this model",
                src.name
            )));
        }
        carried.push("backbone".to_string());
    }

    // Labels shared by name.
    let source_labels: Vec<&str> = m.labels.iter().map(|l| l.name.as_str()).collect();
    let (mut kept, mut new) = (Vec::new(), Vec::new());
    let same_mode = m.model.label_mode == words.mode;
    let mut rows = Vec::new();
    let source_rows = pack.host_tensor("label_rows").map(f32s).transpose()?;
    for (j, l) in labels.labels().iter().enumerate() {
        let Some(i) = source_labels.iter().position(|s| *s == l.name).filter(|_| same_mode) else {
            new.push(l.name.clone());
            continue;
        };
        match words.mode {
            LabelWordMode::Added => {
                let src_rows = source_rows.as_ref().ok_or_else(|| {
                    Error::Pack(format!("--init-from {}: the pack has no label rows", src.name))
                })?;
                let d = src_rows.len() / source_labels.len().max(1);
                rows.push((words.input_ids[j].0 as usize, src_rows[i * d..(i + 1) * d].to_vec()));
            }
            LabelWordMode::Pieces => {
                let from = pack.host_tensor(&format!("label_weights.{i}")).map(f32s).transpose()?;
                if let (Some(from), Some(Some(w))) = (from, model.trainable.head.label_weights.get(j)) {
                    if from.len() != w.val().dims()[0] {
                        new.push(l.name.clone());
                        continue;
                    }
                    let t = w.val();
                    let t = Tensor::<1>::from_data(TensorData::new(from.clone(), [from.len()]), &t.device())
                        .set_require_grad(t.is_require_grad());
                    model.trainable.head.label_weights[j] = Some(Param::initialized(w.id, t));
                }
            }
        }
        kept.push(l.name.clone());
    }
    if !rows.is_empty() {
        set_rows(&mut model, &rows)?;
    }

    // Prompts.
    if let Some(prompts) = model.trainable.prompts.take() {
        let saved = pack.generator_params();
        let want = saved.len();
        let (p, n) = params::restore(prompts, &saved);
        if want > 0 && n != want {
            return Err(Error::Pack(format!(
                "--init-from {}: only {n} of its {want} prompt generator tensors fit this model",
                src.name
            )));
        }
        if n > 0 {
            carried.push("prompts".to_string());
        }
        model.trainable.prompts = Some(p);
    }

    // A learnt α starts where the source's ended (per dimension when both are per dimension,
    // their mean otherwise).
    if let Some(logit) = model.trainable.head.alpha_logit.take() {
        let a = pack
            .host_tensor("alpha")
            .map(f32s)
            .transpose()?
            .unwrap_or_else(|| vec![spec.alpha.init() as f32]);
        let n = logit.val().dims()[0];
        let mean = a.iter().sum::<f32>() / a.len().max(1) as f32;
        let values: Vec<f32> = (0..n)
            .map(|k| if a.len() == n { a[k] } else { mean })
            .map(|x| {
                let x = x.clamp(1e-4, 1.0 - 1e-4);
                (x / (1.0 - x)).ln()
            })
            .collect();
        let t = logit.val();
        let t = Tensor::<1>::from_data(TensorData::new(values, [n]), &t.device()).set_require_grad(true);
        model.trainable.head.alpha_logit = Some(Param::initialized(logit.id, t));
        carried.push("alpha".to_string());
    }
    let lineage = Lineage {
        pack: src.name.clone(),
        checksum: m.checksum.clone(),
        kept_labels: kept,
        new_labels: new,
        carried,
    };
    Ok((model, lineage))
}
