"""Where a training run diverged: the first NaN or ∞ of a step, found by re-running it through the traced path.

The training loop (:func:`engine.network.runs.run_steps`) keeps no records; when a step's loss
or parameters stop being finite, :func:`divergence` re-runs that step keeping every layer's
output and gradient, and names the first one that is not finite (a layer's output, the loss,
a parameter's gradient, a layer's dx, or the optimizer's update).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.network import trace as network
from engine.network.model import (
    Model,
    backward_order,
    error_path,
    forward_order,
    iter_layers,
    layer_field,
    layer_groups,
)
from engine.optim import rules as optim
from engine.records import OpInputError


@dataclass(frozen=True)
class Divergence:
    step: int  # the 0-based step at which the first non-finite number appeared
    phase: str  # "forward" | "loss" | "backward" | "update"
    where: str  # "layer 3 (conv2d)", "parameter 0.w"
    field: str  # the model field or parameter name it points at
    message: str


def _first_bad(arr: np.ndarray) -> str:
    bad = np.argwhere(~np.isfinite(arr))
    if not bad.size:
        return ""
    idx = tuple(int(i) for i in bad[0])
    return f"{arr[idx]} at [{', '.join(map(str, idx))}]"


def divergence(model: Model, optimizer: str, hyperparams: dict[str, Any], params: dict[str, np.ndarray],
               state: optim.OptimizerState | None, x: np.ndarray, labels: np.ndarray, seed: int, t: int) -> Divergence:
    """Re-run training step ``t`` (from ``params`` and ``state``, dropout seed ``seed``) through the traced
    path and name the first non-finite number: forward layer by layer, the loss, backward, the update."""
    types = {path: layer.type for path, _, layer in iter_layers(model.layers)}

    def found(phase: str, where: str, fld: str, detail: str) -> Divergence:
        return Divergence(t, phase, where, fld,
                          f"training diverged at step {t + 1}: the first non-finite number (NaN or ∞) appeared in "
                          f"the {phase} pass, {where} ({detail})")

    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        records: dict[str, Any] = {}
        buffers = {k: v for k, v in params.items() if k.endswith((".running_mean", ".running_var"))}
        try:  # the layers alone first: the loss refuses non-finite logits, and we want the layer that made them
            network._forward_layers(model.layers, "", x, params, "train", seed, records, buffers)
        except OpInputError as err:  # an op refused what reached it: the layer before made it
            path = error_path(err) or "?"
            return found("forward", f"at layer {path} ({types.get(path, 'layer')}), which refused its input",
                         err.field, err.message)
        for path in forward_order(model):
            bad = _first_bad(records[path].out)
            if bad:
                return found("forward", f"in the output of layer {path} ({types[path]})", layer_field(path), bad)
        fwd = network._forward(model, params, x, labels, "train", seed)
        if not math.isfinite(fwd.loss):
            return found("forward", "in the loss", "model.loss", f"loss = {fwd.loss}")
        bwd = network.backward(fwd)
        groups = layer_groups(model)
        for path in backward_order(model):
            for name in groups.get(path, ()):
                bad = _first_bad(bwd.grads[name])
                if bad:
                    return found("backward", f"in the gradient of parameter {name} (layer {path}, {types[path]})",
                                 name, bad)
            bad = _first_bad(bwd.layers[path].dx)
            if bad:
                return found("backward", f"in dx of layer {path} ({types[path]})", layer_field(path), bad)
        learnable = {k: params[k] for k in bwd.grads}
        state = state or optim.init_state(optimizer, learnable)
        new, _, _ = optim.optimizer_step(optimizer, learnable, bwd.grads, state, hyperparams)
        for name, value in new.items():
            bad = _first_bad(value)
            if bad:
                return found("update", f"in the {optimizer} update of parameter {name}", name, bad)
    return found("update", "somewhere the traced path does not reproduce", "model", "the lean path overflowed")
