"""2-D loss surfaces with their analytic gradients, and an optimizer's trajectory on one.

Each :class:`Surface` is f(x, y) and ∇f for points of shape (..., 2), with a start that shows
what the surface is about and its minima. :func:`trajectory` runs the update rules of
:mod:`engine.optim.rules` (``optimizer_step``, nothing re-implemented) from a start point and
stops, saying why, at the first gradient, point or loss that is not finite.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine import registry
from engine.optim.rules import clean_hyperparams, init_state, optimizer_step
from engine.records import OpInputError

MAX_TRAJECTORY_STEPS = 10_000


@dataclass(frozen=True)
class Surface:
    """A 2-D loss with its analytic gradient. ``f`` and ``grad`` take points of shape (..., 2)."""

    name: str
    title: str
    latex: str
    f: Callable[[np.ndarray], np.ndarray]  # (..., 2) -> (...)
    grad: Callable[[np.ndarray], np.ndarray]  # (..., 2) -> (..., 2)
    start: tuple[float, float]  # a start that shows the surface's point
    x_range: tuple[float, float]  # plot limits
    y_range: tuple[float, float]
    minima: tuple[tuple[float, float], ...]  # global minima (none for the saddle)
    doc: str = ""


def _xy(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(p, dtype=np.float64)
    return p[..., 0], p[..., 1]


def _ill_f(p):
    x, y = _xy(p)
    return 0.5 * (x**2 + 25.0 * y**2)


def _ill_grad(p):
    x, y = _xy(p)
    return np.stack([x, 25.0 * y], axis=-1)


def _rosen_f(p, a=1.0, b=100.0):
    x, y = _xy(p)
    return (a - x) ** 2 + b * (y - x**2) ** 2


def _rosen_grad(p, a=1.0, b=100.0):
    x, y = _xy(p)
    return np.stack([-2.0 * (a - x) - 4.0 * b * x * (y - x**2), 2.0 * b * (y - x**2)], axis=-1)


def _saddle_f(p):
    x, y = _xy(p)
    return x**2 - y**2


def _saddle_grad(p):
    x, y = _xy(p)
    return np.stack([2.0 * x, -2.0 * y], axis=-1)


def _himmelblau_f(p):
    x, y = _xy(p)
    return (x**2 + y - 11.0) ** 2 + (x + y**2 - 7.0) ** 2


def _himmelblau_grad(p):
    x, y = _xy(p)
    u, w = x**2 + y - 11.0, x + y**2 - 7.0
    return np.stack([4.0 * x * u + 2.0 * w, 2.0 * u + 4.0 * y * w], axis=-1)


def _beale_terms(p):
    x, y = _xy(p)
    return x, y, 1.5 - x + x * y, 2.25 - x + x * y**2, 2.625 - x + x * y**3


def _beale_f(p):
    _, _, t1, t2, t3 = _beale_terms(p)
    return t1**2 + t2**2 + t3**2


def _beale_grad(p):
    x, y, t1, t2, t3 = _beale_terms(p)
    dx = 2.0 * (t1 * (y - 1.0) + t2 * (y**2 - 1.0) + t3 * (y**3 - 1.0))
    dy = 2.0 * (t1 * x + t2 * 2.0 * x * y + t3 * 3.0 * x * y**2)
    return np.stack([dx, dy], axis=-1)


SURFACES: dict[str, Surface] = {s.name: s for s in (
    Surface("ill_conditioned", "Ill-conditioned quadratic", r"f(x, y) = \tfrac12\,(x^2 + 25\,y^2)",
            _ill_f, _ill_grad, (-4.5, 1.5), (-5.0, 5.0), (-2.0, 2.0), ((0.0, 0.0),),
            "curvature 25× larger along y: plain SGD zig-zags, momentum and Adam do not"),
    Surface("rosenbrock", "Rosenbrock valley (a = 1, b = 100)", r"f(x, y) = (1 - x)^2 + 100\,(y - x^2)^2",
            _rosen_f, _rosen_grad, (-1.2, 1.0), (-2.0, 2.0), (-1.0, 3.0), ((1.0, 1.0),),
            "a narrow curved valley: easy to reach, slow to follow to the minimum at (1, 1)"),
    Surface("saddle", "Saddle", r"f(x, y) = x^2 - y^2",
            _saddle_f, _saddle_grad, (-1.5, 0.01), (-2.0, 2.0), (-2.0, 2.0), (),
            "a saddle point at the origin; no minimum (the loss falls without bound along y)"),
    Surface("himmelblau", "Himmelblau", r"f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2",
            _himmelblau_f, _himmelblau_grad, (0.0, 0.0), (-5.0, 5.0), (-5.0, 5.0),
            ((3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)),
            "four minima, all with loss 0: where you end depends on where you start"),
    Surface("beale", "Beale", r"f(x, y) = (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2",
            _beale_f, _beale_grad, (1.0, 1.5), (-4.5, 4.5), (-4.5, 4.5), ((3.0, 0.5),),
            "flat plateaus and steep walls; the minimum is at (3, 0.5)"),
)}


@dataclass(frozen=True)
class Trajectory:
    """An optimizer's path on a surface: points[0] is the start, points[i] is after update i."""

    surface: str
    optimizer: str
    hyperparams: dict[str, Any]
    points: np.ndarray  # (k + 1, 2)
    losses: np.ndarray  # (k + 1,)
    grads: np.ndarray  # (k, 2): the gradient used by update i + 1, taken at points[i]
    diverged: bool
    diverged_at: int | None  # t of the update whose result was not finite (not stored in points)
    reason: str  # why it stopped early ("" when it ran every step)


