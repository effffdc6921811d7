"""A model's weight penalty: L2 (½·reg·Σw², cs231n's convention) and L1 (l1·Σ|w|) on every conv2d and linear w.

Biases and the norms' γ, β are not penalized (cs231n's fully connected and conv nets do the same).
The penalty adds to the data loss, its gradient to each weight's gradient:
    d(½·reg·Σw²)/dw = reg·w  (PyTorch's weight_decay λ is this reg),   d(l1·Σ|w|)/dw = l1·sign(w)  (0 at w = 0).
The terms are kept apart so a trace can show each.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.network.model import Model, infer_shapes


@dataclass(frozen=True)
class Penalty:
    l2: float  # ½·reg·Σw²
    l1: float  # l1·Σ|w|
    grads: dict[str, np.ndarray] = field(default_factory=dict)  # w's name -> reg·w + l1·sign(w); empty if no penalty

    @property
    def loss(self) -> float:
        return self.l2 + self.l1


def penalized(model: Model) -> list[str]:
    """The parameters the penalty applies to: every conv2d and linear ``w``, in parameter order."""
    return [name for info in infer_shapes(model) if info.type in ("conv2d", "linear")
            for name in info.param_shapes if name.endswith(".w")]


def penalize(model: Model, params: dict[str, np.ndarray]) -> Penalty:
    """The penalty of ``params`` under ``model.reg`` and ``model.l1`` (zero, with no gradients, when both are 0)."""
    if model.reg == 0 and model.l1 == 0:
        return Penalty(0.0, 0.0)
    l2 = l1 = 0.0
    grads: dict[str, np.ndarray] = {}
    for name in penalized(model):
        w = params[name]
        l2 += 0.5 * model.reg * float(np.sum(w * w))
        l1 += model.l1 * float(np.sum(np.abs(w)))
        grads[name] = model.reg * w + model.l1 * np.sign(w)
    return Penalty(l2, l1, grads)
