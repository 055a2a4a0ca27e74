//! Random BART weights with HF names, for tests, benchmarks and tiny backbones: no download
//! needed. Weights are N(0, std), biases N(0, bias_std), LayerNorm weights 1 + N(0, ln_std) and
//! biases N(0, ln_std) — the fixture README's recipe, so that a missing bias or LayerNorm shows.

use super::config::BartConfig;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A named tensor on the host: HF name, values, shape.
pub type HostTensor = (String, Vec<f32>, Vec<usize>);

/// Scales of the random initialisation.
#[derive(Debug, Clone, Copy)]
pub struct RandomInit {
    /// Std of weight matrices and embeddings.
    pub std: f32,
    /// Std of linear biases.
    pub bias_std: f32,
    /// Std of LayerNorm deviations from (1, 0).
    pub ln_std: f32,
    /// Seed of the draws: the same seed gives the same weights on every machine.
    pub seed: u64,
}

impl Default for RandomInit {
    fn default() -> Self {
        Self { std: 0.2, bias_std: 0.1, ln_std: 0.1, seed: 0 }
    }
}

/// A seeded normal sampler (Box–Muller over ChaCha8, identical on every machine).
pub struct Normal {
    rng: ChaCha8Rng,
}

impl Normal {
    /// A sampler with `seed`.
    pub fn new(seed: u64) -> Self {
        Self { rng: ChaCha8Rng::seed_from_u64(seed) }
    }

    fn uniform(&mut self) -> f64 {
        // 53 random bits in (0, 1].
        ((self.rng.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    /// One N(mean, std) sample.
    pub fn sample(&mut self, mean: f32, std: f32) -> f32 {
        let (u1, u2) = (self.uniform(), self.uniform());
        let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        mean + std * z as f32
    }

    /// `n` samples.
    pub fn vec(&mut self, n: usize, mean: f32, std: f32) -> Vec<f32> {
        (0..n).map(|_| self.sample(mean, std)).collect()
    }
}

/// Every tensor of a BartModel checkpoint for `cfg`, with random values.
pub fn random_bart(cfg: &BartConfig, init: RandomInit) -> Vec<HostTensor> {
    let mut n = Normal::new(init.seed);
    let d = cfg.d_model;
    let mut out: Vec<HostTensor> = Vec::new();
    let mat = |out: &mut Vec<HostTensor>, name: String, rows: usize, cols: usize, n: &mut Normal| {
        out.push((name, n.vec(rows * cols, 0.0, init.std), vec![rows, cols]));
    };
    let linear = |out: &mut Vec<HostTensor>, name: &str, i: usize, o: usize, n: &mut Normal| {
        out.push((format!("{name}.weight"), n.vec(o * i, 0.0, init.std), vec![o, i]));
        out.push((format!("{name}.bias"), n.vec(o, 0.0, init.bias_std), vec![o]));
    };
    let ln = |out: &mut Vec<HostTensor>, name: &str, n: &mut Normal| {
        out.push((format!("{name}.weight"), n.vec(d, 1.0, init.ln_std), vec![d]));
        out.push((format!("{name}.bias"), n.vec(d, 0.0, init.ln_std), vec![d]));
    };
    mat(&mut out, "shared.weight".into(), cfg.vocab_size, d, &mut n);
    let positions = cfg.max_position_embeddings + cfg.position_offset;
    for stack in ["encoder", "decoder"] {
        mat(&mut out, format!("{stack}.embed_positions.weight"), positions, d, &mut n);
        ln(&mut out, &format!("{stack}.layernorm_embedding"), &mut n);
        let (layers, ffn) = if stack == "encoder" {
            (cfg.encoder_layers, cfg.encoder_ffn_dim)
        } else {
            (cfg.decoder_layers, cfg.decoder_ffn_dim)
        };
        for i in 0..layers {
            let p = format!("{stack}.layers.{i}");
            let mut attns = vec!["self_attn"];
            if stack == "decoder" {
                attns.push("encoder_attn");
            }
            for a in attns {
                for proj in ["q_proj", "k_proj", "v_proj", "out_proj"] {
                    linear(&mut out, &format!("{p}.{a}.{proj}"), d, d, &mut n);
                }
                ln(&mut out, &format!("{p}.{a}_layer_norm"), &mut n);
            }
            linear(&mut out, &format!("{p}.fc1"), d, ffn, &mut n);
            linear(&mut out, &format!("{p}.fc2"), ffn, d, &mut n);
            ln(&mut out, &format!("{p}.final_layer_norm"), &mut n);
        }
    }
    out
}

/// Serialises host tensors as a safetensors file image (f32, little-endian).
pub fn to_safetensors(tensors: &[HostTensor]) -> Vec<u8> {
    // Views of tensors we just built cannot fail: shapes and byte lengths agree by construction.
    // An empty file image here would only surface later as a confusing load error.
    crate::io::f32_safetensors(tensors, None).expect("host tensors built with matching shapes serialise")
}
