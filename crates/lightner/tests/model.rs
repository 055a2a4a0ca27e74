//! Model properties on a tiny random backbone: the KV-cached decoder equals teacher forcing, a
//! batch equals each sentence alone (padding does not leak), the frozen backbone gets no
//! gradient, and the analytic gradients of the custom parts (prompt generators, label weights,
//! learnt α) agree with finite differences; the inference copy of a training model scores the same.

use burn::module::Param;
use burn::tensor::{Device, Int, Tensor, TensorData};
use lightner::model::attention::Prefix;
use lightner::model::batch::{source_tensors, training_batch};
use lightner::model::lora::LoraSpec;
use lightner::model::params;
use lightner::model::prompt::PromptShape;
use lightner::model::random::{HostTensor, Normal, RandomInit, random_bart};
use lightner::model::{
    Bart, BartConfig, HeadParams, LabelScoring, LightNer, PointerHead, Prompts, Trainable, Weights,
};
use lightner::tokenize::{Example, TargetIdx, TokenId};

const V: usize = 60;
const PAD: TokenId = TokenId(1);

fn config() -> BartConfig {
    serde_json::from_value(serde_json::json!({
        "d_model": 16, "encoder_layers": 2, "decoder_layers": 2,
        "encoder_attention_heads": 4, "decoder_attention_heads": 4,
        "encoder_ffn_dim": 32, "decoder_ffn_dim": 32, "vocab_size": V,
        "max_position_embeddings": 64
    }))
    .unwrap()
}

fn shape(cfg: &BartConfig) -> PromptShape {
    PromptShape {
        len: 3,
        dim: 8,
        d_model: cfg.d_model,
        layers: cfg.decoder_layers,
        heads: cfg.decoder_attention_heads,
    }
}

/// Prompt and head tensors on the host (so that tests can perturb them), PyTorch layouts.
fn prompt_tensors(cfg: &BartConfig, seed: u64) -> Vec<HostTensor> {
    let s = shape(cfg);
    let mut n = Normal::new(seed);
    let out = 2 * s.layers * s.d_model;
    let mut v = Vec::new();
    for name in Prompts::NAMES {
        v.push((
            format!("{name}.embedding.weight"),
            n.vec(s.len * s.d_model, 0.0, 1.0),
            vec![s.len, s.d_model],
        ));
        v.push((format!("{name}.mlp.0.weight"), n.vec(s.dim * s.d_model, 0.0, 0.5), vec![s.dim, s.d_model]));
        v.push((format!("{name}.mlp.0.bias"), n.vec(s.dim, 0.0, 0.3), vec![s.dim]));
        v.push((format!("{name}.mlp.2.weight"), n.vec(out * s.dim, 0.0, 0.5), vec![out, s.dim]));
        v.push((format!("{name}.mlp.2.bias"), n.vec(out, 0.0, 0.3), vec![out]));
    }
    v.push(("label_weights.1".into(), n.vec(3, 1.5, 0.5), vec![3]));
    v.push(("alpha_logit".into(), vec![0.3], vec![1]));
    v
}

/// Labels: 0 is one piece, 1 three pieces (weighted), 2 two pieces.
fn pieces() -> Vec<Vec<u32>> {
    vec![vec![10], vec![11, 12, 13], vec![14, 15]]
}

fn model(device: &Device, host: &[HostTensor], learn_alpha: bool) -> LightNer {
    let cfg = config();
    let w = Weights::from_tensors(&random_bart(&cfg, RandomInit { seed: 7, ..Default::default() })).unwrap();
    let bart = Bart::load(&cfg, &w, device).unwrap();
    let pw = Weights::from_tensors(host).unwrap();
    let prompts = Prompts::load(&lightner::model::layers::VarView::new(&pw, device), shape(&cfg)).unwrap();
    let lw = |j: usize, n: usize| {
        Some(
            Param::from_tensor(pw.tensor::<1>(&format!("label_weights.{j}"), [n], device).unwrap())
                .set_require_grad(true),
        )
    };
    let alpha_logit = learn_alpha.then(|| {
        Param::from_tensor(pw.tensor::<1>("alpha_logit", [1], device).unwrap()).set_require_grad(true)
    });
    LightNer {
        bart,
        trainable: Trainable {
            prompts: Some(prompts),
            head: HeadParams { label_weights: vec![None, lw(1, 3), None], alpha_logit },
        },
        head: PointerHead::new(2, LabelScoring::Pieces(pieces()), 0.5),
        fixed_prefixes: None,
    }
}

