"""Optimizers as pure update functions over an explicit state (the 2-D loss surfaces: engine.optim.surfaces).

One update is :func:`optimizer_step`: it takes the parameters, their gradients and an
:class:`OptimizerState` (the step count ``t`` and the slots ``m``, ``v``, ``s``) and returns
new parameters, a new state and a :class:`StepRecord` of every intermediate. Nothing passed in
is modified. The formulas are CONVENTIONS.md's (Optimizers):

- sgd: p ← p − lr·g
- momentum, form ``pytorch``: v ← μ·v + g; form ``ema`` (the notes): v ← μ·v + (1−μ)·g; then p ← p − lr·v
- rmsprop: s ← α·s + (1−α)·g²; p ← p − lr·g/(√s + ε)
- adam: m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; m̂ = m/(1−β1ᵗ), v̂ = v/(1−β2ᵗ) (or m̂ = m,
  v̂ = v with ``bias_correction`` off); p ← p − lr·m̂/(√v̂ + ε), or lr·m̂/√(v̂ + ε) with
  ``eps_placement="inside"`` (the notes). Adam's ``weight_decay`` λ is PyTorch's L2 form: the
  moments see g + λ·p.
- adamw: as adam, but the decay is decoupled and comes first, as in PyTorch:
  p ← p·(1 − lr·λ), then the Adam step (which does not depend on p) is subtracted.

The state starts at zero with t = 0, so the first update runs with t = 1 — or from a given
state (:func:`state_from_json`: ``t`` counts the updates already taken, the slots their values),
so a run can continue where another stopped (cs231n's tests start Adam at t = 5).

``effective_step`` is the per-element learning rate the update used: lr/(√v̂ + ε) (or
lr/√(v̂ + ε)) for adam/adamw, lr/(√s + ε) for rmsprop, plain lr for sgd and momentum. So the
Adam step is −effective_step·m̂, the RMSprop step −effective_step·g, the SGD step
−effective_step·g and the momentum step −effective_step·v (adamw's decay and adam's L2 term
come on top, as recorded in ``p_decayed`` and ``g_wd``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from types import MappingProxyType, SimpleNamespace
from typing import Any

import numpy as np

from engine import conventions, registry
from engine.records import Arrays, OpInputError, Param, Step
from engine.tex import tex_number

MAX_STEPS = 1000  # updates one run_optimizer call may ask for
MAX_T = 10**6  # a starting state's step count
MAX_ELEMENTS = 100_000  # parameter numbers one run_optimizer call may hold, all parameters together

_BETA_HI = 0.999999  # a decay rate of 1 would divide by 1 − β^t = 0 (or never move)


def _lr(default: float) -> Param:
    return Param("lr", float, default, 0.0, 10.0, doc="learning rate α")


def _adam(weight_decay: float, decoupled: bool) -> tuple[Param, ...]:
    decay_doc = ("decoupled weight decay λ: p ← p·(1 − lr·λ) before the Adam step" if decoupled
                 else "L2 weight decay λ added to the gradient: g ← g + λ·p (PyTorch's Adam)")
    return (
        _lr(1e-3),
        Param("beta1", float, 0.9, 0.0, _BETA_HI, doc="decay rate β1 of the first moment m"),
        Param("beta2", float, 0.999, 0.0, _BETA_HI, doc="decay rate β2 of the second moment v"),
        Param("eps", float, 1e-8, 1e-12, 1.0, doc="ε, keeps the denominator away from zero"),
        Param("eps_placement", str, "outside", choices=conventions.values("eps_placement"),
              doc="outside: √v̂ + ε (PyTorch, Kingma & Ba); inside: √(v̂ + ε) (the notes)"),
        Param("bias_correction", bool, True, doc="divide m and v by 1 − βᵗ (off: the notes' 001 example)"),
        Param("weight_decay", float, weight_decay, 0.0, 1.0, doc=decay_doc),
    )


OPTIMIZERS: dict[str, tuple[Param, ...]] = {
    "sgd": (_lr(0.01),),
    "momentum": (
        _lr(0.01),
        Param("momentum", float, 0.9, 0.0, 1.0, doc="momentum coefficient μ (β in the notes)"),
        Param("form", str, "pytorch", choices=conventions.values("form"),
              doc="pytorch: v ← μ·v + g; ema (the notes): v ← μ·v + (1 − μ)·g"),
    ),
    "rmsprop": (
        _lr(0.01),
        Param("alpha", float, 0.99, 0.0, _BETA_HI, doc="decay rate α of the mean square s"),
        Param("eps", float, 1e-8, 1e-12, 1.0, doc="ε, added to √s"),
    ),
    "adam": _adam(0.0, decoupled=False),
    "adamw": _adam(0.01, decoupled=True),
}

TITLES = {"sgd": "SGD", "momentum": "SGD with momentum", "rmsprop": "RMSprop", "adam": "Adam", "adamw": "AdamW"}

SLOT_DOCS = {"m": "first moment (moving average of g)", "v": "velocity (momentum) or second moment (adam)",
             "s": "moving average of g² (rmsprop)"}
NONNEGATIVE = {"rmsprop": ("s",), "adam": ("v",), "adamw": ("v",)}  # running means of squares
ALIASES = {"velocity": "v", "cache": "s", "mt": "m", "vt": "v"}  # other courses' names for the same slots

SLOTS: dict[str, tuple[str, ...]] = {
    "sgd": (),
    "momentum": ("v",),  # velocity
    "rmsprop": ("s",),  # running mean of g²
    "adam": ("m", "v"),  # first and second moment
    "adamw": ("m", "v"),
}


@dataclass(frozen=True)
class OptimizerState:
    """What an optimizer carries from one update to the next."""

    t: int  # updates done so far (0 before the first; the first update runs with t = 1)
    slots: dict[str, dict[str, np.ndarray]]  # slot name ("m", "v", "s") -> parameter name -> array


@dataclass(frozen=True)
class StepRecord:
    """Every intermediate of one update, per quantity then per parameter name (copies)."""

    optimizer: str
    t: int  # the step number this update used (1 on the first)
    hyperparams: dict[str, Any]  # every hyperparameter, defaults filled in
    g: Arrays  # the gradients as given
    g_wd: Arrays  # adam with weight_decay > 0: g + λ·p, what the moments saw (else empty)
    p_decayed: Arrays  # adamw: p·(1 − lr·λ), where the Adam step starts from (else empty)
    slots: dict[str, Arrays]  # each slot's new value: {"m": {...}, "v": {...}}
    m_hat: Arrays  # adam/adamw: bias-corrected first moment (= m with bias correction off)
    v_hat: Arrays  # adam/adamw: bias-corrected second moment (= v with bias correction off)
    denom: Arrays  # adam/adamw: √v̂ + ε or √(v̂ + ε); rmsprop: √s + ε (else empty)
    update: Arrays  # the change applied: new − old parameter
    effective_step: Arrays  # the per-element learning rate (see the module docstring)


# ---------------------------------------------------------------- validation


def get_optimizer(name: str) -> tuple[Param, ...]:
    """The hyperparameter specs of optimizer ``name``."""
    if not isinstance(name, str) or name not in OPTIMIZERS:
        raise OpInputError("optimizer", f"unknown optimizer {name!r}; known optimizers: {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[name]


def clean_hyperparams(name: str, hyperparams: dict[str, Any] | None) -> dict[str, Any]:
    """Every hyperparameter of ``name``, validated strictly (never clamped), defaults filled in."""
    specs = get_optimizer(name)
    if hyperparams is not None and not isinstance(hyperparams, dict):
        raise OpInputError("hyperparams", f"must be an object of name: value, got {hyperparams!r}")
    try:
        clean = registry.clean_params(SimpleNamespace(name=name, params=specs), hyperparams)
    except OpInputError as err:  # the registry names fields params.<name>; here they are hyperparams.<name>
        raise OpInputError("hyperparams." + err.field.removeprefix("params."), err.message) from None
    return {**clean, **_FORCED.get().get(name, {})}


# Hyperparameters forced for the current context only (spot the bug: Adam planted without its bias correction,
# whatever the page asks for). A ContextVar, like engine.registry.swapped: no other request or thread sees it.
_FORCED: ContextVar[Mapping[str, Mapping[str, Any]]] = ContextVar("engine_optim_forced", default=MappingProxyType({}))


@contextmanager
def forced(hyperparams: Mapping[str, Mapping[str, Any]]) -> Iterator[None]:
    """Within the block (this context only), :func:`clean_hyperparams` of optimizer ``name`` answers
    ``hyperparams[name]`` over what it was given."""
    token = _FORCED.set({**_FORCED.get(), **hyperparams})
    try:
        yield
    finally:
        _FORCED.reset(token)


def _as_float(field: str, value: Any) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind == "f":
        return arr
    if arr.dtype.kind in "iub":
        return arr.astype(np.float64)
    raise OpInputError(field, "must hold numbers only")


def _check_names(field: str, params: Any) -> None:
    if not isinstance(params, dict) or not params:
        raise OpInputError(field, "must be a non-empty object of parameter name: array")
    for key in params:
        if not isinstance(key, str) or not key:
            raise OpInputError(field, f"parameter names must be non-empty strings, got {key!r}")


def check_grads(params: Arrays, grads: Any, field: str) -> None:
    """``grads`` has exactly the names of ``params``, each with its parameter's shape."""
    names = ", ".join(params)
    if not isinstance(grads, dict):
        raise OpInputError(field, f"must be an object with one gradient per parameter ({names})")
    for key in grads:
        if key not in params:
            raise OpInputError(f"{field}.{key}", f"there is no parameter {key!r} (parameters: {names})")
    for key, p in params.items():
        if key not in grads:
            raise OpInputError(f"{field}.{key}",
                               f"is missing: every step needs a gradient for each parameter ({names})")
        try:
            shape = np.shape(grads[key])
        except ValueError:
            raise OpInputError(f"{field}.{key}", "is ragged: every row must have the same length") from None
        if shape != p.shape:
            raise OpInputError(f"{field}.{key}",
                               f"has shape {list(shape)} but parameter {key} has shape {list(p.shape)}")


