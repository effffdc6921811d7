"""The normalization lab's whole state, and its two ways in: a link and the page's form.

One batch ``x`` — (N, D) features or (N, C, H, W) images — feeds every section of the lab
(batch norm, running statistics, layer norm, dropout); the section shown (``tab``) is part
of the state, so a link opens the same view. Both ways in are validated as strictly as each
other; problems are :class:`FieldError` values naming the field (``x[1, 0]``, ``eps``),
never clamped.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from app.settings import Settings
from app.web.kit.fields import FieldError, MissingField, parse_choice, parse_int, parse_number, setting_bound
from app.web.kit.form import Form, cell_label, choice_field, collect, first, grid_cells, int_field, resize, shape_field
from app.web.kit.link import DOUT_MODES, decode_array, dout_text, encode_array, from_query, parse_dout, seeded_dout
from app.web.kit.link import to_query as link_query
from app.web.render.numbers import link_text
from engine import conventions
from engine.registry import get_spec

BATCHES_BOUND = setting_bound("norm_max_batches", "every batch of the sequence is computed and charted on each edit")
DRAWS_BOUND = setting_bound("norm_max_draws", "every mask is drawn and averaged on each edit")

TABS = ("bn", "running", "ln", "dropout")
BACKWARD_STAGES = {"train": "①②③④⑤⑥", "eval": "①②③④"}  # the batch-norm graph's backward stages per mode
TAB_TITLES = {"bn": "Batch norm", "running": "Running statistics", "ln": "Layer norm vs batch norm",
              "dropout": "Dropout"}
MODES = ("train", "eval")
CONVENTIONS = conventions.values("convention")
SEQ_SOURCES = ("random", "repeat")
P_MEANS = conventions.values("p_means")
LAYOUTS = ("nd", "nchw")
DOUT_STREAM = 0xD0  # random dout draws from its own stream of the seed


@dataclass(frozen=True)
class NormState:
    x: np.ndarray  # (N, D) or (N, C, H, W)
    gamma: np.ndarray  # (C,): one per feature/channel
    beta: np.ndarray  # (C,)
    running_mean: np.ndarray  # (C,): the running statistics coming in (eval uses them)
    running_var: np.ndarray  # (C,)
    tab: str = "bn"
    mode: str = "train"  # batch norm and dropout: train | eval
    eps: float = 1e-5
    momentum: float | None = None  # None: the convention's default (pytorch 0.1, cs231n 0.9)
    convention: str = "pytorch"
    c: int = 0  # the feature/channel drawn in the graph, the formulas and the running plot
    stage: int = 0  # the backward graph's stage ①→⑥ (0: the whole graph)
    sample: int = 0  # the sample whose layer-norm statistics are written out
    dout_mode: str = "ones"  # "ones" | "random" (seeded) | "typed"
    dout_seed: int = 0
    dout_typed: np.ndarray | None = None  # x's shape when dout_mode == "typed"
    source: str = "random"  # running statistics over: seeded random batches | the current x repeated
    batches: int = 50
    seq_seed: int = 0
    true_mean: float = 2.0
    true_var: float = 4.0
    p: float = 0.25
    p_means: str = "drop"  # drop: PyTorch (p drops, scale 1/(1 − p)); keep: the notes (p keeps, scale 1/p)
    drop_seed: int = 0
    draws: int = 200

    @property
    def layout(self) -> str:
        return "nd" if self.x.ndim == 2 else "nchw"

    @property
    def channels(self) -> int:
        return self.x.shape[1]

    def to_query(self) -> str:
        f = {"tab": self.tab, "x": encode_array(self.x), "gamma": encode_array(self.gamma),
             "beta": encode_array(self.beta), "running_mean": encode_array(self.running_mean),
             "running_var": encode_array(self.running_var),
             "dout": dout_text(self.dout_mode, self.dout_seed, self.dout_typed), "mode": self.mode,
             "eps": link_text(self.eps), "convention": self.convention}
        if self.momentum is not None:
            f["momentum"] = link_text(self.momentum)
        if self.stage:
            f["stage"] = str(self.stage)
        f.update({"c": str(self.c), "sample": str(self.sample), "source": self.source,
                  "batches": str(self.batches), "seq_seed": str(self.seq_seed),
                  "true_mean": link_text(self.true_mean), "true_var": link_text(self.true_var),
                  "p": link_text(self.p), "p_means": self.p_means, "drop_seed": str(self.drop_seed),
                  "draws": str(self.draws)})
        return link_query(f)

    def dout(self) -> np.ndarray:
        """The upstream gradient in force (x's shape); drawn once per state (seeding costs a millisecond)."""
        return self._dout

    @cached_property
    def _dout(self) -> np.ndarray:
        if self.dout_mode == "random":
            return seeded_dout(self.dout_seed, DOUT_STREAM, self.x.shape)
        if self.dout_mode == "typed" and self.dout_typed is not None:
            return self.dout_typed
        return np.ones(self.x.shape)

    def bn_params(self, mode: str | None = None) -> dict:
        params = {"eps": self.eps, "mode": mode or self.mode, "convention": self.convention}
        if self.momentum is not None:
            params["momentum"] = self.momentum
        return params

    def bn_inputs(self) -> dict[str, np.ndarray]:
        return {"x": self.x, "gamma": self.gamma, "beta": self.beta, "dout": self.dout(),
                "running_mean": self.running_mean, "running_var": self.running_var}

    def ln_gamma_beta(self) -> tuple[np.ndarray, np.ndarray]:
        """Layer norm's γ and β have the shape of one sample: the per-feature γ, β (N, D), or γ_c over H×W."""
        if self.x.ndim == 2:
            return self.gamma, self.beta
        shape = self.x.shape[1:]
        return (np.broadcast_to(self.gamma[:, None, None], shape).copy(),
                np.broadcast_to(self.beta[:, None, None], shape).copy())

    def ln_inputs(self) -> dict[str, np.ndarray]:
        gamma, beta = self.ln_gamma_beta()
        return {"x": self.x, "gamma": gamma, "beta": beta, "dout": self.dout()}

    def dropout_params(self) -> dict:
        return {"p": self.p, "mode": self.mode, "seed": self.drop_seed, "p_means": self.p_means}


# --------------------------------------------------------------------------- limits and checks


def x_limits(settings: Settings, ndim: int) -> tuple[int, ...]:
    """The largest x a link or the form may hold: (N, D), or (N, C, H, W)."""
    if ndim == 2:
        return (settings.max_batch, min(settings.norm_max_features, settings.max_features))
    side = min(settings.norm_max_side, settings.max_spatial)
    return (settings.max_batch, settings.max_channels, side, side)


def form_limits(settings: Settings) -> dict[str, int]:
    """The form's bounds: N, D of (N, D) and C, H, W of (N, C, H, W)."""
    n, d = x_limits(settings, 2)
    _, c, h, w = x_limits(settings, 4)
    return {"N": n, "D": d, "C": c, "H": h, "W": w}


def eps_range() -> tuple[float, float]:
    """The engine's limits of ε."""
    spec = next(p for p in get_spec("batchnorm").params if p.name == "eps")
    return float(spec.lo), float(spec.hi)


def _bounded(field: str, text: str, lo: float, hi: float, lo_open: bool = False, hi_open: bool = False) -> float:
    value = parse_number(field, text)
    if value < lo or value > hi or (lo_open and value == lo) or (hi_open and value == hi):
        left, right = ("(" if lo_open else "["), (")" if hi_open else "]")
        raise FieldError(field, f"must be in {left}{link_text(lo)}, {link_text(hi)}{right}, got {text.strip()}")
    return value


def parse_eps(text: str) -> float:
    lo, hi = eps_range()
    value = parse_number("eps", text)
    if not lo <= value <= hi:
        raise FieldError("eps", f"must be between {lo:g} and {hi:g} (ε keeps √(σ² + ε) away from 0), "
                                f"got {text.strip()}")
    return value


def parse_momentum(text: str) -> float | None:
    if text.strip() in ("", "default"):
        return None
    return _bounded("momentum", text, 0.0, 1.0)


def parse_p(text: str, p_means: str) -> float:
    if p_means == "drop":
        value = parse_number("p", text)
        if not 0 <= value < 1:
            raise FieldError("p", f"is the probability of DROPPING a value (PyTorch): 0 ≤ p < 1, got {text.strip()}")
        return value
    value = parse_number("p", text)
    if not 0 < value <= 1:
        raise FieldError("p", f"is the probability of KEEPING a value (the notes): 0 < p ≤ 1, got {text.strip()}")
    return value


def _check_variance(name: str, values: np.ndarray) -> None:
    bad = np.flatnonzero(values < 0)
    if bad.size:
        i = int(bad[0])
        raise FieldError(f"{name}[{i}]", f"is a variance and must be ≥ 0, got {link_text(values[i])}")


def _check_vectors(state: NormState) -> None:
    c = state.channels
    what = "features" if state.x.ndim == 2 else "channels"
    for name in ("gamma", "beta", "running_mean", "running_var"):
        v = getattr(state, name)
        if v.shape != (c,):
            raise FieldError(name, f"has {v.shape[0]} values but x has {c} {what}; give one per {what[:-1]}")
    if state.dout_typed is not None and state.dout_typed.shape != state.x.shape:
        raise FieldError("dout", f"has shape {list(state.dout_typed.shape)} but x has {list(state.x.shape)}")
    if not 0 <= state.c < c:
        raise FieldError("c", f"must be a {what[:-1]} from 0 to {c - 1}, got {state.c}")
    if not 0 <= state.sample < state.x.shape[0]:
        raise FieldError("sample", f"must be a sample from 0 to {state.x.shape[0] - 1}, got {state.sample}")


# --------------------------------------------------------------------------- links

LINK_FIELDS = {"tab", "x", "gamma", "beta", "running_mean", "running_var", "dout", "mode", "eps", "momentum",
               "convention", "c", "sample", "source", "batches", "seq_seed", "true_mean", "true_var", "p",
               "p_means", "drop_seed", "draws", "stage"}


def from_link(query: str, settings: Settings) -> NormState:
    """A state from a link's query string; raises FieldError naming the bad parameter."""
    fields = from_query(query)
    for key in fields:
        if key not in LINK_FIELDS:
            raise FieldError(key, "is not a setting of the normalization lab "
                                  f"(known: {', '.join(sorted(LINK_FIELDS))})")
    if "x" not in fields:
        raise MissingField("x")
    x_text = fields["x"]
    ndim = len(x_text.partition(":")[0].split("x"))
    if ndim not in (2, 4):
        raise FieldError("x", "must be N×D features (e.g. 4x3:…) or N×C×H×W images (e.g. 2x2x3x3:…)")
    x = decode_array("x", x_text, ndim, x_limits(settings, ndim))
    c = x.shape[1]
    vectors = {}
    for name, default in (("gamma", 1.0), ("beta", 0.0), ("running_mean", 0.0), ("running_var", 1.0)):
        vectors[name] = decode_array(name, fields[name], 1, (c,)) if name in fields else np.full(c, default)
    _check_variance("running_var", vectors["running_var"])
    get = fields.get
    p_means = parse_choice("p_means", get("p_means", "drop"), P_MEANS)
    seed, index, big = settings.max_seed, settings.norm_max_index, settings.norm_max_moment
    state = NormState(
        x, **vectors,
        tab=parse_choice("tab", get("tab", "bn"), TABS), mode=parse_choice("mode", get("mode", "train"), MODES),
        eps=parse_eps(get("eps", "1e-5")), momentum=parse_momentum(get("momentum", "")),
        convention=parse_choice("convention", get("convention", "pytorch"), CONVENTIONS),
        c=parse_int("c", get("c", "0"), 0, index), sample=parse_int("sample", get("sample", "0"), 0, index),
        stage=parse_int("stage", get("stage", "0"), 0, 6),
        source=parse_choice("source", get("source", "random"), SEQ_SOURCES),
        batches=parse_int("batches", get("batches", "50"), 1, settings.norm_max_batches, BATCHES_BOUND),
        seq_seed=parse_int("seq_seed", get("seq_seed", "0"), 0, seed),
        true_mean=_bounded("true_mean", get("true_mean", "2"), -big, big),
        true_var=_bounded("true_var", get("true_var", "4"), 0.0, big),
        p=parse_p(get("p", "0.25"), p_means), p_means=p_means,
        drop_seed=parse_int("drop_seed", get("drop_seed", "0"), 0, seed),
        draws=parse_int("draws", get("draws", "200"), 1, settings.norm_max_draws, DRAWS_BOUND))
    state = _with_dout(state, get("dout", "ones"), settings)
    _check_vectors(state)
    if state.stage >= 1 + len(BACKWARD_STAGES[state.mode]):
        raise FieldError("stage", f"is {state.stage}, but {state.mode} mode's backward graph has stages 1 to "
                                  f"{len(BACKWARD_STAGES[state.mode])}")
    return state


def _with_dout(state: NormState, text: str, settings: Settings) -> NormState:
    mode, seed = parse_dout(text, settings.max_seed)
    typed = decode_array("dout", text, state.x.ndim, x_limits(settings, state.x.ndim)) if mode == "typed" else None
    return replace(state, dout_mode=mode, dout_seed=seed, dout_typed=typed)


# --------------------------------------------------------------------------- the form










def relayout(values: np.ndarray, shape: tuple[int, ...], fill: float = 0.0) -> np.ndarray:
    """``values`` in the layout of ``shape``, keeping what fits.

    (N, D) → (N, C, H, W): feature d becomes channel d, its value spread over the whole H×W
    plane (so each channel's statistics are those of the feature). (N, C, H, W) → (N, D): the
    pixel (0, 0) of each channel.
    """
    if values.ndim == 2 and len(shape) == 4:
        values = np.broadcast_to(values[:, :, None, None], values.shape + tuple(shape[2:]))
    elif values.ndim == 4 and len(shape) == 2:
        values = values[:, :, 0, 0]
    return resize(values, tuple(shape), fill)


def from_form(form: Form, settings: Settings) -> tuple[NormState | None, list[FieldError]]:
    """A state from the lab's form: the posted cells, fitted to the requested layout and sizes.

    Returns (state, []) or (None, every problem found), so the page can flag each bad cell.
    """
    errors: list[FieldError] = []
    layout = choice_field(form, "layout", LAYOUTS, errors, "nd")
    ndim = 2 if layout == "nd" else 4
    lim = x_limits(settings, ndim)
    x_shape = shape_field(form, "x_shape", errors, max_cells=settings.max_elements)
    # switching layout: the features become channels (and back), as many as the new limit allows
    posted_c = str(min(x_shape[1], lim[1])) if x_shape and len(x_shape) > 1 else "1"
    n = int_field(form, "N", 1, lim[0], errors, "1")
    if ndim == 2:
        dims = (n, int_field(form, "D", 1, lim[1], errors, posted_c))
    else:
        dims = (n, int_field(form, "C", 1, lim[1], errors, posted_c), int_field(form, "H", 1, lim[2], errors, "2"),
                int_field(form, "W", 1, lim[3], errors, "2"))
    choices = {}
    for name, options, default in (("tab", TABS, "bn"), ("mode", MODES, "train"),
                                   ("convention", CONVENTIONS, "pytorch"), ("dout_mode", DOUT_MODES, "ones"),
                                   ("source", SEQ_SOURCES, "random"), ("p_means", P_MEANS, "drop")):
        choices[name] = choice_field(form, name, options, errors, default)
    seed, index = settings.max_seed, settings.norm_max_index
    ints = {}
    for name, lo, hi, default in (("c", 0, index, "0"), ("sample", 0, index, "0"), ("dout_seed", 0, seed, "0"),
                                  ("stage", 0, 6, "0"),
                                  ("batches", 1, settings.norm_max_batches, "50"), ("seq_seed", 0, seed, "0"),
                                  ("drop_seed", 0, seed, "0"), ("draws", 1, settings.norm_max_draws, "200")):
        ints[name] = int_field(form, name, lo, hi, errors, default)
    big = settings.norm_max_moment
    eps = collect(errors, parse_eps, first(form, "eps", "1e-5"))
    momentum = collect(errors, parse_momentum, first(form, "momentum", ""))
    true_mean = collect(errors, _bounded, "true_mean", first(form, "true_mean", "2"), -big, big)
    true_var = collect(errors, _bounded, "true_var", first(form, "true_var", "4"), 0.0, big)
    p = collect(errors, parse_p, first(form, "p", "0.25"), choices["p_means"])

    posted_x = grid_cells(form, "x", x_shape, errors) if x_shape else None
    c_shape = shape_field(form, "c_shape", errors, max_cells=settings.max_elements)
    vectors = {}
    for name in ("gamma", "beta", "running_mean", "running_var"):
        vectors[name] = grid_cells(form, name, c_shape, errors) if c_shape else None
    if vectors["running_var"] is not None:
        for i in np.flatnonzero(vectors["running_var"] < 0):
            errors.append(FieldError(cell_label("running_var", (i,)), "is a variance and must be ≥ 0"))
    dout_typed = None
    if choices["dout_mode"] == "typed" and form.get("dout_shape"):  # no shape yet: start from ones
        dshape = shape_field(form, "dout_shape", errors, max_cells=settings.max_elements)
        if dshape:
            dout_typed = grid_cells(form, "dout", dshape, errors)
    if errors:
        return None, errors

    channels = dims[1]
    x = relayout(posted_x, dims)
    fills = {"gamma": 1.0, "beta": 0.0, "running_mean": 0.0, "running_var": 1.0}
    vecs = {k: resize(v, (channels,), fills[k]) for k, v in vectors.items()}
    if choices["dout_mode"] == "typed":
        dout_typed = np.ones(dims) if dout_typed is None else relayout(dout_typed, dims, fill=1.0)
    state = NormState(
        x, **vecs, tab=choices["tab"], mode=choices["mode"], eps=eps, momentum=momentum,
        convention=choices["convention"], c=min(ints["c"], channels - 1), sample=min(ints["sample"], dims[0] - 1),
        dout_mode=choices["dout_mode"], dout_seed=ints["dout_seed"], dout_typed=dout_typed,
        source=choices["source"], batches=ints["batches"], seq_seed=ints["seq_seed"], true_mean=true_mean,
        true_var=true_var, p=p, p_means=choices["p_means"], drop_seed=ints["drop_seed"], draws=ints["draws"],
        stage=ints["stage"] if ints["stage"] <= len(BACKWARD_STAGES[choices["mode"]]) else 0)  # eval has fewer
    return state, []


# --------------------------------------------------------------------------- what the form shows

SETTINGS = ("mode", "convention", "eps", "momentum", "c", "sample", "source", "batches", "seq_seed", "true_mean",
            "true_var", "p_means", "p", "drop_seed", "draws", "dout_mode", "dout_seed")
TAB_SETTINGS = {  # the settings each section shows; the others ride along as hidden fields
    "bn": {"mode", "convention", "eps", "momentum", "c", "dout_mode", "dout_seed"},
    "running": {"convention", "momentum", "source", "batches", "seq_seed", "true_mean", "true_var", "c"},
    "ln": {"eps", "sample", "dout_mode", "dout_seed"},
    "dropout": {"mode", "p_means", "p", "drop_seed", "draws", "dout_mode", "dout_seed"},
}


def form_values(state: NormState) -> dict[str, str]:
    """Every setting as the text its form field holds."""
    return {"mode": state.mode, "convention": state.convention, "eps": link_text(state.eps),
            "momentum": "" if state.momentum is None else link_text(state.momentum), "c": str(state.c),
            "sample": str(state.sample), "source": state.source, "batches": str(state.batches),
            "seq_seed": str(state.seq_seed), "true_mean": link_text(state.true_mean),
            "true_var": link_text(state.true_var), "p_means": state.p_means, "p": link_text(state.p),
            "drop_seed": str(state.drop_seed), "draws": str(state.draws), "dout_mode": state.dout_mode,
            "dout_seed": str(state.dout_seed)}
