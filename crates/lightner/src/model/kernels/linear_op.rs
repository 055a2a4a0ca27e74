//! [`super::gemm::linear`] as a burn operation: flex computes it, autodiff over flex also records
//! a node whose backward is [`super::gemm`]'s (`x`'s gradient `g·wᵀ`, the weight's `xᵀ·g`, the
//! bias's column sums — each only for an input that needs it, as burn's own linear).

use super::gemm;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::ModuleOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Flex};
use burn::tensor::{DType, TensorData};

/// `x` `[..., k]`, `w` `[k, n]`, `bias` `[n]`, all f32: the sizes `(m, k, n)`; none otherwise.
fn sizes(x: &FlexTensor, w: &FlexTensor, bias: &FlexTensor) -> Option<(usize, usize, usize)> {
    let (xs, ws, bs) = (x.layout().shape(), w.layout().shape(), bias.layout().shape());
    let f32s = [x, w, bias].iter().all(|t| t.dtype() == DType::F32);
    let k = *xs.last()?;
    (f32s && ws.len() == 2 && ws[0] == k && bs.len() == 1 && bs[0] == ws[1] && k > 0)
        .then(|| (xs.iter().product::<usize>() / k, k, ws[1]))
}

/// The result's shape: `x`'s with the last axis `n`.
fn out_shape(x: &FlexTensor, n: usize) -> Vec<usize> {
    let mut dims = x.layout().shape().to_vec();
    if let Some(last) = dims.last_mut() {
        *last = n;
    }
    dims
}

/// Flex: `x·w + bias`; shapes outside [`sizes`] (never passed by `kernels::linear`) take burn's.
pub(super) fn flex_linear(x: FlexTensor, w: FlexTensor, bias: FlexTensor) -> FlexTensor {
    let Some((m, k, n)) = sizes(&x, &w, &bias) else {
        return Flex::linear(x, w, Some(bias));
    };
    let (xc, wc, bc) = (x.to_contiguous(), w.to_contiguous(), bias.to_contiguous());
    let out = gemm::linear(xc.storage(), m, wc.storage(), k, n, bc.storage());
    FlexTensor::from_data(TensorData::new(out, out_shape(&x, n)))
}

/// The recorded node: the input (for the weight's gradient) and the weight (for the input's).
#[derive(Debug)]
struct LinearBackward;

impl Backward<Flex, 3> for LinearBackward {
    /// `x` and `w` made contiguous, and `(m, k, n)`.
    type State = (FlexTensor, FlexTensor, (usize, usize, usize));

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let g = grads.consume::<Flex>(&ops.node).to_contiguous();
        let (x, w, (m, k, n)) = ops.state;
        let [node_x, node_w, node_b] = ops.parents;
        let g: &[f32] = g.storage();
        if let Some(node) = node_x {
            let dx = gemm::linear_x_grad(g, m, w.storage(), k, n);
            grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(dx, out_shape(&x, k))));
        }
        if let Some(node) = node_w {
            let dw = gemm::linear_w_grad(x.storage(), m, k, g, n);
            grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(dw, [k, n])));
        }
        if let Some(node) = node_b {
            let db = gemm::linear_bias_grad(g, n);
            grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(db, [n])));
        }
    }
}

/// Autodiff over flex: [`flex_linear`], and a node whose backward is [`gemm`]'s.
pub(super) fn autodiff_linear<C: CheckpointStrategy>(
    x: FloatTensor<Autodiff<Flex, C>>,
    w: FloatTensor<Autodiff<Flex, C>>,
    bias: FloatTensor<Autodiff<Flex, C>>,
) -> FloatTensor<Autodiff<Flex, C>> {
    let Some(dims) = sizes(x.primitive(), w.primitive(), bias.primitive()) else {
        return <Autodiff<Flex, C> as ModuleOps<Autodiff<Flex, C>>>::linear(x, w, Some(bias));
    };
    let nodes = [x.node(), w.node(), bias.node()];
    let (xp, wp, bp) =
        (x.primitive().to_contiguous(), w.primitive().to_contiguous(), bias.primitive().clone());
    match LinearBackward.prepare::<C>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let out = flex_linear(xp.clone(), wp.clone(), bp);
            prep.finish((xp, wp, dims), out)
        }
        OpsKind::UnTracked(prep) => prep.finish(flex_linear(xp, wp, bp)),
    }
}

#[cfg(test)]
mod tests {
    use crate::model::kernels::linear;
    use crate::model::kernels::test_support::{close, host};
    use burn::module::Param;
    use burn::nn::Linear;
    use burn::tensor::{Device, Tensor, TensorData};

    fn values(n: usize, seed: usize, scale: f32) -> Vec<f32> {
        crate::model::kernels::test_support::values(n, seed, scale, 0.0)
    }

    /// A layer on `device`, its weight and bias tracked when `train`.
    fn layer(d_in: usize, d_out: usize, device: &Device, train: bool) -> Linear {
        let w = Tensor::<2>::from_data(TensorData::new(values(d_in * d_out, 1, 0.1), [d_in, d_out]), device);
        let b = Tensor::<1>::from_data(TensorData::new(values(d_out, 2, 0.1), [d_out]), device);
        Linear {
            weight: Param::from_tensor(w).set_require_grad(train),
            bias: Some(Param::from_tensor(b).set_require_grad(train)),
        }
    }

    #[test]
    fn forward_and_gradients_equal_burns_linear() {
        let device = Device::flex().autodiff();
        for train_weights in [false, true] {
            let l = layer(70, 45, &device, train_weights);
            let run = |ours: bool| {
                let x = Tensor::<3>::from_data(
                    TensorData::new(values(3 * 11 * 70, 3, 1.0), [3, 11, 70]),
                    &device,
                )
                .require_grad();
                let y = if ours { linear(&l, x.clone()) } else { l.forward(x.clone()) };
                let w = Tensor::<3>::from_data(
                    TensorData::new(values(3 * 11 * 45, 4, 1.0), [3, 11, 45]),
                    &device,
                );
                let grads = (y.clone() * w).sum().backward();
                let mut all = vec![host(y), host(x.grad(&grads).expect("x's gradient"))];
                if train_weights {
                    all.push(host(l.weight.val().grad(&grads).expect("the weight's gradient")));
                    all.push(host(
                        l.bias.as_ref().expect("a bias").val().grad(&grads).expect("the bias's gradient"),
                    ));
                } else {
                    assert!(l.weight.val().grad(&grads).is_none(), "a frozen weight gets no gradient");
                }
                all
            };
            for (i, (a, b)) in run(true).iter().zip(&run(false)).enumerate() {
                close(a, b, 2e-6, &format!("tensor {i}, weights trained: {train_weights}"));
            }
        }
    }

    #[test]
    fn plain_flex_forward_equals_burns_and_a_sentence_alone_equals_it_batched() {
        let device = Device::flex();
        let l = layer(64, 40, &device, false);
        let x = Tensor::<3>::from_data(TensorData::new(values(4 * 9 * 64, 5, 1.0), [4, 9, 64]), &device);
        let batched = host(linear(&l, x.clone()));
        close(&batched, &host(l.forward(x.clone())), 2e-6, "against burn");
        let alone = host(linear(&l, x.narrow(0, 2, 1)));
        assert_eq!(alone, batched[2 * 9 * 40..3 * 9 * 40], "sentence 2");
    }
}
