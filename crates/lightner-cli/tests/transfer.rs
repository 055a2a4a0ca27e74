//! `lightner export` and `train --init-from` end to end, each command in its own process: a pack
//! trained `--full` is baked into a backbone folder, the pack moved onto it predicts the same
//! output byte for byte, and a warm start records its source and refuses what it cannot use.

mod common;

use common::{bin, run, s};

#[test]
fn export_then_predict_the_same_and_warm_start_from_a_pack() {
    let tmp = tempfile::tempdir().unwrap();
    let (train, _) = common::movie(tmp.path(), 12);
    let tiny = tmp.path().join("tiny");
    run(&["init-tiny", "--out", s(&tiny), "--vocab-from", s(&train)]);
    let pack = tmp.path().join("full.pack");
    let mut args = common::tiny_args("train", s(&tiny), s(&train), "mit-movie", s(&pack), "8");
    args.extend(["--full", "--holdout", "0", "--keep-generator"]);
    run(&args);
    assert!(pack.join("generator.safetensors").is_file());

    let folder = tmp.path().join("exported");
    let moved = tmp.path().join("moved.pack");
    let o = run(&["-q", "export", "--pack", s(&pack), "--out", s(&folder), "--rebased-pack", s(&moved)]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("wrote") && text.contains("weights hash"), "{text}");
    for f in ["config.json", "model.safetensors", "lightner-export.json"] {
        assert!(folder.join(f).is_file(), "{f} missing");
    }
    let size = |p: &std::path::Path| std::fs::metadata(p.join("pack.safetensors")).unwrap().len();
    assert!(size(&moved) * 10 < size(&pack), "the moved pack should drop the backbone");
    let predict = |p: &std::path::Path| {
        run(&["-q", "predict", "--pack", s(p), "--input", s(&train), "--format", "conll"]).stdout
    };
    let (a, b) = (predict(&pack), predict(&moved));
    assert!(!a.is_empty());
    assert_eq!(String::from_utf8_lossy(&a), String::from_utf8_lossy(&b));

    // Exporting a prompt-only pack is refused, and so is writing over a folder that is not an
    // export (both before any work).
    let foreign = tmp.path().join("notes");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("keep.txt"), "mine").unwrap();
    let o = bin().args(["-q", "export", "--pack", s(&pack), "--out", s(&foreign)]).output().unwrap();
    assert_ne!(o.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(foreign.join("keep.txt")).unwrap(), "mine");
    let o = bin()
        .args(["-q", "export", "--pack", s(&moved), "--out", s(&tmp.path().join("x"))])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("nothing to bake"), "{err}");

    // A warm start from the full pack: recorded in the manifest.
    let warm = tmp.path().join("warm.pack");
    let mut args = common::tiny_args("train", s(&tiny), s(&train), "mit-movie", s(&warm), "1");
    args.extend(["--holdout", "0", "--init-from", s(&pack)]);
    run(&args);
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(warm.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["init_from"]["pack"], s(&pack));
    assert!(m["init_from"]["carried"].as_array().unwrap().iter().any(|c| c == "prompts"), "{m}");
    // --out over the source pack, and a source on another backbone, are refused.
    let mut args = common::tiny_args("train", s(&tiny), s(&train), "mit-movie", s(&pack), "1");
    args.extend(["--init-from", s(&pack)]);
    let o = bin().args(&args).output().unwrap();
    assert_ne!(o.status.code(), Some(0));
    let mut args = common::tiny_args("train", s(&folder), s(&train), "mit-movie", s(&warm), "1");
    args.extend(["--init-from", s(&pack)]);
    let o = bin().args(&args).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("same backbone"), "{err}");
}

#[test]
fn lora_flags_train_a_small_pack_that_predicts_and_a_warm_start_keeps_its_adapters() {
    let tmp = tempfile::tempdir().unwrap();
    let (train, _) = common::movie(tmp.path(), 12);
    let tiny = tmp.path().join("tiny");
    run(&["init-tiny", "--out", s(&tiny), "--vocab-from", s(&train)]);
    // Usage errors, before any work: adapter options without a rank, and adapters with --full.
    for extra in [&["--lora-on", "encoder_attn"][..], &["--lora-rank", "4", "--full"], &["--lora-rank", "0"]]
    {
        let mut args = common::tiny_args("train", s(&tiny), s(&train), "mit-movie", "never.pack", "1");
        args.extend(extra);
        let o = bin().args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", String::from_utf8_lossy(&o.stderr));
    }
    let pack = tmp.path().join("lora.pack");
    let mut args = common::tiny_args("train", s(&tiny), s(&train), "mit-movie", s(&pack), "3");
    args.extend(["--holdout", "0", "--lora-rank", "4", "--lora-on", "self_attn", "--lora-alpha", "8"]);
    let o = run(&args);
    // The summary says what the pack weighs.
    let size = std::fs::metadata(pack.join("pack.safetensors")).unwrap().len() as f64 / 1e6;
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains(&format!("({size:.2} MB; alpha 0.500)")), "{text}");
    let manifest = |p: &std::path::Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(p.join("manifest.json")).unwrap()).unwrap()
    };
    let m = manifest(&pack);
    assert_eq!(m["model"]["lora"], serde_json::json!({"rank": 4, "alpha": 8.0, "on": ["self_attn"]}));
    let trained = m["trained_backbone_params"].as_array().unwrap();
    assert!(!trained.is_empty() && trained.iter().all(|p| p.as_str().unwrap().contains(".self_attn.lora.")));
    let o = run(&["-q", "predict", "--pack", s(&pack), "--input", s(&train), "--format", "conll"]);
    assert!(!o.stdout.is_empty());
    // A warm start without adapter options keeps the source's.
    let warm = tmp.path().join("warm.pack");
    let mut args = common::tiny_args("train", s(&tiny), s(&train), "mit-movie", s(&warm), "1");
    args.extend(["--holdout", "0", "--init-from", s(&pack), "--no-prompts"]);
    run(&args);
    let w = manifest(&warm);
    assert_eq!(w["model"]["lora"], m["model"]["lora"]);
    assert!(w["init_from"]["carried"].as_array().unwrap().iter().any(|c| c == "backbone"), "{w}");
}
