//! Parity with DeepKE's LightNER on the fixtures (tests/fixtures/parity/README.md): for every
//! case, the encoder's last hidden state, the decoder's, and the logits within 1e-4 absolute;
//! the loss within 1e-5 relative; every prompt-parameter gradient within 1e-4 of its norm; and
//! greedy decoding with the KV cache equal token for token. Cases come from
//! `tests/fixtures/parity/cases` and, when set, from `$LIGHTNER_PARITY_DIR` (which must hold at
//! least one case).

use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use lightner::model::prompt::PromptShape;
use lightner::model::{
    Bart, BartConfig, Batch, HeadParams, LabelScoring, LightNer, PointerHead, Prompts, Trainable, Weights,
};
use lightner::tokenize::{Codec, PointerSpace, SpecialIds, TargetIdx, TokenId};
use serde_json::Value;
use std::path::{Path, PathBuf};

struct Fixture {
    expected: Weights,
    inputs: Weights,
}

fn i64s(w: &Weights, name: &str) -> (Vec<i64>, Vec<usize>) {
    w.raw_i64(name).unwrap()
}

fn f32s<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn run_case(dir: &Path) {
    let name = dir.file_name().unwrap().to_string_lossy().to_string();
    let case: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("case.json")).unwrap()).unwrap();
    let device = Device::flex().autodiff();
    let cfg = BartConfig::from_file(&dir.join("model/config.json")).unwrap();
    let w = Weights::open(&[dir.join("model/model.safetensors")]).unwrap();
    let bart = Bart::load(&cfg, &w, &device).unwrap();
    let pw = Weights::open(&[dir.join("prompts.safetensors")]).unwrap();
    let fx = Fixture {
        expected: Weights::open(&[dir.join("expected.safetensors")]).unwrap(),
        inputs: Weights::open(&[dir.join("inputs.safetensors")]).unwrap(),
    };
    let c = case["num_labels"].as_u64().unwrap() as usize;
    let learn_weights = case["learn_weights"].as_bool().unwrap();
    let use_prompt = case["use_prompt"].as_bool().unwrap();
    let shape = PromptShape {
        len: case["prompt_len"].as_u64().unwrap() as usize,
        dim: case["prompt_dim"].as_u64().unwrap() as usize,
        d_model: cfg.d_model,
        layers: cfg.decoder_layers,
        heads: cfg.decoder_attention_heads,
    };
    let prompts = use_prompt
        .then(|| Prompts::load(&lightner::model::layers::VarView::new(&pw, &device), shape).unwrap());
    let label_ids = case["label_ids"].as_array().unwrap();
    let (labels, label_weights) = if learn_weights {
        let pieces: Vec<Vec<u32>> = label_ids
            .iter()
            .map(|l| l.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect())
            .collect();
        let lw = (0..c)
            .map(|j| {
                (pieces[j].len() > 1).then(|| {
                    let t: Tensor<1> =
                        pw.tensor(&format!("label_weights.{j}"), [pieces[j].len()], &device).unwrap();
                    burn::module::Param::from_tensor(t).set_require_grad(true)
                })
            })
            .collect();
        (LabelScoring::Pieces(pieces), lw)
    } else {
        (LabelScoring::Rows(label_ids.iter().map(|x| x.as_u64().unwrap() as u32).collect()), vec![None; c])
    };
    let alpha = case["alpha"].as_f64().unwrap();
    let eos_id = case["eos_id"].as_u64().unwrap() as u32;
    let pad_id = case["pad_id"].as_u64().unwrap();
    let model = LightNer::new(
        bart,
        Trainable { prompts, head: HeadParams { label_weights, alpha_logit: None } },
        PointerHead::new(eos_id, labels, alpha),
    );

    // Inputs, and the batch built from them the way our pipeline builds it.
    let (src, sdims) = i64s(&fx.inputs, "src_tokens");
    let (src_len, _) = i64s(&fx.inputs, "src_seq_len");
    let (tgt, tdims) = i64s(&fx.inputs, "tgt_tokens");
    let (tgt_len, _) = i64s(&fx.inputs, "tgt_seq_len");
    let (b, s, t) = (sdims[0], sdims[1], tdims[1]);
    let buffer: Vec<u32> = case["decoder_mapping_buffer"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect();
    let special = SpecialIds {
        bos: TokenId(buffer[0]),
        eos: TokenId(buffer[1]),
        pad: TokenId(pad_id as u32),
        unk: TokenId(3),
    };
    let label_inputs: Vec<TokenId> = buffer[2..].iter().map(|&x| TokenId(x)).collect();
    let codec = Codec::new(c, PointerSpace::SubToken);
    let mut dec_ids = Vec::new();
    let mut invalid = Vec::new();
    let mut src_pad = Vec::new();
    let mut targets = Vec::new();
    let mut mask = Vec::new();
    for r in 0..b {
        let row_src: Vec<TokenId> = src[r * s..(r + 1) * s].iter().map(|&x| TokenId(x as u32)).collect();
        let row_tgt: Vec<TargetIdx> = tgt[r * t..(r + 1) * t].iter().map(|&x| TargetIdx(x as u32)).collect();
        let ids = codec.decoder_input_ids(&row_tgt, &row_src, &label_inputs, special);
        dec_ids.extend(ids[..t - 1].iter().map(|x| x.0 as i64));
        let len = src_len[r] as usize;
        // Pointer mask in DeepKE's space: bos, the first eos and everything after it (docs/deepke.md §5.5).
        let first_eos = row_src.iter().position(|&x| x == special.eos).unwrap_or(len);
        for p in 0..s {
            src_pad.push(p >= len);
            invalid.push(p == 0 || p >= first_eos || p >= len);
        }
        for k in 0..t - 1 {
            targets.push(tgt[r * t + k + 1]);
            mask.push(if (k as i64) < tgt_len[r] - 1 { 1.0f32 } else { 0.0 });
        }
    }
    let (exp_dec, _) = i64s(&fx.expected, "decoder_input_ids");
    assert_eq!(dec_ids, exp_dec, "{name}: decoder input ids");
    let int2 =
        |v: Vec<i64>, shape: [usize; 2]| Tensor::<2, Int>::from_data(TensorData::new(v, shape), &device);
    let bool2 =
        |v: Vec<bool>, shape: [usize; 2]| Tensor::<2, Bool>::from_data(TensorData::new(v, shape), &device);
    let dec_pad: Vec<bool> = dec_ids.iter().map(|&x| x == pad_id as i64).collect();
    let batch = Batch {
        src_ids: int2(src.clone(), [b, s]),
        src_pad: bool2(src_pad, [b, s]),
        invalid: bool2(invalid, [b, s]),
        dec_ids: int2(dec_ids, [b, t - 1]),
        dec_pad: bool2(dec_pad, [b, t - 1]),
        targets: int2(targets, [b, t - 1]),
        target_mask: Tensor::from_data(TensorData::new(mask, [b, t - 1]), &device),
    };

    let out = model.forward(&batch);
    let (enc_exp, _) = fx.expected.raw("encoder_last_hidden_state").unwrap();
    let enc_err = max_abs_diff(&f32s(out.encoder.clone()), &enc_exp);
    let (dec_exp, _) = fx.expected.raw("decoder_last_hidden_state").unwrap();
    let dec_err = max_abs_diff(&f32s(out.decoder.clone()), &dec_exp);
    let (log_exp, _) = fx.expected.raw("logits").unwrap();
    let ours = f32s(out.logits.clone());
    let mut log_err = 0f32;
    for (x, y) in ours.iter().zip(&log_exp) {
        if *y <= -1e20 {
            assert!(*x <= -1e20, "{name}: a masked logit ({y}) is {x} here");
        } else {
            log_err = log_err.max((x - y).abs());
        }
    }
    let loss = LightNer::loss(out.logits, batch.targets.clone(), batch.target_mask.clone());
    let loss_v = f32s(loss.clone())[0];
    let (loss_exp, _) = fx.expected.raw("loss").unwrap();
    let loss_rel = ((loss_v - loss_exp[0]) / loss_exp[0]).abs();
    println!(
        "{name}: max |Δ| encoder {enc_err:.2e}, decoder {dec_err:.2e}, logits {log_err:.2e}; loss {loss_v} vs {} (rel {loss_rel:.1e})",
        loss_exp[0]
    );
    assert!(enc_err <= 1e-4, "{name}: encoder state off by {enc_err}");
    assert!(dec_err <= 1e-4, "{name}: decoder state off by {dec_err}");
    assert!(log_err <= 1e-4, "{name}: logits off by {log_err}");
    assert!(loss_rel <= 1e-5, "{name}: loss {loss_v} vs {}", loss_exp[0]);

    // Gradients of every trainable tensor.
    let grads = loss.backward();
    let mut checked = 0;
    let mut check = |pname: &str, got: Vec<f32>| {
        let (exp, _) = fx.expected.raw(&format!("grad.{pname}")).unwrap();
        let diff: f32 = got.iter().zip(&exp).map(|(a, b)| (a - b) * (a - b)).sum::<f32>().sqrt();
        let norm: f32 = exp.iter().map(|a| a * a).sum::<f32>().sqrt();
        assert!(diff <= 1e-4 * norm.max(1e-12), "{name}: gradient of {pname} off: |Δ| {diff} vs |g| {norm}");
        checked += 1;
    };
    if let Some(p) = &model.trainable.prompts {
        for (gname, g) in p.generators() {
            for (pname, param, transposed) in g.named_params(gname) {
                let grad =
                    param.val().grad(&grads).unwrap_or_else(|| panic!("{name}: no gradient for {pname}"));
                let grad = if transposed { grad.transpose() } else { grad };
                check(&pname, f32s(grad));
            }
            for (pname, param) in g.named_biases(gname) {
                let grad =
                    param.val().grad(&grads).unwrap_or_else(|| panic!("{name}: no gradient for {pname}"));
                check(&pname, f32s(grad));
            }
        }
    }
    for (j, w) in model.trainable.head.label_weights.iter().enumerate() {
        if let Some(w) = w {
            let grad =
                w.val().grad(&grads).unwrap_or_else(|| panic!("{name}: no gradient for label weights {j}"));
            check(&format!("label_weights.{j}"), f32s(grad));
        }
    }
    assert_eq!(
        checked,
        if use_prompt { 15 } else { 0 } + model.trainable.head.label_weights.iter().flatten().count()
    );

    // Greedy decoding with the KV cache.
    let ratio = case["src_seq_ratio"].as_f64().unwrap() as f32;
    let max_new = case["tgt_max_len"].as_u64().unwrap() as usize;
    let max_len: Vec<usize> =
        src_len.iter().map(|&l| (ratio * l as f32).floor() as usize + max_new).collect();
    let src_rows: Vec<Vec<u32>> =
        (0..b).map(|r| src[r * s..(r + 1) * s].iter().map(|&x| x as u32).collect()).collect();
    let start = codec.src_start() as u32;
    let to_input = |r: usize, TargetIdx(y): TargetIdx| {
        TokenId(if y < start { buffer[y as usize] } else { src_rows[r][(y - start) as usize] })
    };
    let rows = model.greedy(
        batch.src_ids.clone(),
        batch.src_pad.clone(),
        batch.invalid.clone(),
        &max_len,
        to_input,
        TokenId(buffer[0]),
    );
    let (exp_greedy, gdims) = i64s(&fx.expected, "greedy_tokens");
    for (r, row) in rows.iter().enumerate() {
        let mut row: Vec<i64> = row.iter().map(|&x| x.0 as i64).collect();
        row.resize(gdims[1], 1);
        assert_eq!(row, exp_greedy[r * gdims[1]..(r + 1) * gdims[1]], "{name}: greedy row {r}");
    }
}

