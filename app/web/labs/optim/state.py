"""The optimizer lab's whole state, and its two ways in: a link and the page's form.

Two parts share one link: the step table (an optimizer with its hyperparameters, a parameter
vector, a sequence of gradients typed in or drawn from a function) and the surface explorer
(a loss surface, a start, up to four optimizers, and how far their paths have been played).
Both ways in are validated as strictly as each other and never clamp; problems are
:class:`LinkError` values naming the field (``hyperparams.beta1``, ``g[t=2, w1]``, ``run2.lr``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from app.web.kit.link import (
    LinkError,
    decode_array,
    encode_array,
    format_number,
    from_query,
    parse_int,
    parse_number,
    to_query,
)
from engine.optim import rules as optim
from engine.optim.runs import GRADIENT_MODES, gradient_sequence
from engine.records import OpInputError

OPTIMIZER_NAMES = tuple(optim.OPTIMIZERS)
SURFACE_NAMES = tuple(optim.SURFACES)
MAX_PARAMS = 8  # parameters in the step table
MAX_STEPS = 20  # steps in the step table
MAX_RUNS = 4  # optimizers on one surface
MAX_PATH = 1000  # updates a surface path may be played to
SPEED_RANGE = (5, 1000)  # steps per second the stream may deliver
START_LIMIT = 10.0  # |x|, |y| of a start; the surfaces are plotted within ±5
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,11}")
SURFACE_NAMES_XY = ("x", "y")


@dataclass(frozen=True)
class OptSpec:
    """An optimizer and every one of its hyperparameters (validated by the engine, defaults filled)."""

    name: str
    hp: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def make(cls, name: str, hp: dict[str, Any] | None = None, field_name: str = "optimizer") -> OptSpec:
        if name not in optim.OPTIMIZERS:
            raise LinkError(field_name, f"unknown optimizer {name!r}; known: {', '.join(OPTIMIZER_NAMES)}")
        try:
            return cls(name, optim.clean_hyperparams(name, hp or {}))
        except OpInputError as exc:
            raise LinkError(exc.field, exc.message) from None

    def text(self) -> str:
        """``adam,lr:0.01,beta1:0.9,...`` — the optimizer, then every hyperparameter."""
        return ",".join([self.name, *(f"{k}:{_hp_text(v)}" for k, v in self.hp.items())])

    def summary(self) -> str:
        """A short label: ``Adam lr 0.01`` plus what differs from the defaults."""
        specs = {p.name: p for p in optim.OPTIMIZERS[self.name]}
        parts = [optim.TITLES[self.name], f"lr {_hp_text(self.hp['lr'])}"]
        for key, value in self.hp.items():
            if key != "lr" and value != specs[key].default:
                parts.append(f"{key} {_hp_text(value)}")
        return " · ".join(parts)


def _hp_text(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, str):
        return value
    return format_number(value)


def hp_value(spec, text: str, field_name: str) -> Any:
    """One hyperparameter from text, typed as its spec wants (the engine checks the range)."""
    text = text.strip()
    if spec.kind is bool:
        if text in ("on", "true", "1"):
            return True
        if text in ("off", "false", "0"):
            return False
        raise LinkError(field_name, f"must be on or off, got {text!r}")
    if spec.kind is str:
        return text
    return parse_number(field_name, text)


def parse_spec(text: str, field_name: str, hp_prefix: str) -> OptSpec:
    """An :class:`OptSpec` from ``name,key:value,...``; errors name ``<hp_prefix>.<key>``."""
    name, *pairs = text.split(",")
    if name not in optim.OPTIMIZERS:
        raise LinkError(field_name, f"unknown optimizer {name!r}; known: {', '.join(OPTIMIZER_NAMES)}")
    specs = {p.name: p for p in optim.OPTIMIZERS[name]}
    hp: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition(":")
        if not sep:
            raise LinkError(field_name, f"{pair!r} must look like name:value")
        if key not in specs:
            raise LinkError(f"{hp_prefix}.{key}", f"{name} has no hyperparameter {key!r} "
                                                  f"(it has {', '.join(specs)})")
        if key in hp:
            raise LinkError(f"{hp_prefix}.{key}", "appears twice")
        hp[key] = hp_value(specs[key], value, f"{hp_prefix}.{key}")
    return _checked_spec(name, hp, hp_prefix)


def _checked_spec(name: str, hp: dict[str, Any], hp_prefix: str) -> OptSpec:
    try:
        return OptSpec(name, optim.clean_hyperparams(name, hp))
    except OpInputError as exc:  # the engine names hyperparams.<key>; the page names <hp_prefix>.<key>
        key = exc.field.removeprefix("hyperparams.")
        raise LinkError(f"{hp_prefix}.{key}" if key != exc.field else exc.field, exc.message) from None


@dataclass(frozen=True)
class OptimState:
    # --- the step table ---
    opt: OptSpec
    names: tuple[str, ...]  # parameter names
    theta: np.ndarray  # (P,) θ0
    gmode: str = "typed"  # typed | constant | noisy | surface
    grads: np.ndarray | None = None  # (T, P) typed gradients (gmode typed)
    gconst: np.ndarray | None = None  # (P,) the constant, or the mean of the noisy sequence
    sigma: float = 0.0  # noise σ (gmode noisy)
    seed: int = 0  # noise seed (gmode noisy)
    steps: int = 1  # T
    gsurface: str = "rosenbrock"  # the surface whose gradient drives the table (gmode surface)
    k: int = 1  # the selected step (formulas)
    j: int = 0  # the selected parameter (formulas)
    # --- the surface explorer ---
    surface: str = "ill_conditioned"
    start: tuple[float, float] = (-4.5, 1.5)
    runs: tuple[OptSpec, ...] = ()
    path_steps: int = 200  # N: how many updates a play runs to
    speed: int = 60  # steps per second the stream delivers
    t: int = 0  # updates shown so far on the surface

    @property
    def P(self) -> int:
        return len(self.names)

    def to_query(self) -> str:
        fields = {"opt": self.opt.text(), "names": ",".join(self.names), "theta": encode_array(self.theta),
                  "gmode": self.gmode}
        if self.gmode == "typed":
            fields["g"] = encode_array(self.grads)
        else:
            fields["T"] = str(self.steps)
            if self.gmode in ("constant", "noisy"):
                fields["gc"] = encode_array(self.gconst)
            if self.gmode == "noisy":
                fields["sigma"] = format_number(self.sigma)
                fields["seed"] = str(self.seed)
            if self.gmode == "surface":
                fields["gsurf"] = self.gsurface
        fields.update(k=str(self.k), j=str(self.j), surface=self.surface,
                      start=f"{format_number(self.start[0])},{format_number(self.start[1])}")
        for i, run in enumerate(self.runs, 1):
            fields[f"r{i}"] = run.text()
        fields.update(N=str(self.path_steps), speed=str(self.speed), t=str(self.t))
        return to_query(fields)

    def grad_rows(self) -> np.ndarray | None:
        """The (T, P) gradients when they do not depend on the path (None for surface gradients)."""
        if self.gmode == "typed":
            return self.grads
        if self.gmode == "surface":
            return None
        return gradient_sequence(self.gmode, self.gconst, self.steps, self.sigma, self.seed)


LINK_KEYS = {"opt", "names", "theta", "gmode", "g", "T", "gc", "sigma", "seed", "gsurf", "k", "j", "surface", "start",
             "N", "speed", "t", "r1", "r2", "r3", "r4"}


def _names(field_name: str, text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(","))
    _check_names(field_name, names)
    return names


def _check_names(field_name: str, names: tuple[str, ...], labels: list[str] | None = None) -> None:
    seen: set[str] = set()
    for i, n in enumerate(names):
        where = labels[i] if labels else field_name
        if not NAME_RE.fullmatch(n):
            raise LinkError(where, f"{n!r} is not a parameter name: use up to 12 letters, digits or _, "
                                   "starting with a letter")
        if n in seen:
            raise LinkError(where, f"the name {n!r} is used twice")
        seen.add(n)


def _start(field_name: str, text: str) -> tuple[float, float]:
    parts = text.split(",")
    if len(parts) != 2:
        raise LinkError(field_name, f"must be two numbers x,y; got {text!r}")
    x, y = (parse_number(field_name, p) for p in parts)
    for v in (x, y):
        if abs(v) > START_LIMIT:
            raise LinkError(field_name, f"each coordinate must be between −{START_LIMIT:g} and {START_LIMIT:g}")
    return x, y


def _choice(field_name: str, text: str, choices: tuple[str, ...]) -> str:
    if text not in choices:
        raise LinkError(field_name, f"must be one of {', '.join(choices)}; got {text!r}")
    return text


def from_link(query: str) -> OptimState:
    """A state from a link's query string; raises LinkError naming the bad parameter."""
    fields = from_query(query)
    for key in fields:
        if key not in LINK_KEYS:
            raise LinkError(key, f"is not a setting of the optimizer lab (known: {', '.join(sorted(LINK_KEYS))})")
    for key in ("opt", "names", "theta", "gmode", "surface"):
        if key not in fields:
            raise LinkError(key, "is missing from the link")
    opt = parse_spec(fields["opt"], "opt", "hyperparams")
    names = _names("names", fields["names"])
    if len(names) > MAX_PARAMS:
        raise LinkError("names", f"at most {MAX_PARAMS} parameters")
    theta = decode_array("theta", fields["theta"], 1, (MAX_PARAMS,))
    if theta.shape[0] != len(names):
        raise LinkError("theta", f"has {theta.shape[0]} values for {len(names)} parameter names")
    gmode = _choice("gmode", fields["gmode"], GRADIENT_MODES)
    state = OptimState(opt, names, theta, gmode=gmode)
    P = len(names)
    if gmode == "typed":
        if "g" not in fields:
            raise LinkError("g", "is missing from the link (typed gradients)")
        grads = decode_array("g", fields["g"], 2, (MAX_STEPS, MAX_PARAMS))
        if grads.shape[1] != P:
            raise LinkError("g", f"has {grads.shape[1]} columns for {P} parameters")
        state = replace(state, grads=grads, steps=grads.shape[0])
    else:
        state = replace(state, steps=parse_int("T", fields.get("T", "1"), 1, MAX_STEPS))
    if gmode in ("constant", "noisy"):
        if "gc" not in fields:
            raise LinkError("gc", "is missing from the link")
        gconst = decode_array("gc", fields["gc"], 1, (MAX_PARAMS,))
        if gconst.shape[0] != P:
            raise LinkError("gc", f"has {gconst.shape[0]} values for {P} parameters")
        state = replace(state, gconst=gconst)
    if gmode == "noisy":
        sigma = parse_number("sigma", fields.get("sigma", "0"))
        if not 0 <= sigma <= 100:
            raise LinkError("sigma", f"must be between 0 and 100, got {format_number(sigma)}")
        state = replace(state, sigma=sigma, seed=parse_int("seed", fields.get("seed", "0"), 0, 2**31 - 1))
    if gmode == "surface":
        state = replace(state, gsurface=_choice("gsurf", fields.get("gsurf", ""), SURFACE_NAMES))
        if names != SURFACE_NAMES_XY:
            raise LinkError("names", "with surface gradients the parameters are x,y")
    runs = []
    for i in range(1, MAX_RUNS + 1):
        if f"r{i}" in fields:
            if len(runs) != i - 1:
                raise LinkError(f"r{i}", f"runs are numbered from 1 without gaps; r{len(runs) + 1} is missing")
            runs.append(parse_spec(fields[f"r{i}"], f"r{i}", f"run{i}"))
    if not runs:
        raise LinkError("r1", "the link names no optimizer for the surface (r1=…)")
    path_steps = parse_int("N", fields.get("N", "200"), 1, MAX_PATH)
    state = replace(
        state, k=parse_int("k", fields.get("k", "1"), 1, state.steps), j=parse_int("j", fields.get("j", "0"), 0, P - 1),
        surface=_choice("surface", fields["surface"], SURFACE_NAMES),
        start=_start("start", fields.get("start", "")) if "start" in fields else
        optim.SURFACES[fields["surface"]].start,
        runs=tuple(runs), path_steps=path_steps, speed=parse_int("speed", fields.get("speed", "60"), *SPEED_RANGE),
        t=parse_int("t", fields.get("t", "0"), 0, path_steps))
    return state


