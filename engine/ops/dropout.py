"""Inverted dropout: a seeded 0/1 mask and a scale that keeps the expectation.

Two readings of ``p`` (CONVENTIONS.md, "Normalization and dropout"):

- ``p_means="drop"`` (PyTorch, default): p is the probability of DROPPING a value,
  0 ≤ p < 1; kept values are scaled by 1/(1 − p).
- ``p_means="keep"`` (the notes, cs231n): p is the probability of KEEPING a value,
  0 < p ≤ 1; kept values are divided by p (the notes' ``(np.random.rand(*x.shape) < p) / p``).

The uniform draws come from ``np.random.default_rng(seed).random(x.shape)``: a value is kept
when u ≥ p (drop) or u < p (keep) — unless a ``mask`` is given (the optional input): then that
0/1 pattern is used as it is, so a published mask reproduces (cs231n's ``(rand < p) / p`` is
this mask times its scale). ``mask`` holds 0/1 in x's dtype and ``scale`` is 0-d, so
out = x·mask·scale and dx = dout·mask·scale. Eval mode is the identity (mask of ones, scale 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine import conventions
from engine.ops.select import keep_or_zero
from engine.records import Arrays, Index, Input, OpInputError, OpSpec, Param, Step, copied, pick, shape_text
from engine.tex import tex_number

MODES = ("train", "eval")
P_MEANS = conventions.values("p_means")
SEED_MAX = 2**31 - 1


def _validate(p: float, mode: str, seed: int, p_means: str) -> None:
    if p_means not in P_MEANS:
        raise OpInputError("params.p_means", f"must be one of {', '.join(P_MEANS)}; got {p_means!r}")
    if mode not in MODES:
        raise OpInputError("params.mode", f"must be one of {', '.join(MODES)}; got {mode!r}")
    if isinstance(seed, bool) or int(seed) != seed or not 0 <= seed <= SEED_MAX:
        raise OpInputError("params.seed", f"must be a whole number from 0 to {SEED_MAX}, got {seed!r}")
    if p_means == "drop" and not 0 <= p < 1:
        raise OpInputError("params.p", f"is the probability of dropping a value and must satisfy 0 ≤ p < 1, got {p:g}"
                           + (" (p = 1 would drop everything and the scale 1/(1 − p) is infinite)" if p == 1 else ""))
    if p_means == "keep" and not 0 < p <= 1:
        raise OpInputError("params.p", f"is the probability of keeping a value and must satisfy 0 < p ≤ 1, got {p:g}"
                           + (" (p = 0 would keep nothing and the scale 1/p is infinite)" if p == 0 else ""))


@dataclass(frozen=True)
class DropoutCache:
    """What dropout backward reads."""

    mask: np.ndarray  # 1 where the value is kept, 0 where dropped (x's dtype; ones in eval)
    scale: np.ndarray  # 0-d: 1/(1 − p) (drop), 1/p (keep), 1 in eval
    p: float  # the probability as given
    p_means: str  # "drop" | "keep"
    mode: str  # "train" | "eval"
    seed: int  # seeds np.random.default_rng for the mask


@dataclass(frozen=True)
class DropoutGrads:
    dx: np.ndarray  # dout·mask·scale


def check_mask(mask: np.ndarray, x_shape: tuple[int, ...], mode: str) -> None:
    """OpInputError("inputs.mask", ...) unless ``mask`` is a 0/1 pattern of x's shape in train mode."""
    if mode != "train":
        raise OpInputError("inputs.mask", "is used in train mode only: eval mode is the identity (leave it out)")
    if tuple(mask.shape) != tuple(x_shape):
        raise OpInputError("inputs.mask", f"must have the shape of x {shape_text(x_shape)}, "
                                          f"got {shape_text(mask.shape)}")
    bad = np.flatnonzero((mask != 0) & (mask != 1))
    if bad.size:
        at = [int(i) for i in np.unravel_index(int(bad[0]), mask.shape)]
        raise OpInputError("inputs.mask", f"must hold 0 (dropped) and 1 (kept) only — the scale is applied "
                                          f"separately; element {at} is {mask.flat[int(bad[0])]:g}")


