"""Dense (fully connected) layer and flatten.

linear: x (N, M) rows of M features — or (N, d₁, …, d_k), each sample flattened row-major to
M = d₁·…·d_k features first, as cs231n's affine_forward does (``x_flat``; x itself for (N, M)) — w (M, D), b (D,);
out = x_flat·W + b, shape (N, D). (CONVENTIONS.md writes the weights as (D, M) in cs231n's
letters, where D counts the inputs; either way w has one row per input feature and one column
per output.) Backward: dx_flat = dout·Wᵀ reshaped to x's shape, dW = x_flatᵀ·dout, db = Σₙ dout.

flatten: x (N, ...) -> (N, prod of the rest), row-major over (C, H, W); dx is dout
reshaped back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.records import Arrays, Index, Input, OpInputError, OpSpec, Step, check_element


@dataclass(frozen=True)
class LinearCache:
    x: np.ndarray  # (N, M) input rows, copied: x_flat when x came as (N, d₁, …, d_k)
    w: np.ndarray  # (M, D) weights, copied
    x_shape: tuple[int, ...] | None = None  # (N, d₁, …, d_k) of an input flattened on the way in; None for (N, M)


@dataclass(frozen=True)
class LinearGrads:
    dx: np.ndarray  # dout · Wᵀ, in x's shape (N, M) or (N, d₁, …, d_k)
    dw: np.ndarray  # (M, D) = xᵀ · dout
    db: np.ndarray  # (D,) = Σ over the batch of dout


@dataclass(frozen=True)
class FlattenCache:
    x_shape: tuple[int, ...]  # (N, C, H, W) (or any (N, ...)) to reshape dx back to


@dataclass(frozen=True)
class FlattenGrads:
    dx: np.ndarray  # dout reshaped to x's shape


def check_linear(x_shape: tuple[int, ...], w_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> tuple[int, int]:
    """(N, D) of the output; OpInputError if the shapes do not fit together."""
    if len(x_shape) < 2:
        raise OpInputError("inputs.x", f"must be (N, M) — a batch of feature rows — or (N, d₁, …, d_k), flattened "
                                       f"to rows of d₁·…·d_k; got shape {list(x_shape)}")
    if len(w_shape) != 2:
        raise OpInputError("inputs.w", f"must be (M, D), got shape {list(w_shape)}")
    if len(b_shape) != 1:
        raise OpInputError("inputs.b", f"must be (D,), got shape {list(b_shape)}")
    n, m = x_shape[0], math.prod(x_shape[1:])
    if w_shape[0] != m:
        per = "per row" if len(x_shape) == 2 else f"per sample ({' · '.join(map(str, x_shape[1:]))} = {m})"
        raise OpInputError("inputs.w", f"has {w_shape[0]} rows but x has {m} features {per}: "
                                       f"for out = x·W + b, w must have shape ({m}, D)")
    d = w_shape[1]
    if b_shape[0] != d:
        raise OpInputError("inputs.b", f"has {b_shape[0]} entries but w has {d} columns (outputs): b must have {d}")
    return n, d


def linear_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, LinearCache]:
    """out = x_flat·W + b; x (N, M) or (N, d₁, …, d_k) (then x_flat = x reshaped to (N, d₁·…·d_k))."""
    check_linear(x.shape, w.shape, b.shape)
    flat = x.reshape(x.shape[0], -1)
    out = flat @ w + b
    return out, LinearCache(x=flat.copy(), w=w.copy(), x_shape=None if x.ndim == 2 else tuple(x.shape))


def linear_backward(dout: np.ndarray, cache: LinearCache) -> LinearGrads:
    want = (cache.x.shape[0], cache.w.shape[1])
    if dout.shape != want:
        raise OpInputError("inputs.dout", f"must have the output's shape {list(want)}, got {list(dout.shape)}")
    dx = dout @ cache.w.T
    return LinearGrads(dx=dx if cache.x_shape is None else dx.reshape(cache.x_shape), dw=cache.x.T @ dout,
                       db=dout.sum(axis=0))


def flatten_forward(x: np.ndarray) -> tuple[np.ndarray, FlattenCache]:
    if x.ndim < 2:
        raise OpInputError("inputs.x", f"must be (N, ...): a batch; got shape {list(x.shape)}")
    out = np.empty((x.shape[0], math.prod(x.shape[1:])), dtype=x.dtype)
    np.copyto(out.reshape(x.shape), x)  # one copy (reshaping a channel-major x would copy twice): never an alias
    return out, FlattenCache(x_shape=tuple(x.shape))


def flatten_backward(dout: np.ndarray, cache: FlattenCache) -> FlattenGrads:
    want = (cache.x_shape[0], math.prod(cache.x_shape[1:]))
    if dout.shape != want:
        raise OpInputError("inputs.dout", f"must have the output's shape {list(want)}, got {list(dout.shape)}")
    return FlattenGrads(dx=dout.reshape(cache.x_shape).copy())


# ---------------------------------------------------------------- registry glue


# linear


def _lin_check(shapes: dict[str, tuple[int, ...]], params: dict[str, Any]) -> None:
    n, d = check_linear(shapes["x"], shapes["w"], shapes["b"])
    if "dout" in shapes and shapes["dout"] != (n, d):
        raise OpInputError("inputs.dout", f"must have the output's shape {[n, d]}, got {list(shapes['dout'])}")


def _lin_defaults(shapes: dict[str, tuple[int, ...]], params: dict[str, Any], dtype: Any) -> Arrays:
    if "dout" in shapes:
        return {}
    n, d = check_linear(shapes["x"], shapes["w"], shapes["b"])
    return {"dout": np.ones((n, d), dtype=dtype)}


def _lin_shapes(shapes: dict[str, tuple[int, ...]], params: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    (n, *rest), (_, d) = shapes["x"], shapes["w"]
    return {"x": shapes["x"], "w": shapes["w"], "b": (d,), "dout": (n, d), "x_flat": (n, math.prod(rest)),
            "out": (n, d), "dx": shapes["x"], "dw": shapes["w"], "db": (d,)}


def _lin_run(arrays: Arrays, params: dict[str, Any], extras: bool = True) -> Arrays:
    out, cache = linear_forward(arrays["x"], arrays["w"], arrays["b"])
    grads = linear_backward(arrays["dout"], cache)
    return {"x": arrays["x"], "w": arrays["w"], "b": arrays["b"], "dout": arrays["dout"], "x_flat": cache.x,
            "out": out, "dx": grads.dx, "dw": grads.dw, "db": grads.db}


def _lin_steps(a: Arrays, params: dict[str, Any]) -> list[Step]:
    """The steps of what :func:`_lin_run` computed, from its arrays."""
    flat = a["x"].ndim > 2
    x = "x_flat" if flat else "x"
    first = [Step("forward", "flatten", "Lay each sample out as one row (cs231n's affine)",
                  r"x_{\text{flat}}[n,\ \operatorname{ravel}(i_1, \dots, i_k)] = x[n, i_1, \dots, i_k],\quad M = "
                  + r" \cdot ".join(str(d) for d in a["x"].shape[1:]) + f" = {a['x_flat'].shape[1]}",
                  {"x": a["x"], "x_flat": a["x_flat"]})] if flat else []
    return [
        *first,
        Step("forward", "affine", "Multiply by the weights and add the bias",
             r"y_{n,d} = \sum_{m} x_{n,m} W_{m,d} + b_d \qquad y = xW + b",
             {x: a[x], "w": a["w"], "b": a["b"], "out": a["out"]}),
        Step("backward", "dx", "Gradient for the input: send dout back through the weights"
             + (" (reshaped to x's shape)" if flat else ""),
             r"\frac{\partial L}{\partial x} = \frac{\partial L}{\partial y}\, W^{\top}",
             {"dout": a["dout"], "w": a["w"], "dx": a["dx"]}),
        Step("backward", "dw", "Gradient for the weights: inputs times dout, summed over the batch",
             r"\frac{\partial L}{\partial W} = x^{\top} \frac{\partial L}{\partial y}",
             {x: a[x], "dout": a["dout"], "dw": a["dw"]}),
        Step("backward", "db", "Gradient for the bias: dout summed over the batch",
             r"\frac{\partial L}{\partial b_d} = \sum_{n} \frac{\partial L}{\partial y_{n,d}}",
             {"dout": a["dout"], "db": a["db"]}),
    ]


def _lin_provenance(arrays: Arrays, params: dict[str, Any], name: str, index: Index) -> dict[str, list[Index]]:
    result = _lin_run(arrays, params)
    check_element(result, "linear", name, index)
    shape, d_count = result["x"].shape, result["w"].shape[1]
    n, m = shape[0], math.prod(shape[1:])

    def x_cell(i: int, j: int) -> Index:  # feature j of sample i, in x's own shape
        return (i, *(int(k) for k in np.unravel_index(j, shape[1:])))

    if name == "out":
        i, d = index
        found = {"x": [x_cell(i, j) for j in range(m)], "w": [(j, d) for j in range(m)], "b": [(d,)]}
        return {**found, "x_flat": [(i, j) for j in range(m)]} if len(shape) > 2 else found
    if name == "x_flat":
        return {"x": [x_cell(*index)]}
    if name == "dx":
        i, *rest = index
        j = int(np.ravel_multi_index(tuple(rest), shape[1:]))
        return {"dout": [(i, d) for d in range(d_count)], "w": [(j, d) for d in range(d_count)]}
    if name == "dw":
        j, d = index
        return {"x": [x_cell(i, j) for i in range(n)], "dout": [(i, d) for i in range(n)]}
    if name == "db":
        (d,) = index
        return {"dout": [(i, d) for i in range(n)]}
    return {}


def _lin_example(rng: np.random.Generator) -> tuple[dict[str, Any], dict[str, Any]]:
    n, m, d = int(rng.integers(1, 4)), int(rng.integers(2, 5)), int(rng.integers(2, 4))

    def rnd(*shape: int) -> list:
        return np.round(rng.normal(size=shape), 2).tolist()

    return {"x": rnd(n, m), "w": rnd(m, d), "b": rnd(d)}, {}


# flatten


def _flat_check(shapes: dict[str, tuple[int, ...]], params: dict[str, Any]) -> None:
    x = shapes["x"]
    want = (x[0], math.prod(x[1:]))
    if "dout" in shapes and shapes["dout"] != want:
        raise OpInputError("inputs.dout", f"must have the output's shape {list(want)}, got {list(shapes['dout'])}")


def _flat_defaults(shapes: dict[str, tuple[int, ...]], params: dict[str, Any], dtype: Any) -> Arrays:
    if "dout" in shapes:
        return {}
    x = shapes["x"]
    return {"dout": np.ones((x[0], math.prod(x[1:])), dtype=dtype)}


def _flat_shapes(shapes: dict[str, tuple[int, ...]], params: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    (n, *rest) = shapes["x"]
    return {"x": shapes["x"], "dout": (n, math.prod(rest)), "out": (n, math.prod(rest)), "dx": shapes["x"]}


def _flat_run(arrays: Arrays, params: dict[str, Any], extras: bool = True) -> Arrays:
    out, cache = flatten_forward(arrays["x"])
    grads = flatten_backward(arrays["dout"], cache)
    return {"x": arrays["x"], "dout": arrays["dout"], "out": out, "dx": grads.dx}


def _flat_steps(a: Arrays, params: dict[str, Any]) -> list[Step]:
    """The steps of what :func:`_flat_run` computed, from its arrays."""
    return [
        Step("forward", "flatten", "Lay each sample out as one row, row-major over (C, H, W)",
             r"y_{n,\,(cH + h)W + w} = x_{n,c,h,w}", {"x": a["x"], "out": a["out"]}),
        Step("backward", "unflatten", "Reshape the gradient back to the input's shape",
             r"\frac{\partial L}{\partial x_{n,c,h,w}} = \frac{\partial L}{\partial y_{n,\,(cH + h)W + w}}",
             {"dout": a["dout"], "dx": a["dx"]}),
    ]


def _flat_provenance(arrays: Arrays, params: dict[str, Any], name: str, index: Index) -> dict[str, list[Index]]:
    result = _flat_run(arrays, params)
    check_element(result, "flatten", name, index)
    shape = result["x"].shape
    if name == "out":
        n, j = index
        return {"x": [(n, *(int(i) for i in np.unravel_index(j, shape[1:])))]}
    if name == "dx":
        n, *rest = index
        return {"dout": [(n, int(np.ravel_multi_index(tuple(rest), shape[1:])))]}
    return {}


def _flat_example(rng: np.random.Generator) -> tuple[dict[str, Any], dict[str, Any]]:
    return {"x": np.round(rng.normal(size=(2, 2, 2, 2)), 2).tolist()}, {}


SPECS = (
    OpSpec(
        name="linear",
        title="Dense layer",
        inputs=(
            Input("x", (2, 3, 4, 5), doc="a batch of feature rows (N, M), or (N, d₁, …, d_k) flattened to rows of "
                                         "d₁·…·d_k (cs231n's affine)"),
            Input("w", (2,), doc="weights (M, D): one row per input feature, one column per output"),
            Input("b", (1,), doc="bias (D,)"),
            Input("dout", (2,), required=False, grad=False, doc="upstream gradient (N, D); ones if missing"),
        ),
        params=(),
        arrays=("x", "w", "b", "dout", "x_flat", "out", "dx", "dw", "db"),
        run=_lin_run,
        check=_lin_check,
        defaults=_lin_defaults,
        steps=_lin_steps,
        provenance=_lin_provenance,
        example=_lin_example,
        shapes=_lin_shapes,
    ),
    OpSpec(
        name="flatten",
        title="Flatten",
        inputs=(
            Input("x", (2, 3, 4), doc="a batch (N, ...), e.g. feature maps (N, C, H, W)"),
            Input("dout", (2,), required=False, grad=False, doc="upstream gradient (N, C·H·W); ones if missing"),
        ),
        params=(),
        arrays=("x", "dout", "out", "dx"),
        run=_flat_run,
        check=_flat_check,
        defaults=_flat_defaults,
        steps=_flat_steps,
        provenance=_flat_provenance,
        example=_flat_example,
        shapes=_flat_shapes,
    ),
)