/// `m` with rank-2 adapters on every attention block (encoder and decoder self-attention, and
/// cross-attention), their `B` drawn at random instead of zero so that they change every output.
fn adapted(mut m: LightNer) -> LightNer {
    let spec = LoraSpec { rank: 2, alpha: 4.0, on: vec!["attn".into()] };
    assert_eq!(
        m.bart.add_lora(&spec, 5),
        6,
        "2 encoder self-attentions, 2 decoder self- and 2 cross-attentions"
    );
    let mut saved = params::collect(&m.bart, false);
    saved.retain(|path, _| path.contains(".lora."));
    assert_eq!(saved.len(), 6 * 4 * 2, "A and B of four projections per block");
    let mut n = Normal::new(9);
    for (path, p) in saved.iter_mut() {
        if path.ends_with(".b") {
            let shape = p.data.shape().to_vec();
            p.data = TensorData::new(n.vec(shape.iter().product(), 0.0, 0.5), shape);
        }
    }
    let (bart, restored) = params::restore(m.bart, &saved);
    assert_eq!(restored, saved.len());
    m.bart = bart;
    m
}

/// The plain model of `host`, and the same with adapters ([`adapted`]).
fn both(device: &Device, host: &[HostTensor], learn_alpha: bool) -> [(&'static str, LightNer); 2] {
    [("plain", model(device, host, learn_alpha)), ("adapted", adapted(model(device, host, learn_alpha)))]
}

/// Three sentences of different lengths with targets (C = 3, so pointers start at 5).
fn examples() -> Vec<Example> {
    let mk = |src: Vec<u32>, target: Vec<u32>| {
        let n = src.len();
        let mut invalid = vec![false; n];
        invalid[0] = true;
        invalid[n - 1] = true;
        let dec_ids = target
            .iter()
            .map(|&y| match y {
                0 => TokenId(0),
                1 => TokenId(2),
                2..=4 => TokenId(pieces()[y as usize - 2][0]),
                p => TokenId(src[p as usize - 5]),
            })
            .collect();
        Example {
            src: src.into_iter().map(TokenId).collect(),
            invalid,
            target: target.into_iter().map(TargetIdx).collect(),
            dec_ids,
        }
    };
    vec![
        mk(vec![0, 20, 21, 22, 23, 24, 25, 2], vec![0, 6, 7, 3, 10, 2, 1]),
        mk(vec![0, 30, 31, 2], vec![0, 6, 4, 1]),
        mk(vec![0, 40, 41, 42, 43, 2], vec![0, 1]),
    ]
}

fn f32s<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn kv_cached_decoding_equals_teacher_forcing() {
    let device = Device::flex();
    for (what, m) in both(&device, &prompt_tensors(&config(), 1), false) {
        kv_cached_decoding_equals_teacher_forcing_for(&device, what, &m);
    }
}

fn kv_cached_decoding_equals_teacher_forcing_for(device: &Device, what: &str, m: &LightNer) {
    let device = device.clone();
    let ex = examples();
    let batch = training_batch(&ex[..1], PAD, &device);
    let full = m.forward(&batch);
    let pre = m.prefixes().unwrap();
    let mut cache = m.bart.start_cache(
        full.encoder.clone(),
        batch.src_pad.clone(),
        Some(&pre.decoder_self),
        Some(&pre.cross),
    );
    let t = batch.dec_ids.dims()[1];
    let mut steps = Vec::new();
    for k in 0..t {
        let ids = batch.dec_ids.clone().narrow(1, k, 1);
        steps.push(m.bart.decode_step(ids, &mut cache));
    }
    let stepped = Tensor::cat(steps, 1);
    let err = max_diff(&f32s(stepped), &f32s(full.decoder.clone()));
    assert!(err < 1e-5, "{what}: cached decoder states differ from teacher forcing by {err}");

    // Reordering the cache (beam search) keeps each row's state: duplicate row 0 and step once.
    let batch2 = training_batch(&ex[..1], PAD, &device);
    let mut c2 = m.bart.start_cache(
        full.encoder.clone(),
        batch2.src_pad.clone(),
        Some(&pre.decoder_self),
        Some(&pre.cross),
    );
    let _ = m.bart.decode_step(batch2.dec_ids.clone().narrow(1, 0, 1), &mut c2);
    let idx = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 0], [2]), &device);
    let mut c3 = c2.select(idx.clone());
    let h = m.bart.decode_step(batch2.dec_ids.clone().narrow(1, 1, 1).select(0, idx), &mut c3);
    let want = f32s(full.decoder.clone().narrow(1, 1, 1));
    let got = f32s(h);
    assert!(
        max_diff(&got[..want.len()], &want) < 1e-5 && max_diff(&got[want.len()..], &want) < 1e-5,
        "{what}"
    );
}

