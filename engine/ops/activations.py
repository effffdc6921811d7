"""Elementwise activations on any array of 1 to 4 dimensions: ReLU, sigmoid, tanh, leaky ReLU.

relu: out = max(0, x); mask = 1 where x > 0 else 0 (0 at x == 0, as PyTorch's subgradient);
dx = dout where x > 0, else 0. The others (below) carry their local gradient ∂out/∂x.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.ops.select import keep_or_zero
from engine.records import Arrays, Index, Input, OpInputError, OpSpec, Param, Step, check_element
from engine.tex import tex_number


@dataclass(frozen=True)
class ReluCache:
    # where x > 0 (not at x == 0, nor NaN), a new array: 1.0 there and 0.0 elsewhere in the input's dtype, as a
    # page shows it; or, from relu_forward(x, mask_as_numbers=False) (a network's lean pass), the bools x > 0
    # themselves: all backward reads, without the copy into numbers
    mask: np.ndarray


@dataclass(frozen=True)
class ReluGrads:
    dx: np.ndarray  # dout where x > 0, else 0


def relu_forward(x: np.ndarray, mask_as_numbers: bool = True) -> tuple[np.ndarray, ReluCache]:
    # out = x where x > 0, else +0 (never −0, as x · mask would show for negative x). Branch-free and
    # bit for bit np.where(x > 0, x, 0), 4-5× faster on large arrays: fmax(x, 0) is 0 for NaN and x ≤ 0
    # (±0 for x = −0), and adding +0 turns −0 into +0 and changes nothing else.
    zero = x.dtype.type(0)
    out = np.fmax(x, zero)
    out += zero
    positive = x > 0
    return out, ReluCache(mask=positive.astype(x.dtype) if mask_as_numbers else positive)


def relu_backward(dout: np.ndarray, cache: ReluCache) -> ReluGrads:
    if dout.shape != cache.mask.shape:
        raise OpInputError("inputs.dout", f"must have the shape of x {list(cache.mask.shape)}, got {list(dout.shape)}")
    # np.where(x > 0, dout, 0) bit for bit, without its branches: 5-6× faster on large arrays (engine.ops.select)
    return ReluGrads(dx=keep_or_zero(cache.mask, dout))


# ---------------------------------------------------------------- registry glue


def _check(shapes: dict[str, tuple[int, ...]], params: dict[str, Any]) -> None:
    if "dout" in shapes and shapes["dout"] != shapes["x"]:
        raise OpInputError("inputs.dout", f"must have the shape of x {list(shapes['x'])}, got {list(shapes['dout'])}")


def _shapes(shapes: dict[str, tuple[int, ...]], params: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Every array of an elementwise op has the shape of x."""
    return {name: shapes["x"] for name in ("x", "dout", "mask", "out", "dx")}


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
        shapes=_shapes,
    ),
)


# ---------------------------------------------------------------- sigmoid, tanh, leaky ReLU
#
# Each is elementwise with a local gradient ∂out/∂x that backward multiplies in:
#   sigmoid     out = σ(x) = 1/(1 + e^{−x})   local_grad = out·(1 − out)
#   tanh        out = tanh x                  local_grad = 1 − out²
#   leaky_relu  out = x if x > 0 else a·x     local_grad = 1 if x > 0 else a  (a = ``slope``; 1·x at x == 0 is 0)
# dx = dout·local_grad. sigmoid and tanh read their local gradient off the output they cached.


@dataclass(frozen=True)
class ActivationCache:
    out: np.ndarray  # the output (a new array)
    local_grad: np.ndarray  # ∂out/∂x at each element (a new array)
    mask: np.ndarray | None = None  # leaky_relu: 1.0 where x > 0, else 0.0


@dataclass(frozen=True)
class ActivationGrads:
    dx: np.ndarray  # dout·local_grad


def sigmoid_forward(x: np.ndarray) -> tuple[np.ndarray, ActivationCache]:
    """σ(x), stably: e^{−|x|} never overflows; 1/(1 + e) for x ≥ 0, e/(1 + e) for x < 0."""
    e = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)
    return out, ActivationCache(out=out, local_grad=out * (1 - out))


def tanh_forward(x: np.ndarray) -> tuple[np.ndarray, ActivationCache]:
    out = np.tanh(x)
    return out, ActivationCache(out=out, local_grad=1 - out * out)


def leaky_relu_forward(x: np.ndarray, slope: float = 0.01) -> tuple[np.ndarray, ActivationCache]:
    if not 0 <= slope <= 1:
        raise OpInputError("params.slope", f"must be between 0 and 1, got {slope!r}")
    positive = x > 0
    a = x.dtype.type(slope)
    out = np.where(positive, x, a * x) + x.dtype.type(0)  # + 0: −0 (slope·(−0), 0·(−x)) shows as 0
    return out, ActivationCache(out=out, local_grad=np.where(positive, x.dtype.type(1), a),
                                mask=positive.astype(x.dtype))


