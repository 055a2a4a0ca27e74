//! Transfer between packs and backbones: a pack's trained backbone exported as a plain backbone
//! folder, the pack moved onto it, and training warm-started from another pack (`--init-from`).

mod common;

use burn::tensor::Device;
use common::{movie, tiny};
use lightner::data::{LabelSet, Sentence};
use lightner::model::lora::LoraSpec;
use lightner::pipeline::export::export;
use lightner::pipeline::session::{self, TrainJob};
use lightner::pipeline::{Backbone, ModelSpec, Pack, PromptSize, Tagged, Tagger};
use lightner::tokenize::PointerSpace;
use lightner::train::{TrainConfig, TrainWhat};
use std::path::Path;

fn job<'a>(bb: &'a Backbone, train: Vec<Sentence>, epochs: usize, what: TrainWhat) -> TrainJob<'a> {
    let spec = ModelSpec { prompt: Some(PromptSize { len: 4, dim: 32 }), ..ModelSpec::default() };
    let config = TrainConfig { epochs, batch_size: 8, lr: 1e-2, train: what, ..TrainConfig::default() };
    common::job(bb, train, spec, config)
}

/// The pack at `dir` on `bb`, tagging `sents`.
fn tag(dir: &Path, bb: &Backbone, sents: &[Sentence]) -> Vec<Tagged> {
    let pack = Pack::load(dir).unwrap();
    let (m, w) = pack.model(bb, &Device::flex()).unwrap();
    let t = Tagger::new(bb, pack.labels().unwrap(), w, PointerSpace::WordStart, pack.manifest.decoding);
    t.tag(&m, &sents.iter().map(|s| s.words.clone()).collect::<Vec<_>>()).unwrap()
}

#[test]
fn an_exported_backbone_with_the_rebased_pack_tags_exactly_as_the_pack() {
    let tmp = tempfile::tempdir().unwrap();
    let sents = movie(12);
    let bb = tiny(&tmp.path().join("tiny"), &sents);
    for (i, what) in
        [TrainWhat::Everything, TrainWhat::PromptsAnd(vec!["encoder_attn".into()])].into_iter().enumerate()
    {
        let mut out = session::run(job(&bb, sents.clone(), 12, what.clone()), &mut (), &mut |_| {}).unwrap();
        let dir = tmp.path().join(format!("pack{i}"));
        out.pack.save(&dir).unwrap();
        let pack = Pack::load(&dir).unwrap();
        let folder = tmp.path().join(format!("exported{i}"));
        let done = export(&pack, &dir, &bb, &folder).unwrap();
        assert_eq!(done.from_pack, pack.manifest.trained_backbone_params.len());
        let exported = Backbone::open(folder.to_str().unwrap()).unwrap();
        assert_eq!(exported.weights_hash, done.weights_hash);
        assert_eq!(exported.config, bb.config, "{what:?}: the config must read back as it was");
        assert_ne!(exported.weights_hash, bb.weights_hash, "{what:?}: the trained values must be in");
        let moved = tmp.path().join(format!("moved{i}"));
        pack.rebased(&exported).unwrap().save(&moved).unwrap();
        let small = Pack::load(&moved).unwrap();
        assert!(small.manifest.trained_backbone_params.is_empty());
        // Bit for bit: the same entities, sequences and scores.
        let (a, b) = (tag(&dir, &bb, &sents), tag(&moved, &exported, &sents));
        assert!(a.iter().any(|t| !t.spans.is_empty()), "{what:?} found nothing: the test shows little");
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.sequence, y.sequence, "{what:?}");
            assert_eq!(x.spans, y.spans, "{what:?}");
        }
        // The moved pack refuses the original backbone, and a pack refuses to move onto a folder
        // not exported from it.
        assert!(small.model(&bb, &Device::flex()).is_err());
        let err = pack.rebased(&bb).err().expect("not an export of this pack").to_string();
        assert!(err.contains("was not exported from this pack"), "{err}");
        // A second export over the first replaces it.
        export(&pack, &dir, &bb, &folder).unwrap();
    }
}

