"""The optimizer lab's runs, computed by the engine for a state: the step table's steps and the surface paths.

The view only arranges what these return; the routes' gradient checks ask them where the steps went.
Paths are cached by their full input (a pure function of it): pages re-render the same paths often.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from typing import Any

import numpy as np

from app.web.kit.fields import FieldError
from app.web.labs.optim import starting
from app.web.labs.optim.state import OptimState, OptSpec
from engine.optim import runs as lab
from engine.optim import surfaces

VECTOR = "theta"  # the step table runs its parameters as one vector: one optimizer update per step


def run(state: OptimState, spec: OptSpec | None = None) -> list[lab.LabStep]:
    """The step table's run for ``state`` (or with another optimizer ``spec``).

    The parameters travel as one vector ``theta`` (column i is parameter ``state.names[i]``): the
    optimizers are elementwise, so this is the same arithmetic as one scalar per name, in one update.
    """
    spec = spec or state.opt
    params = {VECTOR: np.array(state.theta, dtype=np.float64)}
    start = state.starting.engine_state(VECTOR) if state.starting else None
    rows = state.grad_rows()
    if rows is None:
        return lab.run_steps(spec.name, params, spec.hp, grad_fn=lab.surface_gradient(state.gsurface, VECTOR),
                             steps=state.steps, state=start)
    return lab.run_steps(spec.name, params, spec.hp, grads_seq=[{VECTOR: row} for row in rows], state=start)


def continued(state: OptimState) -> OptimState:
    """"Continue from here": a new run that starts from θ and the optimizer state after the selected step k.

    Its t0 is step k's t. Typed gradients keep the rows after step k (from the last step: the last row,
    once); generated and surface gradients keep their rule and T. The selected step is the new run's first.
    """
    steps = run(state)
    step = steps[min(state.k, len(steps)) - 1]
    after = starting.after(step, VECTOR)
    if not all(np.all(np.isfinite(a)) for a in (step.new_params[VECTOR], *after.slots.values())):
        raise FieldError("k", f"θ or the state after step t = {step.t} is not a finite number (the run overflowed); "
                              "continue from an earlier step or lower the learning rate")
    new = replace(state, theta=np.array(step.new_params[VECTOR], dtype=np.float64),
                  starting=starting.canonical(after), k=1)
    if state.gmode == "typed":
        rows = state.grads[state.k:] if state.k < state.steps else state.grads[-1:]
        new = replace(new, grads=np.array(rows), steps=len(rows))
    return new


def path_points(steps: list[lab.LabStep]) -> np.ndarray:
    """θ_{t−1} of each step: where the surface-gradient steps took their gradients, (T, 2)."""
    return np.array([np.asarray(s.params[VECTOR], dtype=np.float64) for s in steps])


@lru_cache(maxsize=128)
def _trajectory(surface: str, name: str, start: tuple[float, float], hp: tuple, steps: int) -> surfaces.Trajectory:
    """engine.optim.rules.trajectory, cached by its full input."""
    return surfaces.trajectory(surface, name, list(start), dict(hp), steps)


def path(state: OptimState, spec: OptSpec) -> dict[str, Any]:
    """One run's path up to t: points, losses, and whether (and why) it stopped."""
    if state.t == 0:
        loss = lab.surface_loss(state.surface, state.start)
        return {"points": np.array([state.start]), "losses": np.array([loss]), "stopped": None, "reason": ""}
    tr = _trajectory(state.surface, spec.name, tuple(state.start), tuple(spec.hp.items()), state.t)
    return {"points": tr.points, "losses": tr.losses, "stopped": tr.diverged_at, "reason": tr.reason}


def check_points(state: OptimState) -> np.ndarray:
    """Where to check the surface's gradient: a 7 × 7 grid over the plot, the start, and the paths so far."""
    surf = surfaces.SURFACES[state.surface]
    xs, ys = np.linspace(*surf.x_range, 7), np.linspace(*surf.y_range, 7)
    X, Y = np.meshgrid(xs, ys)
    pts = [np.stack([X.ravel(), Y.ravel()], axis=1), np.array([state.start])]
    for spec in state.runs:
        p = path(state, spec)["points"]
        pts.append(p[:: max(1, len(p) // 20)])
    return np.concatenate(pts)
