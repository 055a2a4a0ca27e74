//! Multi-head attention of a whole sequence — the teacher-forced forward of training, `eval` and
//! the encoder — in one pass per head, forward and backward, with the prompt prefix read where it
//! lies instead of concatenated in front of the keys.
//!
//! burn composes the same from a split of the queries into heads (a copy), the prefix
//! concatenation (a copy of every key and value), a batched product, a mask fill, a four-pass
//! softmax, the dropout product, a second batched product and the merge of the heads (a copy);
//! its backward runs each of those again. Most of them are element-wise passes that burn flex
//! runs on the calling thread alone, so at two threads the second core waited for them
//! (`docs/performance.md`, "The attention of a whole sequence").
//!
//! The formula is burn's composition, element for element (HF BART's `BartAttention`):
//! `q` is scaled first (`q·scale`, as `mul_scalar`), `s_ij = q_i·k_j`, hidden keys set to
//! `f32::MIN` (a fully hidden row gives uniform weights, not NaN), `p = softmax(s)` as
//! `exp(s − max) / Σ exp(s − max)`, the dropout multipliers applied to `p`, `out_i = Σ_j p_ij v_j`.
//! The backward is the chain rule through the same steps:
//!
//! - `dv_j = Σ_i p̃_ij g_i` with `p̃ = p ⊙ keep` and `g` the gradient of the output;
//! - `dp_ij = (g_i·v_j) keep_ij`, then the softmax's `ds_ij = p_ij (dp_ij − Σ_j dp_ij p_ij)`, zero
//!   where the key is hidden (the mask fill passes no gradient there);
//! - `dq_i = scale · Σ_j ds_ij k_j` and `dk_j = Σ_i ds_ij (scale · q_i)`.
//!
//! Layouts: queries, keys, values and the result are `[B, T or S, H, dh]` (the projections'
//! `[B, T, d]` as they come: every head reads its rows in place, and each head's result and
//! gradients are gathered into that layout by one parallel pass, instead of burn's split and
//! merge copies on the calling thread); the prefix `[PB, H, L, dh]` with `PB` = 1 (shared by the batch) or `B`; `hidden` `[B, TM, L + S]` with `TM` = 1 (one row
//! for every query) or `T`; the dropout multipliers `[B, H, T, L + S]`. Key `j < L` is prefix
//! row `j`, key `L + j` is row `j` of `k`. Heads run on the rayon pool; a head's result depends
//! only on its own inputs, never on the batch or the thread count.

use super::erf::exp;
use super::fresh::Fresh;
use pulp::{Arch, Simd, WithSimd};
use rayon::prelude::*;

/// The sizes of one attention call (see the module's layouts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dims {
    /// Sequences.
    pub b: usize,
    /// Query positions per sequence.
    pub t: usize,
    /// Heads.
    pub h: usize,
    /// Projected keys per sequence (after the prefix).
    pub s: usize,
    /// Prefix keys.
    pub l: usize,
    /// Prefix batch: 1 (shared) or `b`.
    pub pb: usize,
    /// Head width.
    pub dh: usize,
    /// Rows of `hidden` per sequence: 1 or `t`.
    pub tm: usize,
}

impl Dims {
    /// Keys per head, prefix included.
    pub fn keys(&self) -> usize {
        self.l + self.s
    }
}

/// The inputs of one call, as host slices in the module's layouts.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// `[B, T, H, dh]`, not yet scaled.
    pub q: &'a [f32],
    /// `[B, S, H, dh]`.
    pub k: &'a [f32],
    /// `[B, S, H, dh]`.
    pub v: &'a [f32],
    /// `[PB, H, L, dh]` (empty when `L` = 0).
    pub pk: &'a [f32],
    /// `[PB, H, L, dh]`.
    pub pv: &'a [f32],
    /// `[B, TM, L + S]`: non-zero = the key is hidden.
    pub hidden: &'a [f32],
    /// `[B, H, T, L + S]` dropout multipliers (0 or 1/(1−p)), or none.
    pub keep: Option<&'a [f32]>,
    /// The queries' scale (`dh^−½`).
    pub scale: f32,
    /// Their sizes.
    pub dims: Dims,
}

