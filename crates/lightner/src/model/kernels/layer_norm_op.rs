//! [`super::layer_norm`] as a burn operation: flex computes it, autodiff over flex also records
//! a node whose backward is the kernel's. In inference, [`add_layer_norm`] takes the residual add
//! into the same pass (`LN(x + h)`, every BART sub-layer's end), so the sum is never a tensor of
//! its own: burn's addition was a pass over memory on the calling thread while the workers
//! waited. Training adds first: fusing it there made forward + backward no faster in criterion
//! and up to 13 % slower in a whole-model probe (`docs/performance.md`, "Fourth round").

use super::layer_norm as kernel;
use super::{Kernels, is_flex, is_plain_flex};
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::ModuleOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Flex};
use burn::nn::LayerNorm;
use burn::tensor::{DType, Tensor, TensorData};
use std::sync::Arc;

/// `ln.forward(x)` with epsilon `eps` (the layer's own: burn keeps it private). On flex, with or
/// without autodiff, the kernel (and its backward); elsewhere burn's LayerNorm.
pub fn layer_norm<const D: usize>(ln: &LayerNorm, eps: f64, x: Tensor<D>) -> Tensor<D> {
    match &ln.beta {
        Some(beta) if is_flex(&x.device()) => {
            Tensor::from_dispatch(<burn::backend::Dispatch as Kernels>::layer_norm_rows(
                x.into_dispatch(),
                ln.gamma.val().into_dispatch(),
                beta.val().into_dispatch(),
                eps,
            ))
        }
        _ => ln.forward(x),
    }
}

/// `ln.forward(x + h)` ([`layer_norm`]). In inference on flex, for `x` and `h` of one shape, the
/// sum is formed row by row inside the kernel (the same f32 additions, so the same bits); training,
/// other shapes and other devices add first.
pub fn add_layer_norm<const D: usize>(ln: &LayerNorm, eps: f64, x: Tensor<D>, h: Tensor<D>) -> Tensor<D> {
    match &ln.beta {
        Some(beta) if is_plain_flex(&x.device()) && x.dims() == h.dims() => {
            Tensor::from_dispatch(<burn::backend::Dispatch as Kernels>::add_layer_norm_rows(
                x.into_dispatch(),
                h.into_dispatch(),
                ln.gamma.val().into_dispatch(),
                beta.val().into_dispatch(),
                eps,
            ))
        }
        _ => layer_norm(ln, eps, x + h),
    }
}

/// `x` `[..., d]` (and `h` shaped as `x`, when given), `gamma` and `beta` `[d]`, all f32: `d`;
/// none otherwise.
fn width(x: &FlexTensor, h: Option<&FlexTensor>, gamma: &FlexTensor, beta: &FlexTensor) -> Option<usize> {
    let d = *x.layout().shape().last()?;
    let f32s = [Some(x), h, Some(gamma), Some(beta)].iter().flatten().all(|t| t.dtype() == DType::F32);
    let same = h.is_none_or(|h| h.layout().shape() == x.layout().shape());
    (f32s && same && gamma.layout().shape().as_slice() == [d] && beta.layout().shape().as_slice() == [d])
        .then_some(d)
}

/// The output and the rows' statistics, for contiguous inputs; shapes outside [`width`] give none.
fn forward(
    x: &FlexTensor,
    h: Option<&FlexTensor>,
    gamma: &FlexTensor,
    beta: &FlexTensor,
    eps: f64,
) -> Option<(FlexTensor, Vec<(f32, f32)>)> {
    let d = width(x, h, gamma, beta)?;
    let (g, b) = (gamma.to_contiguous(), beta.to_contiguous());
    let res = h.map(|h| h.storage::<f32>());
    let (y, stats) = kernel::forward(x.storage(), res, d, g.storage(), b.storage(), eps as f32);
    Some((FlexTensor::from_data(TensorData::new(y, x.layout().shape().to_vec())), stats))
}

/// Flex: the kernel's forward; shapes it does not take go through burn (adding first).
pub(super) fn flex_layer_norm(
    x: FlexTensor,
    h: Option<FlexTensor>,
    gamma: FlexTensor,
    beta: FlexTensor,
    eps: f64,
) -> FlexTensor {
    let (x, h) = (x.to_contiguous(), h.map(|h| h.to_contiguous()));
    match forward(&x, h.as_ref(), &gamma, &beta, eps) {
        Some((y, _)) => y,
        None => {
            let x = match h {
                Some(h) => <Flex as burn::backend::ops::FloatTensorOps<Flex>>::float_add(x, h),
                None => x,
            };
            Flex::layer_norm(x, gamma, Some(beta), eps)
        }
    }
}

