"""The optimizer lab's whole state, and its two ways in: a link and the page's form.

Two parts share one link: the step table (an optimizer with its hyperparameters, a parameter
vector, a sequence of gradients typed in or drawn from a function) and the surface explorer
(a loss surface, a start, up to four optimizers, and how far their paths have been played).
Both ways in are validated as strictly as each other and never clamp; problems are
:class:`FieldError` values naming the field (``hyperparams.beta1``, ``g[t=2, w1]``, ``run2.lr``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from app.settings import Settings
from app.web.kit.fields import FieldError, MissingField, parse_choice, parse_int, parse_number, setting_bound
from app.web.kit.form import Form, choice_field, collect, first, int_field, number_cells, resize
from app.web.kit.link import decode_array, encode_array, from_query, to_query
from app.web.labs.optim import stages, starting
from app.web.render.numbers import link_text
from engine.optim import rules as optim
from engine.optim import surfaces
from engine.optim.runs import GRADIENT_MODES, gradient_sequence
from engine.records import OpInputError

STEPS_BOUND = setting_bound("optim_max_steps", "every step is a row of the step table")
PATH_BOUND = setting_bound("optim_max_path", "a path is replayed from step 0 on every change")
SPEED_BOUND = setting_bound("optim_max_speed", "the steps per second a stream sends and a chart can draw")

OPTIMIZER_NAMES = tuple(optim.OPTIMIZERS)
SURFACE_NAMES = tuple(surfaces.SURFACES)
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
            raise FieldError(field_name, f"unknown optimizer {name!r}; known: {', '.join(OPTIMIZER_NAMES)}")
        try:
            return cls(name, optim.clean_hyperparams(name, hp or {}))
        except OpInputError as exc:
            raise FieldError(exc.field, exc.message) from None

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
    return link_text(value)


def hp_value(spec, text: str, field_name: str) -> Any:
    """One hyperparameter from text, typed as its spec wants (the engine checks the range)."""
    text = text.strip()
    if spec.kind is bool:
        if text in ("on", "true", "1"):
            return True
        if text in ("off", "false", "0"):
            return False
        raise FieldError(field_name, f"must be on or off, got {text!r}")
    if spec.kind is str:
        return text
    return parse_number(field_name, text)


def parse_spec(text: str, field_name: str, hp_prefix: str) -> OptSpec:
    """An :class:`OptSpec` from ``name,key:value,...``; errors name ``<hp_prefix>.<key>``."""
    name, *pairs = text.split(",")
    if name not in optim.OPTIMIZERS:
        raise FieldError(field_name, f"unknown optimizer {name!r}; known: {', '.join(OPTIMIZER_NAMES)}")
    specs = {p.name: p for p in optim.OPTIMIZERS[name]}
    hp: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition(":")
        if not sep:
            raise FieldError(field_name, f"{pair!r} must look like name:value")
        if key not in specs:
            raise FieldError(f"{hp_prefix}.{key}", f"{name} has no hyperparameter {key!r} "
                                                  f"(it has {', '.join(specs)})")
        if key in hp:
            raise FieldError(f"{hp_prefix}.{key}", "appears twice")
        hp[key] = hp_value(specs[key], value, f"{hp_prefix}.{key}")
    return _checked_spec(name, hp, hp_prefix)


def _checked_spec(name: str, hp: dict[str, Any], hp_prefix: str) -> OptSpec:
    try:
        return OptSpec(name, optim.clean_hyperparams(name, hp))
    except OpInputError as exc:  # the engine names hyperparams.<key>; the page names <hp_prefix>.<key>
        key = exc.field.removeprefix("hyperparams.")
        raise FieldError(f"{hp_prefix}.{key}" if key != exc.field else exc.field, exc.message) from None


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
    starting: starting.StartingState | None = None  # the optimizer state the table starts from (None: zero, t = 1)
    stage: int = 0  # the update revealed stage by stage, g → … → update (0: all at once; app.web.labs.optim.stages)
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
                fields["sigma"] = link_text(self.sigma)
                fields["seed"] = str(self.seed)
            if self.gmode == "surface":
                fields["gsurf"] = self.gsurface
        if self.starting:
            fields.update(self.starting.link_fields())
        fields.update(k=str(self.k), j=str(self.j))
        if self.stage:
            fields["stage"] = str(self.stage)
        fields.update(surface=self.surface,
                      start=f"{link_text(self.start[0])},{link_text(self.start[1])}")
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


LINK_KEYS = {"opt", "names", "theta", "gmode", "g", "T", "gc", "sigma", "seed", "gsurf", "k", "j", "stage", "surface",
             "start", "N", "speed", "t", *starting.LINK_KEYS}  # and r1, r2, … one per optimizer on the surface


def form_limits(settings: Settings) -> dict[str, int]:
    """The form's bounds: parameters P and steps T of the step table, the surface paths' length N."""
    return {"P": settings.optim_max_params, "T": settings.optim_max_steps, "N": settings.optim_max_path}


def _name_problems(names: tuple[str, ...]) -> Iterator[tuple[int, str]]:
    """(position, what is wrong) of each parameter name that is not one or is used twice."""
    seen: set[str] = set()
    for i, n in enumerate(names):
        if not NAME_RE.fullmatch(n):
            yield i, f"{n!r} is not a parameter name: use up to 12 letters, digits or _, starting with a letter"
        elif n in seen:
            yield i, f"the name {n!r} is used twice"
        seen.add(n)


def _names(field_name: str, text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(","))
    for _, problem in _name_problems(names):
        raise FieldError(field_name, problem)
    return names


def _start(field_name: str, text: str, limit: float) -> tuple[float, float]:
    parts = text.split(",")
    if len(parts) != 2:
        raise FieldError(field_name, f"must be two numbers x,y; got {text!r}")
    x, y = (parse_number(field_name, p) for p in parts)
    for v in (x, y):
        if abs(v) > limit:
            raise FieldError(field_name, f"each coordinate must be between −{limit:g} and {limit:g}")
    return x, y


def _coordinate(field_name: str, text: str, limit: float) -> float:
    value = parse_number(field_name, text)
    if abs(value) > limit:
        raise FieldError(field_name, f"must be between −{limit:g} and {limit:g}, got {link_text(value)}")
    return value


def _sigma(text: str, limit: float) -> float:
    sigma = parse_number("sigma", text)
    if not 0 <= sigma <= limit:
        raise FieldError("sigma", f"must be between 0 and {link_text(limit)}, got {link_text(sigma)}")
    return sigma


def _stage(text: str, opt: OptSpec) -> int:
    count = stages.stage_count(opt.name, opt.hp)
    stage = parse_int("stage", text, 0, stages.MAX_STAGE)
    if stage >= count:
        raise FieldError("stage", f"is {stage}, but {opt.name}'s update has stages 1 to {count - 1} "
                                  f"({stages.stage_line(opt.name, opt.hp)}); 0 shows them all")
    return stage


def from_link(query: str, settings: Settings) -> OptimState:
    """A state from a link's query string; raises FieldError naming the bad parameter."""
    fields = from_query(query)
    max_params, max_steps, max_runs = settings.optim_max_params, settings.optim_max_steps, settings.optim_max_runs
    run_keys = [f"r{i}" for i in range(1, max_runs + 1)]
    for key in fields:
        if key not in LINK_KEYS and key not in run_keys:
            raise FieldError(key, f"is not a setting of the optimizer lab (known: {', '.join(sorted(LINK_KEYS))}, "
                                  f"r1 to r{max_runs})")
    for key in ("opt", "names", "theta", "gmode", "surface"):
        if key not in fields:
            raise MissingField(key)
    opt = parse_spec(fields["opt"], "opt", "hyperparams")
    names = _names("names", fields["names"])
    if len(names) > max_params:
        raise FieldError("names", f"at most {max_params} parameters")
    theta = decode_array("theta", fields["theta"], 1, (max_params,))
    if theta.shape[0] != len(names):
        raise FieldError("theta", f"has {theta.shape[0]} values for {len(names)} parameter names")
    gmode = parse_choice("gmode", fields["gmode"], GRADIENT_MODES)
    state = OptimState(opt, names, theta, gmode=gmode)
    P = len(names)
    if gmode == "typed":
        if "g" not in fields:
            raise MissingField("g", " (typed gradients)")
        grads = decode_array("g", fields["g"], 2, (max_steps, max_params))
        if grads.shape[1] != P:
            raise FieldError("g", f"has {grads.shape[1]} columns for {P} parameters")
        state = replace(state, grads=grads, steps=grads.shape[0])
    else:
        state = replace(state, steps=parse_int("T", fields.get("T", "1"), 1, max_steps, STEPS_BOUND))
    if gmode in ("constant", "noisy"):
        if "gc" not in fields:
            raise MissingField("gc")
        gconst = decode_array("gc", fields["gc"], 1, (max_params,))
        if gconst.shape[0] != P:
            raise FieldError("gc", f"has {gconst.shape[0]} values for {P} parameters")
        state = replace(state, gconst=gconst)
    if gmode == "noisy":
        state = replace(state, sigma=_sigma(fields.get("sigma", "0"), settings.optim_max_sigma),
                        seed=parse_int("seed", fields.get("seed", "0"), 0, settings.max_seed))
    if gmode == "surface":
        state = replace(state, gsurface=parse_choice("gsurf", fields.get("gsurf", ""), SURFACE_NAMES))
        if names != SURFACE_NAMES_XY:
            raise FieldError("names", "with surface gradients the parameters are x,y")
    state = replace(state, starting=starting.from_link(fields, opt.name, names))
    runs = []
    for i, key in enumerate(run_keys, 1):
        if key in fields:
            if len(runs) != i - 1:
                raise FieldError(key, f"runs are numbered from 1 without gaps; r{len(runs) + 1} is missing")
            runs.append(parse_spec(fields[key], key, f"run{i}"))
    if not runs:
        raise FieldError("r1", "the link names no optimizer for the surface (r1=…)")
    path_steps = parse_int("N", fields.get("N", "200"), 1, settings.optim_max_path, PATH_BOUND)
    k, j = parse_int("k", fields.get("k", "1"), 1, state.steps), parse_int("j", fields.get("j", "0"), 0, P - 1)
    stage = _stage(fields.get("stage", "0"), opt)
    surface = parse_choice("surface", fields["surface"], SURFACE_NAMES)
    start = _start("start", fields["start"], settings.optim_max_start) if "start" in fields else \
        surfaces.SURFACES[surface].start
    return replace(
        state, k=k, j=j, stage=stage, surface=surface, start=start, runs=tuple(runs), path_steps=path_steps,
        speed=parse_int("speed", fields.get("speed", "60"), settings.optim_min_speed, settings.optim_max_speed,
                        SPEED_BOUND),
        t=parse_int("t", fields.get("t", "0"), 0, path_steps))


