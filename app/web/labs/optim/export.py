"""What the optimizer lab exports: its step table — every step's state, bias-corrected moments, update and θ
(app.web.kit.export). The gradients go into the script as the table used them (typed, generated, or taken
along the path on a surface); the script recomputes the optimizer from them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from app.web.kit.export import Export, OpCall
from app.web.labs.optim import run as runs
from app.web.labs.optim.starting import SLOT_KEYS
from app.web.labs.optim.state import OptimState

SLOTS = {"sgd": (), "momentum": ("v",), "rmsprop": ("s",), "adam": ("m", "v", "m_hat", "v_hat"),
         "adamw": ("m", "v", "m_hat", "v_hat")}


def _stack(values: list[np.ndarray]) -> np.ndarray:
    return np.array([np.asarray(v, dtype=np.float64) for v in values])


def table(state: OptimState) -> dict[str, np.ndarray]:
    """The step table's arrays as the page's run computes them: (T, P) each, row t − 1 for step t."""
    steps = runs.run(state)
    key = runs.VECTOR
    arrays = {"g": _stack([s.grads[key] for s in steps]), "theta": _stack([s.new_params[key] for s in steps]),
              "update": _stack([s.record.update[key] for s in steps])}
    for slot in SLOTS[state.opt.name]:
        if slot in ("m_hat", "v_hat"):
            arrays[slot] = _stack([getattr(s.record, slot)[key] for s in steps])
        else:
            arrays[slot] = _stack([s.record.slots[slot][key] for s in steps])
    return arrays


def calls(state: OptimState) -> list[OpCall]:
    arrays = table(state)
    inputs = {"theta0": np.asarray(state.theta, dtype=np.float64), "grads": arrays["g"]}
    params = {"name": state.opt.name, **state.opt.hp}
    if state.starting:  # the table starts from a given state: t0 and the slots (m0, v0, s0)
        inputs.update({SLOT_KEYS[slot]: np.asarray(value, dtype=np.float64)
                       for slot, value in state.starting.slots.items()})
        params["t0"] = state.starting.t

    def engine(_inputs: Mapping[str, Any], _params: Mapping[str, Any]) -> Mapping[str, Any]:
        return arrays

    shown = (*SLOTS[state.opt.name], "update", "theta")
    return [OpCall("optimizer_steps", inputs, params, shown, engine=engine)]


EXPORT = Export(calls, title="Optimizer lab")