/// The recorded node.
#[derive(Debug)]
struct LayerNormBackward;

impl Backward<Flex, 3> for LayerNormBackward {
    /// The input (contiguous), γ, and the rows' `(μ, σ)`.
    type State = (FlexTensor, FlexTensor, Arc<Vec<(f32, f32)>>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let dy = grads.consume::<Flex>(&ops.node).to_contiguous();
        let (x, gamma, stats) = ops.state;
        let [node_x, node_g, node_b] = ops.parents;
        let d = gamma.layout().num_elements();
        let params = node_g.is_some() || node_b.is_some();
        let (dx, dg, db) = kernel::backward(x.storage(), d, gamma.storage(), &stats, dy.storage(), params);
        let shape = x.layout().shape().to_vec();
        for (node, data, dims) in [(node_x, dx, shape), (node_g, dg, vec![d]), (node_b, db, vec![d])] {
            if let Some(node) = node {
                grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(data, dims)));
            }
        }
    }
}

/// Autodiff over flex: the kernel's forward, and a node whose backward is the kernel's.
pub(super) fn autodiff_layer_norm<C: CheckpointStrategy>(
    x: FloatTensor<Autodiff<Flex, C>>,
    gamma: FloatTensor<Autodiff<Flex, C>>,
    beta: FloatTensor<Autodiff<Flex, C>>,
    eps: f64,
) -> FloatTensor<Autodiff<Flex, C>> {
    if width(x.primitive(), None, gamma.primitive(), beta.primitive()).is_none() {
        return <Autodiff<Flex, C> as ModuleOps<Autodiff<Flex, C>>>::layer_norm(x, gamma, Some(beta), eps);
    }
    let nodes = [x.node(), gamma.node(), beta.node()];
    let (xp, gp, bp) =
        (x.primitive().to_contiguous(), gamma.primitive().to_contiguous(), beta.primitive().clone());
    let Some((y, stats)) = forward(&xp, None, &gp, &bp, eps) else { unreachable!("width checked above") };
    match LayerNormBackward.prepare::<C>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(prep) => prep.finish((xp, gp, Arc::new(stats)), y),
        OpsKind::UnTracked(prep) => prep.finish(y),
    }
}