# ---------------------------------------------------------------- the form


def grad_label(t: int, name: str) -> str:
    """The label (and error field) of a typed gradient cell: ``g[t=2, w1]``."""
    return f"g[t={t}, {name}]"


def _spec_from_form(form: Form, name_field: str, hp_prefix: str, errors: list[FieldError],
                    fallback: str = "adam") -> OptSpec:
    """The optimizer ``name_field`` with its hyperparameters ``<hp_prefix>.<key>``; every bad one is named."""
    name = first(form, name_field, fallback)
    if name not in optim.OPTIMIZERS:
        errors.append(FieldError(name_field, f"unknown optimizer {name!r}; known: {', '.join(OPTIMIZER_NAMES)}"))
        return OptSpec.make(fallback)
    hp: dict[str, Any] = {}
    for spec in optim.OPTIMIZERS[name]:
        key = f"{hp_prefix}.{spec.name}"
        if key not in form:
            continue
        try:
            value = hp_value(spec, first(form, key), key)
            optim.clean_hyperparams(name, {spec.name: value})  # one at a time, so each bad one is named
            hp[spec.name] = value
        except FieldError as exc:
            errors.append(exc)
        except OpInputError as exc:
            errors.append(FieldError(key, exc.message))
    return OptSpec(name, optim.clean_hyperparams(name, hp))


