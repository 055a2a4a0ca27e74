//! The bert2bert warm start on a real BERT: our encoder, built from all-MiniLM-L6-v2 mapped onto
//! the BART shape, must compute what the original BertModel computes (reference states from
//! Hugging Face transformers, tests/fixtures/minilm/gen.py), within 1e-4, and our tokenizer must
//! give the same ids. The weights are fetched by `bash scripts/fetch-minilm.sh` (`.ci/run` does
//! it); without them the test says so and passes, except under `CI=true`, where it fails.

use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use lightner::model::{Bart, Weights};
use lightner::pipeline::Backbone;
use lightner::tokenize::Alignment;

#[path = "common/minilm.rs"]
mod minilm_weights;
use minilm_weights::weights_dir;
use std::path::Path;

const SENTENCES: [&str; 4] = [
    "EU rejects German call to boycott British lamb .",
    "show me films with tom hanks from the nineties",
    "is there a cheap thai restaurant open after midnight near the airport",
    "Peter Blackburn",
];

#[test]
fn warm_started_encoder_equals_the_original_bert() {
    let Some(dir) = weights_dir() else { return };
    let bb = Backbone::open(dir.to_str().unwrap()).unwrap();
    assert!(bb.warm_started);
    let reference = Weights::open(&[
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/minilm/reference.safetensors")
    ])
    .unwrap();
    let (ids, shape) = reference.raw_i64("input_ids").unwrap();
    let (mask, _) = reference.raw_i64("attention_mask").unwrap();
    let (hidden, hshape) = reference.raw("last_hidden_state").unwrap();
    let (b, t, d) = (shape[0], shape[1], hshape[2]);
    // Our word-level encoding gives the reference's ids ([CLS] pieces… [SEP]).
    for (r, s) in SENTENCES.iter().enumerate() {
        let words: Vec<&str> = s.split(' ').collect();
        let a = Alignment::encode(&bb.tokenizer, &words).unwrap();
        let want: Vec<u32> = ids[r * t..(r + 1) * t]
            .iter()
            .zip(&mask[r * t..(r + 1) * t])
            .filter(|(_, m)| **m == 1)
            .map(|(i, _)| *i as u32)
            .collect();
        assert_eq!(a.ids.iter().map(|x| x.0).collect::<Vec<_>>(), want, "sentence {r}");
    }
    let device = Device::flex();
    let bart = Bart::load(&bb.config, &bb.weights, &device).unwrap();
    let src = Tensor::<2, Int>::from_data(TensorData::new(ids.clone(), [b, t]), &device);
    let pad = Tensor::<2, Bool>::from_data(
        TensorData::new(mask.iter().map(|&m| m == 0).collect::<Vec<_>>(), [b, t]),
        &device,
    );
    let out: Vec<f32> =
        bart.encode(src, pad, None).into_data().convert::<f32>().try_into_vec::<f32>().unwrap();
    let mut max_err = 0.0f32;
    for r in 0..b {
        for p in 0..t {
            if mask[r * t + p] == 0 {
                continue;
            }
            for k in 0..d {
                let i = (r * t + p) * d + k;
                max_err = max_err.max((out[i] - hidden[i]).abs());
            }
        }
    }
    eprintln!("MiniLM encoder vs transformers BertModel: max abs error {max_err:.2e}");
    assert!(max_err < 1e-4, "max abs error {max_err}");
}
