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

/// How a weight `[k, n]` lies in its storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WeightLayout {
    /// Row-major `[k, n]`: burn's own layout, and any weight made contiguous.
    Rows,
    /// Row-major `[n, k]` seen transposed: HF's `[out, in]`, kept as loaded by
    /// `layers::load_linear` (no copy at load; the decoding product reads its rows as dot products).
    Cols,
}

/// `w` (f32 `[k, n]`) as it lies, when its storage holds exactly its elements in one of the two
/// layouts; none otherwise.
fn layout_of(w: &FlexTensor) -> Option<WeightLayout> {
    let l = w.layout();
    let s = l.shape();
    if w.dtype() != DType::F32 || s.len() != 2 || l.start_offset() != 0 {
        return None;
    }
    if w.storage::<f32>().len() != s[0] * s[1] {
        return None;
    }
    if l.is_contiguous() {
        Some(WeightLayout::Rows)
    } else if l.strides() == [1, s[0] as isize] {
        Some(WeightLayout::Cols)
    } else {
        None
    }
}

/// `w` (f32 `[k, n]`) without a copy when it lies in one of the two layouts, else made
/// contiguous; and its layout.
pub(super) fn weight_as_laid(w: &FlexTensor) -> (FlexTensor, WeightLayout) {
    match layout_of(w) {
        Some(layout) => (w.clone(), layout),
        None => (w.to_contiguous(), WeightLayout::Rows),
    }
}

/// The `[k, n]` view of a weight returned by [`weight_as_laid`].
fn weight_mat(w: &FlexTensor, layout: WeightLayout, k: usize, n: usize) -> gemm::Mat<'_> {
    match layout {
        WeightLayout::Rows => gemm::Mat::row_major(w.storage(), k, n),
        WeightLayout::Cols => gemm::Mat::row_major(w.storage(), n, k).t(),
    }
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
    let (xc, bc) = (x.to_contiguous(), bias.to_contiguous());
    let (wc, layout) = weight_as_laid(&w);
    let out = gemm::linear(xc.storage(), m, weight_mat(&wc, layout, k, n), bc.storage());
    FlexTensor::from_data(TensorData::new(out, out_shape(&x, n)))
}

/// The recorded node: the input (kept only when the weight trains: it is what the weight's
/// gradient needs) and the weight as it lies (for the input's gradient).
#[derive(Debug)]
struct LinearBackward;

/// What the backward keeps: `x` made contiguous when the weight trains, the weight and its
/// layout, `x`'s shape and `(m, k, n)`.
type LinearState = (Option<FlexTensor>, FlexTensor, WeightLayout, Vec<usize>, (usize, usize, usize));

impl Backward<Flex, 3> for LinearBackward {
    type State = LinearState;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let g = grads.consume::<Flex>(&ops.node).to_contiguous();
        let (x, w, layout, x_shape, (m, k, n)) = ops.state;
        let [node_x, node_w, node_b] = ops.parents;
        let g: &[f32] = g.storage();
        if let Some(node) = node_x {
            let dx = gemm::linear_x_grad(g, m, weight_mat(&w, layout, k, n));
            grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(dx, x_shape)));
        }
        if let (Some(node), Some(x)) = (node_w, x) {
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
    // A frozen weight needs no gradient, so its node need not keep `x` alive until the backward.
    let w_trains = w.is_tracked();
    let nodes = [x.node(), w.node(), bias.node()];
    let xp = x.primitive().to_contiguous();
    let (wp, layout) = weight_as_laid(w.primitive());
    let bp = bias.primitive().clone();
    match LinearBackward.prepare::<C>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let out = flex_linear(xp.clone(), wp.clone(), bp);
            let x_shape = xp.layout().shape().to_vec();
            prep.finish((w_trains.then_some(xp), wp, layout, x_shape, dims), out)
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
