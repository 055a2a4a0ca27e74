//! AdamW in one pass over each parameter tensor on the CPU.
//!
//! burn's `AdamW` is composed of a dozen whole-tensor operations per parameter (moments, bias
//! corrections, square root, division, decay, update), each reading its inputs and writing a fresh
//! tensor. With the prompt generators' 800 × (layers · 2 · d) output weights that was a quarter of
//! a prompt-tuning step on MiniLM and 38 % of a full fine-tuning step (perf, MIT-Movie 10-shot),
//! much of it page faults on the freshly allocated buffers. Here each element goes through the
//! same arithmetic, in the same f32 operations and order as burn's `AdamW` (burn-optim 0.22.1,
//! `adamw.rs`: `AdaptiveMomentumW::transform`, then `AdamW::step`), in a single loop, so the result
//! is the same bit for bit (tested below) and the optimizer state keeps burn's record layout, so
//! checkpoints stay compatible. Tensors off the CPU, or not f32, take burn's composed `AdamW`.

use burn::optim::{AdamW, AdamWConfig, AdamWState, AdaptiveMomentumState, LearningRate, Optimizer};
use burn::tensor::{DType, Device, Tensor, TensorData};
use rayon::prelude::*;

/// Elements per parallel chunk: large enough that a chunk outweighs rayon's scheduling.
const CHUNK: usize = 1 << 16;

/// AdamW with decoupled weight decay (Loshchilov & Hutter, 2019), burn's defaults for β₁ = 0.9
/// and β₂ = 0.999, no AMSGrad.
#[derive(Clone)]
pub struct FusedAdamW {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    weight_decay: f32,
    /// The same optimizer composed of tensor operations, for tensors the loop cannot take.
    composed: AdamW,
}

impl FusedAdamW {
    /// AdamW with weight decay λ = `weight_decay` and ε = `epsilon`.
    pub fn new(weight_decay: f32, epsilon: f32) -> Self {
        let (beta_1, beta_2) = (0.9, 0.999);
        let composed = AdamWConfig::new()
            .with_beta_1(beta_1)
            .with_beta_2(beta_2)
            .with_epsilon(epsilon)
            .with_weight_decay(weight_decay)
            .build();
        Self { beta_1, beta_2, epsilon, weight_decay, composed }
    }
}

/// One parameter's update, in place: `p`, `m`, `v` and `g` have the same length. `first`: no state
/// yet (the moments start from the gradient alone, as burn's do).
struct Update {
    first: bool,
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    /// 1 − β₁ and 1 − β₂, computed in f32 as burn does.
    factor_1: f32,
    factor_2: f32,
    /// The bias corrections 1 − β₁ᵗ and 1 − β₂ᵗ.
    correction_1: f32,
    correction_2: f32,
    /// 1 − lr · λ, or None when lr · λ = 0 (burn then leaves the tensor undecayed).
    keep: Option<f32>,
    lr: f32,
}

impl Update {
    fn apply(&self, p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32]) {
        for (((p, m), v), &g) in p.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(g) {
            // Each line is one of burn's tensor operations, in its order; Rust does not fuse
            // a * b + c into an FMA, so the roundings are the same.
            let gm = g * self.factor_1;
            let gv = (g * g) * self.factor_2;
            if self.first {
                *m = gm;
                *v = gv;
            } else {
                *m = *m * self.beta_1 + gm;
                *v = *v * self.beta_2 + gv;
            }
            let delta = (*m / self.correction_1) / ((*v / self.correction_2).sqrt() + self.epsilon);
            let decayed = match self.keep {
                Some(k) => *p * k,
                None => *p,
            };
            *p = decayed - delta * self.lr;
        }
    }
}

