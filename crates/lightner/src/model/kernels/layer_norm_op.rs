//! [`super::layer_norm`] as a burn operation for training: flex computes it, autodiff over flex
//! also records a node whose backward is the kernel's. Inference keeps burn flex's own LayerNorm
//! (already one parallel pass), so `predict` and the server are unchanged.

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

/// `ln.forward(x)` with epsilon `eps` (the layer's own: burn keeps it private). Under autodiff on
/// flex, the kernel and its backward; elsewhere burn's LayerNorm.
pub fn layer_norm<const D: usize>(ln: &LayerNorm, eps: f64, x: Tensor<D>) -> Tensor<D> {
    let device = x.device();
    match &ln.beta {
        Some(beta) if is_flex(&device) && !is_plain_flex(&device) => {
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

/// `x` `[..., d]`, `gamma` and `beta` `[d]`, all f32: `d`; none otherwise.
fn width(x: &FlexTensor, gamma: &FlexTensor, beta: &FlexTensor) -> Option<usize> {
    let d = *x.layout().shape().last()?;
    let f32s = [x, gamma, beta].iter().all(|t| t.dtype() == DType::F32);
    (f32s && gamma.layout().shape().as_slice() == [d] && beta.layout().shape().as_slice() == [d]).then_some(d)
}

/// The output and the rows' statistics; shapes outside [`width`] take burn's LayerNorm.
fn forward(
    x: &FlexTensor,
    gamma: &FlexTensor,
    beta: &FlexTensor,
    eps: f64,
) -> Option<(FlexTensor, Vec<(f32, f32)>)> {
    let d = width(x, gamma, beta)?;
    let (xc, g, b) = (x.to_contiguous(), gamma.to_contiguous(), beta.to_contiguous());
    let (y, stats) = kernel::forward(xc.storage(), d, g.storage(), b.storage(), eps as f32);
    Some((FlexTensor::from_data(TensorData::new(y, x.layout().shape().to_vec())), stats))
}

/// Flex: the kernel's forward.
pub(super) fn flex_layer_norm(x: FlexTensor, gamma: FlexTensor, beta: FlexTensor, eps: f64) -> FlexTensor {
    match forward(&x, &gamma, &beta, eps) {
        Some((y, _)) => y,
        None => Flex::layer_norm(x, gamma, Some(beta), eps),
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
    if width(x.primitive(), gamma.primitive(), beta.primitive()).is_none() {
        return <Autodiff<Flex, C> as ModuleOps<Autodiff<Flex, C>>>::layer_norm(x, gamma, Some(beta), eps);
    }
    let nodes = [x.node(), gamma.node(), beta.node()];
    let (xp, gp, bp) =
        (x.primitive().to_contiguous(), gamma.primitive().to_contiguous(), beta.primitive().clone());
    let Some((y, stats)) = forward(&xp, &gp, &bp, eps) else { unreachable!("width checked above") };
    match LayerNormBackward.prepare::<C>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(prep) => prep.finish((xp, gp, Arc::new(stats)), y),
        OpsKind::UnTracked(prep) => prep.finish(y),
    }
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
    fn inference_keeps_burns_layer_norm_bit_for_bit() {
        let device = Device::flex();
        let ln = LayerNormConfig::new(32).init(&device);
        let x = Tensor::<2>::from_data(TensorData::new(values(4 * 32, 5, 3.0, 1.0), [4, 32]), &device);
        assert_eq!(host(layer_norm(&ln, 1e-5, x.clone())), host(ln.forward(x)));
    }
}