def activation_backward(dout: np.ndarray, cache: ActivationCache) -> ActivationGrads:
    """dx = dout·local_grad (sigmoid, tanh, leaky_relu)."""
    if dout.shape != cache.local_grad.shape:
        raise OpInputError("inputs.dout", f"must have the shape of x {list(cache.local_grad.shape)}, "
                           f"got {list(dout.shape)}")
    return ActivationGrads(dx=dout * cache.local_grad + dout.dtype.type(0))


sigmoid_backward = tanh_backward = leaky_relu_backward = activation_backward

_FORMULAS = {  # op -> (forward title, forward latex, local-gradient title, local-gradient latex)
    "sigmoid": ("Squash each input into (0, 1)", r"y = \sigma(x) = \frac{1}{1 + e^{-x}}",
                "Its slope, read off the output", r"\frac{\partial y}{\partial x} = y\,(1 - y)"),
    "tanh": ("Squash each input into (−1, 1)", r"y = \tanh x = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}}",
             "Its slope, read off the output", r"\frac{\partial y}{\partial x} = 1 - y^2"),
    "leaky_relu": ("Keep the positive inputs, scale the rest by the slope a",
                   r"y = \begin{cases} x & x > 0 \\ a\,x & x \le 0 \end{cases}",
                   "Its slope: 1 or a", r"\frac{\partial y}{\partial x} = \begin{cases} 1 & x > 0 \\ a & x \le 0"
                   r" \end{cases}"),
}


def _activation_spec(name: str, title: str, forward, params: tuple[Param, ...]) -> OpSpec:
    """The registry entry of one elementwise activation (forward, the shared backward, steps, provenance)."""
    fwd_title, fwd_tex, grad_title, grad_tex = _FORMULAS[name]

    def run(arrays: Arrays, p: dict[str, Any], extras: bool = True) -> Arrays:
        x = arrays["x"]
        out, cache = forward(x, p["slope"]) if "slope" in p else forward(x)
        result = {"x": x, "dout": arrays["dout"], "out": out, "local_grad": cache.local_grad,
                  "dx": activation_backward(arrays["dout"], cache).dx}
        if cache.mask is not None:
            result["mask"] = cache.mask
        return result

    def steps(a: Arrays, p: dict[str, Any]) -> list[Step]:
        slope = rf",\quad a = {tex_number(p['slope'])}" if "slope" in p else ""
        return [
            Step("forward", name, fwd_title, fwd_tex + slope, {"x": a["x"], "out": a["out"]}),
            Step("forward", "local_grad", grad_title, grad_tex + slope,
                 {"x": a["x"], "out": a["out"], "local_grad": a["local_grad"]}),
            Step("backward", "dx", "Multiply the upstream gradient by the slope",
                 r"\frac{\partial L}{\partial x} = \frac{\partial L}{\partial y} \odot \frac{\partial y}{\partial x}",
                 {"dout": a["dout"], "local_grad": a["local_grad"], "dx": a["dx"]}),
        ]

    def provenance(arrays: Arrays, p: dict[str, Any], array: str, index: Index) -> dict[str, list[Index]]:
        result = run(arrays, p)
        check_element(result, name, array, index)
        if array in ("out", "mask"):
            return {"x": [index]}
        if array == "local_grad":
            return {"x": [index]} if name == "leaky_relu" else {"out": [index], "x": [index]}
        if array == "dx":
            return {"dout": [index], "local_grad": [index]}
        return {}

    def example(rng: np.random.Generator) -> tuple[dict[str, Any], dict[str, Any]]:
        return {"x": np.round(rng.normal(size=(2, 4)) * 2, 2).tolist()}, ({"slope": 0.1} if params else {})

    arrays = ("x", "dout", *(("mask",) if name == "leaky_relu" else ()), "out", "local_grad", "dx")

    def shapes(shapes: dict[str, tuple[int, ...]], params: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        return {array: shapes["x"] for array in arrays}

    return OpSpec(
        name=name, title=title,
        inputs=(
            Input("x", (1, 2, 3, 4), doc="any array"),
            Input("dout", (1, 2, 3, 4), required=False, grad=False,
                  doc="upstream gradient, the shape of x; ones if missing"),
        ),
        params=params,
        arrays=arrays, run=run, check=_check, defaults=_defaults, steps=steps, provenance=provenance,
        example=example, shapes=shapes,
    )


SPECS = (
    *SPECS,
    _activation_spec("sigmoid", "Sigmoid", sigmoid_forward, ()),
    _activation_spec("tanh", "Tanh", tanh_forward, ()),
    _activation_spec("leaky_relu", "Leaky ReLU", leaky_relu_forward,
                     (Param("slope", float, 0.01, lo=0.0, hi=1.0,
                            doc="a: the slope for x ≤ 0 (PyTorch's negative_slope)"),)),
)
