//! Parameters by path: which ones train, their values for checkpoints, and global gradient-norm
//! clipping. Paths are burn's module paths joined with dots (`encoder_self.mlp0.weight`,
//! `decoder.layers.0.encoder_attn.k_proj.bias`).

use crate::error::{Error, Result};
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::{Tensor, TensorData};
use std::collections::BTreeMap;

/// A parameter's saved value and id (the optimizer's state is keyed by id).
#[derive(Debug, Clone)]
pub struct SavedParam {
    /// The id.
    pub id: ParamId,
    /// The value.
    pub data: TensorData,
}

#[derive(Default)]
struct Path(Vec<String>);

impl Path {
    fn enter(&mut self, name: &str) {
        self.0.push(name.to_string());
    }
    fn exit(&mut self) {
        self.0.pop();
    }
    fn joined(&self) -> String {
        self.0.join(".")
    }
}

struct Collect {
    path: Path,
    only_trainable: bool,
    out: BTreeMap<String, SavedParam>,
}

impl ModuleVisitor for Collect {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.enter(name);
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.exit();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val();
        if !self.only_trainable || t.is_require_grad() {
            self.out.insert(self.path.joined(), SavedParam { id: param.id, data: t.into_data() });
        }
    }
}

/// A tensor's values as host f32s, whatever its stored element type.
pub fn host_f32s(t: TensorData) -> Result<Vec<f32>> {
    t.convert::<f32>().try_into_vec::<f32>().map_err(|e| Error::Internal(format!("{e:?}")))
}

/// The float parameters of `m` by path (only those that require gradients when
/// `only_trainable`).
pub fn collect<M: Module>(m: &M, only_trainable: bool) -> BTreeMap<String, SavedParam> {
    let mut v = Collect { path: Path::default(), only_trainable, out: BTreeMap::new() };
    m.visit(&mut v);
    v.out
}

struct AnyTrainable(bool);

impl ModuleVisitor for AnyTrainable {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0 |= param.val().is_require_grad();
    }
}

/// Whether some float parameter of `m` requires gradients (without copying any).
pub fn any_trainable<M: Module>(m: &M) -> bool {
    let mut v = AnyTrainable(false);
    m.visit(&mut v);
    v.0
}

struct Restore<'a> {
    path: Path,
    saved: &'a BTreeMap<String, SavedParam>,
    restored: usize,
    /// Whether the parameter being mapped is a [`Linear`](burn::nn::Linear)'s weight.
    linear_weight: bool,
}

impl ModuleMapper for Restore<'_> {
    fn enter_module(&mut self, name: &str, container: &str) {
        self.path.enter(name);
        self.linear_weight = name == "weight" && container == "Struct:Linear";
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.exit();
        self.linear_weight = false;
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        match self.saved.get(&self.path.joined()) {
            Some(s) if s.data.shape().as_slice() == param.val().dims().as_slice() => {
                let t = param.val();
                let grad = t.is_require_grad();
                self.restored += 1;
                // A linear weight goes back into the layout the model loads it in (HF's
                // `[out, in]` seen transposed), which the decoding product reads fastest.
                let value = if self.linear_weight {
                    crate::model::layers::linear_weight(s.data.clone(), &t.device())
                } else {
                    Tensor::from_data(s.data.clone(), &t.device())
                };
                Param::initialized(s.id, value.set_require_grad(grad))
            }
            _ => param,
        }
    }
}

/// Replaces the parameters of `m` found in `saved` (same path and shape) by their saved value
/// and id, keeping each one's gradient requirement. Returns the module and how many were set.
pub fn restore<M: Module>(m: M, saved: &BTreeMap<String, SavedParam>) -> (M, usize) {
    let mut r = Restore { path: Path::default(), saved, restored: 0, linear_weight: false };
    let m = m.map(&mut r);
    (m, r.restored)
}

struct Unfreeze<'a> {
    path: Path,
    select: &'a dyn Fn(&str) -> bool,
}

impl ModuleMapper for Unfreeze<'_> {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.enter(name);
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.exit();
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if (self.select)(&self.path.joined()) { param.set_require_grad(true) } else { param }
    }
}

/// Makes the parameters whose path satisfies `select` trainable (the rest are left as they are).
pub fn unfreeze<M: Module>(m: M, select: &dyn Fn(&str) -> bool) -> M {
    m.map(&mut Unfreeze { path: Path::default(), select })
}

struct SumSquares<'a> {
    grads: &'a GradientsParams,
    total: f64,
}

impl ModuleVisitor for SumSquares<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            self.total += g.square().sum().into_scalar::<f32>() as f64;
        }
    }
}

struct Scale<'a> {
    grads: &'a mut GradientsParams,
    factor: f64,
}

impl ModuleVisitor for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.remove::<D>(param.id) {
            self.grads.register(param.id, g.mul_scalar(self.factor));
        }
    }
}

/// Sum of squares of the gradients of `m`'s parameters.
pub fn grad_sq_sum<M: Module>(m: &M, grads: &GradientsParams) -> f64 {
    let mut s = SumSquares { grads, total: 0.0 };
    m.visit(&mut s);
    s.total
}

/// Multiplies the gradients of `m`'s parameters by `factor`.
pub fn scale_grads<M: Module>(m: &M, grads: &mut GradientsParams, factor: f64) {
    m.visit(&mut Scale { grads, factor });
}

/// The clipping factor of `torch.nn.utils.clip_grad_norm_` for a global norm: `max/(norm +
/// 1e-6)` when that is below 1, else 1 (no clipping when `max_norm` ≤ 0).
pub fn clip_factor(norm: f64, max_norm: f64) -> f64 {
    let f = max_norm / (norm + 1e-6);
    if max_norm > 0.0 && f < 1.0 { f } else { 1.0 }
}