fn cases_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("case.json").exists())
        .collect();
    v.sort();
    v
}

#[test]
fn fixture_cases_match_deepke() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/parity/cases");
    let cases = cases_in(&dir);
    assert_eq!(cases.len(), 5);
    for c in cases {
        run_case(&c);
    }
}

#[test]
fn extra_cases_from_env_match_deepke() {
    let Ok(dir) = std::env::var("LIGHTNER_PARITY_DIR") else { return };
    let cases = cases_in(Path::new(&dir));
    assert!(!cases.is_empty(), "LIGHTNER_PARITY_DIR={dir} holds no case (a folder with case.json)");
    for c in cases {
        run_case(&c);
    }
}

/// Label-word initialisation from a copy (docs/deepke.md §2.1, fixing docs/deepke.md §13.5): restore the vocabulary rows that
/// DeepKE's in-place averaging overwrote, recompute the label rows, and compare with the
/// fixture's means taken from the unmodified embedding.
#[test]
fn added_label_rows_are_means_from_an_unmodified_copy() {
    use lightner::data::LabelSet;
    use lightner::model::label_init::with_label_rows;
    use lightner::tokenize::{LabelWordMode, LabelWords, WordTokenizer};
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/parity");
    let dir = root.join("cases/added_labels");
    let case: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("case.json")).unwrap()).unwrap();
    let tok = WordTokenizer::from_dir(&root.join("tokenizer")).unwrap();
    let words =
        LabelWords::new(&LabelSet::builtin("conll2003").unwrap(), &tok, LabelWordMode::Added).unwrap();
    let w = Weights::open(&[dir.join("model/model.safetensors")]).unwrap();
    let exp = Weights::open(&[dir.join("expected.safetensors")]).unwrap();
    let (mut emb, shape) = w.raw("shared.weight").unwrap();
    let d = shape[1];
    let (before, _) = exp.raw("vocab_rows_before_label_init").unwrap();
    let rows = case["label_embedding_init"]["vocab_rows_overwritten_by_inplace_bug"].as_array().unwrap();
    for (k, r) in rows.iter().enumerate() {
        let r = r.as_u64().unwrap() as usize;
        emb[r * d..(r + 1) * d].copy_from_slice(&before[k * d..(k + 1) * d]);
    }
    // A real backbone has only the tokenizer's V rows; the label rows are appended.
    let v = tok.vocab_size();
    emb.truncate(v * d);
    let device = Device::flex();
    let t = Tensor::<2>::from_data(TensorData::new(emb.clone(), [v, d]), &device);
    let out = with_label_rows(t, &words).unwrap();
    assert_eq!(out.dims(), [v + 4, d]);
    let out = out.into_data().convert::<f32>().try_into_vec::<f32>().unwrap();
    let (want, _) = exp.raw("label_embedding_rows_mean_from_unmodified_copy").unwrap();
    for (j, id) in words.input_ids.iter().enumerate() {
        let got = &out[id.0 as usize * d..(id.0 as usize + 1) * d];
        assert!(max_abs_diff(got, &want[j * d..(j + 1) * d]) < 1e-6, "label {j}");
    }
    // The vocabulary rows are untouched.
    assert_eq!(&out[..v * d], &emb[..]);
}