#[test]
fn a_batch_equals_each_sentence_alone() {
    let device = Device::flex();
    for (what, m) in both(&device, &prompt_tensors(&config(), 2), true) {
        a_batch_equals_each_sentence_alone_for(&device, what, &m);
    }
}

fn a_batch_equals_each_sentence_alone_for(device: &Device, what: &str, m: &LightNer) {
    let device = device.clone();
    let ex = examples();
    let all = m.forward(&training_batch(&ex, PAD, &device));
    let [_, t_all, k_all] = all.logits.dims();
    for (i, e) in ex.iter().enumerate() {
        let one = m.forward(&training_batch(std::slice::from_ref(e), PAD, &device));
        let [_, t, k] = one.logits.dims();
        let s = e.src.len();
        // Encoder states of the real positions.
        let enc_b = f32s(all.encoder.clone().narrow(0, i, 1).narrow(1, 0, s));
        assert!(max_diff(&enc_b, &f32s(one.encoder.clone())) < 1e-5, "{what}: encoder row {i}");
        // Logits of the real decoder positions over bos/eos/labels and the real source columns.
        let log_b = all.logits.clone().narrow(0, i, 1).narrow(1, 0, t).narrow(2, 0, k);
        let err = max_diff(&f32s(log_b), &f32s(one.logits.clone()));
        assert!(err < 1e-4, "{what}: logits of sentence {i} change in a batch by {err}");
        // Padded source columns are masked.
        if k < k_all {
            let pad_cols = f32s(all.logits.clone().narrow(0, i, 1).narrow(2, k, k_all - k));
            assert!(pad_cols.iter().all(|&x| x <= -1e30));
        }
        let _ = t_all;
    }
    // Greedy decoding: the batch gives each sentence's own result.
    let max_len = [12usize, 9, 7];
    let to_input =
        |_r: usize, y: TargetIdx| TokenId(if y.0 < 5 { [0, 2, 10, 11, 14][y.0 as usize] } else { 20 });
    let (s, p, inv) = source_tensors(&ex, PAD, &device);
    let batched = m.greedy(s, p, inv, &max_len, to_input, TokenId(0));
    for (i, e) in ex.iter().enumerate() {
        let (s, p, inv) = source_tensors(std::slice::from_ref(e), PAD, &device);
        let alone = m.greedy(s, p, inv, &max_len[i..=i], to_input, TokenId(0));
        let b = &batched[i];
        let eos = b.iter().position(|&y| y == TargetIdx::EOS).unwrap();
        let a_eos = alone[0].iter().position(|&y| y == TargetIdx::EOS).unwrap();
        assert_eq!(&b[..=eos], &alone[0][..=a_eos], "{what}: greedy row {i}");
    }
}