def _check_state(name: str, params: Arrays, state: Any) -> None:
    if not isinstance(state, OptimizerState):
        raise OpInputError("state", "must be an OptimizerState (see init_state)")
    if not isinstance(state.t, int) or state.t < 0:
        raise OpInputError("state.t", f"must be a whole number ≥ 0, got {state.t!r}")
    if set(state.slots) != set(SLOTS[name]):
        want = ", ".join(SLOTS[name]) or "none"
        raise OpInputError("state", f"{name} keeps the slots {want}; got {', '.join(state.slots) or 'none'}")
    for slot, arrays in state.slots.items():
        if set(arrays) != set(params):
            raise OpInputError(f"state.{slot}", f"must hold one array per parameter ({', '.join(params)})")
        for key, arr in arrays.items():
            if np.shape(arr) != params[key].shape:
                raise OpInputError(f"state.{slot}.{key}", f"has shape {list(np.shape(arr))} but parameter {key} "
                                                          f"has shape {list(params[key].shape)}")


# ---------------------------------------------------------------- one update


def init_state(name: str, params: dict[str, Any]) -> OptimizerState:
    """Zeros in every slot (in each parameter's dtype), t = 0."""
    get_optimizer(name)
    _check_names("params", params)
    arrays = {k: _as_float(f"params.{k}", v) for k, v in params.items()}
    return OptimizerState(t=0, slots={slot: {k: np.zeros_like(p) for k, p in arrays.items()} for slot in SLOTS[name]})