def dropout_forward(x: np.ndarray, p: float, mode: str = "train", seed: int = 0,
                    p_means: str = "drop", mask: np.ndarray | None = None) -> tuple[np.ndarray, DropoutCache]:
    """out = x·mask·scale with a mask drawn from ``default_rng(seed)`` (or the given 0/1 ``mask``); identity
    in eval."""
    x = np.asarray(x)
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    _validate(p, mode, seed, p_means)
    if mask is not None:
        check_mask(np.asarray(mask), x.shape, mode)
    if mode == "train":
        if mask is None:
            u = np.random.default_rng(int(seed)).random(x.shape)
            mask = u >= p if p_means == "drop" else u < p
        mask = np.asarray(mask).astype(dtype, copy=True)
        scale = np.asarray(1.0 / (1.0 - p) if p_means == "drop" else 1.0 / p, dtype)
    else:
        mask = np.ones(x.shape, dtype)
        scale = np.asarray(1.0, dtype)
    # np.where(mask != 0, x·scale, 0), not x·mask·scale: a dropped value is +0, never −0 (keep_or_zero: the
    # same bits without the select's branches; mask holds 0 and 1 only)
    out = keep_or_zero(mask, x * scale).astype(dtype, copy=False)
    return out, DropoutCache(mask=mask, scale=scale, p=float(p), p_means=p_means, mode=mode, seed=int(seed))


def dropout_backward(dout: np.ndarray, cache: DropoutCache) -> DropoutGrads:
    """dx = dout·mask·scale: a dropped value passes no gradient back."""
    dout = np.asarray(dout)
    if dout.shape != cache.mask.shape:
        raise OpInputError("inputs.dout", f"must have the shape of out {shape_text(cache.mask.shape)}, "
                           f"got {shape_text(dout.shape)}")
    dx = keep_or_zero(cache.mask, dout * cache.scale).astype(np.result_type(dout, cache.mask), copy=False)
    return DropoutGrads(dx=dx)


def dropout_expectation(x: np.ndarray, p: float, draws: int = 1000, seed: int = 0,
                        p_means: str = "drop") -> np.ndarray:
    """The mean of the train-mode output over ``draws`` masks (seeds seed, seed + 1, ...): ≈ x."""
    if isinstance(draws, bool) or int(draws) != draws or draws < 1:
        raise OpInputError("draws", f"must be a whole number ≥ 1, got {draws!r}")
    _validate(p, "train", seed, p_means)
    x = np.asarray(x)
    total = np.zeros(x.shape, np.float64)
    for k in range(int(draws)):
        out, _ = dropout_forward(x, p, "train", (seed + k) % (SEED_MAX + 1), p_means)
        total += out
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    return (total / draws).astype(dtype)


DROPOUT_ARRAYS = ("x", "dout", "mask", "mask_given", "scale", "out", "dx")


def _check(shapes: dict[str, tuple[int, ...]], params: dict[str, Any]) -> None:
    x_shape = tuple(shapes["x"])
    if not 1 <= len(x_shape) <= 4:
        raise OpInputError("inputs.x", f"must have 1 to 4 dimensions, got shape {shape_text(x_shape)}")
    if "dout" in shapes and tuple(shapes["dout"]) != x_shape:
        raise OpInputError("inputs.dout", f"must have the shape of out {shape_text(x_shape)}, "
                           f"got {shape_text(shapes['dout'])}")
    if "mask" in shapes and tuple(shapes["mask"]) != x_shape:
        raise OpInputError("inputs.mask", f"must have the shape of x {shape_text(x_shape)}, "
                           f"got {shape_text(shapes['mask'])}")
    _validate(params.get("p", 0.5), params.get("mode", "train"), params.get("seed", 0), params.get("p_means", "drop"))


def _defaults(shapes: dict[str, tuple[int, ...]], params: dict[str, Any], dtype: Any) -> Arrays:
    return {"dout": np.ones(shapes["x"], dtype)}