impl Inputs<'_> {
    /// Whether every slice has the length its dims say.
    pub fn shaped(&self) -> bool {
        let Dims { b, t, h, s, l, pb, dh, tm } = self.dims;
        let n = self.dims.keys();
        (pb == 1 || pb == b)
            && (tm == 1 || tm == t)
            && self.q.len() == b * t * h * dh
            && self.k.len() == b * s * h * dh
            && self.v.len() == self.k.len()
            && self.pk.len() == pb * h * l * dh
            && self.pv.len() == self.pk.len()
            && self.hidden.len() == b * tm * n
            && self.keep.is_none_or(|k| k.len() == b * h * t * n)
    }

    /// Head `head` (= sequence · H + head index): its keys' and values' prefix and own rows.
    fn head(&self, head: usize) -> HeadView<'_> {
        let Dims { b: _, t, h, s, l, pb, dh, tm } = self.dims;
        let (seq, hi) = (head / h, head % h);
        let n = self.dims.keys();
        let p = (if pb == 1 { 0 } else { seq } * h + hi) * l * dh;
        let own = seq * s * h * dh..(seq + 1) * s * h * dh;
        HeadView {
            pk: &self.pk[p..p + l * dh],
            pv: &self.pv[p..p + l * dh],
            k: &self.k[own.clone()],
            v: &self.v[own],
            offset: hi * dh,
            stride: h * dh,
            hidden: &self.hidden[seq * tm * n..(seq + 1) * tm * n],
            keep: self.keep.map(|k| &k[head * t * n..(head + 1) * t * n]),
        }
    }

    /// Query `i` of head `head`, `[dh]`.
    fn query(&self, head: usize, i: usize) -> &[f32] {
        let Dims { t, h, dh, .. } = self.dims;
        let (seq, hi) = (head / h, head % h);
        &self.q[((seq * t + i) * h + hi) * dh..][..dh]
    }
}

/// One head's share of the inputs.
struct HeadView<'a> {
    pk: &'a [f32],
    pv: &'a [f32],
    /// The sequence's keys and values, every head: the head's row `j` is
    /// `k[j·stride + offset..][..dh]`.
    k: &'a [f32],
    v: &'a [f32],
    offset: usize,
    stride: usize,
    hidden: &'a [f32],
    keep: Option<&'a [f32]>,
}

impl<'a> HeadView<'a> {
    /// The head's key rows (or, with `values`, value rows), prefix first. `dh` > 0.
    #[inline(always)]
    fn rows(&self, dh: usize, values: bool) -> impl Iterator<Item = &'a [f32]> + use<'a> {
        let (pre, own) = if values { (self.pv, self.v) } else { (self.pk, self.k) };
        let offset = self.offset;
        pre.chunks_exact(dh).chain(own.chunks_exact(self.stride).map(move |r| &r[offset..offset + dh]))
    }
}

/// The gradients of one call, in the layouts of their inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Grads {
    /// `[B, T, H, dh]`.
    pub q: Vec<f32>,
    /// `[B, S, H, dh]`.
    pub k: Vec<f32>,
    /// `[B, S, H, dh]`.
    pub v: Vec<f32>,
    /// `[PB, H, L, dh]` (summed over the batch when the prefix is shared).
    pub pk: Vec<f32>,
    /// `[PB, H, L, dh]`.
    pub pv: Vec<f32>,
}

/// The attention's output `[B, T, H, dh]`, and with `keep_probs` the softmax weights
/// `[B, H, T, L + S]` (before dropout) that [`backward`] needs; otherwise an empty vector.
/// The caller checks [`Inputs::shaped`] first.
pub fn forward(x: &Inputs<'_>, keep_probs: bool) -> (Vec<f32>, Vec<f32>) {
    let Dims { b, t, h, dh, .. } = x.dims;
    let n = x.dims.keys();
    let mut heads_out = Fresh::new(b * h * t * dh);
    let mut probs = Fresh::new(if keep_probs { b * h * t * n } else { 0 });
    let work: Vec<_> = heads_out.split(b * h).into_iter().zip(probs.split(b * h)).collect();
    work.into_par_iter().enumerate().for_each(|(head, (out, p))| {
        let probs = keep_probs.then(|| p.zeroed());
        Arch::new().dispatch(HeadForward { x, head, out: out.zeroed(), probs });
    });
    // Without `keep_probs` the buffer is empty, and so is its vector.
    (merge_heads(&heads_out.finish(), b, h, t, dh), probs.finish())
}

