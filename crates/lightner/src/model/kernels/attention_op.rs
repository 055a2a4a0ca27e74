//! The attention kernel of [`super::attention`] as a burn operation: the tensor-level wrapper,
//! burn's own composition (the fallback off flex, and the reference of the tests), and the two
//! backend implementations — flex computes it, autodiff over flex also records a node whose
//! backward is [`super::attention::backward`].

use super::Kernels;
use super::attention::{self as kernel, Dims, Inputs};
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, AutodiffBackend, Flex};
use burn::tensor::activation::softmax;
use burn::tensor::{Bool, DType, Tensor, TensorData};

/// `softmax(scale·q·kᵀ, hiding keys where `mask` is true) ⊙ keep · v`, head by head.
///
/// - `q` `[B, T, H, dh]` (the query projection reshaped, not scaled); the result has its shape;
/// - `k`, `v` `[B, H, S, dh]` — read in place when they are `[B, S, H, dh]` memory split into heads
///   by `swap_dims`, as the model makes them, else copied once;
/// - `prefix` key and value `[1 or B, H, L, dh]`, read before `k` and `v` and never hidden;
/// - `mask` `[B or 1, 1, 1 or T, L + S]` (true = hidden); each row must leave a key visible, or
///   its weights are uniform over all keys;
/// - `keep`: dropout multipliers `[B, H, T, L + S]` applied to the weights (training only).
///
/// On burn flex (with or without autodiff) this runs [`super::attention`]; elsewhere burn's own
/// composition ([`attention_composed`]). Results differ by the order of the sums only.
pub fn attention(
    q: Tensor<4>,
    k: Tensor<4>,
    v: Tensor<4>,
    prefix: Option<(Tensor<4>, Tensor<4>)>,
    mask: Option<Tensor<4, Bool>>,
    keep: Option<Tensor<4>>,
    scale: f32,
) -> Tensor<4> {
    let [b, t, h, dh] = q.dims();
    let [_, _, s, _] = k.dims();
    let l = prefix.as_ref().map_or(0, |(pk, _)| pk.dims()[2]);
    let n = l + s;
    let fits = k.dims() == [b, h, s, dh]
        && v.dims() == k.dims()
        && prefix.as_ref().is_none_or(|(pk, pv)| {
            let d = pk.dims();
            (d[0] == 1 || d[0] == b) && d[1..] == [h, l, dh] && pv.dims() == d
        })
        && mask.as_ref().is_none_or(|m| {
            let d = m.dims();
            (d[0] == 1 || d[0] == b) && d[1] == 1 && (d[2] == 1 || d[2] == t) && d[3] == n
        })
        && keep.as_ref().is_none_or(|kp| kp.dims() == [b, h, t, n]);
    if !fits || !super::is_flex(&q.device()) {
        return attention_composed(q, k, v, prefix, mask, keep, scale);
    }
    let hidden = match mask {
        Some(m) => {
            let [_, _, tm, _] = m.dims();
            m.float().expand([b, 1, tm, n])
        }
        None => Tensor::<4>::zeros([b, 1, 1, n], &q.device()),
    };
    // The extension passes tensors only: no prefix is a zero-length one, no dropout an empty one.
    let device = q.device();
    let (pk, pv) = prefix
        .unwrap_or_else(|| (Tensor::zeros([1, h, 0, dh], &device), Tensor::zeros([1, h, 0, dh], &device)));
    let keep = keep.unwrap_or_else(|| Tensor::zeros([0, 0, 0, 0], &device));
    Tensor::from_dispatch(<burn::backend::Dispatch as Kernels>::attention(
        q.into_dispatch(),
        k.into_dispatch(),
        v.into_dispatch(),
        pk.into_dispatch(),
        pv.into_dispatch(),
        hidden.into_dispatch(),
        keep.into_dispatch(),
        scale,
    ))
}