def _shapes(shapes: dict[str, tuple[int, ...]], params: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    return {name: () if name in ("mask_given", "scale") else shapes["x"] for name in DROPOUT_ARRAYS}


def _run(arrays: Arrays, params: dict[str, Any], extras: bool = True) -> Arrays:
    x = arrays["x"]
    dout = arrays["dout"] if "dout" in arrays else np.ones(x.shape, x.dtype)
    out, c = dropout_forward(x, params.get("p", 0.5), params.get("mode", "train"), params.get("seed", 0),
                             params.get("p_means", "drop"), arrays.get("mask"))
    g = dropout_backward(dout, c)
    given = np.asarray(float("mask" in arrays), c.mask.dtype)
    return copied(x=x, dout=dout, mask=c.mask, mask_given=given, scale=c.scale, out=out, dx=g.dx)


def _steps(a: Arrays, params: dict[str, Any]) -> list[Step]:
    """The steps of what :func:`_run` computed, from its arrays."""
    if params.get("mode", "train") == "eval":
        return [
            Step("forward", "out", "Eval: dropout is the identity", r"y = x",
                 pick(a, "x", "mask", "scale", "out")),
            Step("backward", "dx", "Eval: the gradient passes straight through",
                 r"\frac{\partial L}{\partial x} = \frac{\partial L}{\partial y}", pick(a, "dout", "dx")),
        ]
    p = tex_number(float(params.get('p', 0.5)))
    if params.get("p_means", "drop") == "drop":
        mask_tex = (r"m_i = \begin{cases} 1 & u_i \ge p \\ 0 & u_i < p \end{cases}, \quad u_i \sim U[0, 1), \quad p = "
                    + p + r" \text{ (drop probability)}")
        scale_tex = r"s = \frac{1}{1 - p} = \frac{1}{1 - " + p + "}"
    else:
        mask_tex = (r"m_i = \begin{cases} 1 & u_i < p \\ 0 & u_i \ge p \end{cases}, \quad u_i \sim U[0, 1), \quad p = "
                    + p + r" \text{ (keep probability)}")
        scale_tex = r"s = \frac{1}{p} = \frac{1}{" + p + "}"
    return [
        Step("forward", "mask", "The given mask (1 kept, 0 dropped)" if int(a.get("mask_given", 0))
             else f"Draw the mask (seed {int(params.get('seed', 0))})",
             r"m \text{ as given}" if int(a.get("mask_given", 0)) else mask_tex, pick(a, "mask")),
        Step("forward", "scale", "Scale the kept values so the expectation stays x", scale_tex,
             pick(a, "scale")),
        Step("forward", "out", "Drop and scale", r"y_i = x_i\, m_i\, s",
             pick(a, "x", "mask", "scale", "out")),
        Step("backward", "dx", "Gradient flows only through the kept values",
             r"\frac{\partial L}{\partial x_i} = \frac{\partial L}{\partial y_i}\, m_i\, s",
             pick(a, "dout", "mask", "scale", "dx")),
    ]


def _provenance(arrays: Arrays, params: dict[str, Any], array: str, index: Index) -> dict[str, list[Index]]:
    result = _run(arrays, params)
    if array not in result:
        raise OpInputError("array", f"dropout has no array {array!r} (arrays: {', '.join(DROPOUT_ARRAYS)})")
    shape = result[array].shape
    if len(index) != len(shape) or any(not 0 <= i < s for i, s in zip(index, shape, strict=False)):
        raise OpInputError("index", f"{array} index {list(index)} does not fit its shape {shape_text(shape)}")
    index = tuple(index)
    if array == "out":
        return {"x": [index], "mask": [index], "scale": [()]}
    if array == "dx":
        return {"dout": [index], "mask": [index], "scale": [()]}
    return {}  # x, dout are inputs; mask and scale come from the seed and p


def _example(rng: np.random.Generator) -> tuple[dict[str, Any], dict[str, Any]]:
    shape = (3, 4)
    return ({"x": rng.normal(size=shape).round(2).tolist(), "dout": rng.normal(size=shape).round(2).tolist()},
            {"p": 0.5, "mode": "train", "seed": int(rng.integers(0, 1000)), "p_means": "drop"})


SPECS = (
    OpSpec(
        name="dropout",
        title="Dropout (inverted)",
        inputs=(
            Input("x", (1, 2, 3, 4), doc="any array of 1 to 4 dimensions"),
            Input("dout", (1, 2, 3, 4), required=False, grad=False, doc="upstream gradient (default ones)"),
            Input("mask", (1, 2, 3, 4), required=False, grad=False,
                  doc="train mode: a given 0/1 pattern (1 kept) instead of one drawn from the seed; x's shape"),
        ),
        params=(
            Param("p", float, 0.5, lo=0.0, hi=1.0,
                  doc="drop probability (p_means=drop, 0 ≤ p < 1) or keep probability (p_means=keep, 0 < p ≤ 1)"),
            Param("mode", str, "train", choices=MODES, doc="train: random mask; eval: identity"),
            Param("seed", int, 0, lo=0, hi=SEED_MAX, doc="seed of np.random.default_rng for the mask"),
            Param("p_means", str, "drop", choices=P_MEANS,
                  doc="drop: PyTorch, scale 1/(1 − p); keep: the notes, scale 1/p"),
        ),
        arrays=DROPOUT_ARRAYS,
        run=_run,
        check=_check,
        defaults=_defaults,
        steps=_steps,
        provenance=_provenance,
        example=_example,
        shapes=_shapes,
    ),
)