#[test]
fn export_refuses_a_pack_with_nothing_to_bake_and_a_foreign_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let sents = movie(6);
    let bb = tiny(&tmp.path().join("tiny"), &sents);
    let mut out = session::run(job(&bb, sents.clone(), 1, TrainWhat::Prompts), &mut (), &mut |_| {}).unwrap();
    let dir = tmp.path().join("pack");
    out.pack.save(&dir).unwrap();
    let pack = Pack::load(&dir).unwrap();
    let err = export(&pack, &dir, &bb, &tmp.path().join("x")).unwrap_err().to_string();
    assert!(err.contains("nothing to bake"), "{err}");
    assert!(!tmp.path().join("x").exists());

    let mut out = session::run(job(&bb, sents, 1, TrainWhat::Everything), &mut (), &mut |_| {}).unwrap();
    out.pack.save(&dir).unwrap();
    let pack = Pack::load(&dir).unwrap();
    let foreign = tmp.path().join("mine");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "keep me").unwrap();
    let err = export(&pack, &dir, &bb, &foreign).unwrap_err().to_string();
    assert!(err.contains("mine"), "{err}");
    assert_eq!(std::fs::read_to_string(foreign.join("notes.txt")).unwrap(), "keep me");
}

/// The model's rows for `ids`, as plain numbers.
fn rows(m: &lightner::model::LightNer, ids: &[u32]) -> Vec<Vec<f32>> {
    ids.iter()
        .map(|&i| {
            let idx = burn::tensor::Tensor::<1, burn::tensor::Int>::from_data(
                burn::tensor::TensorData::new(vec![i as i64], [1]),
                &Device::flex(),
            );
            m.bart.rows(idx).into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
        })
        .collect()
}

fn values(
    m: &std::collections::BTreeMap<String, lightner::model::params::SavedParam>,
) -> Vec<(String, Vec<f32>)> {
    m.iter()
        .map(|(k, v)| (k.clone(), v.data.clone().convert::<f32>().try_into_vec::<f32>().unwrap()))
        .collect()
}

