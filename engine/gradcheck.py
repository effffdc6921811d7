"""Numeric gradient checks by central differences, in float64, scored against their rounding noise.

:func:`central_differences` works on any scalar function of one array and also says how much
of each difference quotient may be rounding alone: f is computed to about EPS·|f|, so
(f(x + h) − f(x − h))/2h carries up to ~EPS·|f|/h of noise whatever the gradient is.
:func:`gradient_error` is the cs231n relative error |a − n| / (|a| + |n|) with its floor set
by that noise: an entry scores below ``tol`` exactly when |a − n| < max(tol·(|a| + |n|), noise).
So a gradient that is zero in exact arithmetic is not failed by the ~1e-12 its difference
quotient rounds to, while a wrong gradient (off by more than the noise) still fails.

:func:`compare` checks several arrays at once (sampled with a seed) and :func:`check_op`
checks every differentiable input of a registered op, using the scalar objective
sum(out * dout) (or the op's own scalar loss).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.records import Arrays
from engine.registry import prepare

EPS = float(np.finfo(np.float64).eps)
TOL = 1e-7  # the verdict: a worst gradient_error below this passes
ROUNDING = 8.0  # ulps of |f| one evaluation of f may be off by (a safety factor on EPS·|f|)
MIN_FLOOR = 1e-8  # the floor of relative_error when no noise is known (the cs231n measure)


@dataclass(frozen=True)
class Differences:
    """Central differences of f at some entries of x (the others 0), and the rounding they may carry."""

    grad: np.ndarray  # x's shape: (f(x + h·e_i) − f(x − h·e_i)) / 2h at the checked entries
    noise: np.ndarray  # x's shape: ROUNDING·EPS·(max(|f(x + h·e_i)|, |f(x − h·e_i)|) + scale) / h there


def central_differences(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-6,
                        at: np.ndarray | None = None, scale: float = 0.0) -> Differences:
    """d f / d x by central differences with their rounding noise; ``x`` itself is never modified.

    ``at`` limits the work to those flat indices (the other entries stay 0). ``scale``: the size
    of the numbers f is computed from where it exceeds |f| (logits of 1000 with a loss near 0):
    their rounding adds EPS·scale to each evaluation.
    """
    x = np.array(x, dtype=np.float64, copy=True)
    grad, noise = np.zeros_like(x), np.zeros_like(x)
    flat, gflat, nflat = x.reshape(-1), grad.reshape(-1), noise.reshape(-1)
    for i in (range(flat.size) if at is None else at):
        old = flat[i]
        flat[i] = old + h
        f_plus = f(x)
        flat[i] = old - h
        f_minus = f(x)
        flat[i] = old
        gflat[i] = (f_plus - f_minus) / (2 * h)
        nflat[i] = ROUNDING * EPS * (max(abs(f_plus), abs(f_minus)) + scale) / h
    return Differences(grad, noise)


def numeric_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-6,
                     at: np.ndarray | None = None) -> np.ndarray:
    """d f / d x by central differences (:func:`central_differences` without the noise)."""
    return central_differences(f, x, h, at).grad


def relative_error(analytic: np.ndarray, numeric: np.ndarray, floor: float | np.ndarray = MIN_FLOOR) -> np.ndarray:
    """Elementwise |a − n| / max(|a| + |n|, floor): the cs231n measure, safe near zero."""
    a, n = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    return np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), floor)


def gradient_error(analytic: np.ndarray, numeric: np.ndarray, noise: np.ndarray, tol: float = TOL) -> np.ndarray:
    """:func:`relative_error` with the floor at noise/tol (never below MIN_FLOOR).

    Below ``tol`` exactly when |a − n| < max(tol·(|a| + |n|), noise): relative agreement, or a
    difference the central difference's own rounding explains.
    """
    return relative_error(analytic, numeric, np.maximum(np.asarray(noise, np.float64) / tol, MIN_FLOOR))


@dataclass(frozen=True)
class GradCheck:
    """The worst error over every checked input, and where it is."""

    worst: float
    where: str  # "dx[0, 1, 2, 2]"
    per_input: dict[str, float]
    analytic: dict[str, np.ndarray]  # the checked entries of each d<input>, flattened
    numeric: dict[str, np.ndarray]  # the central differences at the same entries
    checked: int  # how many entries were checked
    total: int  # how many entries the gradients have
    noise: dict[str, np.ndarray] | None = None  # the rounding noise of each central difference

    def ok(self, tol: float = TOL) -> bool:
        return self.worst < tol


@dataclass(frozen=True)
class Wrt:
    """One array to check: the scalar function of it alone, its value, and the gradient backward gave."""

    f: Callable[[np.ndarray], float]
    value: np.ndarray
    grad: np.ndarray
    allowed: np.ndarray | None = None  # flat indices that may be checked (None: every entry)
    scale: float = 0.0  # see central_differences


def compare(targets: dict[str, Wrt], h: float = 1e-6, max_per_input: int | None = None, seed: int = 0,
            tol: float = TOL) -> GradCheck:
    """Central differences against each target's gradient, scored by :func:`gradient_error`.

    ``max_per_input`` checks that many entries of each array (of its ``allowed`` ones), drawn
    with ``seed`` in the targets' order (all of them when None). Keys of ``per_input`` are the
    targets' names; of ``analytic``, ``numeric`` and ``noise``, "d" + the name.
    """
    per_input: dict[str, float] = {}
    analytic: dict[str, np.ndarray] = {}
    numerics: dict[str, np.ndarray] = {}
    noises: dict[str, np.ndarray] = {}
    worst, where, checked, total = 0.0, "none", 0, 0
    rng = np.random.default_rng(seed)
    for name, t in targets.items():
        value = np.asarray(t.value)
        at = np.arange(value.size) if t.allowed is None else np.asarray(t.allowed)
        if max_per_input is not None and at.size > max_per_input:
            at = np.sort(rng.choice(at, max_per_input, replace=False))
        diffs = central_differences(t.f, value, h, at, t.scale)
        numeric, noise = diffs.grad.reshape(-1)[at], diffs.noise.reshape(-1)[at]
        exact = np.asarray(t.grad, np.float64).reshape(-1)[at]
        err = gradient_error(exact, numeric, noise, tol)
        analytic["d" + name], numerics["d" + name], noises["d" + name] = exact, numeric, noise
        per_input[name] = float(err.max()) if err.size else 0.0
        checked, total = checked + at.size, total + value.size
        if err.size and err.max() >= worst:
            worst = float(err.max())
            idx = np.unravel_index(int(at[err.argmax()]), value.shape)
            where = f"d{name}[{', '.join(str(int(i)) for i in idx)}]"
    return GradCheck(worst, where, per_input, analytic, numerics, checked, total, noises)


def check_op(name: str, inputs: dict[str, Any], params: dict[str, Any] | None = None,
             h: float = 1e-6, wrt: tuple[str, ...] | None = None, max_per_input: int | None = None,
             seed: int = 0, tol: float = TOL, scale: float = 0.0) -> GradCheck:
    """Compare every gradient op ``name`` returns with central differences.

    The op runs without its display-only extras. ``max_per_input`` checks that many entries
    of each input, drawn with ``seed`` (all of them when None), so a page can check large
    inputs quickly and say so. ``scale``: see :func:`central_differences`.
    """
    op, arrays, clean = prepare(name, inputs, params)
    arrays = {k: v.astype(np.float64) for k, v in arrays.items()}
    result = op.run(arrays, clean, extras=False)
    dout = arrays.get("dout")

    def objective(trial: Arrays) -> float:
        out = op.run(trial, clean, extras=False)[op.objective]
        return float(np.sum(out * dout)) if dout is not None else float(np.sum(out))

    def of(input_name: str) -> Callable[[np.ndarray], float]:
        return lambda value: objective({**arrays, input_name: value})

    # the objective is a sum: it rounds to about EPS·Σ|terms|, more than EPS·|sum| when its terms cancel (a
    # 28×28 digit under an edge filter: thousands of terms, a sum near 0)
    out = result[op.objective]
    scale = max(scale, float(np.sum(np.abs(out * dout))) if dout is not None else float(np.sum(np.abs(out))))
    targets = {spec.name: Wrt(of(spec.name), arrays[spec.name], result["d" + spec.name], scale=scale)
               for spec in op.inputs if spec.grad and spec.name in arrays and (not wrt or spec.name in wrt)}
    return compare(targets, h, max_per_input, seed, tol)
