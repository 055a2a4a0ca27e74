//! Our own operations on burn flex, each with its backward, where a profile showed burn's
//! composition or scalar kernel to be a bottleneck (`docs/performance.md`). They plug into burn
//! as a backend extension: `Flex` runs the kernel, `Autodiff<Flex>` records a node whose backward
//! is written here. On any other device (a CUDA build) the wrappers fall back to burn's own
//! operation, so results differ only by rounding.
//!
//! - [`gelu`]: exact GELU, forward and backward vectorised at the CPU's full width ([`erf`],
//!   compiled per instruction set through `pulp`); burn flex calls a scalar `erff` per element.
//! - [`linear`]: the linear layers, whose weights stay as HF stores them (`[out, in]`, seen
//!   transposed: `layers::load_linear`). A decoding step's (a few rows each) are dot products
//!   of each weight row ([`skinny_dot`]; a weight laid out `[in, out]` is read in blocks of whole
//!   rows instead, [`skinny`]; inference only); everything else on flex, training included,
//!   goes through [`gemm`] into a buffer that starts as the bias, with its backward.
//! - [`attend_one`]: the attention of a decoding step (one query per sequence) in one pass per
//!   head ([`attend`]). Inference only, like the skinny product.
//! - [`layer_norm()`] and [`add_layer_norm`]: LayerNorm, forward and backward in one pass per
//!   row ([`mod@layer_norm`]); in inference the latter forms the residual sum in the same pass.
//! - [`attention()`]: the attention of whole sequences (training, the encoder, teacher forcing)
//!   in one pass per head, forward and backward, reading the prompt prefix, the queries, keys
//!   and values where they lie ([`mod@attention`], [`attention_op`]).
//!
//! Their results are zeroed piece by piece on the workers that compute them ([`fresh`]), not in
//! one `memset` on the calling thread first.

pub mod attend;
pub mod attention;
pub mod attention_op;
pub mod blas;
pub mod erf;
pub mod fresh;
pub mod gemm;
pub mod layer_norm;
mod layer_norm_op;
mod linear_op;
mod prefetch;
pub mod skinny;
pub mod skinny_dot;
#[cfg(test)]
mod test_support;

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::{ActivationOps, ModuleOps};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, AutodiffBackend, Backend, DispatchDevice, Flex, backend_extension};
use burn::nn::Linear;
use burn::tensor::{Bool, DType, Device, Tensor, TensorData};

pub use attention_op::{attention, attention_composed};
pub use layer_norm_op::{add_layer_norm, layer_norm};
use linear_op::WeightLayout;