impl Optimizer for FusedAdamW {
    type State<const D: usize> = AdamWState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let device = tensor.device();
        let amsgrad = state.as_ref().is_some_and(|s| s.momentum.max_moment_2.is_some());
        let fusable = device == Device::flex()
            && !amsgrad
            && [tensor.dtype(), grad.dtype()].iter().all(|d| *d == DType::F32)
            && state.as_ref().is_none_or(|s| {
                s.momentum.moment_1.dtype() == DType::F32 && s.momentum.moment_2.dtype() == DType::F32
            });
        if !fusable {
            return self.composed.step(lr, tensor, grad, state);
        }
        // The tensors' own buffers, updated in place: `into_data` and `from_data` move a buffer
        // that no other tensor shares without copying it (burn-flex `FlexTensor::into_data`).
        let shape = tensor.shape();
        let (time, mut m, mut v) = match state {
            Some(s) => {
                (s.momentum.time + 1, s.momentum.moment_1.into_data(), s.momentum.moment_2.into_data())
            }
            None => {
                let zeros = || Tensor::<D>::zeros(shape.clone(), &device).into_data();
                (1, zeros(), zeros())
            }
        };
        let (mut p, g) = (tensor.into_data(), grad.into_data());
        let decay_rate = lr * self.weight_decay as f64;
        let up = Update {
            first: time == 1,
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            epsilon: self.epsilon,
            factor_1: 1.0 - self.beta_1,
            factor_2: 1.0 - self.beta_2,
            correction_1: 1f32 - self.beta_1.powi(time as i32),
            correction_2: 1f32 - self.beta_2.powi(time as i32),
            keep: (decay_rate != 0.0).then_some((1.0 - decay_rate) as f32),
            lr: lr as f32,
        };
        let f32s = "f32 tensors hold f32 data";
        let (ps, ms, vs) = (p.as_mut_slice::<f32>(), m.as_mut_slice::<f32>(), v.as_mut_slice::<f32>());
        ps.expect(f32s)
            .par_chunks_mut(CHUNK)
            .zip(ms.expect(f32s).par_chunks_mut(CHUNK))
            .zip(vs.expect(f32s).par_chunks_mut(CHUNK))
            .zip(g.as_slice::<f32>().expect(f32s).par_chunks(CHUNK))
            .for_each(|(((p, m), v), g)| up.apply(p, m, v, g));
        let tensor = |x: TensorData| Tensor::from_data(x, &device);
        let momentum = AdaptiveMomentumState::new(time, tensor(m), tensor(v));
        (tensor(p), Some(AdamWState::new(momentum)))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        AdamW::to_device(state, device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random(rng: &mut ChaCha8Rng, shape: [usize; 2], scale: f32) -> Tensor<2> {
        let x: Vec<f32> = (0..shape[0] * shape[1]).map(|_| (rng.random::<f32>() - 0.5) * scale).collect();
        Tensor::from_data(TensorData::new(x, shape), &Device::flex())
    }

    fn bits(t: &Tensor<2>) -> Vec<u32> {
        t.clone().into_data().try_into_vec::<f32>().unwrap().iter().map(|x| x.to_bits()).collect()
    }

    /// Ten steps on the same tensors and gradients, with and without weight decay, with a
    /// learning rate that changes every step (as under warm-up and decay), over more than one
    /// parallel chunk: parameters and both moments equal burn's composed AdamW bit for bit.
    #[test]
    fn the_fused_step_equals_burns_composed_adamw_bit_for_bit() {
        for wd in [0.0f32, 0.01] {
            let fused = FusedAdamW::new(wd, 1e-8);
            let composed = AdamWConfig::new().with_weight_decay(wd).with_epsilon(1e-8).build();
            let mut rng = ChaCha8Rng::seed_from_u64(7);
            let shape = [3, CHUNK / 2 + 5];
            let start = random(&mut rng, shape, 2.0);
            let (mut a, mut b) = (start.clone(), start);
            let (mut sa, mut sb) = (None, None);
            for step in 0..10 {
                // Gradients spanning several magnitudes, some exactly zero.
                let g = random(&mut rng, shape, 10f32.powi(step % 4 - 2))
                    .mask_fill(random(&mut rng, shape, 1.0).lower_elem(-0.45), 0.0);
                let lr = 1e-3 * (1.0 + step as f64) / 3.0;
                let (na, ns) = fused.step(lr, a, g.clone(), sa);
                let (nb, nsb) = composed.step(lr, b, g, sb);
                assert_eq!(bits(&na), bits(&nb), "parameters differ at step {step}, weight decay {wd}");
                let (ms, mc) = (ns.as_ref().unwrap(), nsb.as_ref().unwrap());
                assert_eq!(ms.momentum.time, mc.momentum.time);
                assert_eq!(bits(&ms.momentum.moment_1), bits(&mc.momentum.moment_1));
                assert_eq!(bits(&ms.momentum.moment_2), bits(&mc.momentum.moment_2));
                (a, b, sa, sb) = (na, nb, ns, nsb);
            }
            // The update did something: the parameters moved from where they started.
            let first = bits(&random(&mut ChaCha8Rng::seed_from_u64(7), shape, 2.0));
            assert_ne!(bits(&a), first);
        }
    }

    /// A state made by burn's composed AdamW (as in a checkpoint written before this optimizer)
    /// continues bit for bit.
    #[test]
    fn the_fused_step_continues_from_a_composed_state() {
        let fused = FusedAdamW::new(0.01, 1e-8);
        let composed = AdamWConfig::new().with_weight_decay(0.01).with_epsilon(1e-8).build();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let p = random(&mut rng, [4, 9], 1.0);
        let (g1, g2) = (random(&mut rng, [4, 9], 0.1), random(&mut rng, [4, 9], 0.1));
        let (p, s) = composed.step(1e-2, p, g1, None);
        let (a, _) = fused.step(1e-2, p.clone(), g2.clone(), s.clone());
        let (b, _) = composed.step(1e-2, p, g2, s);
        assert_eq!(bits(&a), bits(&b));
    }
}