def optimizer_step(name: str, params: dict[str, Any], grads: dict[str, Any], state: OptimizerState,
                   hyperparams: dict[str, Any] | None = None) -> tuple[Arrays, OptimizerState, StepRecord]:
    """One update: (new parameters, new state, record). Computes in each parameter's dtype."""
    hp = clean_hyperparams(name, hyperparams)
    _check_names("params", params)
    arrays = {k: _as_float(f"params.{k}", v) for k, v in params.items()}
    check_grads(arrays, grads, "grads")
    _check_state(name, arrays, state)
    return recorded_step(name, arrays, grads, state, hp)


def recorded_step(name: str, arrays: Arrays, grads: dict[str, Any], state: OptimizerState, hp: dict[str, Any]
                  ) -> tuple[Arrays, OptimizerState, StepRecord]:
    """:func:`optimizer_step` after its checks: ``arrays`` float, ``grads`` of their names and shapes, ``state``
    theirs, ``hp`` clean. A run checks its first step whole and then only each new gradient (every later
    parameter and state is this function's own output)."""
    g = {k: np.array(_as_float(f"grads.{k}", grads[k]), dtype=p.dtype, copy=True) for k, p in arrays.items()}
    rec: dict[str, Arrays] = {k: {} for k in ("g_wd", "p_decayed", "m_hat", "v_hat", "denom", "update",
                                               "effective_step")}
    new_params, new_state = _update(name, arrays, g, state, hp, rec)
    rec = {q: {k: np.asarray(a) for k, a in d.items()} for q, d in rec.items()}
    record = StepRecord(optimizer=name, t=new_state.t, hyperparams=dict(hp), g=g,
                        slots={s: {k: a.copy() for k, a in d.items()} for s, d in new_state.slots.items()}, **rec)
    return new_params, new_state, record