# ---------------------------------------------------------------- the form


def grad_label(t: int, name: str) -> str:
    """The label (and error field) of a typed gradient cell: ``g[t=2, w1]``."""
    return f"g[t={t}, {name}]"


def _first(form: Mapping[str, list[str]], name: str, default: str = "") -> str:
    values = form.get(name)
    return values[0] if values else default


def _resize(values: np.ndarray, shape: tuple[int, ...], fill: float = 0.0) -> np.ndarray:
    out = np.full(shape, fill)
    common = tuple(slice(0, min(a, b)) for a, b in zip(values.shape, shape, strict=True))
    out[common] = values[common]
    return out


def _numbers(form, name: str, labels: list[str], errors: list[LinkError]) -> np.ndarray | None:
    """The cells ``name`` posted, one per label (or None when the count does not match)."""
    texts = form.get(name)
    if texts is None:
        return None
    if len(texts) != len(labels):
        errors.append(LinkError(name, f"expected {len(labels)} cells, got {len(texts)}"))
        return None
    values = np.zeros(len(labels))
    for i, (text, label) in enumerate(zip(texts, labels, strict=True)):
        try:
            values[i] = parse_number(label, text)
        except LinkError as exc:
            errors.append(exc)
    return values


def _spec_from_form(form, name_field: str, hp_prefix: str, errors: list[LinkError],
                    fallback: str = "adam") -> OptSpec:
    """The optimizer ``name_field`` with its hyperparameters ``<hp_prefix>.<key>``; every bad one is named."""
    name = _first(form, name_field, fallback)
    if name not in optim.OPTIMIZERS:
        errors.append(LinkError(name_field, f"unknown optimizer {name!r}; known: {', '.join(OPTIMIZER_NAMES)}"))
        return OptSpec.make(fallback)
    hp: dict[str, Any] = {}
    for spec in optim.OPTIMIZERS[name]:
        key = f"{hp_prefix}.{spec.name}"
        if key not in form:
            continue
        try:
            value = hp_value(spec, _first(form, key), key)
            optim.clean_hyperparams(name, {spec.name: value})  # one at a time, so each bad one is named
            hp[spec.name] = value
        except LinkError as exc:
            errors.append(exc)
        except OpInputError as exc:
            errors.append(LinkError(key, exc.message))
    return OptSpec(name, optim.clean_hyperparams(name, hp))