/// The gradients of [`forward`]'s output for `grad` `[B, T, H, dh]`, given its `probs`.
pub fn backward(x: &Inputs<'_>, probs: &[f32], grad: &[f32]) -> Grads {
    let Dims { b, t, h, s, l, pb, dh, .. } = x.dims;
    let mut dq_heads = Fresh::new(b * h * t * dh);
    // Keys and values head by head (`[B, H, S, dh]`), gathered into their `[B, S, H, dh]` below.
    let (mut dk, mut dv) = (Fresh::new(b * h * s * dh), Fresh::new(b * h * s * dh));
    // The prefix's gradient per sequence first; summed over the batch below when shared.
    let (mut dpk, mut dpv) = (Fresh::new(b * h * l * dh), Fresh::new(b * h * l * dh));
    let n = x.dims.keys();
    let work: Vec<_> = dq_heads
        .split(b * h)
        .into_iter()
        .zip(dk.split(b * h))
        .zip(dv.split(b * h))
        .zip(dpk.split(b * h))
        .zip(dpv.split(b * h))
        .collect();
    work.into_par_iter().enumerate().for_each(|(head, ((((dq, dk), dv), dpk), dpv))| {
        let probs = &probs[head * t * n..(head + 1) * t * n];
        let out = HeadGrads {
            dq: dq.zeroed(),
            dk: dk.zeroed(),
            dv: dv.zeroed(),
            dpk: dpk.zeroed(),
            dpv: dpv.zeroed(),
        };
        Arch::new().dispatch(HeadBackward { x, head, probs, grad, out });
    });
    let (dq_heads, dk, dv, dpk, dpv) =
        (dq_heads.finish(), dk.finish(), dv.finish(), dpk.finish(), dpv.finish());
    let (pk, pv) = if pb == b { (dpk, dpv) } else { (sum_over_batch(&dpk, b), sum_over_batch(&dpv, b)) };
    Grads {
        q: merge_heads(&dq_heads, b, h, t, dh),
        k: merge_heads(&dk, b, h, s, dh),
        v: merge_heads(&dv, b, h, s, dh),
        pk,
        pv,
    }
}

/// `[B, H, T, dh]` → `[B, T, H, dh]`, one output row (a sequence's position) per task.
fn merge_heads(heads: &[f32], b: usize, h: usize, t: usize, dh: usize) -> Vec<f32> {
    let mut out = Fresh::new(b * t * h * dh);
    out.chunks(h * dh).into_par_iter().with_min_len(8).enumerate().for_each(|(row, o)| {
        let (seq, i) = (row / t, row % t);
        for (hi, dst) in o.zeroed().chunks_exact_mut(dh).enumerate() {
            dst.copy_from_slice(&heads[((seq * h + hi) * t + i) * dh..][..dh]);
        }
    });
    out.finish()
}

/// Sums `[B, rest…]` over its first axis, in batch order.
fn sum_over_batch(x: &[f32], b: usize) -> Vec<f32> {
    let per = x.len() / b.max(1);
    let mut out = vec![0.0f32; per];
    for part in x.chunks_exact(per.max(1)) {
        for (o, v) in out.iter_mut().zip(part) {
            *o += v;
        }
    }
    out
}

/// One head of [`forward`], compiled once per instruction set by [`pulp`].
struct HeadForward<'a, 'b> {
    x: &'a Inputs<'a>,
    head: usize,
    out: &'b mut [f32],
    probs: Option<&'b mut [f32]>,
}

impl WithSimd for HeadForward<'_, '_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let HeadForward { x, head, out, probs } = self;
        let Dims { t, dh, tm, .. } = x.dims;
        let n = x.dims.keys();
        if dh == 0 || n == 0 {
            return;
        }
        let view = x.head(head);
        let (keys, values): (Vec<&[f32]>, Vec<&[f32]>) =
            (view.rows(dh, false).collect(), view.rows(dh, true).collect());
        let mut own = Vec::new();
        let probs = match probs {
            Some(p) => p,
            None => {
                own.resize(t * n, 0.0);
                &mut own[..]
            }
        };
        let (mut qs, mut weights) = (vec![0.0f32; dh], vec![0.0f32; n]);
        for i in 0..t {
            for (s, &v) in qs.iter_mut().zip(x.query(head, i)) {
                *s = v * x.scale;
            }
            let hidden = &view.hidden[if tm == 1 { 0 } else { i } * n..][..n];
            let p = &mut probs[i * n..(i + 1) * n];
            dots(simd, &qs, &keys, p);
            softmax_row(hidden, p);
            let o = &mut out[i * dh..(i + 1) * dh];
            match view.keep.map(|k| &k[i * n..(i + 1) * n]) {
                None => weighted_sum(simd, p, &values, o),
                Some(keep) => {
                    for ((w, &pj), &kj) in weights.iter_mut().zip(p.iter()).zip(keep) {
                        *w = pj * kj;
                    }
                    weighted_sum(simd, &weights, &values, o);
                }
            }
        }
    }
}

