"""Numeric gradient checks by central differences, in float64.

``numeric_gradient`` works on any scalar function of one array; ``check_op`` checks
every differentiable input of a registered op against the gradients the op returns,
using the scalar objective sum(out * dout) (or the op's own scalar loss).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.records import Arrays
from engine.registry import prepare


def numeric_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-6,
                     at: np.ndarray | None = None) -> np.ndarray:
    """d f / d x by central differences; ``x`` itself is never modified.

    ``at`` limits the work to those flat indices (the other entries stay 0).
    """
    x = np.array(x, dtype=np.float64, copy=True)
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in (range(flat.size) if at is None else at):
        old = flat[i]
        flat[i] = old + h
        f_plus = f(x)
        flat[i] = old - h
        f_minus = f(x)
        flat[i] = old
        gflat[i] = (f_plus - f_minus) / (2 * h)
    return grad


def relative_error(analytic: np.ndarray, numeric: np.ndarray, floor: float = 1e-8) -> np.ndarray:
    """Elementwise |a − n| / max(|a| + |n|, floor): the cs231n measure, safe near zero."""
    a, n = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    return np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), floor)


@dataclass(frozen=True)
class GradCheck:
    """The worst relative error over every checked input, and where it is."""

    worst: float
    where: str  # "dx[0, 1, 2, 2]"
    per_input: dict[str, float]
    analytic: dict[str, np.ndarray]  # the checked entries of each d<input>, flattened
    numeric: dict[str, np.ndarray]  # the central differences at the same entries
    checked: int  # how many entries were checked
    total: int  # how many entries the gradients have

    def ok(self, tol: float = 1e-7) -> bool:
        return self.worst < tol


def check_op(name: str, inputs: dict[str, Any], params: dict[str, Any] | None = None,
             h: float = 1e-6, wrt: tuple[str, ...] | None = None, max_per_input: int | None = None,
             seed: int = 0) -> GradCheck:
    """Compare every gradient op ``name`` returns with central differences.

    ``max_per_input`` checks that many entries of each input, drawn with ``seed``
    (all of them when None), so a page can check large inputs quickly and say so.
    """
    op, arrays, clean = prepare(name, inputs, params)
    arrays = {k: v.astype(np.float64) for k, v in arrays.items()}
    result = op.run(arrays, clean)
    dout = arrays.get("dout")

    def objective(trial: Arrays) -> float:
        out = op.run(trial, clean)[op.objective]
        return float(np.sum(out * dout)) if dout is not None else float(np.sum(out))

    per_input: dict[str, float] = {}
    analytic: dict[str, np.ndarray] = {}
    numerics: dict[str, np.ndarray] = {}
    worst, where, checked, total = 0.0, "none", 0, 0
    rng = np.random.default_rng(seed)
    for spec in op.inputs:
        if not spec.grad or spec.name not in arrays or (wrt and spec.name not in wrt):
            continue
        gname = "d" + spec.name

        def f(value: np.ndarray, _n: str = spec.name) -> float:
            return objective({**arrays, _n: value})

        size = arrays[spec.name].size
        at = np.arange(size)
        if max_per_input is not None and size > max_per_input:
            at = np.sort(rng.choice(size, max_per_input, replace=False))
        numeric = numeric_gradient(f, arrays[spec.name], h, at).reshape(-1)[at]
        exact = np.asarray(result[gname], np.float64).reshape(-1)[at]
        err = relative_error(exact, numeric)
        analytic[gname], numerics[gname] = exact, numeric
        per_input[spec.name] = float(err.max())
        checked, total = checked + at.size, total + size
        if err.max() >= worst:
            worst = float(err.max())
            idx = np.unravel_index(int(at[err.argmax()]), arrays[spec.name].shape)
            where = f"{gname}[{', '.join(str(int(i)) for i in idx)}]"
    return GradCheck(worst, where, per_input, analytic, numerics, checked, total)
