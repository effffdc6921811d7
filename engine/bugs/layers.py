"""Planted variants beyond single ops: the optimizer's Adam step and a residual block's backward."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.ops.linear import linear_backward, linear_forward
from engine.optim.rules import init_state, optimizer_step

Arrays = dict[str, Any]


# ------------------------------------------------------------------ Adam


def adam_example(rng: np.random.Generator) -> tuple[Arrays, dict]:
    return {"theta": np.array([1.0, -2.0, 0.5]), "g": np.array([0.3, -0.01, 2.0])}, {"lr": 0.1, "steps": 3}


def _adam(inputs: Arrays, params: dict, bias_correction: bool) -> Arrays:
    """``steps`` Adam steps of θ with the same gradient g; the last step's m̂, v̂ and update."""
    theta, g = {"theta": np.asarray(inputs["theta"], float)}, {"theta": np.asarray(inputs["g"], float)}
    state = init_state("adam", theta)
    for _ in range(int(params.get("steps", 1))):
        theta, state, record = optimizer_step("adam", theta, g, state,
                                              {"lr": params.get("lr", 0.001), "bias_correction": bias_correction})
    return {"theta_after": theta["theta"], "m_hat": record.m_hat["theta"], "v_hat": record.v_hat["theta"],
            "update": record.update["theta"], "first_update": _first(inputs, params, bias_correction)}


def _first(inputs: Arrays, params: dict, bias_correction: bool) -> np.ndarray:
    theta, g = {"theta": np.asarray(inputs["theta"], float)}, {"theta": np.asarray(inputs["g"], float)}
    _, _, record = optimizer_step("adam", theta, g, init_state("adam", theta),
                                  {"lr": params.get("lr", 0.001), "bias_correction": bias_correction})
    return record.update["theta"]


def adam_reference(inputs: Arrays, params: dict) -> Arrays:
    return _adam(inputs, params, True)


def adam_no_bias(inputs: Arrays, params: dict) -> Arrays:
    return _adam(inputs, params, False)  # the bug: m̂ = m, v̂ = v


def adam_first_step_not_lr(bug: Arrays, inputs: Arrays, params: dict) -> bool:
    """PyTorch's Adam moves each parameter by lr·g/(|g| + ε) ≈ ±lr on its first step."""
    lr, g = float(params.get("lr", 0.001)), np.asarray(inputs["g"], float)
    return not np.allclose(bug["first_update"], -lr * np.sign(g), rtol=1e-3)


# ------------------------------------------------------------------ a residual block


def residual_example(rng: np.random.Generator) -> tuple[Arrays, dict]:
    return {"x": np.round(rng.normal(size=(2, 3)), 2), "w": np.round(rng.normal(size=(3, 3)), 2),
            "b": np.array([0.1, -0.2, 0.3]), "dout": np.round(rng.normal(size=(2, 3)), 2)}, {}


def _residual(inputs: Arrays, overwrite: bool) -> Arrays:
    """y = x + f(x) with f a linear layer; dx = dx_skip + dx_branch (the array names of CONVENTIONS' residual)."""
    x, w, b, dout = (np.asarray(inputs[k], float) for k in ("x", "w", "b", "dout"))
    fx, cache = linear_forward(x, w, b)
    grads = linear_backward(dout, cache)
    dx_skip, dx_branch = dout, grads.dx
    dx = dx_branch if overwrite else dx_skip + dx_branch  # the bug: = instead of +=
    return {"x": x, "fx": fx, "out": x + fx, "dout": dout, "dx_skip": dx_skip, "dx_branch": dx_branch, "dx": dx,
            "dw": grads.dw, "db": grads.db}


def residual_reference(inputs: Arrays, params: dict) -> Arrays:
    return _residual(inputs, overwrite=False)


def residual_overwrite(inputs: Arrays, params: dict) -> Arrays:
    return _residual(inputs, overwrite=True)


def overwrite_fork(dx_skip: np.ndarray, dx_branch: np.ndarray) -> np.ndarray:
    """The network's fork with the bug planted (engine.network.trace.fork_swapped): dx = dx_branch, the skip
    path's dout dropped (``=`` where ``+=`` belongs)."""
    return np.array(dx_branch, dtype=float, copy=True)