/// [`attention`] as burn composes it (HF BART's `BartAttention`): heads split, the prefix
/// concatenated in front of the keys and values, a masked softmax of the scaled product.
pub fn attention_composed(
    q: Tensor<4>,
    k: Tensor<4>,
    v: Tensor<4>,
    prefix: Option<(Tensor<4>, Tensor<4>)>,
    mask: Option<Tensor<4, Bool>>,
    keep: Option<Tensor<4>>,
    scale: f32,
) -> Tensor<4> {
    let [b, t, h, _] = q.dims();
    let q = q.swap_dims(1, 2).mul_scalar(scale);
    let (k, v) = match prefix {
        None => (k, v),
        Some((pk, pv)) => {
            let [_, _, l, dh] = pk.dims();
            (
                Tensor::cat(vec![pk.expand([b, h, l, dh]), k], 2),
                Tensor::cat(vec![pv.expand([b, h, l, dh]), v], 2),
            )
        }
    };
    let mut scores = q.matmul(k.swap_dims(2, 3));
    if let Some(m) = mask {
        let n = scores.dims()[3];
        // The dtype minimum (as HF) rather than -inf: a fully hidden row gives a uniform
        // distribution instead of NaN.
        scores = scores.mask_fill(m.expand([b, h, t, n]), f32::MIN);
    }
    let mut weights = softmax(scores, 3);
    if let Some(keep) = keep {
        weights = weights * keep;
    }
    weights.matmul(v).swap_dims(1, 2)
}

/// One call's tensors on flex, contiguous, with their sizes.
#[derive(Debug, Clone)]
pub(super) struct Args {
    q: FlexTensor,
    k: FlexTensor,
    v: FlexTensor,
    pk: FlexTensor,
    pv: FlexTensor,
    hidden: FlexTensor,
    /// None when the caller passed an empty tensor (no dropout).
    keep: Option<FlexTensor>,
    scale: f32,
    dims: Dims,
}

impl Args {
    /// Reads the sizes from the shapes (checked by [`Inputs::shaped`] before any use).
    #[allow(clippy::too_many_arguments)]
    fn new(
        q: FlexTensor,
        k: FlexTensor,
        v: FlexTensor,
        pk: FlexTensor,
        pv: FlexTensor,
        hidden: FlexTensor,
        keep: FlexTensor,
        scale: f32,
    ) -> Self {
        let shape = |t: &FlexTensor| t.layout().shape().to_vec();
        let at = |d: &[usize], i: usize| d.get(i).copied().unwrap_or(0);
        let (qs, ks, ps, hs) = (shape(&q), shape(&k), shape(&pk), shape(&hidden));
        let dims = Dims {
            b: at(&qs, 0),
            t: at(&qs, 1),
            h: at(&qs, 2),
            dh: at(&qs, 3),
            s: at(&ks, 2),
            l: at(&ps, 2),
            pb: at(&ps, 0),
            tm: at(&hs, 2),
        };
        let keep = (keep.layout().num_elements() > 0).then_some(keep);
        let c = |t: FlexTensor| t.to_contiguous();
        // Keys and values are read as `[B, S, H, dh]`: the model's are the projection reshaped
        // and split by `swap_dims`, so swapping back gives its rows in place, with no copy.
        let rows = |t: FlexTensor| if t.layout().num_dims() == 4 { c(t.transpose(1, 2)) } else { t };
        Self {
            q: c(q),
            k: rows(k),
            v: rows(v),
            pk: c(pk),
            pv: c(pv),
            hidden: c(hidden),
            keep: keep.map(c),
            scale,
            dims,
        }
    }

    /// Whether every tensor is f32 and shaped as the sizes say.
    fn valid(&self) -> bool {
        let ts = [&self.q, &self.k, &self.v, &self.pk, &self.pv, &self.hidden];
        let f32s = ts.iter().all(|t| t.dtype() == DType::F32)
            && self.keep.as_ref().is_none_or(|t| t.dtype() == DType::F32);
        f32s && self.inputs().shaped()
    }

    fn inputs(&self) -> Inputs<'_> {
        fn f(t: &FlexTensor) -> &[f32] {
            if t.dtype() == DType::F32 { t.storage() } else { &[] }
        }
        Inputs {
            q: f(&self.q),
            k: f(&self.k),
            v: f(&self.v),
            pk: f(&self.pk),
            pv: f(&self.pv),
            hidden: f(&self.hidden),
            keep: self.keep.as_ref().map(f),
            scale: self.scale,
            dims: self.dims,
        }
    }

    /// The output `[B, T, H, dh]` and, with `keep_probs`, the weights for the backward. Shapes
    /// the wrapper never passes give NaN rather than a read out of bounds.
    fn forward(&self, keep_probs: bool) -> (FlexTensor, Vec<f32>) {
        let Dims { b, t, h, dh, .. } = self.dims;
        let shape = self.q.layout().shape().to_vec();
        if !self.valid() {
            return (FlexTensor::from_data(TensorData::new(vec![f32::NAN; b * t * h * dh], shape)), vec![]);
        }
        let (out, probs) = kernel::forward(&self.inputs(), keep_probs);
        (FlexTensor::from_data(TensorData::new(out, shape)), probs)
    }
}