def lean_step(name: str, params: Arrays, grads: Arrays, state: OptimizerState, hp: dict[str, Any]
              ) -> tuple[Arrays, OptimizerState]:
    """:func:`optimizer_step`'s numbers, unchecked and unrecorded: a training loop's own arrays, ``hp`` clean."""
    return _update(name, params, grads, state, hp, None)


def _update(name: str, arrays: Arrays, grads: Arrays, state: OptimizerState, hp: dict[str, Any],
            rec: dict[str, Arrays] | None) -> tuple[Arrays, OptimizerState]:
    """The update rules; ``rec`` (when given) collects the intermediates by quantity, then parameter name."""
    t, lr = state.t + 1, hp["lr"]
    new_params: Arrays = {}
    slots: dict[str, Arrays] = {slot: {} for slot in SLOTS[name]}
    for key, p in arrays.items():
        g, seen = grads[key], {}  # seen: this parameter's intermediates, for rec
        if name == "sgd":
            new, denom = p - lr * g, None
        elif name == "momentum":
            mu, v_prev = hp["momentum"], state.slots["v"][key]
            v = slots["v"][key] = mu * v_prev + g if hp["form"] == "pytorch" else mu * v_prev + (1 - mu) * g
            new, denom = p - lr * v, None
        elif name == "rmsprop":
            s = slots["s"][key] = hp["alpha"] * state.slots["s"][key] + (1 - hp["alpha"]) * (g * g)
            denom = np.sqrt(s) + hp["eps"]
            new, seen["denom"] = p - lr * (g / denom), denom
        else:  # adam, adamw
            beta1, beta2, lam = hp["beta1"], hp["beta2"], hp["weight_decay"]
            base, g_used = p, g
            if name == "adamw":
                base = seen["p_decayed"] = p * (1 - lr * lam)  # PyTorch's AdamW: p.mul_(1 − lr·λ) first
            elif lam != 0:
                g_used = seen["g_wd"] = g + lam * p  # PyTorch's Adam: grad = grad.add(p, alpha=λ)
            m = slots["m"][key] = beta1 * state.slots["m"][key] + (1 - beta1) * g_used
            v = slots["v"][key] = beta2 * state.slots["v"][key] + (1 - beta2) * (g_used * g_used)
            m_hat, v_hat = (m / (1 - beta1**t), v / (1 - beta2**t)) if hp["bias_correction"] else (m.copy(), v.copy())
            denom = np.sqrt(v_hat) + hp["eps"] if hp["eps_placement"] == "outside" else np.sqrt(v_hat + hp["eps"])
            new = base - lr * m_hat / denom
            seen.update(m_hat=m_hat, v_hat=v_hat, denom=denom)
        new_params[key] = new
        if rec is not None:
            eff = np.full_like(p, lr) if denom is None else lr / denom
            for q, a in {**seen, "update": new - p, "effective_step": eff}.items():
                rec[q][key] = a
    # 0-d parameters come out of NumPy arithmetic as scalars: keep every value an ndarray
    new_params = {k: np.asarray(a) for k, a in new_params.items()}
    slots = {s: {k: np.asarray(a) for k, a in d.items()} for s, d in slots.items()}
    return new_params, OptimizerState(t=t, slots=slots)


# ---------------------------------------------------------------- a starting state


