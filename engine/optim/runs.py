"""What the optimizer lab shows beyond engine.optim: whole runs step by step, paths streamed one point
at a time, gradient sequences, the formulas with one parameter's numbers plugged in, provenance, the
loss surfaces on a grid and a numeric check of their gradients.

Everything here is built on :func:`engine.optim.rules.optimizer_step` and :data:`engine.optim.surfaces.SURFACES`:
no update rule is re-implemented. NumPy only; nothing passed in is modified.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.gradcheck import numeric_gradient, relative_error
from engine.optim.rules import (
    SLOTS,
    OptimizerState,
    StepRecord,
    check_grads,
    clean_hyperparams,
    init_state,
    optimizer_step,
    optimizer_steps,
    recorded_step,
)
from engine.optim.surfaces import get_surface
from engine.records import Arrays, OpInputError, Step
from engine.tex import tex_number

GRADIENT_MODES = ("typed", "constant", "noisy", "surface")


# ---------------------------------------------------------------- gradient sequences


def gradient_sequence(mode: str, base: Any, steps: int, sigma: float = 0.0, seed: int = 0,
                      decimals: int = 4) -> np.ndarray:
    """(steps, P) gradients drawn from a function of t.

    ``constant``: every step is ``base``. ``noisy``: base + σ·z with z ~ N(0, 1) drawn from ``seed``
    (one row per step, so step t's draw does not depend on how many steps follow), rounded to
    ``decimals`` places so every value can be read and typed back exactly.
    """
    base = np.asarray(base, dtype=np.float64)
    if base.ndim != 1 or base.size == 0:
        raise OpInputError("base", "must be one number per parameter")
    if not isinstance(steps, int) or steps < 1:
        raise OpInputError("steps", f"must be a whole number ≥ 1, got {steps!r}")
    if mode == "constant":
        return np.tile(base, (steps, 1))
    if mode == "noisy":
        if not (math.isfinite(sigma) and sigma >= 0):
            raise OpInputError("sigma", f"must be a finite number ≥ 0, got {sigma!r}")
        rng = np.random.default_rng(seed)
        z = rng.standard_normal((steps, base.size))
        return np.round(base + sigma * z, decimals)
    raise OpInputError("mode", f"gradient sequences are constant or noisy; got {mode!r}")


def surface_gradient(surface: str, key: str | None = None) -> Callable[[Arrays], Arrays]:
    """∇f of a surface as a function of the parameters: {"x": x, "y": y}, or with ``key`` one
    vector parameter {key: [x, y]} (one optimizer update then handles both coordinates at once)."""
    surf = get_surface(surface)

    def grad(params: Arrays) -> Arrays:
        if key is not None:
            return {key: surf.grad(np.asarray(params[key], dtype=np.float64))}
        g = surf.grad(np.array([float(params["x"]), float(params["y"])]))
        return {"x": np.asarray(g[0]), "y": np.asarray(g[1])}

    return grad


# ---------------------------------------------------------------- a run, step by step


@dataclass(frozen=True)
class LabStep:
    """One update of a run with everything around it."""

    t: int  # the update's step number (1 on the first update from zero state; t₀ + 1 from a given state)
    params: Arrays  # θ_{t−1}: where this update started
    state: OptimizerState  # the state before this update
    grads: Arrays  # g_t as given to the optimizer
    record: StepRecord  # every intermediate of the update
    new_params: Arrays  # θ_t


def run_steps(name: str, params: dict[str, Any], hyperparams: dict[str, Any] | None = None,
              grads_seq: list[dict[str, Any]] | None = None, grad_fn: Callable[[Arrays], Arrays] | None = None,
              steps: int | None = None, state: OptimizerState | None = None) -> list[LabStep]:
    """Run optimizer ``name`` from zero state (or from ``state``: t counts the updates already taken),
    keeping every step; each :class:`LabStep`'s ``t`` is its update's own t (t₀ + 1 on the first).

    The gradients are either ``grads_seq`` (one {name: value} per step) or ``grad_fn(θ_{t−1})``
    for ``steps`` steps (e.g. :func:`surface_gradient`: the gradient along the path itself).
    Values that overflow are kept as inf/nan (a learning rate too large shows as such).
    """
    if (grads_seq is None) == (grad_fn is None):
        raise OpInputError("grads", "give either a sequence of gradients or a gradient function")
    hp = clean_hyperparams(name, hyperparams)
    current = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    state = init_state(name, current) if state is None else state
    count = len(grads_seq) if grads_seq is not None else steps
    if not isinstance(count, int) or count < 1:
        raise OpInputError("steps", f"must be a whole number ≥ 1, got {count!r}")
    out: list[LabStep] = []
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for i in range(count):
            grads = grads_seq[i] if grads_seq is not None else grad_fn(current)
            if i == 0:  # the given parameters and state, checked whole
                new, new_state, record = optimizer_step(name, current, grads, state, hp)
            else:  # the last step's own parameters and state: only the new gradient is checked
                check_grads(current, grads, "grads")
                new, new_state, record = recorded_step(name, current, grads, state, hp)
            out.append(LabStep(record.t, current, state, record.g, record, new))
            current, state = new, new_state
    return out


def table(steps: list[LabStep]) -> dict[str, np.ndarray]:
    """The quantities of a run as (T, P) arrays, row t − 1 for step t; the columns are every parameter
    number, parameter after parameter in order, each flattened (a vector parameter gives a column per
    element).

    Keys: ``g``, ``theta`` (θ_t after the step), ``update``, ``effective_step``, each slot of the
    optimizer (``m``, ``v``, ``s``), and where the optimizer has them ``m_hat``, ``v_hat``, ``denom``,
    ``g_wd`` (adam's L2 term), ``p_decayed`` (adamw).
    """
    names = list(steps[0].params)
    rec0 = steps[0].record

    def stack(get) -> np.ndarray:
        if len(names) == 1:  # one (vector) parameter: its elements are the columns
            return np.array([get(s)[names[0]] for s in steps], dtype=np.float64).reshape(len(steps), -1)
        return np.array([np.concatenate([np.ravel(get(s)[k]) for k in names]) for s in steps], dtype=np.float64)

    out = {"g": stack(lambda s: s.record.g), "theta": stack(lambda s: s.new_params),
           "update": stack(lambda s: s.record.update), "effective_step": stack(lambda s: s.record.effective_step)}
    for slot in SLOTS[rec0.optimizer]:
        out[slot] = stack(lambda s, slot=slot: s.record.slots[slot])
    for q in ("m_hat", "v_hat", "denom", "g_wd", "p_decayed"):
        if getattr(rec0, q):
            out[q] = stack(lambda s, q=q: getattr(s.record, q))
    return out


def difference(b: dict[str, np.ndarray], a: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """b − a for every quantity both step tables hold (e.g. PyTorch's form minus the notes')."""
    return {q: np.asarray(b[q]) - np.asarray(a[q]) for q in b if q in a}


def magnitude(values: np.ndarray) -> np.ndarray:
    """|values|: the size of an update, whichever way it points."""
    return np.abs(np.asarray(values, dtype=np.float64))


def step_formulas(step: LabStep, hyperparams: dict[str, Any] | None = None) -> list[Step]:
    """:func:`engine.optim.rules.optimizer_steps` for this step (the formulas with its hyperparameters)."""
    rec = step.record
    return optimizer_steps(rec.optimizer, step.params, step.grads, step.state,
                           rec.hyperparams if hyperparams is None else hyperparams)


# ---------------------------------------------------------------- formulas with one parameter's numbers


def _p(x: float) -> str:
    """A number as a factor: negatives and powers of ten in parentheses."""
    text = tex_number(x)
    return f"({text})" if text.startswith("-") or "10^" in text else text


def plugged_step(step: LabStep, key: str, index: tuple[int, ...] | int | None = None,
                 subs: list[Step] | None = None) -> list[tuple[Step, str]]:
    """Each sub-step of ``step`` with its formula (symbols) and the same formula with the numbers of
    parameter ``key`` (element ``index`` of it when the parameter is an array). ``subs``: the step's sub-steps
    when they are made already (:func:`step_formulas` of ``step``, as a traced network step keeps them)."""
    hp, t = step.record.hyperparams, step.t
    if subs is None:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # an overflowed run shows inf/nan
            subs = step_formulas(step)
    lines = []
    for st in subs:
        a = {q.partition(".")[0]: float(np.asarray(v)[() if index is None else index])  # "m_prev.4.7.gamma"
             for q, v in st.arrays.items() if q.partition(".")[2] == key}
        lines.append((st, _plug(st, a, t, hp, step.record.optimizer)))
    return lines


def _plug(st: Step, a: dict[str, float], t: int, hp: dict[str, Any] | None = None, name: str = "") -> str:
    hp = hp or {}
    n = tex_number
    lr = hp.get("lr")
    if st.name == "decay":
        lam = hp["weight_decay"]
        return rf"\theta' = {_p(a['p'])}\,(1 - {_p(lr)} \cdot {_p(lam)}) = {n(a['p_decayed'])}"
    if st.name == "weight_decay":
        return rf"g'_{{{t}}} = {_p(a['g'])} + {_p(hp['weight_decay'])} \cdot {_p(a['p'])} = {n(a['g_wd'])}"
    if st.name == "m":
        b1 = hp["beta1"]
        return rf"m_{{{t}}} = {_p(b1)} \cdot {_p(a['m_prev'])} + {_p(1 - b1)} \cdot {_p(a['g'])} = {n(a['m'])}"
    if st.name == "v" and name in ("adam", "adamw"):
        b2 = hp["beta2"]
        return (rf"v_{{{t}}} = {_p(b2)} \cdot {_p(a['v_prev'])} + {_p(1 - b2)} \cdot {_p(a['g'])}^2"
                rf" = {n(a['v'])}")
    if st.name == "v":  # momentum's velocity
        mu = hp["momentum"]
        if hp["form"] == "pytorch":
            return rf"v_{{{t}}} = {_p(mu)} \cdot {_p(a['v_prev'])} + {_p(a['g'])} = {n(a['v'])}"
        return rf"v_{{{t}}} = {_p(mu)} \cdot {_p(a['v_prev'])} + {_p(1 - mu)} \cdot {_p(a['g'])} = {n(a['v'])}"
    if st.name == "s":
        al = hp["alpha"]
        return rf"s_{{{t}}} = {_p(al)} \cdot {_p(a['s_prev'])} + {_p(1 - al)} \cdot {_p(a['g'])}^2 = {n(a['s'])}"
    if st.name in ("m_hat", "v_hat"):
        q, beta = ("m", hp["beta1"]) if st.name == "m_hat" else ("v", hp["beta2"])
        if hp["bias_correction"]:
            return (rf"\hat {q}_{{{t}}} = \frac{{{n(a[q])}}}{{1 - {_p(beta)}^{{{t}}}}} = \frac{{{n(a[q])}}}"
                    rf"{{{n(1 - beta**t)}}} = {n(a[st.name])}")
        return rf"\hat {q}_{{{t}}} = {q}_{{{t}}} = {n(a[q])}"
    # the update
    if name == "sgd":
        return rf"\theta_{{{t}}} = {_p(a['p'])} - {_p(lr)} \cdot {_p(a['g'])} = {n(a['p_new'])}"
    if name == "momentum":
        return rf"\theta_{{{t}}} = {_p(a['p'])} - {_p(lr)} \cdot {_p(a['v'])} = {n(a['p_new'])}"
    if name == "rmsprop":
        return (rf"\theta_{{{t}}} = {_p(a['p'])} - \frac{{{_p(lr)} \cdot {_p(a['g'])}}}{{{n(a['denom'])}}}"
                rf" = {n(a['p_new'])}")
    eps = hp["eps"]
    root = (rf"\sqrt{{{n(a['v_hat'])}}} + {n(eps)}" if hp["eps_placement"] == "outside"
            else rf"\sqrt{{{n(a['v_hat'])} + {n(eps)}}}")
    start = _p(a["p_decayed"]) if name == "adamw" else _p(a["p"])
    return (rf"\theta_{{{t}}} = {start} - \frac{{{_p(lr)} \cdot {_p(a['m_hat'])}}}{{{root}}}"
            rf" = {start} - \frac{{{n(lr * a['m_hat'])}}}{{{n(a['denom'])}}} = {n(a['p_new'])}")


# ---------------------------------------------------------------- provenance in the step table


def table_quantities(name: str, hyperparams: dict[str, Any] | None = None) -> set[str]:
    """The keys :func:`table` has for optimizer ``name`` with these hyperparameters."""
    hp = clean_hyperparams(name, hyperparams)
    keys = {"g", "theta", "update", "effective_step", *SLOTS[name]}
    if name in ("adam", "adamw"):
        keys |= {"m_hat", "v_hat", "denom"}
    if name == "rmsprop":
        keys.add("denom")
    if name == "adam" and hp["weight_decay"]:
        keys.add("g_wd")
    if name == "adamw":
        keys.add("p_decayed")
    return keys


def provenance(name: str, hyperparams: dict[str, Any] | None, quantity: str, t: int, i: int,
               gradient_mode: str = "typed", params: int = 1) -> dict[str, list[tuple[int, int]]]:
    """Which table cells the value ``quantity`` of parameter ``i`` at step ``t`` was computed from.

    Table cells are (step, parameter) with steps from 1; ``theta0`` is the starting vector
    (index (0, i)) and ``g_in`` the typed gradient grid (index (t − 1, i)). With surface gradients,
    g_t depends on every coordinate of θ_{t−1}.
    """
    hp = clean_hyperparams(name, hyperparams)
    if quantity not in table_quantities(name, hp):
        raise OpInputError("array", f"{quantity!r} is not a quantity of {name}")
    if t < 1 or i < 0:
        raise OpInputError("index", f"no cell ({t}, {i}) in the step table")

    def theta_prev(j: int = i) -> dict[str, list[tuple[int, int]]]:
        return {"theta0": [(0, j)]} if t == 1 else {"theta": [(t - 1, j)]}

    def merge(*parts: dict) -> dict[str, list[tuple[int, int]]]:
        out: dict[str, list[tuple[int, int]]] = {}
        for part in parts:
            for k, v in part.items():
                out.setdefault(k, []).extend(x for x in v if x not in out.get(k, []))
        return out

    adam = name in ("adam", "adamw")
    g_used = "g_wd" if name == "adam" and hp["weight_decay"] else "g"
    here = [(t, i)]
    if quantity == "g":
        if gradient_mode == "typed":
            return {"g_in": [(t - 1, i)]}
        if gradient_mode == "surface":
            return merge(*(theta_prev(j) for j in range(params)))
        return {}
    if quantity == "g_wd":
        return merge({"g": here}, theta_prev())
    if quantity == "p_decayed":
        return theta_prev()
    if quantity in ("m", "v", "s"):
        prev = {quantity: [(t - 1, i)]} if t > 1 else {}
        return merge(prev, {g_used if adam else "g": here})
    if quantity in ("m_hat", "v_hat"):
        return {quantity[0]: here}
    if quantity == "denom":
        return {"v_hat": here} if adam else {"s": here}
    if quantity == "effective_step":
        return {"denom": here} if name in ("rmsprop", "adam", "adamw") else {}
    if quantity == "update":
        if name == "sgd":
            return {"g": here, "effective_step": here}
        if name == "momentum":
            return {"v": here, "effective_step": here}
        if name == "rmsprop":
            return {"g": here, "effective_step": here}
        if name == "adamw":  # θ' = θ·(1 − lr·λ) moved the start before the Adam step
            return {"p_decayed": here, "m_hat": here, "effective_step": here}
        return {"m_hat": here, "effective_step": here}
    if quantity == "theta":
        return merge(theta_prev(), {"update": here})
    raise OpInputError("array", f"{quantity!r} is not a quantity of {name}")


# ---------------------------------------------------------------- paths on a surface, one point at a time


@dataclass(frozen=True)
class PathStep:
    """Update t of a path: the point it reached and the loss there (or why the path stopped)."""

    t: int
    point: np.ndarray | None  # (2,) after update t; None when the path stopped at this update
    loss: float | None
    reason: str = ""  # why the path stopped (only with point None)


def path_steps(surface: str, name: str, start: Any = None,
               hyperparams: dict[str, Any] | None = None) -> Iterator[PathStep]:
    """The points of :func:`engine.optim.rules.trajectory`, one update at a time, for as long as asked.

    Same start, same updates, same stopping rule: when a gradient, a point or a loss is not
    finite, one last PathStep with ``point=None`` says why, and the iteration ends.
    """
    surf = get_surface(surface)
    hp = clean_hyperparams(name, hyperparams)
    point = np.array(surf.start if start is None else start, dtype=np.float64)
    if point.shape != (2,) or not np.all(np.isfinite(point)):
        raise OpInputError("start", "must be two finite numbers [x, y]")
    state = init_state(name, {"p": point})
    t = 0
    # np.errstate is entered and left within each update, never across a yield: a generator may be
    # resumed from another thread or context (a stream fast-forwards in a worker thread)
    with np.errstate(over="ignore", invalid="ignore"):
        start_ok = math.isfinite(float(surf.f(point)))
    if not start_ok:
        yield PathStep(1, None, None, "the loss at the start is not finite")
        return
    while True:
        with np.errstate(over="ignore", invalid="ignore"):
            g = surf.grad(point)
            stop = "" if np.all(np.isfinite(g)) else f"the gradient at step {t} is not finite"
            if not stop:
                new, state, _ = optimizer_step(name, {"p": point}, {"p": g}, state, hp)
                loss = float(surf.f(new["p"]))
                if not (np.all(np.isfinite(new["p"])) and math.isfinite(loss)):
                    stop = f"diverged: update {t + 1} gave a point or loss that is not finite"
        if stop:
            yield PathStep(t + 1, None, None, stop)
            return
        t += 1
        point = new["p"]
        yield PathStep(t, point.copy(), loss)


def surface_loss(surface: str, point: Any) -> float:
    return float(get_surface(surface).f(np.asarray(point, dtype=np.float64)))


# ---------------------------------------------------------------- surfaces on a grid


@dataclass(frozen=True)
class SurfaceGrid:
    x: np.ndarray  # (n,)
    y: np.ndarray  # (n,)
    f: np.ndarray  # (n, n): f[j, i] = f(x[i], y[j]) (rows follow y, as a contour plot wants)
    level: np.ndarray  # (n, n): log(1 + f − min f), for contour levels that show valleys and walls alike


def surface_grid(surface: str, n: int = 61) -> SurfaceGrid:
    surf = get_surface(surface)
    if not isinstance(n, int) or not 2 <= n <= 400:
        raise OpInputError("n", f"must be a whole number between 2 and 400, got {n!r}")
    xs = np.linspace(*surf.x_range, n)
    ys = np.linspace(*surf.y_range, n)
    X, Y = np.meshgrid(xs, ys)
    f = surf.f(np.stack([X, Y], axis=-1))
    return SurfaceGrid(xs, ys, f, np.log1p(f - f.min()))


@dataclass(frozen=True)
class SurfaceCheck:
    worst: float  # the largest error |analytic − numeric| / max(|analytic| + |numeric|, 1)
    where: tuple[float, float]  # the point where it was
    checked: int  # points checked
    analytic: np.ndarray  # (checked, 2)
    numeric: np.ndarray  # (checked, 2)

    def ok(self, tol: float = 1e-6) -> bool:
        return self.worst < tol


def check_surface_gradient(surface: str, points: Any, h: float = 1e-5) -> SurfaceCheck:
    """The surface's analytic gradient against central differences of f at each point.

    The error is relative where the gradient is large and absolute where it is below 1: near a
    minimum the gradient is about 0 while central differences carry about h² · f‴ / 6 of
    truncation error, which a purely relative measure would blow up to order 1.
    """
    surf = get_surface(surface)
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if pts.shape[0] == 0:
        raise OpInputError("points", "needs at least one point")
    analytic = np.array([surf.grad(p) for p in pts])
    numeric = np.array([numeric_gradient(lambda q: float(surf.f(q)), p, h=h) for p in pts])
    err = relative_error(analytic, numeric, floor=1.0).max(axis=1)
    worst = int(np.argmax(err))
    return SurfaceCheck(float(err[worst]), (float(pts[worst, 0]), float(pts[worst, 1])), pts.shape[0],
                        analytic, numeric)
