"""The step panels of group norm and the elementwise activations (sigmoid, tanh, leaky ReLU), forward and backward.

Like :mod:`.step`'s own layers: the traced step's arrays (exactly what the step computed) in the order the op
computes them, each after the op's own step record (its formula with this layer's numbers). ``show`` and ``S``
are :mod:`.step`'s array writer and step-record picker, passed in so this module imports nothing of it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ACTIVATIONS = ("sigmoid", "tanh", "leaky_relu")
OUTPUT_TITLES = {"sigmoid": "Output σ(x) = 1 / (1 + e^(−x))", "tanh": "Output tanh(x)",
                 "leaky_relu": "Output: x where x > 0, a·x elsewhere"}
SLOPE_TITLES = {"sigmoid": "Local slope σ′(x) = σ(x)·(1 − σ(x)), read off the output",
                "tanh": "Local slope 1 − tanh²(x), read off the output",
                "leaky_relu": "Local slope: 1 where x > 0, a elsewhere"}
LAYERS = ("groupnorm", *ACTIVATIONS)

Show = Callable[..., dict[str, Any]]
Pick = Callable[..., list[dict[str, Any]]]


def describe(layer) -> str:
    """A layer's settings in a few words."""
    if layer.type == "groupnorm":
        return f"{layer.groups} group{'s' if layer.groups > 1 else ''}, ε = {layer.eps:g}"
    if layer.type == "leaky_relu":
        return f"slope a = {layer.slope:g}"
    return ""


def op_call(layer, fwd: dict, bwd: dict) -> tuple[str, dict, dict] | None:
    """The registry op, inputs and params this layer ran with (None: not one of these layers)."""
    if layer.type == "groupnorm":
        return "groupnorm", {"x": fwd["x"], "gamma": fwd["gamma"], "beta": fwd["beta"], "dout": bwd["dout"]}, \
            {"groups": layer.groups, "eps": layer.eps}
    if layer.type == "leaky_relu":
        return "leaky_relu", {"x": fwd["x"], "dout": bwd["dout"]}, {"slope": layer.slope}
    return None


def _group_note(layer, fwd: dict) -> str:
    c = fwd["x"].shape[1]
    per = c // layer.groups
    return f"{layer.groups} group{'s' if layer.groups > 1 else ''} of {per} channel{'s' if per > 1 else ''}"


def forward_blocks(layer, fwd: dict, show: Show, S: Pick) -> list[dict[str, Any]]:  # noqa: N803
    x = show(fwd["x"], "x", "Input x")
    if layer.type == "groupnorm":
        groups = _group_note(layer, fwd)
        return [x, *S("mean"), show(fwd["mean"], "mean", f"Mean μ of each example's group ({groups})", ("n", "g")),
                *S("var"), show(fwd["var"], "var", "Variance σ² of each group (biased)", ("n", "g")),
                *S("std", "x_hat"), show(fwd["x_hat"], "x_hat", "Normalised x̂ (each group on its own μ, σ)"),
                show(fwd["gamma"], "gamma", "γ (one per channel)"), show(fwd["beta"], "beta", "β (one per channel)"),
                *S("out"), show(fwd["out"], "out", "Output y = γ·x̂ + β")]
    t = layer.type
    mask = [show(fwd["mask"], "mask", "mask = [x > 0]")] if t == "leaky_relu" and "mask" in fwd else []
    return [x, *S(t), *mask, show(fwd["out"], "out", OUTPUT_TITLES[t]), *S("local_grad"),
            show(fwd["local_grad"], "local_grad", SLOPE_TITLES[t] + " (kept for backward)")]


def backward_blocks(layer, fwd: dict, bwd: dict, show: Show, S: Pick,  # noqa: N803
                    update_here: dict[str, Any]) -> list[dict[str, Any]]:
    dout = show(bwd["dout"], "dout", "Upstream gradient dout = dL/d(out)")
    if layer.type == "groupnorm":
        return [dout, *S("dbeta"), show(bwd["dbeta"], "dbeta", "dβ = Σ dout (over examples and positions)"),
                *S("dgamma"), show(bwd["dgamma"], "dgamma", "dγ = Σ dout · x̂"), update_here,
                *S("dx_hat"), show(bwd["dx_hat"], "dx_hat", "dx̂ = dout · γ"),
                *S("dvar"), show(bwd["dvar"], "dvar", "dσ² of each (example, group)", ("n", "g")),
                *S("dmean"), show(bwd["dmean"], "dmean", "dμ of each (example, group)", ("n", "g")),
                *S("dx"), show(bwd["dx"], "dx", "dx: the three paths (x̂, σ², μ) added")]
    return [dout, show(fwd["local_grad"], "local_grad", SLOPE_TITLES[layer.type] + " (from the forward pass)"),
            *S("dx"), show(bwd["dx"], "dx", "dx = dout · local slope")]