def name_label(i: int) -> str:
    """The label (and error field) of the name cell of parameter ``i`` (from 0)."""
    return f"name[{i + 1}]"


def from_form(form: Form, settings: Settings) -> tuple[OptimState | None, list[FieldError]]:
    """A state from the lab's form: the posted cells, resized to the requested sizes.

    Returns (state, []) or (None, every problem found), so the page can flag each bad cell.
    Switching the gradient mode carries the numbers over (typed rows <-> the constant row).
    """
    errors: list[FieldError] = []
    max_params, max_steps, max_path = settings.optim_max_params, settings.optim_max_steps, settings.optim_max_path
    opt = _spec_from_form(form, "optimizer", "hyperparams", errors)
    gmode = choice_field(form, "gmode", GRADIENT_MODES, errors, "typed")
    gsurface = choice_field(form, "gsurface", SURFACE_NAMES, errors, "rosenbrock")
    posted = tuple(n.strip() for n in form.get("pname", []))
    P = 2 if gmode == "surface" else int_field(form, "P", 1, max_params, errors, str(len(posted) or 1))
    T = int_field(form, "T", 1, max_steps, errors, "1")
    if gmode == "surface":
        names = SURFACE_NAMES_XY
    else:
        names = tuple(posted[i] if i < len(posted) else f"p{i + 1}" for i in range(P))
        errors.extend(FieldError(name_label(i), problem) for i, problem in _name_problems(names))
    theta_posted = number_cells(form, "theta0", [f"θ0[{n}]" for n in posted], errors)
    theta = resize(theta_posted, (P,)) if theta_posted is not None else np.zeros(P)
    if gmode == "surface" and (posted != SURFACE_NAMES_XY or first(form, "gsurface_prev", gsurface) != gsurface):
        theta = np.array(surfaces.SURFACES[gsurface].start)  # a new surface: start where it shows its point
    grads_posted = None
    if "g" in form and posted:
        rows = len(form["g"]) // len(posted)
        t0 = starting.posted_t0(form)
        flat = number_cells(form, "g", [grad_label(t0 + t + 1, n) for t in range(rows) for n in posted], errors)
        if flat is not None:
            grads_posted = flat.reshape(rows, len(posted))
    gc_posted = number_cells(form, "gc", [f"gc[{n}]" for n in posted], errors) if posted else None
    if grads_posted is None:
        base = gc_posted if gc_posted is not None else np.zeros(max(1, len(posted)))
        grads_posted = np.tile(base, (T, 1))
    if gc_posted is None:
        gc_posted = grads_posted[0]
    seed = int_field(form, "seed", 0, settings.max_seed, errors, "0")
    sigma = collect(errors, _sigma, first(form, "sigma", "0"), settings.optim_max_sigma, fallback=0.0)
    # the surface explorer
    surface = choice_field(form, "surface", SURFACE_NAMES, errors, "ill_conditioned")
    start = surfaces.SURFACES[surface].start
    if first(form, "surface_prev", surface) == surface:  # a new surface starts at its own start
        x, y = (collect(errors, _coordinate, key, first(form, key, "0"), settings.optim_max_start)
                for key in ("start_x", "start_y"))
        if x is not None and y is not None:
            start = (x, y)
    n_runs = int_field(form, "runs", 1, settings.optim_max_runs, errors, "1")
    runs = tuple(_spec_from_form(form, f"run{i}.optimizer", f"run{i}", errors, fallback="sgd")
                 for i in range(1, n_runs + 1))
    path_steps = int_field(form, "N", 1, max_path, errors, "200")
    speed = int_field(form, "speed", settings.optim_min_speed, settings.optim_max_speed, errors, "60")
    t = 0 if first(form, "reset") else int_field(form, "t", 0, max_path, errors, "0")
    k = int_field(form, "k", 1, max_steps, errors, "1")
    j = int_field(form, "j", 0, max_params - 1, errors, "0")
    stage = int_field(form, "stage", 0, stages.MAX_STAGE, errors, "0")
    start0 = starting.from_form(form, opt.name, posted, names, errors)
    if errors:
        return None, errors
    state = OptimState(opt, names, theta, gmode=gmode, steps=T, gsurface=gsurface, sigma=sigma, seed=seed,
                       k=min(k, T), j=min(j, P - 1), surface=surface, start=start, runs=runs,
                       stage=stage if stage < stages.stage_count(opt.name, opt.hp) else 0,  # another optimizer: all
                       path_steps=path_steps, speed=speed, t=min(t, path_steps))
    state = replace(state, starting=start0)
    if gmode == "typed":
        state = replace(state, grads=resize(grads_posted, (T, P)))
    elif gmode in ("constant", "noisy"):
        state = replace(state, gconst=resize(gc_posted, (P,)))
    return state, []