def state_from_json(name: str, params: Arrays, state: Any, dtype: Any = np.float64,
                    max_elements: int | None = None) -> OptimizerState:
    """A starting :class:`OptimizerState` from the JSON API's ``state``, validated strictly.

    ``{"t": 5, "m": {name: array}, "v": {name: array}}``: the keys the answer uses. ``t`` (default 0)
    counts the updates already taken; every slot of the optimizer must be given, one array per
    parameter in its shape; second-moment slots (rmsprop's s, adam's v) may not be negative.
    """
    get_optimizer(name)
    slots = SLOTS[name]
    allowed = ", ".join(("t", *slots))
    if not isinstance(state, dict):
        raise OpInputError("state", f"must be an object with the keys {allowed}, got {type(state).__name__}")
    for key in state:
        if key in slots or key == "t":
            continue
        if key in ("m_hat", "v_hat"):
            raise OpInputError(f"state.{key}", f"is computed from {key[0]} and t at each step, not given "
                                               f"(allowed keys: {allowed})")
        if ALIASES.get(key) in slots:
            raise OpInputError(f"state.{key}", f"{name} keeps this slot under the name {ALIASES[key]!r}, the one "
                                               f"its answer uses (allowed keys: {allowed})")
        raise OpInputError(f"state.{key}", f"{name} has no state {key!r} (allowed keys: {allowed})")
    t = state.get("t", 0)
    if isinstance(t, bool) or not isinstance(t, (int, float)) or t != t or t != int(t) or not 0 <= t <= MAX_T:
        raise OpInputError("state.t", f"must be a whole number from 0 to {MAX_T} (the updates already taken), "
                                      f"got {t!r}")
    arrays: dict[str, Arrays] = {}
    for slot in slots:
        field = f"state.{slot}"
        given = state.get(slot)
        if not isinstance(given, dict):
            raise OpInputError(field, f"is required: {name}'s {SLOT_DOCS[slot]}, one array per parameter "
                                      f"({', '.join(params)})" if given is None else
                                      "must be an object of parameter name: array")
        for key in given:
            if key not in params:
                raise OpInputError(f"{field}.{key}", f"there is no parameter {key!r} (parameters: {', '.join(params)})")
        arrays[slot] = {}
        for key, p in params.items():
            if key not in given:
                raise OpInputError(f"{field}.{key}", f"is missing: {slot} needs one array per parameter "
                                                     f"({', '.join(params)})")
            arr = registry.as_array(f"{field}.{key}", given[key], dtype, max_elements=max_elements)
            if arr.shape != p.shape:
                raise OpInputError(f"{field}.{key}", f"has shape {list(arr.shape)} but parameter {key} has shape "
                                                     f"{list(p.shape)}")
            if slot in NONNEGATIVE.get(name, ()) and np.any(arr < 0):
                bad = [int(i) for i in np.argwhere(arr < 0)[0]]
                raise OpInputError(f"{field}.{key}", f"is a running mean of squares and may not be negative; "
                                                     f"element {bad} is {arr[tuple(bad)]:g}")
            arrays[slot][key] = arr
    return OptimizerState(t=int(t), slots=arrays)


# ---------------------------------------------------------------- the JSON API's run


def _validate_run(name: str, params: Any, grads_seq: Any, dtype: str, max_steps: int,
                  max_elements: int) -> tuple[Arrays, list[Arrays]]:
    get_optimizer(name)
    if dtype not in registry.DTYPES:
        raise OpInputError("dtype", f"must be one of {', '.join(registry.DTYPES)}; got {dtype!r}")
    np_dtype = registry.DTYPES[dtype]
    _check_names("params", params)
    arrays = {k: registry.as_array(f"params.{k}", v, np_dtype, max_elements=max_elements) for k, v in params.items()}
    total = sum(a.size for a in arrays.values())
    if total > max_elements:
        raise OpInputError("params", f"hold {total} numbers in all; the limit is {max_elements}")
    if not isinstance(grads_seq, (list, tuple)):
        raise OpInputError("grads", "must be a list with one {name: array} object per step")
    if not grads_seq:
        raise OpInputError("grads", "needs at least one step")
    if len(grads_seq) > max_steps:
        raise OpInputError("grads", f"has {len(grads_seq)} steps; the limit is {max_steps}")
    seq = []
    for i, grads in enumerate(grads_seq):
        field = f"grads[{i}]"
        check_grads(arrays, grads, field)  # names and shapes first: the clearest message for a mismatch
        seq.append({k: registry.as_array(f"{field}.{k}", grads[k], np_dtype) for k in arrays})
    return arrays, seq