#[test]
fn the_inference_copy_scores_and_decodes_like_the_training_model() {
    let ad = Device::flex().autodiff();
    let plain_device = Device::flex();
    for (learn_alpha, lora) in [(false, false), (true, false), (false, true)] {
        let m = model(&ad, &prompt_tensors(&config(), 4), learn_alpha);
        let m = if lora { adapted(m) } else { m };
        let plain = m.for_inference();
        assert!(!plain.bart.shared.val().device().is_autodiff(), "the copy is still on the autodiff device");
        assert!(
            plain.trainable.prompts.is_none() && plain.fixed_prefixes.is_some(),
            "prefixes are not fixed"
        );
        let ex = examples();
        let a = m.forward(&training_batch(&ex, PAD, &ad));
        let b = plain.forward(&training_batch(&ex, PAD, &plain_device));
        let err = max_diff(&f32s(a.logits), &f32s(b.logits));
        assert!(err < 1e-5, "logits differ by {err} (learnt α: {learn_alpha}, adapters: {lora})");
        let max_len = [12usize, 9, 7];
        let to_input =
            |_r: usize, y: TargetIdx| TokenId(if y.0 < 5 { [0, 2, 10, 11, 14][y.0 as usize] } else { 20 });
        let (s, p, inv) = source_tensors(&ex, PAD, &ad);
        let want = m.greedy(s, p, inv, &max_len, to_input, TokenId(0));
        let (s, p, inv) = source_tensors(&ex, PAD, &plain_device);
        assert_eq!(plain.greedy(s, p, inv, &max_len, to_input, TokenId(0)), want, "greedy decodes differ");
    }
}

#[test]
fn backbone_is_frozen_and_trainable_parts_get_gradients() {
    let device = Device::flex().autodiff();
    let m = model(&device, &prompt_tensors(&config(), 3), true);
    let batch = training_batch(&examples(), PAD, &device);
    let out = m.forward(&batch);
    let loss = LightNer::loss(out.logits, batch.targets.clone(), batch.target_mask.clone());
    let grads = loss.backward();
    assert!(m.bart.shared.val().grad(&grads).is_none(), "the shared embedding received a gradient");
    let prompts = m.trainable.prompts.as_ref().unwrap();
    for (name, g) in prompts.generators() {
        for (pname, p, _) in g.named_params(name) {
            assert!(p.val().grad(&grads).is_some(), "{pname} has no gradient");
        }
    }
    assert!(m.trainable.head.alpha_logit.as_ref().unwrap().val().grad(&grads).is_some());
    assert!(m.trainable.head.label_weights[1].as_ref().unwrap().val().grad(&grads).is_some());
}

#[test]
fn adapters_get_gradients_and_the_backbone_still_none() {
    let device = Device::flex().autodiff();
    let m = adapted(model(&device, &prompt_tensors(&config(), 3), false));
    let batch = training_batch(&examples(), PAD, &device);
    let out = m.forward(&batch);
    let loss = LightNer::loss(out.logits, batch.targets.clone(), batch.target_mask.clone());
    let grads = burn::optim::GradientsParams::from_grads(loss.backward(), &m.bart);
    let mut adapters = 0;
    for (path, p) in params::collect(&m.bart, false) {
        let norm = match p.data.shape().len() {
            1 => grads.get::<1>(p.id).map(|g| g.abs().sum().into_scalar::<f32>()),
            2 => grads.get::<2>(p.id).map(|g| g.abs().sum().into_scalar::<f32>()),
            _ => None,
        };
        if path.contains(".lora.") {
            adapters += 1;
            assert!(norm.is_some_and(|n| n > 0.0), "{path}: no gradient ({norm:?})");
        } else {
            assert!(norm.is_none(), "{path} of the frozen backbone got a gradient");
        }
    }
    assert_eq!(adapters, 6 * 4 * 2);
}