/// The operations of this module, as a burn backend extension.
#[backend_extension(Flex, Autodiff)]
pub trait Kernels: Backend {
    /// Exact (erf) GELU.
    fn gelu_exact(x: FloatTensor<Self>) -> FloatTensor<Self>;
    /// LayerNorm of `x` `[..., d]` over its last axis, `gamma` and `beta` `[d]`, with its
    /// backward under autodiff ([`layer_norm()`]).
    fn layer_norm_rows(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        eps: f64,
    ) -> FloatTensor<Self>;
    /// LayerNorm of `x + h` (one shape), as [`Kernels::layer_norm_rows`] of the sum: on flex in
    /// one pass; under autodiff by adding first ([`add_layer_norm`]).
    fn add_layer_norm_rows(
        x: FloatTensor<Self>,
        h: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        eps: f64,
    ) -> FloatTensor<Self>;
    /// `x·w + bias` (`x` `[..., k]`, `w` `[k, n]`, `bias` `[n]`) through [`gemm`], with its
    /// backward under autodiff.
    fn linear_gemm(x: FloatTensor<Self>, w: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self>;
    /// `x·w + bias` (`x` `[..., k]`, `w` `[k, n]`, `bias` `[n]`) for few rows of `x`.
    fn linear_rows(x: FloatTensor<Self>, w: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self>;
    /// Attention of `q` `[B, H, 1, dh]` over `k`, `v` `[B, H, K, dh]`, keys hidden where `hidden`
    /// `[B, 1, 1, K]` is non-zero.
    fn attend_one(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        hidden: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
    /// Attention of `q` `[B, T, H, dh]` over a prefix `[1 or B, H, L, dh]` (L may be 0) and `k`,
    /// `v` `[B, H, S, dh]`, keys hidden where `hidden` `[B, 1, 1 or T, L + S]` is non-zero,
    /// weights multiplied by `keep` `[B, H, T, L + S]` unless it is empty ([`attention()`]).
    #[allow(clippy::too_many_arguments)]
    fn attention(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        prefix_k: FloatTensor<Self>,
        prefix_v: FloatTensor<Self>,
        hidden: FloatTensor<Self>,
        keep: FloatTensor<Self>,
        scale: f32,
    ) -> FloatTensor<Self>;
}

/// Whether `device` runs on burn flex (directly or under autodiff).
fn is_flex(device: &Device) -> bool {
    match device.as_dispatch() {
        DispatchDevice::Flex(_) => true,
        DispatchDevice::Autodiff(a) => matches!(a.clone().inner(), DispatchDevice::Flex(_)),
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

/// Whether `device` is burn flex without autodiff: where the inference-only kernels run.
fn is_plain_flex(device: &Device) -> bool {
    matches!(device.as_dispatch(), DispatchDevice::Flex(_))
}

/// Exact GELU, `x·Φ(x)`, as `torch.nn.functional.gelu` (HF's `"gelu"`).
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if !is_flex(&x.device()) {
        return burn::tensor::activation::gelu(x);
    }
    Tensor::from_dispatch(<burn::backend::Dispatch as Kernels>::gelu_exact(x.into_dispatch()))
}

/// `layer.forward(x)`. On plain flex (inference) a decoding step — one position per sequence,
/// `x` `[B, 1, d]`, whatever B — or one small matrix (`[rows ≤ skinny::MAX_ROWS, d]`, the prompt
/// MLP) goes through [`skinny_dot::linear_rows`] (or [`skinny::linear_rows`] for a weight laid
/// out `[in, out]`); everything else on flex, with or without autodiff,
/// through [`gemm::linear`] (the product written onto the bias, without burn flex's extra
/// passes; its backward under autodiff); other devices take burn's own linear. The choice
/// depends on the shape of one sequence, never on how many share the batch, so a sentence is
/// tagged the same alone or batched, bit for bit. Results differ from burn's only by the order of
/// the sums.
pub fn linear<const D: usize>(layer: &Linear, x: Tensor<D>) -> Tensor<D> {
    let device = x.device();
    match &layer.bias {
        Some(bias) if is_plain_flex(&device) && takes_skinny(&x.dims()) => {
            Tensor::from_dispatch(<burn::backend::Dispatch as Kernels>::linear_rows(
                x.into_dispatch(),
                layer.weight.val().into_dispatch(),
                bias.val().into_dispatch(),
            ))
        }
        Some(bias) if is_flex(&device) => {
            Tensor::from_dispatch(<burn::backend::Dispatch as Kernels>::linear_gemm(
                x.into_dispatch(),
                layer.weight.val().into_dispatch(),
                bias.val().into_dispatch(),
            ))
        }
        _ => layer.forward(x),
    }
}

/// Whether attention of `t` query positions per sequence on `device` runs through [`attend_one`]:
/// a decoding step (`t` = 1) on plain flex. Like [`linear`]'s choice, it never depends on the
/// batch.
pub fn attends_in_one_pass(device: &Device, t: usize) -> bool {
    t == 1 && is_plain_flex(device)
}

/// `softmax(q·kᵀ, hiding keys where `mask` is true)·v` for `q` `[B, H, 1, dh]` (already scaled),
/// `k`, `v` `[B, H, K, dh]` and `mask` `[B, 1, 1, K]`, in one pass per head ([`attend`]). Only
/// where [`attends_in_one_pass`] says so; its result carries no gradient.
pub fn attend_one(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>, mask: Option<Tensor<4, Bool>>) -> Tensor<4> {
    let [b, _, n, _] = k.dims();
    let hidden = match mask {
        // A mask broadcast over the batch is made whole here: the kernel reads one row per sequence.
        Some(m) => m.float().expand([b, 1, 1, n]),
        None => Tensor::<4>::zeros([b, 1, 1, n], &q.device()),
    };
    Tensor::from_dispatch(<burn::backend::Dispatch as Kernels>::attend_one(
        q.into_dispatch(),
        k.into_dispatch(),
        v.into_dispatch(),
        hidden.into_dispatch(),
    ))
}

fn flex_attend_one(q: FlexTensor, k: FlexTensor, v: FlexTensor, hidden: FlexTensor) -> FlexTensor {
    let dims = |t: &FlexTensor| t.layout().shape().to_vec();
    let (qs, ks, vs, hs) = (dims(&q), dims(&k), dims(&v), dims(&hidden));
    let f32s = [&q, &k, &v, &hidden].iter().all(|t| t.dtype() == DType::F32);
    let (b, h, n, dh) = (ks[0], ks[1], ks[2], ks[3]);
    // The wrapper's shapes; anything else is a caller's bug, answered with NaN rather than a
    // read out of bounds.
    let shaped = f32s && qs == [b, h, 1, dh] && vs == ks && (hs == [b, 1, 1, n]);
    let out = if shaped {
        let (q, k, v, hidden) =
            (q.to_contiguous(), k.to_contiguous(), v.to_contiguous(), hidden.to_contiguous());
        attend::attend_one(q.storage(), k.storage(), v.storage(), hidden.storage(), [b, h, n, dh])
    } else {
        vec![f32::NAN; qs.iter().product()]
    };
    FlexTensor::from_data(TensorData::new(out, qs))
}

/// Whether [`linear`] takes the skinny kernel for an input of shape `dims` (see there).
fn takes_skinny(dims: &[usize]) -> bool {
    match dims.len() {
        2 => dims[0] <= skinny::MAX_ROWS,
        d if d >= 3 => dims[d - 2] == 1,
        _ => false,
    }
}

fn flex_linear_rows(x: FlexTensor, w: FlexTensor, bias: FlexTensor) -> FlexTensor {
    let (xs, ws) = (x.layout().shape().clone(), w.layout().shape().clone());
    let f32s = [&x, &w, &bias].iter().all(|t| t.dtype() == DType::F32);
    if !f32s || ws.len() != 2 || xs.is_empty() || xs[xs.len() - 1] != ws[0] {
        return Flex::linear(x, w, Some(bias));
    }
    let (k, n) = (ws[0], ws[1]);
    let m = xs.iter().product::<usize>() / k.max(1);
    let (x, bias) = (x.to_contiguous(), bias.to_contiguous());
    // A weight kept as HF stores it (`[n, k]`) is read row by row as dot products; one laid out
    // `[k, n]` by blocks of rows.
    let out = match linear_op::weight_as_laid(&w) {
        (w, WeightLayout::Cols) => skinny_dot::linear_rows(x.storage(), m, w.storage(), k, n, bias.storage()),
        (w, WeightLayout::Rows) => skinny::linear_rows(x.storage(), m, w.storage(), k, n, bias.storage()),
    };
    let mut dims: Vec<usize> = xs.to_vec();
    *dims.last_mut().expect("x has a last axis") = n;
    FlexTensor::from_data(TensorData::new(out, dims))
}

/// Applies `f` to the f32 elements of `x` (made contiguous), into a new tensor of its shape.
fn map_f32(x: &FlexTensor, f: impl FnOnce(&[f32]) -> Vec<f32>) -> FlexTensor {
    let x = x.to_contiguous();
    let shape = x.layout().shape().clone();
    FlexTensor::from_data(TensorData::new(f(x.storage()), shape))
}

fn flex_gelu(x: FlexTensor) -> FlexTensor {
    if x.dtype() != DType::F32 {
        return Flex::gelu(x);
    }
    map_f32(&x, erf::gelu_vec)
}

fn flex_gelu_backward(x: FlexTensor, grad: FlexTensor) -> FlexTensor {
    if x.dtype() != DType::F32 || grad.dtype() != DType::F32 {
        return Flex::gelu_backward(x, grad);
    }
    let grad = grad.to_contiguous();
    map_f32(&x, |x| erf::gelu_backward_vec(x, grad.storage()))
}

impl Kernels for Flex {
    fn gelu_exact(x: FloatTensor<Self>) -> FloatTensor<Self> {
        flex_gelu(x)
    }

    fn linear_rows(x: FloatTensor<Self>, w: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self> {
        flex_linear_rows(x, w, bias)
    }

    fn linear_gemm(x: FloatTensor<Self>, w: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self> {
        linear_op::flex_linear(x, w, bias)
    }

    fn layer_norm_rows(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        eps: f64,
    ) -> FloatTensor<Self> {
        layer_norm_op::flex_layer_norm(x, None, gamma, beta, eps)
    }

    fn add_layer_norm_rows(
        x: FloatTensor<Self>,
        h: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        eps: f64,
    ) -> FloatTensor<Self> {
        layer_norm_op::flex_layer_norm(x, Some(h), gamma, beta, eps)
    }

    fn attend_one(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        hidden: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        flex_attend_one(q, k, v, hidden)
    }

    fn attention(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        prefix_k: FloatTensor<Self>,
        prefix_v: FloatTensor<Self>,
        hidden: FloatTensor<Self>,
        keep: FloatTensor<Self>,
        scale: f32,
    ) -> FloatTensor<Self> {
        attention_op::flex_attention(q, k, v, prefix_k, prefix_v, hidden, keep, scale)
    }
}

impl<C: CheckpointStrategy> Kernels for Autodiff<Flex, C> {
    fn gelu_exact(x: FloatTensor<Self>) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct GeluBackward;

        impl Backward<Flex, 1> for GeluBackward {
            /// The input, kept for the derivative.
            type State = NodeId;

            fn backward(
                self,
                ops: Ops<Self::State, 1>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let input: FlexTensor = checkpointer.retrieve_node_output(ops.state);
                unary::<Flex, _>(ops.parents, ops.node, grads, |grad| flex_gelu_backward(input, grad));
            }
        }

        match GeluBackward.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let state = prep.checkpoint(&x);
                prep.finish(state, flex_gelu(x.primitive().clone()))
            }
            OpsKind::UnTracked(prep) => prep.finish(flex_gelu(x.into_primitive())),
        }
    }

    fn linear_gemm(x: FloatTensor<Self>, w: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self> {
        linear_op::autodiff_linear::<C>(x, w, bias)
    }

    fn layer_norm_rows(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        eps: f64,
    ) -> FloatTensor<Self> {
        layer_norm_op::autodiff_layer_norm::<C>(x, gamma, beta, eps)
    }

    fn add_layer_norm_rows(
        x: FloatTensor<Self>,
        h: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        eps: f64,
    ) -> FloatTensor<Self> {
        layer_norm_op::autodiff_add_layer_norm::<C>(x, h, gamma, beta, eps)
    }

    /// Training keeps burn's linear and its backward ([`linear`] never routes autodiff here).
    fn linear_rows(x: FloatTensor<Self>, w: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self> {
        <Self as ModuleOps<Self>>::linear(x, w, Some(bias))
    }

    /// Never routed here ([`attends_in_one_pass`] is false under autodiff); computed on the inner
    /// tensors, without a gradient, should a caller do it anyway.
    fn attend_one(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        hidden: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let inner = |t: FloatTensor<Self>| <Self as AutodiffBackend>::inner(t);
        <Self as AutodiffBackend>::from_inner(flex_attend_one(inner(q), inner(k), inner(v), inner(hidden)))
    }

    fn attention(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        prefix_k: FloatTensor<Self>,
        prefix_v: FloatTensor<Self>,
        hidden: FloatTensor<Self>,
        keep: FloatTensor<Self>,
        scale: f32,
    ) -> FloatTensor<Self> {
        attention_op::autodiff_attention::<C>(q, k, v, prefix_k, prefix_v, hidden, keep, scale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::activation;

    fn values(n: usize) -> Vec<f32> {
        (0..n).map(|i| ((i * 7919) % 2000) as f32 / 200.0 - 5.0).collect()
    }

    /// `a` and `b` agree within `tol·scale[i]` at every element.
    fn close(a: &[f32], b: &[f32], scale: &[f32], tol: f32) {
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= tol * scale[i], "element {i}: {x} vs {y}");
        }
    }

    /// Both implementations are accurate to a few f32 roundings of x (burn's through `erff`, ours
    /// through a fitted rational), so they agree within a small multiple of 1 + |x|.
    fn gelu_scale(x: &[f32]) -> Vec<f32> {
        x.iter().map(|v| 1.0 + v.abs()).collect()
    }

    fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        crate::model::params::host_f32s(t.into_data()).expect("f32 data")
    }

    #[test]
    fn gelu_equals_burns_on_flex() {
        let device = Device::flex();
        let x = Tensor::<3>::from_data(TensorData::new(values(2 * 5 * 3000), [2, 5, 3000]), &device);
        let scale = gelu_scale(&host(x.clone()));
        close(&host(gelu(x.clone())), &host(activation::gelu(x.clone())), &scale, 5e-7);
        // A transposed (non-contiguous) input gives the transposed result.
        let t = x.clone().swap_dims(1, 2);
        let scale = gelu_scale(&host(t.clone()));
        close(&host(gelu(t.clone())), &host(activation::gelu(t)), &scale, 5e-7);
    }

    #[test]
    fn gelu_gradient_equals_burns() {
        let device = Device::flex().autodiff();
        let data = TensorData::new(values(4 * 4100), [4, 4100]);
        let w = Tensor::<2>::from_data(
            TensorData::new(values(4 * 4100).iter().map(|v| v * 0.3).collect::<Vec<_>>(), [4, 4100]),
            &device,
        );
        let grad_of = |ours: bool| {
            let x = Tensor::<2>::from_data(data.clone(), &device).require_grad();
            let y = if ours { gelu(x.clone()) } else { activation::gelu(x.clone()) };
            // A weighted sum, so that the incoming gradient is not all ones.
            let grads = (y.clone() * w.clone()).sum().backward();
            (host(y), host(x.grad(&grads).expect("x has a gradient")))
        };
        let (y_ours, g_ours) = grad_of(true);
        let (y_burn, g_burn) = grad_of(false);
        let x = values(4 * 4100);
        close(&y_ours, &y_burn, &gelu_scale(&x), 5e-7);
        // The incoming gradient is w, up to 1.5 in magnitude.
        let scale: Vec<f32> = x.iter().map(|v| 1.5 * (1.0 + v.abs())).collect();
        close(&g_ours, &g_burn, &scale, 5e-7);
    }

    #[test]
    fn untracked_input_takes_the_plain_path() {
        let device = Device::flex().autodiff();
        let x = Tensor::<1>::from_data(TensorData::new(values(100), [100]), &device);
        close(&host(gelu(x.clone())), &host(activation::gelu(x)), &gelu_scale(&values(100)), 5e-7);
    }

    /// A linear layer whose weight and bias are `values` scaled down, on `device`.
    fn layer(d_in: usize, d_out: usize, device: &Device) -> Linear {
        let w: Vec<f32> = values(d_in * d_out).iter().map(|v| v * 0.01).collect();
        let b: Vec<f32> = values(d_out).iter().map(|v| v * 0.1).collect();
        Linear {
            weight: burn::module::Param::from_tensor(Tensor::from_data(
                TensorData::new(w, [d_in, d_out]),
                device,
            )),
            bias: Some(burn::module::Param::from_tensor(Tensor::from_data(
                TensorData::new(b, [d_out]),
                device,
            ))),
        }
    }

    #[test]
    fn linear_equals_burns_in_decoding_steps_and_elsewhere() {
        let device = Device::flex();
        let l = layer(300, 70, &device);
        // [5, 1, 300] is a decoding step (the kernel), [2, 40, 300] is not (burn's product);
        // both must equal burn's.
        for dims in [[5, 1, 300], [2, 40, 300]] {
            let x = Tensor::<3>::from_data(TensorData::new(values(dims.iter().product()), dims), &device);
            let ours = host(linear(&l, x.clone()));
            let burns = host(l.forward(x));
            // Terms up to 5·0.05 = 0.25 in magnitude, 300 of them: a few f32 roundings of ~10.
            close(&ours, &burns, &vec![1.0; ours.len()], 1e-5);
        }
        // A non-contiguous input (a transposed view) gives the same rows.
        let x = Tensor::<2>::from_data(TensorData::new(values(300 * 4), [300, 4]), &device).transpose();
        let ours = host(linear(&l, x.clone()));
        close(&ours, &host(l.forward(x)), &vec![1.0; ours.len()], 1e-5);
    }

    #[test]
    fn a_decoding_step_gives_each_sentence_the_same_bits_in_any_batch() {
        let device = Device::flex();
        let l = layer(300, 70, &device);
        // 40 sequences take the same path as one (more than skinny::MAX_ROWS rows in all).
        let all = Tensor::<3>::from_data(TensorData::new(values(40 * 300), [40, 1, 300]), &device);
        let batched = host(linear(&l, all.clone()));
        for r in [0, 17, 39] {
            let one = host(linear(&l, all.clone().narrow(0, r, 1)));
            assert_eq!(one, batched[r * 70..(r + 1) * 70], "sequence {r}");
        }
    }

    #[test]
    fn attend_one_equals_burns_composition_with_a_broadcast_mask() {
        let device = Device::flex();
        let t = |dims: [usize; 4], scale: f32| {
            let v: Vec<f32> = values(dims.iter().product()).iter().map(|x| x * scale).collect();
            Tensor::<4>::from_data(TensorData::new(v, dims), &device)
        };
        let (q, k, v) = (t([3, 4, 1, 8], 0.1), t([3, 4, 9, 8], 0.1), t([3, 4, 9, 8], 0.2));
        // One mask row for every sequence, hiding keys 2 and 7.
        let hide: Vec<bool> = (0..9).map(|j| j == 2 || j == 7).collect();
        let mask = Tensor::<4, Bool>::from_data(TensorData::new(hide, [1, 1, 1, 9]), &device);
        let ours = host(attend_one(q.clone(), k.clone(), v.clone(), Some(mask.clone())));
        let scores = q.matmul(k.swap_dims(2, 3)).mask_fill(mask.expand([3, 4, 1, 9]), f32::MIN);
        let burns = host(burn::tensor::activation::softmax(scores, 3).matmul(v));
        close(&ours, &burns, &vec![1.0; ours.len()], 1e-6);
    }
}
