"""ReLU, elementwise on any array of 1 to 4 dimensions.

out = max(0, x); mask = 1 where x > 0 else 0 (0 at x == 0, as PyTorch's subgradient);
dx = dout where x > 0, else 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.records import Arrays, Index, Input, OpInputError, OpSpec, Step, check_element


@dataclass(frozen=True)
class ReluCache:
    mask: np.ndarray  # 1.0 where x > 0, else 0.0 (also at x == 0); the input's dtype, a new array


@dataclass(frozen=True)
class ReluGrads:
    dx: np.ndarray  # dout where x > 0, else 0


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, ReluCache]:
    positive = x > 0
    out = np.where(positive, x, x.dtype.type(0))  # not x * mask: that would show −0 for negative x
    return out, ReluCache(mask=positive.astype(x.dtype))


def relu_backward(dout: np.ndarray, cache: ReluCache) -> ReluGrads:
    if dout.shape != cache.mask.shape:
        raise OpInputError("inputs.dout", f"must have the shape of x {list(cache.mask.shape)}, got {list(dout.shape)}")
    return ReluGrads(dx=np.where(cache.mask > 0, dout, dout.dtype.type(0)))


# ---------------------------------------------------------------- registry glue


def _check(shapes: dict[str, tuple[int, ...]], params: dict[str, Any]) -> None:
    if "dout" in shapes and shapes["dout"] != shapes["x"]:
        raise OpInputError("inputs.dout", f"must have the shape of x {list(shapes['x'])}, got {list(shapes['dout'])}")


def _defaults(shapes: dict[str, tuple[int, ...]], params: dict[str, Any], dtype: Any) -> Arrays:
    return {} if "dout" in shapes else {"dout": np.ones(shapes["x"], dtype=dtype)}


def _run(arrays: Arrays, params: dict[str, Any], extras: bool = True) -> Arrays:
    out, cache = relu_forward(arrays["x"])
    grads = relu_backward(arrays["dout"], cache)
    return {"x": arrays["x"], "dout": arrays["dout"], "mask": cache.mask, "out": out, "dx": grads.dx}


def _steps(a: Arrays, params: dict[str, Any]) -> list[Step]:
    """The steps of what :func:`_run` computed, from its arrays."""
    return [
        Step("forward", "mask", "Mark the positive inputs", r"m = \mathbf{1}[x > 0]",
             {"x": a["x"], "mask": a["mask"]}),
        Step("forward", "relu", "Keep the positive inputs, zero the rest", r"y = \max(0, x) = m \odot x",
             {"x": a["x"], "out": a["out"]}),
        Step("backward", "dx", "Let the gradient through where the input was positive",
             r"\frac{\partial L}{\partial x} = m \odot \frac{\partial L}{\partial y}",
             {"dout": a["dout"], "mask": a["mask"], "dx": a["dx"]}),
    ]


def _provenance(arrays: Arrays, params: dict[str, Any], name: str, index: Index) -> dict[str, list[Index]]:
    result = _run(arrays, params)
    check_element(result, "relu", name, index)
    if name in ("out", "mask"):
        return {"x": [index]}
    if name == "dx":
        return {"dout": [index], "mask": [index]}
    return {}


def _example(rng: np.random.Generator) -> tuple[dict[str, Any], dict[str, Any]]:
    return {"x": np.round(rng.normal(size=(2, 4)), 2).tolist()}, {}


SPECS = (
    OpSpec(
        name="relu",
        title="ReLU",
        inputs=(
            Input("x", (1, 2, 3, 4), doc="any array"),
            Input("dout", (1, 2, 3, 4), required=False, grad=False,
                  doc="upstream gradient, the shape of x; ones if missing"),
        ),
        params=(),
        arrays=("x", "dout", "mask", "out", "dx"),
        run=_run,
        check=_check,
        defaults=_defaults,
        steps=_steps,
        provenance=_provenance,
        example=_example,
    ),
)