#[test]
fn init_from_keeps_shared_labels_rows_and_starts_new_ones_from_their_words() {
    use lightner::pipeline::warm_start::{InitFrom, apply, check};
    let tmp = tempfile::tempdir().unwrap();
    let all = movie(30);
    let bb = tiny(&tmp.path().join("tiny"), &all);
    // Source: trained on everything (its embedding, label rows included, moves), generators kept.
    let src_sents: Vec<Sentence> = all[..15].to_vec();
    let mut sjob = job(&bb, src_sents.clone(), 3, TrainWhat::Everything);
    sjob.keep_generator = true;
    let mut out = session::run(sjob, &mut (), &mut |_| {}).unwrap();
    let sdir = tmp.path().join("source");
    out.pack.save(&sdir).unwrap();
    let src = Pack::load(&sdir).unwrap();
    assert!(src.has_generator());
    let src_labels = src.labels().unwrap();
    let src_names: Vec<String> = src_labels.labels().iter().map(|l| l.name.clone()).collect();

    // Target: every mit-movie type, so some are shared and some are new.
    let target = LabelSet::builtin("mit-movie").unwrap();
    let spec = ModelSpec { prompt: Some(PromptSize { len: 4, dim: 32 }), ..ModelSpec::default() };
    let from = InitFrom { pack: &src, name: "source".into() };
    check(&from, &bb, &spec).unwrap();
    let device = Device::flex();
    let (fresh, words) = lightner::pipeline::build(&bb, &target, &spec, 7, &device).unwrap();
    let (warm, lineage) = {
        let (m, _) = lightner::pipeline::build(&bb, &target, &spec, 7, &device).unwrap();
        apply(m, &target, &words, &spec, &from).unwrap()
    };
    let shared: Vec<usize> =
        (0..target.len()).filter(|&j| src_names.contains(&target.labels()[j].name)).collect();
    assert!(!shared.is_empty() && shared.len() < target.len(), "the test needs shared and new types");
    assert_eq!(lineage.kept_labels.len(), shared.len());
    assert_eq!(lineage.kept_labels.len() + lineage.new_labels.len(), target.len());
    assert_eq!(lineage.carried, vec!["backbone".to_string(), "prompts".to_string()]);
    let src_rows =
        src.host_tensor("label_rows").unwrap().clone().convert::<f32>().try_into_vec::<f32>().unwrap();
    let d = bb.config.d_model;
    let ids: Vec<u32> = words.input_ids.iter().map(|t| t.0).collect();
    let (warm_rows, fresh_rows) = (rows(&warm, &ids), rows(&fresh, &ids));
    // The trained embedding of the source, under the new model's label rows.
    let src_model = src.model(&bb, &device).unwrap().0;
    let trained_init = {
        // What a new label's row must be: the mean of its pieces in the *source's* trained embedding.
        let emb = src_model.bart.shared.val().narrow(0, 0, bb.config.vocab_size);
        lightner::model::label_init::with_label_rows(emb, &words).unwrap()
    };
    let init: Vec<f32> = trained_init.into_data().convert::<f32>().try_into_vec::<f32>().unwrap();
    for j in 0..target.len() {
        let name = &target.labels()[j].name;
        if let Some(i) = src_names.iter().position(|n| n == name) {
            assert_eq!(
                warm_rows[j],
                src_rows[i * d..(i + 1) * d].to_vec(),
                "{name}: the source's row, bit for bit"
            );
            assert_ne!(warm_rows[j], fresh_rows[j], "{name}: the test shows little if the rows agree anyway");
        } else {
            let id = ids[j] as usize;
            assert_eq!(warm_rows[j], init[id * d..(id + 1) * d].to_vec(), "{name}: from its label words");
        }
    }
    // The prompts and the trained backbone came over as they were.
    let got = lightner::model::params::collect(warm.trainable.prompts.as_ref().unwrap(), false);
    assert_eq!(values(&got), values(&src.generator_params()));
    let bart = lightner::model::params::collect(&warm.bart, false);
    for (k, v) in values(&src.backbone_params().unwrap()) {
        if k != "shared" {
            assert_eq!(
                values(&std::collections::BTreeMap::from([(k.clone(), bart[&k].clone())]))[0].1,
                v,
                "{k}"
            );
        }
    }
}

#[test]
fn init_from_refuses_another_backbone_and_prompts_it_cannot_train() {
    use lightner::pipeline::warm_start::{InitFrom, check};
    let tmp = tempfile::tempdir().unwrap();
    let sents = movie(8);
    let bb = tiny(&tmp.path().join("tiny"), &sents);
    let other = tiny(&tmp.path().join("other"), &sents[..4]);
    let mut out = session::run(job(&bb, sents.clone(), 1, TrainWhat::Prompts), &mut (), &mut |_| {}).unwrap();
    out.pack.save(&tmp.path().join("p")).unwrap();
    let pack = Pack::load(&tmp.path().join("p")).unwrap();
    let spec = ModelSpec { prompt: Some(PromptSize { len: 4, dim: 32 }), ..ModelSpec::default() };
    let from = InitFrom { pack: &pack, name: "p".into() };
    let err = check(&from, &other, &spec).unwrap_err().to_string();
    assert!(err.contains("same backbone") && err.contains("--init-from p"), "{err}");
    let err = check(&from, &bb, &spec).unwrap_err().to_string();
    assert!(err.contains("--keep-generator"), "{err}");
    let longer = ModelSpec { prompt: Some(PromptSize { len: 5, dim: 32 }), ..spec.clone() };
    let err = check(&from, &bb, &longer).unwrap_err().to_string();
    assert!(err.contains("--prompt-len"), "{err}");
    let none = ModelSpec { prompt: None, ..spec };
    check(&from, &bb, &none).unwrap();
}

