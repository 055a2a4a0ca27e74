"""Fits the rational approximation of erf used by crates/lightner/src/model/kernels/erf.rs:

    erf(z) ≈ z·P(z²)/Q(z²) on [0, 4], P of degree 6, Q of degree 5 with Q(0) = 1,

by iteratively reweighted linear least squares on the linearised residual z·P − erf·Q (a Lawson-style
approach to the minimax fit). Prints the coefficients and the largest absolute error in f64 (about
1.5e-9, far below f32's rounding, which then dominates). Needs numpy:

    python3 scripts/fit-erf.py
"""
from math import erf

import numpy as np

z = np.unique(np.concatenate([np.linspace(0, 4.0, 6000), 2.0 - 2.0 * np.cos(np.linspace(0, np.pi, 4000))]))
w = z * z
f = np.array([erf(v) for v in z])
M, N = 6, 5
q_prev = np.ones_like(z)
weights = np.ones_like(z)
for _ in range(60):
    a = np.hstack([np.stack([z * w**k for k in range(M + 1)], 1), np.stack([-f * w**k for k in range(1, N + 1)], 1)])
    s = weights / np.abs(q_prev)
    c, *_ = np.linalg.lstsq(a * s[:, None], f * s, rcond=None)
    p, q = c[: M + 1], np.concatenate([[1.0], c[M + 1 :]])
    q_prev = sum(q[k] * w**k for k in range(N + 1))
    err = np.abs(z * sum(p[k] * w**k for k in range(M + 1)) / q_prev - f)
    weights = weights * np.sqrt(err / err.max() + 1e-3)
    weights /= weights.max()
print("P:", ", ".join(f"{v:.17e}" for v in p))
print("Q:", ", ".join(f"{v:.17e}" for v in q))
print("max |error| on [0, 4]:", err.max())