fn loss_of(host: &[HostTensor]) -> f64 {
    let device = Device::flex();
    let m = model(&device, host, true);
    let batch = training_batch(&examples(), PAD, &device);
    let out = m.forward(&batch);
    f32s(LightNer::loss(out.logits, batch.targets, batch.target_mask))[0] as f64
}

#[test]
fn gradients_match_finite_differences() {
    let host = prompt_tensors(&config(), 4);
    let device = Device::flex().autodiff();
    let m = model(&device, &host, true);
    let batch = training_batch(&examples(), PAD, &device);
    let out = m.forward(&batch);
    let loss = LightNer::loss(out.logits, batch.targets.clone(), batch.target_mask.clone());
    let grads = loss.backward();
    // Analytic gradients in the host tensors' (PyTorch) layout, by name.
    let mut analytic: Vec<(String, Vec<f32>)> = Vec::new();
    for (name, g) in m.trainable.prompts.as_ref().unwrap().generators() {
        for (pname, p, transposed) in g.named_params(name) {
            let gr = p.val().grad(&grads).unwrap();
            analytic.push((pname, f32s(if transposed { gr.transpose() } else { gr })));
        }
        for (pname, p) in g.named_biases(name) {
            analytic.push((pname, f32s(p.val().grad(&grads).unwrap())));
        }
    }
    analytic.push((
        "label_weights.1".into(),
        f32s(m.trainable.head.label_weights[1].as_ref().unwrap().val().grad(&grads).unwrap()),
    ));
    analytic.push((
        "alpha_logit".into(),
        f32s(m.trainable.head.alpha_logit.as_ref().unwrap().val().grad(&grads).unwrap()),
    ));

    // Directional derivative along a random direction per tensor, central differences.
    let mut dir = Normal::new(99);
    for (name, g) in &analytic {
        let idx = host.iter().position(|(n, _, _)| n == name).unwrap();
        let v = dir.vec(g.len(), 0.0, 1.0);
        let eps = 1e-2f32;
        let shifted = |sign: f32| {
            let mut h = host.to_vec();
            for (x, d) in h[idx].1.iter_mut().zip(&v) {
                *x += sign * eps * d;
            }
            loss_of(&h)
        };
        let numeric = (shifted(1.0) - shifted(-1.0)) / (2.0 * eps as f64);
        let exact: f64 = g.iter().zip(&v).map(|(a, b)| (*a as f64) * (*b as f64)).sum();
        let err = (numeric - exact).abs();
        assert!(
            err <= 2e-3 * exact.abs().max(1e-2) + 1e-4,
            "{name}: analytic {exact}, finite differences {numeric}"
        );
    }
}

#[test]
fn prefixes_follow_the_reference_layout() {
    // Element (l, c, h, j) of X is X[l, (c·H + h)·d_h + j]; layer i takes c = 2i and 2i + 1.
    let cfg = config();
    let host = prompt_tensors(&cfg, 5);
    let device = Device::flex();
    let m = model(&device, &host, false);
    let g = &m.trainable.prompts.as_ref().unwrap().cross;
    let pre: Vec<Prefix> = g.prefixes();
    assert_eq!(pre.len(), cfg.decoder_layers);
    assert_eq!(pre[0].key.dims(), [1, 4, 3, 4]);
    // Recompute X on the host for one element and compare.
    let get = |n: &str| host.iter().find(|(m, _, _)| m == n).unwrap().1.clone();
    let (e, w0, b0, w2, b2) = (
        get("cross.embedding.weight"),
        get("cross.mlp.0.weight"),
        get("cross.mlp.0.bias"),
        get("cross.mlp.2.weight"),
        get("cross.mlp.2.bias"),
    );
    let (d, p, out) = (16, 8, 2 * 2 * 16);
    let x = |l: usize, o: usize| {
        let hidden: Vec<f32> = (0..p)
            .map(|k| (b0[k] + (0..d).map(|i| w0[k * d + i] * e[l * d + i]).sum::<f32>()).tanh())
            .collect();
        b2[o] + (0..p).map(|k| w2[o * p + k] * hidden[k]).sum::<f32>()
    };
    let (l, layer, h, j) = (2, 1, 3, 1);
    let key = f32s(pre[layer].key.clone());
    let value = f32s(pre[layer].value.clone());
    let at = |t: &[f32]| t[(h * 3 + l) * 4 + j];
    assert!((at(&key) - x(l, ((2 * layer) * 4 + h) * 4 + j)).abs() < 1e-5);
    assert!((at(&value) - x(l, ((2 * layer + 1) * 4 + h) * 4 + j)).abs() < 1e-5);
    let _ = out;
}