/// Turns one query's scores `p` into its weights in place: hidden keys at `f32::MIN`, then
/// `exp(s − max) / Σ exp(s − max)`.
#[inline(always)]
fn softmax_row(hidden: &[f32], p: &mut [f32]) {
    let mut max = f32::NEG_INFINITY;
    for (s, &hid) in p.iter_mut().zip(hidden) {
        if hid != 0.0 {
            *s = f32::MIN;
        }
        max = max.max(*s);
    }
    // The GELU kernel's branch-free exp (relative error under 3·10⁻⁷), so that the loop
    // vectorises; the sum stays in key order.
    for s in p.iter_mut() {
        *s = exp(*s - max);
    }
    let total: f32 = p.iter().sum();
    for s in p.iter_mut() {
        *s /= total;
    }
}

/// One head's share of [`backward`]'s outputs.
struct HeadGrads<'b> {
    dq: &'b mut [f32],
    dk: &'b mut [f32],
    dv: &'b mut [f32],
    dpk: &'b mut [f32],
    dpv: &'b mut [f32],
}

/// One head of [`backward`], compiled once per instruction set by [`pulp`].
struct HeadBackward<'a, 'b> {
    x: &'a Inputs<'a>,
    head: usize,
    probs: &'a [f32],
    grad: &'a [f32],
    out: HeadGrads<'b>,
}

impl WithSimd for HeadBackward<'_, '_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let HeadBackward { x, head, probs, grad, out } = self;
        let HeadGrads { dq, dk, dv, dpk, dpv } = out;
        let Dims { t, h, dh, tm, .. } = x.dims;
        let n = x.dims.keys();
        if dh == 0 || n == 0 || t == 0 {
            return;
        }
        let view = x.head(head);
        let (keys, values): (Vec<&[f32]>, Vec<&[f32]>) =
            (view.rows(dh, false).collect(), view.rows(dh, true).collect());
        let (seq, hi) = (head / h, head % h);
        // The scaled queries and the incoming gradient's rows, `[t][dh]` each.
        let mut qs = vec![0.0f32; t * dh];
        for (i, row) in qs.chunks_exact_mut(dh).enumerate() {
            for (s, &v) in row.iter_mut().zip(x.query(head, i)) {
                *s = v * x.scale;
            }
        }
        let qs_rows: Vec<&[f32]> = qs.chunks_exact(dh).collect();
        let g_rows: Vec<&[f32]> = (0..t).map(|i| &grad[((seq * t + i) * h + hi) * dh..][..dh]).collect();
        // Per key, the weights after dropout (p̃) and the softmax's gradient (ds) of every query:
        // `[n][t]`, so that each key's gradient is one weighted sum over the queries, kept in
        // registers, instead of t updates of its row in memory.
        let (mut pt, mut dst) = (vec![0.0f32; n * t], vec![0.0f32; n * t]);
        let (mut ds, mut dqs) = (vec![0.0f32; n], vec![0.0f32; dh]);
        for (i, g) in g_rows.iter().enumerate() {
            let p = &probs[i * n..(i + 1) * n];
            let keep = view.keep.map(|k| &k[i * n..(i + 1) * n]);
            let hidden = &view.hidden[if tm == 1 { 0 } else { i } * n..][..n];
            // Weights: dp_ij = (g_i·v_j) keep_ij.
            dots(simd, g, &values, &mut ds);
            let mut dot_pp = 0.0f32;
            for (j, dsj) in ds.iter_mut().enumerate() {
                let kj = keep.map_or(1.0, |k| k[j]);
                pt[j * t + i] = p[j] * kj;
                *dsj *= kj;
                dot_pp += *dsj * p[j];
            }
            // Softmax: ds_ij = p_ij (dp_ij − Σ_j dp_ij p_ij), none through hidden keys.
            for (j, ((dsj, &pj), &hid)) in ds.iter_mut().zip(p).zip(hidden).enumerate() {
                *dsj = if hid != 0.0 { 0.0 } else { pj * (*dsj - dot_pp) };
                dst[j * t + i] = *dsj;
            }
            // Queries: dq_i = scale · Σ_j ds_ij k_j.
            weighted_sum(simd, &ds, &keys, &mut dqs);
            for (o, &d) in dq[i * dh..(i + 1) * dh].iter_mut().zip(&dqs) {
                *o = d * x.scale;
            }
        }
        // Values: dv_j = Σ_i p̃_ij g_i. Keys: dk_j = Σ_i ds_ij (scale · q_i).
        let dv_rows = dpv.chunks_exact_mut(dh).chain(dv.chunks_exact_mut(dh));
        for (w, dvj) in pt.chunks_exact(t).zip(dv_rows) {
            weighted_sum(simd, w, &g_rows, dvj);
        }
        let dk_rows = dpk.chunks_exact_mut(dh).chain(dk.chunks_exact_mut(dh));
        for (w, dkj) in dst.chunks_exact(t).zip(dk_rows) {
            weighted_sum(simd, w, &qs_rows, dkj);
        }
    }
}