/// Autodiff over flex (never routed here by [`add_layer_norm`]): adds first, then
/// [`autodiff_layer_norm`].
pub(super) fn autodiff_add_layer_norm<C: CheckpointStrategy>(
    x: FloatTensor<Autodiff<Flex, C>>,
    h: FloatTensor<Autodiff<Flex, C>>,
    gamma: FloatTensor<Autodiff<Flex, C>>,
    beta: FloatTensor<Autodiff<Flex, C>>,
    eps: f64,
) -> FloatTensor<Autodiff<Flex, C>> {
    let sum = <Autodiff<Flex, C> as burn::backend::ops::FloatTensorOps<Autodiff<Flex, C>>>::float_add(x, h);
    autodiff_layer_norm::<C>(sum, gamma, beta, eps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::kernels::test_support::{close, host, values};
    use burn::module::Param;
    use burn::nn::LayerNormConfig;
    use burn::tensor::Device;

    #[test]
    fn forward_and_gradients_equal_burns_layer_norm() {
        let device = Device::flex().autodiff();
        let d = 96;
        for (train_params, eps) in [(false, 1e-5), (true, 1e-12)] {
            let mut ln = LayerNormConfig::new(d).with_epsilon(eps).init(&device);
            let p = |seed, shift| {
                Tensor::<1>::from_data(TensorData::new(values(d, seed, 0.5, shift), [d]), &device)
            };
            ln.gamma = Param::from_tensor(p(1, 1.0)).set_require_grad(train_params);
            ln.beta = Some(Param::from_tensor(p(2, 0.0)).set_require_grad(train_params));
            let run = |ours: bool| {
                // Rows with an offset and a spread, as hidden states have.
                let x = Tensor::<3>::from_data(
                    TensorData::new(values(5 * 7 * d, 3, 4.0, 2.0), [5, 7, d]),
                    &device,
                )
                .require_grad();
                let y = if ours { layer_norm(&ln, eps, x.clone()) } else { ln.forward(x.clone()) };
                let w = Tensor::<3>::from_data(
                    TensorData::new(values(5 * 7 * d, 4, 1.0, 0.0), [5, 7, d]),
                    &device,
                );
                let grads = (y.clone() * w).sum().backward();
                let mut all = vec![host(y), host(x.grad(&grads).expect("x's gradient"))];
                if train_params {
                    all.push(host(ln.gamma.val().grad(&grads).expect("γ's gradient")));
                    all.push(host(ln.beta.as_ref().expect("β").val().grad(&grads).expect("β's gradient")));
                }
                all
            };
            for (i, (a, b)) in run(true).iter().zip(&run(false)).enumerate() {
                // Sums of 96 (or 35 rows for γ, β) terms: a few f32 roundings.
                close(a, b, 1e-5, &format!("tensor {i}, parameters trained: {train_params}"));
            }
        }
    }

    #[test]
    fn inference_equals_burns_layer_norm_within_rounding() {
        let device = Device::flex();
        let ln = LayerNormConfig::new(32).init(&device);
        let x = Tensor::<2>::from_data(TensorData::new(values(4 * 32, 5, 3.0, 1.0), [4, 32]), &device);
        close(&host(layer_norm(&ln, 1e-5, x.clone())), &host(ln.forward(x)), 1e-5, "inference");
    }

    /// `add_layer_norm(x, h)` against `layer_norm(x + h)` (burn's addition first): the same f32
    /// sum enters the same kernel, so the outputs agree bit for bit, in inference (fused) and in
    /// training (where both add first, gradients included), and on a shape the kernel declines
    /// (broadcast `h`).
    #[test]
    fn fused_residual_equals_adding_first_bit_for_bit() {
        for autodiff in [false, true] {
            let device = if autodiff { Device::flex().autodiff() } else { Device::flex() };
            let d = 40;
            let mut ln = LayerNormConfig::new(d).init(&device);
            let p = |seed, shift| {
                Tensor::<1>::from_data(TensorData::new(values(d, seed, 0.5, shift), [d]), &device)
            };
            ln.gamma = Param::from_tensor(p(1, 1.0)).set_require_grad(autodiff);
            ln.beta = Some(Param::from_tensor(p(2, 0.0)).set_require_grad(autodiff));
            for h_rows in [3, 1] {
                let run = |fused: bool| {
                    let t = |seed, rows| {
                        let t = Tensor::<3>::from_data(
                            TensorData::new(values(2 * rows * d, seed, 3.0, 1.0), [2, rows, d]),
                            &device,
                        );
                        if autodiff { t.require_grad() } else { t }
                    };
                    let (x, h) = (t(3, 3), t(4, h_rows));
                    let y = if fused {
                        add_layer_norm(&ln, 1e-5, x.clone(), h.clone())
                    } else {
                        layer_norm(&ln, 1e-5, x.clone() + h.clone())
                    };
                    let mut all = vec![host(y.clone())];
                    if autodiff {
                        let w = Tensor::<3>::from_data(
                            TensorData::new(values(2 * 3 * d, 6, 1.0, 0.0), [2, 3, d]),
                            &device,
                        );
                        let grads = (y * w).sum().backward();
                        all.push(host(x.grad(&grads).expect("x's gradient")));
                        all.push(host(h.grad(&grads).expect("h's gradient")));
                        all.push(host(ln.gamma.val().grad(&grads).expect("γ's gradient")));
                        all.push(host(
                            ln.beta.as_ref().expect("β").val().grad(&grads).expect("β's gradient"),
                        ));
                    }
                    all
                };
                let (fused, first) = (run(true), run(false));
                assert_eq!(fused.len(), if autodiff { 5 } else { 1 });
                assert_eq!(fused, first, "autodiff {autodiff}, h rows {h_rows}");
            }
        }
    }

    /// The fused kernel itself (as inference runs it) against adding first, on a shape it takes.
    #[test]
    fn fused_kernel_equals_the_kernel_on_the_sum() {
        let (rows, d) = (21, 48);
        let (x, h) = (values(rows * d, 1, 3.0, 1.0), values(rows * d, 2, 1.0, 0.0));
        let (g, b) = (values(d, 3, 0.5, 1.0), values(d, 4, 0.5, 0.0));
        let sum: Vec<f32> = x.iter().zip(&h).map(|(a, b)| a + b).collect();
        assert_eq!(
            kernel::forward(&x, Some(&h), d, &g, &b, 1e-5),
            kernel::forward(&sum, None, d, &g, &b, 1e-5)
        );
    }
}
