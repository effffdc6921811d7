"""The loss panel of the network lab's step: softmax cross-entropy or the multiclass SVM (hinge) loss on the last
layer's logits, then the weight penalty (½·reg·Σw², l1·Σ|w|) as its own terms, with its gradient per weight.

The numbers are the traced step's (``engine.network.trace``: ``loss``, ``data_loss``, ``l2_penalty``,
``l1_penalty``, ``reg_grads``) and the loss op's own run and step records (``engine.registry``) on the same
logits and labels. ``show`` is :mod:`.step`'s array writer, passed in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from app.web.render.numbers import cell_text, exact_text
from engine import registry
from engine.network.model import Model
from engine.network.penalty import penalized
from engine.records import OpInputError
from engine.tex import tex_number

TITLES = {"softmax_cross_entropy": "softmax cross-entropy", "svm_loss": "multiclass SVM (hinge) loss"}
Show = Callable[..., dict[str, Any]]


def _formula(step) -> dict[str, Any]:
    return {"kind": "formula", "title": step.title, "latex": step.latex}


def _value(title: str, name: str, value: float) -> dict[str, Any]:
    return {"kind": "value", "title": title, "name": name, "text": cell_text(value), "exact": exact_text(value),
            "shape": "scalar"}


def loss_blocks(model: Model, trace: dict[str, Any], labels: np.ndarray, show: Show) -> list[dict[str, Any]]:
    """The loss op's blocks, from the logits to dL/dz (where backward starts)."""
    last = trace["layers"][-1]
    logits, dlogits = last["forward"]["out"], last["backward"]["dout"]
    inputs = {"logits": logits, "labels": labels}
    try:
        arrays, records = registry.trace_op(model.loss, inputs)
        steps = {s.name: _formula(s) for s in records}
    except OpInputError:
        arrays, steps = {}, {}

    def S(*names: str) -> list[dict[str, Any]]:  # noqa: N802 - the op's step records that it has, in order
        return [steps[n] for n in names if n in steps]

    n, k = logits.shape
    rows, classes = [f"n{i}" for i in range(n)], [str(j) for j in range(k)]
    grid = {"row_labels": rows, "col_labels": classes, "max_rows": 8}
    head = [show(logits, "logits", "Logits z (the last layer's output)", **grid),
            show(np.asarray(labels, np.float64), "labels", "Labels y")]
    data_loss = trace.get("data_loss", trace["loss"])
    name = "data_loss" if model.reg or model.l1 else "loss"  # without a penalty the data loss is the loss
    if model.loss == "svm_loss":
        body = [*S("correct"), show(arrays["correct"], "correct", "Score of the true class z[n, yₙ]")
                if "correct" in arrays else None,
                *S("margins"), show(arrays["margins"], "margins", "Margins max(0, z[n, j] − z[n, yₙ] + 1), 0 at the "
                                                                 "label", **grid) if "margins" in arrays else None,
                *S("mean"), _value("Data loss L = Σ margins / N", name, data_loss),
                *S("positive"), show(arrays["positive"], "positive", "Violated margins (1 = margin > 0)", **grid)
                if "positive" in arrays else None,
                *S("dlogits"), show(dlogits, "dlogits", "dL/dz = (violations − onehot(y)·their count) / N: "
                                                         "where backward starts", **grid)]
    else:
        body = [*S("shift", "exp", "normalise"),
                show(trace["probs"], "probs", "Probabilities p = softmax(z)", **grid), *S("log", "nll", "mean"),
                _value("Data loss L = mean over the batch of −log p[n, yₙ]", name, data_loss),
                *S("p_minus_y", "divide"),
                show(dlogits, "dlogits", "dL/dz = (p − onehot(y)) / N: where backward starts", **grid)]
    return head + [b for b in body if b is not None]


def penalty_blocks(model: Model, trace: dict[str, Any], show: Show) -> list[dict[str, Any]]:
    """The weight penalty as its own terms: what it adds to the loss, and to each penalized weight's gradient."""
    if not (model.reg or model.l1):
        return []
    l2, l1 = float(trace.get("l2_penalty", 0.0)), float(trace.get("l1_penalty", 0.0))
    names = penalized(model)
    parts, latex = [], [r"L_{\text{total}} = L_{\text{data}}"]
    if model.reg:
        latex.append(rf"+ \tfrac12 \cdot {tex_number(model.reg)} \sum w^2")
        parts.append(f"½·reg·Σw² = {cell_text(l2)}")
    if model.l1:
        latex.append(rf"+ {tex_number(model.l1)} \sum |w|")
        parts.append(f"l1·Σ|w| = {cell_text(l1)}")
    data = float(trace.get("data_loss", trace["loss"]))
    sums = rf"= {tex_number(data)} + " + " + ".join(tex_number(v) for v, on in ((l2, model.reg), (l1, model.l1)) if on)
    blocks: list[dict[str, Any]] = [
        {"kind": "formula", "title": "The weight penalty on every conv2d and linear w (" + ", ".join(names) + ")",
         "latex": " ".join(latex) + " " + sums + rf" = {tex_number(float(trace['loss']))}"},
        _value(" + ".join(["Data loss", *parts]) + " = total loss", "loss", float(trace["loss"])),
        {"kind": "formula", "title": "Its gradient adds to each weight's gradient (biases, γ and β are not penalized)",
         "latex": r"\frac{\partial L_{\text{total}}}{\partial w} = \frac{\partial L_{\text{data}}}{\partial w}"
                  + (rf" + {tex_number(model.reg)}\, w" if model.reg else "")
                  + (rf" + {tex_number(model.l1)}\, \operatorname{{sign}}(w)" if model.l1 else "")}]
    return blocks


def reg_grad_blocks(model: Model, trace: dict[str, Any], names: tuple[str, ...], show: Show
                    ) -> list[dict[str, Any]]:
    """A layer's backward: the penalty's share of each of its weights' gradients, and the sum the optimizer gets."""
    reg_grads = trace.get("reg_grads") or {}
    blocks = []
    for name in names:
        if name in reg_grads:
            what = " + ".join(t for t, on in (("reg·w", model.reg), ("l1·sign(w)", model.l1)) if on)
            blocks += [show(reg_grads[name], f"reg.{name}", f"The penalty's gradient {what} of {name}", ("f", "c"),
                            max_a=4),
                       show(trace["grads"][name], f"grad.{name}", f"d{name.rsplit('.', 1)[1]} the optimizer gets: "
                                                                   f"data gradient + penalty", ("f", "c"), max_a=4)]
    return blocks