#[test]
fn a_warm_started_run_records_its_source_and_keeps_learning_from_it() {
    use lightner::pipeline::warm_start::InitFrom;
    let tmp = tempfile::tempdir().unwrap();
    let sents = movie(12);
    let bb = tiny(&tmp.path().join("tiny"), &sents);
    let mut j = job(&bb, sents.clone(), 15, TrainWhat::Prompts);
    j.keep_generator = true;
    let mut out = session::run(j, &mut (), &mut |_| {}).unwrap();
    let dir = tmp.path().join("first");
    out.pack.save(&dir).unwrap();
    let first = Pack::load(&dir).unwrap();
    let first_loss = out.summary.history.last().unwrap().loss;
    // One more epoch from the first pack starts near where it ended, far below a fresh start.
    let mut j = job(&bb, sents.clone(), 1, TrainWhat::Prompts);
    j.init_from = Some(InitFrom { pack: &first, name: dir.display().to_string() });
    j.config.lr = 1e-4;
    let warm = session::run(j, &mut (), &mut |_| {}).unwrap();
    let fresh = session::run(job(&bb, sents, 1, TrainWhat::Prompts), &mut (), &mut |_| {}).unwrap();
    let (w, f) = (warm.summary.history[0].loss, fresh.summary.history[0].loss);
    assert!(w < 0.5 * f && w < 2.0 * first_loss + 0.1, "warm {w}, fresh {f}, source's last {first_loss}");
    let l = warm.pack.manifest.init_from.as_ref().unwrap();
    assert_eq!(l.checksum, first.manifest.checksum);
    assert_eq!(l.pack, dir.display().to_string());
    assert!(l.new_labels.is_empty());
}

/// Settings of a prompt training with rank-4 adapters on the cross-attention.
fn lora_spec(rank: usize) -> ModelSpec {
    ModelSpec {
        prompt: Some(PromptSize { len: 4, dim: 32 }),
        lora: Some(LoraSpec { rank, alpha: 8.0, on: vec!["encoder_attn".into()] }),
        ..ModelSpec::default()
    }
}

#[test]
fn a_lora_pack_holds_only_its_adapters_reopens_and_exports_to_the_same_entities() {
    let tmp = tempfile::tempdir().unwrap();
    let sents = movie(12);
    let bb = tiny(&tmp.path().join("tiny"), &sents);
    let config = TrainConfig { epochs: 12, batch_size: 8, lr: 1e-2, ..TrainConfig::default() };
    let mut out =
        session::run(common::job(&bb, sents.clone(), lora_spec(4), config), &mut (), &mut |_| {}).unwrap();
    let dir = tmp.path().join("pack");
    out.pack.save(&dir).unwrap();
    let pack = Pack::load(&dir).unwrap();
    let trained = &pack.manifest.trained_backbone_params;
    let blocks = bb.config.decoder_layers;
    assert_eq!(trained.len(), blocks * 4 * 2, "{trained:?}");
    assert!(trained.iter().all(|p| p.contains(".encoder_attn.lora.")), "{trained:?}");
    assert_eq!(pack.manifest.model.lora, lora_spec(4).lora);
    // The adapters trained: B left zero.
    let b = pack
        .host_tensor(&format!("backbone.{}", trained.iter().find(|p| p.ends_with(".b")).unwrap()))
        .unwrap();
    assert!(b.try_to_vec::<f32>().iter().flatten().any(|&v| v != 0.0));
    // The reopened pack tags as the model that training returned.
    let labels = pack.labels().unwrap();
    let words: Vec<Vec<String>> = sents.iter().map(|s| s.words.clone()).collect();
    let (m, w) = pack.model(&bb, &Device::flex()).unwrap();
    let t = Tagger::new(&bb, labels, w, PointerSpace::WordStart, pack.manifest.decoding);
    let reopened = t.tag(&m, &words).unwrap();
    assert!(reopened.iter().any(|t| !t.spans.is_empty()), "nothing found: the test shows little");
    let in_memory = t.tag(&out.model.for_inference(), &words).unwrap();
    for (x, y) in reopened.iter().zip(&in_memory) {
        assert_eq!(x.sequence, y.sequence);
    }
    // Exported, the adapters are folded into the projections: the folder's model with the
    // rebased pack (which has no adapters left) finds the same entities.
    let folder = tmp.path().join("exported");
    let done = export(&pack, &dir, &bb, &folder).unwrap();
    assert_eq!(done.from_pack, blocks * 4, "each adapted projection's weight");
    let exported = Backbone::open(folder.to_str().unwrap()).unwrap();
    assert_ne!(exported.weights_hash, bb.weights_hash);
    let moved = tmp.path().join("moved");
    pack.rebased(&exported).unwrap().save(&moved).unwrap();
    let small = Pack::load(&moved).unwrap();
    assert!(small.manifest.model.lora.is_none() && small.manifest.trained_backbone_params.is_empty());
    // Folding sums in another order: the same entities, their scores equal to float precision.
    let (a, b) = (tag(&dir, &bb, &sents), tag(&moved, &exported, &sents));
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.sequence, y.sequence);
        assert_eq!(x.spans.len(), y.spans.len());
        for (p, q) in x.spans.iter().zip(&y.spans) {
            assert_eq!(p.span, q.span);
            assert!((p.score - q.score).abs() < 1e-5, "{p:?} against {q:?}");
        }
    }
}

