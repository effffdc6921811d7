"""The chain: how the loss reached one parameter element of a network, hop by hop, with the numbers.

A parameter element's gradient (dw[f, c, kh, kw] of a conv, dγ[c] of a batch norm, …) is a sum of
terms (:mod:`engine.explain.terms`); each term multiplies a coefficient by an upstream cell. The chain
follows, at every hop, the term of largest |product| to its upstream cell — through the layer's own
intermediates (a batch norm's dx̂, dσ², dμ), then up to the layer above (this layer's dout is the next
layer's dx; a residual block's dx is its skip plus its branch; the last layer inside a block receives the
block's dout) — until it reaches the loss's dlogits = (p − y)/N. Each hop keeps the whole sum (how many
terms, their total), so a page can say "this path carries 62 % of this cell's gradient".

Everything is read from a network trace (:func:`engine.network.trace.trace`): nothing is recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.explain.terms import TERMS, Term, Terms, cell, constant, terms_of
from engine.network.model import Model, Residual
from engine.records import OpInputError
from engine.registry import run_op

GRADIENTS = {"w": "dw", "b": "db", "gamma": "dgamma", "beta": "dbeta"}


@dataclass(frozen=True)
class Hop:
    """One cell on the way: its terms, and the one the chain follows on (None at the end)."""

    path: str  # the layer's path ("3", "4.0"), or "loss"
    op: str  # the layer's type, or the loss's op
    terms: Terms
    followed: Term | None

    @property
    def share(self) -> float | None:
        """The followed term's part of the cell's value (None when the value is 0)."""
        if self.followed is None or self.terms.value == 0:
            return None
        return self.followed.product / self.terms.value


@dataclass(frozen=True)
class Chain:
    param: str  # "0.w"
    index: tuple[int, ...]
    gradient: float  # the parameter element's gradient, penalty included
    penalty: float  # what the weight penalty adds to it (0 without one)
    hops: tuple[Hop, ...]  # from the parameter's gradient up to the loss (or where terms stop)
    end: str  # why the chain ends: "loss", or what stopped it


def _layers(model: Model) -> dict[str, Any]:
    """path -> layer, and path -> (the list it sits in, its position, the parent block's path)."""
    found: dict[str, Any] = {}

    def walk(layers, prefix: str, parent: str | None) -> None:
        for i, layer in enumerate(layers):
            path = f"{prefix}{i}"
            found[path] = (layer, len(layers), i, parent)
            if isinstance(layer, Residual):
                walk(layer.layers, f"{path}.", path)
    walk(model.layers, "", None)
    return found


def layer_at(model: Model, path: str) -> Any:
    """The layer at ``path`` ("4.0": the first layer inside the block at index 4)."""
    layers, layer = model.layers, None
    for part in path.split("."):
        layer = layers[int(part)]
        layers = getattr(layer, "layers", ())
    return layer


def op_params(layer: Any) -> dict[str, Any]:
    """The op params a layer ran with, as far as its terms read them."""
    t = layer.type
    if t == "conv2d":
        return {"stride": layer.stride, "pad": layer.pad}
    if t in ("maxpool2d", "avgpool2d"):
        return {"size": layer.size, "stride": layer.stride}
    if t == "batchnorm":
        return {"eps": layer.eps, "mode": "train", "convention": layer.convention}
    if t == "groupnorm":
        return {"groups": layer.groups, "eps": layer.eps}
    if t == "leaky_relu":
        return {"slope": layer.slope}
    return {}


def _next_cell(layers: dict[str, Any], path: str) -> tuple[str, str]:
    """Where this layer's output goes: (the consumer's path, the array there that equals this layer's dout)."""
    _, count, i, parent = layers[path]
    prefix = path.rsplit(".", 1)[0] + "." if "." in path else ""
    if i + 1 < count:
        return f"{prefix}{i + 1}", "dx"
    if parent is not None:
        return parent, "dout"  # the branch's last layer gets the block's dout: out = x + f(x)
    return "loss", "dlogits"


def gradient_chain(model: Model, trace: dict[str, Any], labels: Any, param: str,
                   index: tuple[int, ...]) -> Chain:
    """The chain from the loss to element ``index`` of parameter ``param`` ("0.w", "3.gamma")."""
    layers = _layers(model)
    path, _, short = param.rpartition(".")
    if path not in layers or short not in GRADIENTS:
        raise OpInputError("chain", f"{param!r} is not a parameter of this network (e.g. 0.w, 0.b)")
    entries = {e["path"]: e for e in trace["layers"]}
    layer = layers[path][0]
    grads = trace["grads"]
    if param not in grads:
        raise OpInputError("chain", f"{param} has no gradient in this step")
    index = tuple(int(i) for i in index)
    shape = np.shape(grads[param])
    if len(index) != len(shape) or any(not 0 <= i < s for i, s in zip(index, shape, strict=True)):
        raise OpInputError("chain", f"{param}{list(index)} is not an element: {param} has shape {list(shape)}")
    penalty = float(np.asarray(trace.get("reg_grads", {}).get(param, np.zeros(shape)))[index])
    hops: list[Hop] = []

    def done(end: str) -> Chain:
        return Chain(param, index, float(np.asarray(grads[param])[index]), penalty, tuple(hops), end)

    array, at = GRADIENTS[short], index
    while True:
        if path == "loss":
            hop, end = _loss_hop(model, trace, labels, at)
            hops.append(hop)
            return done(end)
        entry = entries[path]
        layer = layers[path][0]
        if layer.type == "residual" and array == "dx":
            terms = _residual_dx(entry, at)
        elif layer.type not in TERMS:
            return done(f"{layer.type} at layer {path} has no terms: the chain stops here")
        else:
            result = {**entry["forward"], **entry["backward"]}
            terms = terms_of(layer.type, result, op_params(layer), array, at)
        followed = terms.largest()
        hops.append(Hop(path, layer.type, terms, followed))
        if followed is None or followed.upstream.array is None:
            return done("nothing reaches this cell: its gradient is 0")
        up = followed.upstream
        at = up.index
        if layer.type == "residual":  # the skip (the block's own dout) or the branch (its first layer's dx)
            if up.array == "dx_branch":
                path, array = f"{path}.0", "dx"
                continue
        elif up.array != "dout":  # an intermediate of the same layer (batch norm's dx̂, dσ², dμ)
            array = up.array
            continue
        path, array = _next_cell(layers, path)
        while array == "dout" and path != "loss":  # a block's dout: where the block's output goes
            path, array = _next_cell(layers, path)


def _residual_dx(entry: dict[str, Any], index: tuple[int, ...]) -> Terms:
    """A residual block's dx = 1·dout (the skip) + 1·dx_branch (back through the block's layers)."""
    b = entry["backward"]
    terms = (Term(constant(1.0, "1 (skip)"), cell("dout", index, b["dout"][index])),
             Term(constant(1.0, "1 (branch)"), cell("dx_branch", index, b["dx_branch"][index])))
    formula = (r"\frac{\partial L}{\partial x} = \text{dout}"
               r" + \frac{\partial L}{\partial f}\frac{\partial f}{\partial x}")
    return Terms("residual", "dx", index, float(b["dx"][index]), terms, formula,
                 "The block adds its input to f(x): the gradient copies to both paths and adds up here.")


def _loss_hop(model: Model, trace: dict[str, Any], labels: Any, index: tuple[int, ...]) -> tuple[Hop, str]:
    last = trace["layers"][-1] if trace["layers"] else None
    dlogits = last["backward"]["dout"] if last else None
    if model.loss == "svm_loss" and dlogits is not None:  # the hinge's violations, from the same logits
        logits = last["forward"]["out"]
        result = run_op("svm_loss", {"logits": logits, "labels": np.asarray(labels, dtype=np.int64)})
        return Hop("loss", "svm_loss", terms_of("svm_loss", result, {}, "dlogits", index), None), "loss"
    if model.loss != "softmax_cross_entropy" or trace.get("probs") is None:
        value = float(dlogits[index]) if dlogits is not None else 0.0
        terms = Terms(model.loss, "dlogits", index, value, (), "", "")
        return Hop("loss", model.loss, terms, None), f"the {model.loss} loss: dlogits = {value:g} here"
    probs = np.asarray(trace["probs"])
    labels = np.asarray(labels, dtype=np.int64)
    onehot = np.zeros_like(probs)
    onehot[np.arange(len(labels)), labels] = 1
    result = {"logits": last["forward"]["out"], "labels": labels, "probs": probs, "onehot": onehot,
              "dlogits": dlogits}
    terms = terms_of("softmax_cross_entropy", result, {"temperature": 1.0}, "dlogits", index)
    return Hop("loss", "softmax_cross_entropy", terms, None), "loss"