/// `out[j] = a·rows[j]` for every row, four rows at a time: four independent accumulators, so
/// that the additions do not wait on each other. A row's sum has the same order in a group of
/// four or alone (vector lanes over `a`, then the lanes, then the tail), so a score does not
/// depend on the keys beside it.
#[inline(always)]
fn dots<S: Simd>(simd: S, a: &[f32], rows: &[&[f32]], out: &mut [f32]) {
    let (av, at) = S::as_simd_f32s(a);
    let tail = |r: &[f32]| -> f32 { at.iter().zip(r).map(|(x, y)| x * y).sum() };
    let mut groups = rows.chunks_exact(4);
    let mut outs = out.chunks_exact_mut(4);
    for (g, o) in (&mut groups).zip(&mut outs) {
        let r: [(&[S::f32s], &[f32]); 4] = std::array::from_fn(|i| S::as_simd_f32s(g[i]));
        let mut acc = [simd.splat_f32s(0.0); 4];
        for (c, &x) in av.iter().enumerate() {
            for (a, ri) in acc.iter_mut().zip(&r) {
                *a = simd.mul_add_e_f32s(x, ri.0[c], *a);
            }
        }
        for ((o, a), ri) in o.iter_mut().zip(acc).zip(&r) {
            *o = simd.reduce_sum_f32s(a) + tail(ri.1);
        }
    }
    for (row, o) in groups.remainder().iter().zip(outs.into_remainder()) {
        let (rv, rt) = S::as_simd_f32s(row);
        let mut acc = simd.splat_f32s(0.0);
        for (&x, &y) in av.iter().zip(rv) {
            acc = simd.mul_add_e_f32s(x, y, acc);
        }
        *o = simd.reduce_sum_f32s(acc) + tail(rt);
    }
}

/// `out = Σ_j w[j]·rows[j]` (overwriting `out`), in row order. Up to eight vectors of `out` stay in
/// registers over all the rows.
#[inline(always)]
fn weighted_sum<S: Simd>(simd: S, w: &[f32], rows: &[&[f32]], out: &mut [f32]) {
    let lanes = S::F32_LANES;
    let full = out.len() / lanes * lanes;
    let (ov, ot) = S::as_mut_simd_f32s(out);
    let mut first = 0;
    for width in [8, 4, 1] {
        while ov.len() - first >= width {
            match width {
                8 => weighted_group::<S, 8>(simd, w, rows, first, &mut ov[first..first + 8]),
                4 => weighted_group::<S, 4>(simd, w, rows, first, &mut ov[first..first + 4]),
                _ => weighted_group::<S, 1>(simd, w, rows, first, &mut ov[first..first + 1]),
            }
            first += width;
        }
    }
    for (c, o) in ot.iter_mut().enumerate() {
        *o = w.iter().zip(rows).fold(0.0, |s, (&wj, r)| s + wj * r[full + c]);
    }
}

/// Vectors `first..first + G` of [`weighted_sum`], accumulated in registers.
#[inline(always)]
fn weighted_group<S: Simd, const G: usize>(
    simd: S,
    w: &[f32],
    rows: &[&[f32]],
    first: usize,
    out: &mut [S::f32s],
) {
    let mut acc = [simd.splat_f32s(0.0); G];
    for (&wj, r) in w.iter().zip(rows) {
        let (rv, _) = S::as_simd_f32s(r);
        let x = simd.splat_f32s(wj);
        for (a, &v) in acc.iter_mut().zip(&rv[first..first + G]) {
            *a = simd.mul_add_e_f32s(x, v, *a);
        }
    }
    out.copy_from_slice(&acc);
}