/// Flex: the kernel's forward.
#[allow(clippy::too_many_arguments)]
pub(super) fn flex_attention(
    q: FlexTensor,
    k: FlexTensor,
    v: FlexTensor,
    pk: FlexTensor,
    pv: FlexTensor,
    hidden: FlexTensor,
    keep: FlexTensor,
    scale: f32,
) -> FlexTensor {
    Args::new(q, k, v, pk, pv, hidden, keep, scale).forward(false).0
}

/// The recorded node: the call's inputs and the weights of its forward.
#[derive(Debug)]
struct AttentionBackward;

impl Backward<Flex, 5> for AttentionBackward {
    type State = (Args, std::sync::Arc<Vec<f32>>);

    fn backward(self, ops: Ops<Self::State, 5>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let grad = grads.consume::<Flex>(&ops.node).to_contiguous();
        let (args, probs) = ops.state;
        let x = args.inputs();
        let Dims { b, t, h, s, l, pb, dh, .. } = args.dims;
        let g = if args.valid() && grad.dtype() == DType::F32 && grad.storage::<f32>().len() == b * t * h * dh
        {
            kernel::backward(&x, &probs, grad.storage())
        } else {
            let nan = |n: usize| vec![f32::NAN; n];
            let (kv, p) = (b * h * s * dh, pb * h * l * dh);
            kernel::Grads { q: nan(b * t * h * dh), k: nan(kv), v: nan(kv), pk: nan(p), pv: nan(p) }
        };
        let [nq, nk, nv, npk, npv] = ops.parents;
        // The keys' and values' gradients come as `[B, S, H, dh]` and are handed back as that
        // memory seen as `[B, H, S, dh]`: the shape of the inputs, and no copy for a model's
        // split projection to undo.
        let outs = [
            (nq, g.q, vec![b, t, h, dh], false),
            (nk, g.k, vec![b, s, h, dh], true),
            (nv, g.v, vec![b, s, h, dh], true),
            (npk, g.pk, vec![pb, h, l, dh], false),
            (npv, g.pv, vec![pb, h, l, dh], false),
        ];
        for (node, data, shape, rows) in outs {
            if let Some(node) = node {
                let grad = FlexTensor::from_data(TensorData::new(data, shape));
                grads.register::<Flex>(node.id, if rows { grad.transpose(1, 2) } else { grad });
            }
        }
    }
}