#[test]
fn adapters_that_name_no_block_and_warm_starts_with_other_adapters_are_refused() {
    use lightner::pipeline::warm_start::{InitFrom, check};
    let tmp = tempfile::tempdir().unwrap();
    let sents = movie(8);
    let bb = tiny(&tmp.path().join("tiny"), &sents);
    let config = TrainConfig { epochs: 1, batch_size: 8, lr: 1e-2, ..TrainConfig::default() };
    let mut nowhere = lora_spec(4);
    nowhere.lora.as_mut().unwrap().on = vec!["fc1".into()];
    let err = session::run(common::job(&bb, sents.clone(), nowhere, config.clone()), &mut (), &mut |_| {})
        .err()
        .expect("no block is named fc1")
        .to_string();
    assert!(err.contains("names no attention block") && err.contains("encoder_attn"), "{err}");
    let mut j = common::job(&bb, sents.clone(), lora_spec(4), config.clone());
    j.keep_generator = true;
    let mut out = session::run(j, &mut (), &mut |_| {}).unwrap();
    out.pack.save(&tmp.path().join("p")).unwrap();
    let pack = Pack::load(&tmp.path().join("p")).unwrap();
    let from = InitFrom { pack: &pack, name: "p".into() };
    let err = check(&from, &bb, &lora_spec(8)).unwrap_err().to_string();
    assert!(err.contains("--lora-rank") && err.contains("rank 4"), "{err}");
    let err = check(&from, &bb, &ModelSpec { lora: None, ..lora_spec(4) }).unwrap_err().to_string();
    assert!(err.contains("asks for none"), "{err}");
    // A pack whose adapters name no block (a hand-edited manifest) is refused when opened.
    let mut edited = Pack::load(&tmp.path().join("p")).unwrap();
    edited.manifest.model.lora.as_mut().unwrap().on = vec!["fc1".into()];
    let Err(err) = edited.model(&bb, &Device::flex()) else { panic!("no block is named fc1") };
    let err = err.to_string();
    assert!(err.contains("names no attention block of this backbone"), "{err}");
    // The same adapters carry over, trained values and all.
    check(&from, &bb, &lora_spec(4)).unwrap();
    let mut j = common::job(&bb, sents, lora_spec(4), TrainConfig { epochs: 1, lr: 1e-9, ..config });
    j.init_from = Some(from);
    let warm = session::run(j, &mut (), &mut |_| {}).unwrap();
    assert!(warm.pack.manifest.init_from.as_ref().unwrap().carried.contains(&"backbone".to_string()));
}