def name_label(i: int) -> str:
    """The label (and error field) of the name cell of parameter ``i`` (from 0)."""
    return f"name[{i + 1}]"


def from_form(form: Mapping[str, list[str]]) -> tuple[OptimState | None, list[LinkError]]:
    """A state from the lab's form: the posted cells, resized to the requested sizes.

    Returns (state, []) or (None, every problem found), so the page can flag each bad cell.
    Switching the gradient mode carries the numbers over (typed rows <-> the constant row).
    """
    errors: list[LinkError] = []

    def integer(name: str, lo: int, hi: int, default: str) -> int:
        try:
            return parse_int(name, _first(form, name, default), lo, hi)
        except LinkError as exc:
            errors.append(exc)
            return lo

    def choice(name: str, choices: tuple[str, ...], default: str) -> str:
        value = _first(form, name, default)
        if value not in choices:
            errors.append(LinkError(name, f"must be one of {', '.join(choices)}; got {value!r}"))
            return default
        return value

    opt = _spec_from_form(form, "optimizer", "hyperparams", errors)
    gmode = choice("gmode", GRADIENT_MODES, "typed")
    gsurface = choice("gsurface", SURFACE_NAMES, "rosenbrock")
    posted = tuple(n.strip() for n in form.get("pname", []))
    P = 2 if gmode == "surface" else integer("P", 1, MAX_PARAMS, str(len(posted) or 1))
    T = integer("T", 1, MAX_STEPS, "1")
    if gmode == "surface":
        names = SURFACE_NAMES_XY
    else:
        names = tuple(posted[i] if i < len(posted) else f"p{i + 1}" for i in range(P))
        seen: set[str] = set()
        for i, n in enumerate(names):
            if not NAME_RE.fullmatch(n):
                errors.append(LinkError(name_label(i), f"{n!r} is not a parameter name: use up to 12 letters, "
                                                       "digits or _, starting with a letter"))
            elif n in seen:
                errors.append(LinkError(name_label(i), f"the name {n!r} is used twice"))
            seen.add(n)
    theta_posted = _numbers(form, "theta0", [f"θ0[{n}]" for n in posted], errors)
    theta = _resize(theta_posted, (P,)) if theta_posted is not None else np.zeros(P)
    if gmode == "surface" and (posted != SURFACE_NAMES_XY or _first(form, "gsurface_prev", gsurface) != gsurface):
        theta = np.array(optim.SURFACES[gsurface].start)  # a new surface: start where it shows its point
    grads_posted = None
    if "g" in form and posted:
        rows = len(form["g"]) // len(posted)
        flat = _numbers(form, "g", [grad_label(t + 1, n) for t in range(rows) for n in posted], errors)
        if flat is not None:
            grads_posted = flat.reshape(rows, len(posted))
    gc_posted = _numbers(form, "gc", [f"gc[{n}]" for n in posted], errors) if posted else None
    if grads_posted is None:
        base = gc_posted if gc_posted is not None else np.zeros(max(1, len(posted)))
        grads_posted = np.tile(base, (T, 1))
    if gc_posted is None:
        gc_posted = grads_posted[0]
    seed = integer("seed", 0, 2**31 - 1, "0")
    sigma = 0.0
    try:
        sigma = parse_number("sigma", _first(form, "sigma", "0"))
        if not 0 <= sigma <= 100:
            errors.append(LinkError("sigma", f"must be between 0 and 100, got {format_number(sigma)}"))
    except LinkError as exc:
        errors.append(exc)
    # the surface explorer
    surface = choice("surface", SURFACE_NAMES, "ill_conditioned")
    start = optim.SURFACES[surface].start
    if _first(form, "surface_prev", surface) == surface:  # a new surface starts at its own start
        coords = []
        for key in ("start_x", "start_y"):
            try:
                v = parse_number(key, _first(form, key, "0"))
                if abs(v) > START_LIMIT:
                    raise LinkError(key, f"must be between −{START_LIMIT:g} and {START_LIMIT:g}, "
                                         f"got {format_number(v)}")
                coords.append(v)
            except LinkError as exc:
                errors.append(exc)
        if len(coords) == 2:
            start = (coords[0], coords[1])
    n_runs = integer("runs", 1, MAX_RUNS, "1")
    runs = tuple(_spec_from_form(form, f"run{i}.optimizer", f"run{i}", errors, fallback="sgd")
                 for i in range(1, n_runs + 1))
    path_steps = integer("N", 1, MAX_PATH, "200")
    speed = integer("speed", *SPEED_RANGE, "60")
    t = 0 if _first(form, "reset") else integer("t", 0, MAX_PATH, "0")
    k = integer("k", 1, MAX_STEPS, "1")
    j = integer("j", 0, MAX_PARAMS - 1, "0")
    if errors:
        return None, errors
    state = OptimState(opt, names, theta, gmode=gmode, steps=T, gsurface=gsurface, sigma=sigma, seed=seed,
                       k=min(k, T), j=min(j, P - 1), surface=surface, start=start, runs=runs,
                       path_steps=path_steps, speed=speed, t=min(t, path_steps))
    if gmode == "typed":
        state = replace(state, grads=_resize(grads_posted, (T, P)))
    elif gmode in ("constant", "noisy"):
        state = replace(state, gconst=_resize(gc_posted, (P,)))
    return state, []