/// Autodiff over flex: the kernel's forward, and a node whose backward is the kernel's.
#[allow(clippy::too_many_arguments)]
pub(super) fn autodiff_attention<C: CheckpointStrategy>(
    q: FloatTensor<Autodiff<Flex, C>>,
    k: FloatTensor<Autodiff<Flex, C>>,
    v: FloatTensor<Autodiff<Flex, C>>,
    pk: FloatTensor<Autodiff<Flex, C>>,
    pv: FloatTensor<Autodiff<Flex, C>>,
    hidden: FloatTensor<Autodiff<Flex, C>>,
    keep: FloatTensor<Autodiff<Flex, C>>,
    scale: f32,
) -> FloatTensor<Autodiff<Flex, C>> {
    type Ad<C> = Autodiff<Flex, C>;
    let inner = |t: FloatTensor<Ad<C>>| <Ad<C> as AutodiffBackend>::inner(t);
    let nodes = [q.node(), k.node(), v.node(), pk.node(), pv.node()];
    let args = Args::new(
        q.primitive().clone(),
        k.primitive().clone(),
        v.primitive().clone(),
        pk.primitive().clone(),
        pv.primitive().clone(),
        inner(hidden),
        inner(keep),
        scale,
    );
    match AttentionBackward.prepare::<C>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let (out, probs) = args.forward(true);
            prep.finish((args, std::sync::Arc::new(probs)), out)
        }
        OpsKind::UnTracked(prep) => prep.finish(args.forward(false).0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::kernels::test_support::{close, host};
    use burn::tensor::Device;

    fn values(n: usize, seed: usize, scale: f32) -> Vec<f32> {
        crate::model::kernels::test_support::values(n, seed, scale, 0.0)
    }

    /// One configuration of the tests: sizes, and which optional parts are present.
    #[derive(Clone, Copy, Debug)]
    struct Case {
        b: usize,
        t: usize,
        h: usize,
        s: usize,
        dh: usize,
        l: usize,
        pb: usize,
        mask_rows: usize,
        dropout: bool,
        /// Keys and values made as the model makes them, `[B, S, H, dh]` seen as `[B, H, S, dh]`
        /// (else contiguous `[B, H, S, dh]`).
        kv_rows: bool,
    }

    impl Case {
        /// A key or value tensor of [`tensors`] as the attention takes it, `[B, H, S, dh]`.
        fn heads(&self, x: &Tensor<4>) -> Tensor<4> {
            if self.kv_rows { x.clone().swap_dims(1, 2) } else { x.clone() }
        }
    }

    /// The case's tensors on `device`; `grad` makes the five inputs require a gradient. Keys and
    /// values in their storage layout (see [`Case::heads`]).
    #[allow(clippy::type_complexity)]
    fn tensors(
        c: Case,
        device: &Device,
        grad: bool,
    ) -> (Tensor<4>, Tensor<4>, Tensor<4>, Option<(Tensor<4>, Tensor<4>)>, Tensor<4, Bool>, Option<Tensor<4>>)
    {
        let t4 = |dims: [usize; 4], seed: usize, scale: f32| {
            let x = Tensor::<4>::from_data(
                TensorData::new(values(dims.iter().product(), seed, scale), dims),
                device,
            );
            if grad { x.require_grad() } else { x }
        };
        let n = c.l + c.s;
        let q = t4([c.b, c.t, c.h, c.dh], 1, 1.0);
        let kv = if c.kv_rows { [c.b, c.s, c.h, c.dh] } else { [c.b, c.h, c.s, c.dh] };
        let (k, v) = (t4(kv, 2, 1.0), t4(kv, 3, 1.0));
        let prefix =
            (c.l > 0).then(|| (t4([c.pb, c.h, c.l, c.dh], 4, 1.0), t4([c.pb, c.h, c.l, c.dh], 5, 1.0)));
        // Prefix keys are never hidden; of the own keys, a causal pattern when there is one row
        // per query, else the last keys of some sequences (padding).
        let hide: Vec<bool> = (0..c.b * c.mask_rows * n)
            .map(|i| {
                let (seq, row, j) = (i / (c.mask_rows * n), (i / n) % c.mask_rows, i % n);
                j >= c.l
                    && if c.mask_rows > 1 { j - c.l > row } else { seq % 2 == 1 && j + 2 >= n && j > c.l }
            })
            .collect();
        let mask = Tensor::<4, Bool>::from_data(TensorData::new(hide, [c.b, 1, c.mask_rows, n]), device);
        let keep = c.dropout.then(|| {
            let k: Vec<f32> = (0..c.b * c.h * c.t * n).map(|i| if i % 7 == 3 { 0.0 } else { 1.25 }).collect();
            Tensor::<4>::from_data(TensorData::new(k, [c.b, c.h, c.t, n]), device)
        });
        (q, k, v, prefix, mask, keep)
    }

    const CASES: [Case; 4] = [
        // An encoder layer with its prompt prefix, padding in odd sequences.
        Case { b: 3, t: 6, h: 2, s: 6, dh: 8, l: 3, pb: 1, mask_rows: 1, dropout: false, kv_rows: true },
        // A causal decoder layer with a per-sequence prefix and dropout.
        Case { b: 2, t: 5, h: 3, s: 5, dh: 12, l: 2, pb: 2, mask_rows: 5, dropout: true, kv_rows: true },
        // No prefix, odd head width.
        Case { b: 2, t: 4, h: 2, s: 7, dh: 5, l: 0, pb: 1, mask_rows: 1, dropout: false, kv_rows: false },
        // bart-base's heads on a short sentence.
        Case { b: 1, t: 3, h: 12, s: 9, dh: 64, l: 10, pb: 1, mask_rows: 1, dropout: true, kv_rows: false },
    ];

    #[test]
    fn forward_equals_burns_composition() {
        let device = Device::flex();
        for c in CASES {
            let (q, k, v, prefix, mask, keep) = tensors(c, &device, false);
            let scale = (c.dh as f32).powf(-0.5);
            let (k, v) = (c.heads(&k), c.heads(&v));
            let ours = attention(
                q.clone(),
                k.clone(),
                v.clone(),
                prefix.clone(),
                Some(mask.clone()),
                keep.clone(),
                scale,
            );
            let burns = attention_composed(q, k, v, prefix, Some(mask), keep, scale);
            // Scores up to dh in magnitude; weights and values at most 1.25: a few roundings.
            close(&host(ours), &host(burns), 2e-6 * c.dh as f32, &format!("{c:?}"));
        }
    }

    #[test]
    fn gradients_equal_burns_composition() {
        let device = Device::flex().autodiff();
        for c in CASES {
            let scale = (c.dh as f32).powf(-0.5);
            let run = |ours: bool| {
                let (q, k, v, prefix, mask, keep) = tensors(c, &device, true);
                let f = if ours { attention } else { attention_composed };
                let out = f(q.clone(), c.heads(&k), c.heads(&v), prefix.clone(), Some(mask), keep, scale);
                // A weighted sum, so that the incoming gradient is not uniform.
                let w = Tensor::<4>::from_data(
                    TensorData::new(values(out.dims().iter().product(), 9, 1.0), out.dims()),
                    &device,
                );
                let grads = (out.clone() * w).sum().backward();
                let g = |x: &Tensor<4>| host(x.grad(&grads).expect("a gradient"));
                let mut all = vec![host(out), g(&q), g(&k), g(&v)];
                if let Some((pk, pv)) = &prefix {
                    all.push(g(pk));
                    all.push(g(pv));
                }
                all
            };
            let (ours, burns) = (run(true), run(false));
            for (i, (a, b)) in ours.iter().zip(&burns).enumerate() {
                close(a, b, 5e-6 * c.dh as f32, &format!("{c:?}, tensor {i}"));
            }
        }
    }

    #[test]
    fn no_gradient_is_recorded_for_constant_inputs() {
        let device = Device::flex().autodiff();
        let c = CASES[0];
        let (q, k, v, prefix, mask, _) = tensors(c, &device, false);
        let (k, v) = (c.heads(&k), c.heads(&v));
        let (pk, pv) = prefix.expect("case 0 has a prefix");
        let pk = pk.require_grad();
        // Only the prefix is tracked (an encoder's first layer): its gradient matches burn's.
        let run = |ours: bool| {
            let f = if ours { attention } else { attention_composed };
            let out = f(
                q.clone(),
                k.clone(),
                v.clone(),
                Some((pk.clone(), pv.clone())),
                Some(mask.clone()),
                None,
                0.3,
            );
            let grads = out.sum().backward();
            host(pk.grad(&grads).expect("the prefix has a gradient"))
        };
        close(&run(true), &run(false), 5e-5, "prefix key gradient");
    }

    #[test]
    fn a_sentence_gets_the_same_bits_alone_and_in_a_padded_batch() {
        let device = Device::flex();
        let (h, dh, l) = (4, 16, 3);
        let t4 = |dims: [usize; 4], seed: usize| {
            Tensor::<4>::from_data(TensorData::new(values(dims.iter().product(), seed, 1.0), dims), &device)
        };
        // Sentence 0 has 5 tokens; in the batch it is padded to 8 beside a longer one.
        let (q, k, v) = (t4([2, 8, h, dh], 1), t4([2, h, 8, dh], 2), t4([2, h, 8, dh], 3));
        let prefix = (t4([1, h, l, dh], 4), t4([1, h, l, dh], 5));
        let hide: Vec<bool> = (0..2 * (l + 8)).map(|i| i < l + 8 && i >= l + 5).collect();
        let mask = Tensor::<4, Bool>::from_data(TensorData::new(hide, [2, 1, 1, l + 8]), &device);
        let batched =
            host(attention(q.clone(), k.clone(), v.clone(), Some(prefix.clone()), Some(mask), None, 0.25));
        let one = |x: Tensor<4>, axis: usize| x.narrow(0, 0, 1).narrow(axis, 0, 5);
        let alone = host(attention(one(q, 1), one(k, 2), one(v, 2), Some(prefix), None, None, 0.25));
        assert_eq!(alone, batched[..5 * h * dh], "the first 5 positions of sentence 0");
    }
}