def get_surface(name: str) -> Surface:
    if not isinstance(name, str) or name not in SURFACES:
        raise OpInputError("surface", f"unknown surface {name!r}; known surfaces: {', '.join(SURFACES)}")
    return SURFACES[name]


def trajectory(surface: str, name: str, start: Any = None, hyperparams: dict[str, Any] | None = None,
               steps: int = 100) -> Trajectory:
    """Run ``steps`` updates of optimizer ``name`` on ``surface`` from ``start`` (the surface's default).

    Stops early, with ``diverged`` set, as soon as a gradient, a point or a loss is not finite.
    """
    surf = get_surface(surface)
    hp = clean_hyperparams(name, hyperparams)
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_TRAJECTORY_STEPS:
        raise OpInputError("steps", f"must be a whole number between 1 and {MAX_TRAJECTORY_STEPS}, got {steps!r}")
    point = registry.as_array("start", surf.start if start is None else start)
    if point.shape != (2,):
        raise OpInputError("start", f"must be two numbers [x, y], got shape {list(point.shape)}")
    state = init_state(name, {"p": point})
    diverged_at, reason = None, ""
    with np.errstate(over="ignore", invalid="ignore"):
        points, losses, grads = [point], [float(surf.f(point))], []
        if not math.isfinite(losses[0]):
            return Trajectory(surface, name, hp, np.array(points), np.array(losses), np.zeros((0, 2)),
                              True, 0, "the loss at the start is not finite")
        for i in range(steps):
            g = surf.grad(point)
            if not np.all(np.isfinite(g)):
                diverged_at, reason = i + 1, f"the gradient at step {i} is not finite"
                break
            new, state, _ = optimizer_step(name, {"p": point}, {"p": g}, state, hp)
            loss = float(surf.f(new["p"]))
            if not (np.all(np.isfinite(new["p"])) and math.isfinite(loss)):
                diverged_at, reason = i + 1, f"diverged: update {i + 1} gave a point or loss that is not finite"
                break
            point = new["p"]
            points.append(point)
            losses.append(loss)
            grads.append(g)
    return Trajectory(surface=surface, optimizer=name, hyperparams=hp, points=np.array(points),
                      losses=np.array(losses), grads=np.array(grads).reshape(-1, 2),
                      diverged=diverged_at is not None, diverged_at=diverged_at, reason=reason)