#[test]
fn checkpoint_name_variants_load_the_same_model() {
    // BartModel names, BartForConditionalGeneration names (`model.` prefix, with an lm_head), and
    // a checkpoint that stores the tied embedding only as `encoder.embed_tokens.weight`.
    let cfg = config();
    let bare = random_bart(&cfg, RandomInit { seed: 11, ..Default::default() });
    let mut prefixed: Vec<HostTensor> =
        bare.iter().map(|(n, v, s)| (format!("model.{n}"), v.clone(), s.clone())).collect();
    let shared = bare.iter().find(|(n, _, _)| n == "shared.weight").unwrap().clone();
    prefixed.push(("lm_head.weight".into(), shared.1.clone(), shared.2.clone()));
    let tied: Vec<HostTensor> = bare
        .iter()
        .map(|(n, v, s)| {
            (
                if n == "shared.weight" { "encoder.embed_tokens.weight".to_string() } else { n.clone() },
                v.clone(),
                s.clone(),
            )
        })
        .collect();
    let device = Device::flex();
    let ids = Tensor::<2, Int>::from_data(TensorData::new(vec![0i64, 5, 6, 7, 2], [1, 5]), &device);
    let pad = ids.clone().equal_elem(1);
    let run = |t: &[HostTensor]| {
        let bart = Bart::load(&cfg, &Weights::from_tensors(t).unwrap(), &device).unwrap();
        f32s(bart.encode(ids.clone(), pad.clone(), None))
    };
    let a = run(&bare);
    assert_eq!(a, run(&prefixed));
    assert_eq!(a, run(&tied));
    // A missing tensor is an error that names it.
    let missing: Vec<HostTensor> =
        bare.iter().filter(|(n, _, _)| n != "encoder.layers.1.fc2.bias").cloned().collect();
    let err = Bart::load(&cfg, &Weights::from_tensors(&missing).unwrap(), &device).unwrap_err().to_string();
    assert!(err.contains("encoder.layers.1.fc2.bias"), "{err}");
}

#[test]
fn fresh_adapters_change_no_bit_and_trained_ones_change_the_logits() {
    let device = Device::flex();
    let host = prompt_tensors(&config(), 5);
    let batch = training_batch(&examples(), PAD, &device);
    let plain = f32s(model(&device, &host, false).forward(&batch).logits);
    let mut fresh = model(&device, &host, false);
    let spec = LoraSpec { rank: 3, alpha: 6.0, on: vec!["attn".into()] };
    assert_eq!(fresh.bart.add_lora(&spec, 1), 6);
    assert_eq!(f32s(fresh.forward(&batch).logits), plain, "B starts at zero: nothing may change");
    let trained = f32s(adapted(model(&device, &host, false)).forward(&batch).logits);
    let moved = plain.iter().zip(&trained).filter(|(a, b)| a.is_finite() && (*a - *b).abs() > 1e-3).count();
    assert!(moved > plain.len() / 4, "adapters moved only {moved} of {} logits", plain.len());
    // An adapter setting that names no block adapts nothing.
    let mut none = model(&device, &host, false);
    assert_eq!(none.bart.add_lora(&LoraSpec { on: vec!["fc1".into()], ..spec }, 1), 0);
}