def run_optimizer(name: str, params: dict[str, Any], grads_seq: list[dict[str, Any]],
                  hyperparams: dict[str, Any] | None = None, dtype: str = "float64",
                  max_steps: int = MAX_STEPS, max_elements: int = MAX_ELEMENTS,
                  state: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The JSON API's ``steps``: one entry per gradient in ``grads_seq``, starting from zero state
    (t = 0) or from ``state`` (see :func:`state_from_json`; its first step is then t + 1).

    Each entry: ``{"t", "params", "state", "update", "effective_step"}``; ``state`` holds the
    slots (momentum ``v``; rmsprop ``s``; adam ``m``, ``v``, ``m_hat``, ``v_hat``; sgd nothing).
    Arrays are NumPy arrays keyed by parameter name.
    """
    hp = clean_hyperparams(name, hyperparams)
    arrays, seq = _validate_run(name, params, grads_seq, dtype, max_steps, max_elements)
    current = (init_state(name, arrays) if state is None
               else state_from_json(name, arrays, state, registry.DTYPES[dtype], max_elements))
    steps = []
    for grads in seq:
        arrays, current, rec = optimizer_step(name, arrays, grads, current, hp)
        shown = dict(rec.slots)
        if name in ("adam", "adamw"):
            shown.update(m_hat=rec.m_hat, v_hat=rec.v_hat)
        steps.append({"t": rec.t, "params": arrays, "state": shown, "update": rec.update,
                      "effective_step": rec.effective_step})
    return steps


# ---------------------------------------------------------------- step records


def _group(**quantities: Arrays) -> Arrays:
    """Step arrays keyed ``<quantity>.<parameter>`` ("m.w", "g.4.0.b"), as copies."""
    return {f"{q}.{k}": np.array(a, copy=True) for q, arrays in quantities.items() for k, a in arrays.items()}


def optimizer_steps(name: str, params: dict[str, Any], grads: dict[str, Any], state: OptimizerState,
                    hyperparams: dict[str, Any] | None = None) -> list[Step]:
    """The sub-steps of one update, in order, with their formulas (numbers filled in) and arrays.

    Arrays are keyed ``<quantity>.<parameter name>``: ``p`` the old parameter, ``g`` the
    gradient, ``m_prev``/``v_prev``/``s_prev`` the slots before, ``m``/``v``/``s`` after,
    ``p_new`` the new parameter.
    """
    new_params, _, rec = optimizer_step(name, params, grads, state, hyperparams)
    hp, t = rec.hyperparams, rec.t
    p = {k: _as_float(f"params.{k}", v) for k, v in params.items()}
    prev = {f"{slot}_prev": arrays for slot, arrays in state.slots.items()}
    lr = tex_number(hp["lr"])
    steps: list[Step] = []
    if name == "sgd":
        done = Step("update", "update", "Step against the gradient",
                    rf"\theta_{{{t}}} = \theta_{{{t - 1}}} - {lr}\, g_{{{t}}}",
                    _group(p=p, g=rec.g, update=rec.update, effective_step=rec.effective_step, p_new=new_params))
    elif name == "momentum":
        mu = hp["momentum"]
        if hp["form"] == "pytorch":
            latex = rf"v_{{{t}}} = {tex_number(mu)}\, v_{{{t - 1}}} + g_{{{t}}}"
        else:
            latex = rf"v_{{{t}}} = {tex_number(mu)}\, v_{{{t - 1}}} + {tex_number(1 - mu)}\, g_{{{t}}}"
        steps.append(Step("update", "v", "Velocity: running sum of gradients" if hp["form"] == "pytorch"
                          else "Velocity: moving average of gradients", latex,
                          _group(v_prev=prev["v_prev"], g=rec.g, v=rec.slots["v"])))
        done = Step("update", "update", "Step along the velocity",
                    rf"\theta_{{{t}}} = \theta_{{{t - 1}}} - {lr}\, v_{{{t}}}",
                    _group(p=p, v=rec.slots["v"], update=rec.update, effective_step=rec.effective_step,
                           p_new=new_params))
    elif name == "rmsprop":
        alpha = hp["alpha"]
        steps.append(Step("update", "s", "Moving average of the squared gradient",
                          rf"s_{{{t}}} = {tex_number(alpha)}\, s_{{{t - 1}}} + {tex_number(1 - alpha)}\, g_{{{t}}}^2",
                          _group(s_prev=prev["s_prev"], g=rec.g, s=rec.slots["s"])))
        done = Step("update", "update", "Step scaled by the root mean square",
                    rf"\theta_{{{t}}} = \theta_{{{t - 1}}} - \frac{{{lr}\, g_{{{t}}}}}{{\sqrt{{s_{{{t}}}}} + "
                    rf"{tex_number(hp['eps'])}}}",
                    _group(p=p, g=rec.g, s=rec.slots["s"], denom=rec.denom, update=rec.update,
                           effective_step=rec.effective_step, p_new=new_params))
    else:
        beta1, beta2, lam = hp["beta1"], hp["beta2"], hp["weight_decay"]
        g_sym = "g"
        if name == "adamw":
            steps.append(Step("update", "decay", "Decoupled weight decay (before the Adam step)",
                              rf"\theta' = \theta_{{{t - 1}}}\,(1 - {lr} \cdot {tex_number(lam)})",
                              _group(p=p, p_decayed=rec.p_decayed)))
        elif rec.g_wd:
            g_sym = "g'"
            steps.append(Step("update", "weight_decay", "L2 weight decay added to the gradient",
                              rf"g'_{{{t}}} = g_{{{t}}} + {tex_number(lam)}\, \theta_{{{t - 1}}}",
                              _group(g=rec.g, p=p, g_wd=rec.g_wd)))
        g_used = rec.g_wd or rec.g
        steps.append(Step("update", "m", "First moment: moving average of the gradient",
                          rf"m_{{{t}}} = {tex_number(beta1)}\, m_{{{t - 1}}} + "
                          rf"{tex_number(1 - beta1)}\, {g_sym}_{{{t}}}",
                          _group(m_prev=prev["m_prev"], g=g_used, m=rec.slots["m"])))
        steps.append(Step("update", "v", "Second moment: moving average of the squared gradient",
                          rf"v_{{{t}}} = {tex_number(beta2)}\, v_{{{t - 1}}} + "
                          rf"{tex_number(1 - beta2)}\, {g_sym}_{{{t}}}^2",
                          _group(v_prev=prev["v_prev"], g=g_used, v=rec.slots["v"])))
        if hp["bias_correction"]:
            m_latex = rf"\hat m_{{{t}}} = \frac{{m_{{{t}}}}}{{1 - {tex_number(beta1)}^{{{t}}}}}"
            v_latex = rf"\hat v_{{{t}}} = \frac{{v_{{{t}}}}}{{1 - {tex_number(beta2)}^{{{t}}}}}"
        else:
            m_latex = rf"\hat m_{{{t}}} = m_{{{t}}} \quad \text{{(bias correction off)}}"
            v_latex = rf"\hat v_{{{t}}} = v_{{{t}}} \quad \text{{(bias correction off)}}"
        steps.append(Step("update", "m_hat", "Bias-corrected first moment", m_latex,
                          _group(m=rec.slots["m"], m_hat=rec.m_hat)))
        steps.append(Step("update", "v_hat", "Bias-corrected second moment", v_latex,
                          _group(v=rec.slots["v"], v_hat=rec.v_hat)))
        eps = tex_number(hp["eps"])
        root = (rf"\sqrt{{\hat v_{{{t}}}}} + {eps}" if hp["eps_placement"] == "outside"
                else rf"\sqrt{{\hat v_{{{t}}} + {eps}}}")
        start = r"\theta'" if name == "adamw" else rf"\theta_{{{t - 1}}}"
        done = Step("update", "update", "Step: first moment over the root of the second",
                    rf"\theta_{{{t}}} = {start} - \frac{{{lr}\, \hat m_{{{t}}}}}{{{root}}}",
                    _group(p=p, **({"p_decayed": rec.p_decayed} if name == "adamw" else {}), m_hat=rec.m_hat,
                           v_hat=rec.v_hat, denom=rec.denom, update=rec.update,
                           effective_step=rec.effective_step, p_new=new_params))
    return [*steps, done]
