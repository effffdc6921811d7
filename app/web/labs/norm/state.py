"""The normalization lab's whole state, and its two ways in: a link and the page's form.

One batch ``x`` — (N, D) features or (N, C, H, W) images — feeds every section of the lab
(batch norm, running statistics, layer norm, dropout); the section shown (``tab``) is part
of the state, so a link opens the same view. Both ways in are validated as strictly as each
other; problems are :class:`LinkError` values naming the field (``x[1, 0]``, ``eps``),
never clamped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from app.settings import Settings
from app.web.kit.lab import cell_label, shape_field
from app.web.kit.lab import grid_cells as _cells
from app.web.kit.lab import resize as _resize
from app.web.kit.link import LinkError, decode_array, encode_array, format_number, from_query, parse_int, parse_number
from app.web.kit.link import to_query as link_query

TABS = ("bn", "running", "ln", "dropout")
TAB_TITLES = {"bn": "Batch norm", "running": "Running statistics", "ln": "Layer norm vs batch norm",
              "dropout": "Dropout"}
MODES = ("train", "eval")
CONVENTIONS = ("pytorch", "cs231n")
DOUT_MODES = ("ones", "random", "typed")
SEQ_SOURCES = ("random", "repeat")
P_MEANS = ("drop", "keep")
LAYOUTS = ("nd", "nchw")
DOUT_STREAM = 0xD0  # random dout draws from its own stream of the seed
SEED_MAX = 2**31 - 1
MAX_FEATURES = 8  # D of (N, D): columns a projector still shows
MAX_PIXELS = 5  # H and W of (N, C, H, W)
MAX_BATCHES = 200
MAX_DRAWS = 1000
EPS_RANGE = (1e-12, 1.0)  # the engine's own limits of eps
BIG = 1e6  # |true mean| and true variance of the random batches


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
             "running_var": encode_array(self.running_var), "dout": self._dout_field(), "mode": self.mode,
             "eps": format_number(self.eps), "convention": self.convention}
        if self.momentum is not None:
            f["momentum"] = format_number(self.momentum)
        f.update({"c": str(self.c), "sample": str(self.sample), "source": self.source,
                  "batches": str(self.batches), "seq_seed": str(self.seq_seed),
                  "true_mean": format_number(self.true_mean), "true_var": format_number(self.true_var),
                  "p": format_number(self.p), "p_means": self.p_means, "drop_seed": str(self.drop_seed),
                  "draws": str(self.draws)})
        return link_query(f)

    def _dout_field(self) -> str:
        if self.dout_mode == "random":
            return f"random:{self.dout_seed}"
        if self.dout_mode == "typed" and self.dout_typed is not None:
            return encode_array(self.dout_typed)
        return "ones"

    def dout(self) -> np.ndarray:
        """The upstream gradient in force (x's shape); drawn once per state (seeding costs a millisecond)."""
        return self._dout

    @cached_property
    def _dout(self) -> np.ndarray:
        if self.dout_mode == "random":
            rng = np.random.default_rng([self.dout_seed, DOUT_STREAM])  # not the stream presets draw x from
            return np.round(rng.standard_normal(self.x.shape), 1)
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
    if ndim == 2:
        return (settings.max_batch, min(MAX_FEATURES, settings.max_features))
    return (settings.max_batch, settings.max_channels, min(MAX_PIXELS, settings.max_spatial),
            min(MAX_PIXELS, settings.max_spatial))


def _choice(field: str, text: str, choices: tuple[str, ...]) -> str:
    if text not in choices:
        raise LinkError(field, f"must be one of {', '.join(choices)}; got {text!r}")
    return text


def _bounded(field: str, text: str, lo: float, hi: float, lo_open: bool = False, hi_open: bool = False) -> float:
    value = parse_number(field, text)
    if value < lo or value > hi or (lo_open and value == lo) or (hi_open and value == hi):
        left, right = ("(" if lo_open else "["), (")" if hi_open else "]")
        raise LinkError(field, f"must be in {left}{format_number(lo)}, {format_number(hi)}{right}, got {text.strip()}")
    return value


def parse_eps(text: str) -> float:
    value = parse_number("eps", text)
    if not EPS_RANGE[0] <= value <= EPS_RANGE[1]:
        raise LinkError("eps", f"must be between 1e-12 and 1 (ε keeps √(σ² + ε) away from 0), got {text.strip()}")
    return value


def parse_momentum(text: str) -> float | None:
    if text.strip() in ("", "default"):
        return None
    return _bounded("momentum", text, 0.0, 1.0)


def parse_p(text: str, p_means: str) -> float:
    if p_means == "drop":
        value = parse_number("p", text)
        if not 0 <= value < 1:
            raise LinkError("p", f"is the probability of DROPPING a value (PyTorch): 0 ≤ p < 1, got {text.strip()}")
        return value
    value = parse_number("p", text)
    if not 0 < value <= 1:
        raise LinkError("p", f"is the probability of KEEPING a value (the notes): 0 < p ≤ 1, got {text.strip()}")
    return value


def _check_variance(name: str, values: np.ndarray) -> None:
    bad = np.flatnonzero(values < 0)
    if bad.size:
        i = int(bad[0])
        raise LinkError(f"{name}[{i}]", f"is a variance and must be ≥ 0, got {format_number(values[i])}")


def _check_vectors(state: NormState) -> None:
    c = state.channels
    what = "features" if state.x.ndim == 2 else "channels"
    for name in ("gamma", "beta", "running_mean", "running_var"):
        v = getattr(state, name)
        if v.shape != (c,):
            raise LinkError(name, f"has {v.shape[0]} values but x has {c} {what}; give one per {what[:-1]}")
    if state.dout_typed is not None and state.dout_typed.shape != state.x.shape:
        raise LinkError("dout", f"has shape {list(state.dout_typed.shape)} but x has {list(state.x.shape)}")
    if not 0 <= state.c < c:
        raise LinkError("c", f"must be a {what[:-1]} from 0 to {c - 1}, got {state.c}")
    if not 0 <= state.sample < state.x.shape[0]:
        raise LinkError("sample", f"must be a sample from 0 to {state.x.shape[0] - 1}, got {state.sample}")


# --------------------------------------------------------------------------- links

LINK_FIELDS = {"tab", "x", "gamma", "beta", "running_mean", "running_var", "dout", "mode", "eps", "momentum",
               "convention", "c", "sample", "source", "batches", "seq_seed", "true_mean", "true_var", "p",
               "p_means", "drop_seed", "draws"}


def from_link(query: str, settings: Settings) -> NormState:
    """A state from a link's query string; raises LinkError naming the bad parameter."""
    fields = from_query(query)
    for key in fields:
        if key not in LINK_FIELDS:
            raise LinkError(key, f"is not a setting of the normalization lab (known: {', '.join(sorted(LINK_FIELDS))})")
    if "x" not in fields:
        raise LinkError("x", "is missing from the link")
    x_text = fields["x"]
    ndim = len(x_text.partition(":")[0].split("x"))
    if ndim not in (2, 4):
        raise LinkError("x", "must be N×D features (e.g. 4x3:…) or N×C×H×W images (e.g. 2x2x3x3:…)")
    x = decode_array("x", x_text, ndim, x_limits(settings, ndim))
    c = x.shape[1]
    vectors = {}
    for name, default in (("gamma", 1.0), ("beta", 0.0), ("running_mean", 0.0), ("running_var", 1.0)):
        vectors[name] = decode_array(name, fields[name], 1, (c,)) if name in fields else np.full(c, default)
    _check_variance("running_var", vectors["running_var"])
    get = fields.get
    p_means = _choice("p_means", get("p_means", "drop"), P_MEANS)
    state = NormState(
        x, **vectors,
        tab=_choice("tab", get("tab", "bn"), TABS), mode=_choice("mode", get("mode", "train"), MODES),
        eps=parse_eps(get("eps", "1e-5")), momentum=parse_momentum(get("momentum", "")),
        convention=_choice("convention", get("convention", "pytorch"), CONVENTIONS),
        c=parse_int("c", get("c", "0"), 0, 64), sample=parse_int("sample", get("sample", "0"), 0, 64),
        source=_choice("source", get("source", "random"), SEQ_SOURCES),
        batches=parse_int("batches", get("batches", "50"), 1, MAX_BATCHES),
        seq_seed=parse_int("seq_seed", get("seq_seed", "0"), 0, SEED_MAX),
        true_mean=_bounded("true_mean", get("true_mean", "2"), -BIG, BIG),
        true_var=_bounded("true_var", get("true_var", "4"), 0.0, BIG),
        p=parse_p(get("p", "0.25"), p_means), p_means=p_means,
        drop_seed=parse_int("drop_seed", get("drop_seed", "0"), 0, SEED_MAX),
        draws=parse_int("draws", get("draws", "200"), 1, MAX_DRAWS))
    state = _with_dout(state, get("dout", "ones"), settings)
    _check_vectors(state)
    return state


def _with_dout(state: NormState, text: str, settings: Settings) -> NormState:
    if text == "ones":
        return state
    if text.startswith("random:"):
        return replace(state, dout_mode="random", dout_seed=parse_int("dout", text[7:], 0, SEED_MAX))
    typed = decode_array("dout", text, state.x.ndim, x_limits(settings, state.x.ndim))
    return replace(state, dout_mode="typed", dout_typed=typed)


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
    return _resize(values, tuple(shape), fill)


def _field(form, name: str, default: str = "") -> str:
    values = form.get(name)
    return values[0] if values else default


def _collect(errors: list[LinkError], fn, *args):
    try:
        return fn(*args)
    except LinkError as exc:
        errors.append(exc)
        return None


def from_form(form: Mapping[str, list[str]], settings: Settings) -> tuple[NormState | None, list[LinkError]]:
    """A state from the lab's form: the posted cells, fitted to the requested layout and sizes.

    Returns (state, []) or (None, every problem found), so the page can flag each bad cell.
    """
    errors: list[LinkError] = []
    layout = _collect(errors, _choice, "layout", _field(form, "layout", "nd"), LAYOUTS) or "nd"
    ndim = 2 if layout == "nd" else 4
    lim = x_limits(settings, ndim)
    x_shape = shape_field(form, "x_shape", errors)
    # switching layout: the features become channels (and back), as many as the new limit allows
    posted_c = str(min(x_shape[1], lim[1])) if x_shape and len(x_shape) > 1 else "1"
    n = _collect(errors, parse_int, "N", _field(form, "N", "1"), 1, lim[0])
    if ndim == 2:
        dims = (n, _collect(errors, parse_int, "D", _field(form, "D", posted_c), 1, lim[1]))
    else:
        dims = (n, _collect(errors, parse_int, "C", _field(form, "C", posted_c), 1, lim[1]),
                _collect(errors, parse_int, "H", _field(form, "H", "2"), 1, lim[2]),
                _collect(errors, parse_int, "W", _field(form, "W", "2"), 1, lim[3]))
    choices = {}
    for name, options, default in (("tab", TABS, "bn"), ("mode", MODES, "train"),
                                   ("convention", CONVENTIONS, "pytorch"), ("dout_mode", DOUT_MODES, "ones"),
                                   ("source", SEQ_SOURCES, "random"), ("p_means", P_MEANS, "drop")):
        choices[name] = _collect(errors, _choice, name, _field(form, name, default), options)
    ints = {}
    for name, lo, hi, default in (("c", 0, 64, "0"), ("sample", 0, 64, "0"), ("dout_seed", 0, SEED_MAX, "0"),
                                  ("batches", 1, MAX_BATCHES, "50"), ("seq_seed", 0, SEED_MAX, "0"),
                                  ("drop_seed", 0, SEED_MAX, "0"), ("draws", 1, MAX_DRAWS, "200")):
        ints[name] = _collect(errors, parse_int, name, _field(form, name, default), lo, hi)
    eps = _collect(errors, parse_eps, _field(form, "eps", "1e-5"))
    momentum = _collect(errors, parse_momentum, _field(form, "momentum", ""))
    true_mean = _collect(errors, _bounded, "true_mean", _field(form, "true_mean", "2"), -BIG, BIG)
    true_var = _collect(errors, _bounded, "true_var", _field(form, "true_var", "4"), 0.0, BIG)
    p = _collect(errors, parse_p, _field(form, "p", "0.25"), choices["p_means"] or "drop")

    posted_x = _cells(form, "x", x_shape, errors) if x_shape else None
    c_shape = shape_field(form, "c_shape", errors)
    vectors = {}
    for name in ("gamma", "beta", "running_mean", "running_var"):
        vectors[name] = _cells(form, name, c_shape, errors) if c_shape else None
    if vectors["running_var"] is not None:
        for i in np.flatnonzero(vectors["running_var"] < 0):
            errors.append(LinkError(cell_label("running_var", (i,)), "is a variance and must be ≥ 0"))
    dout_typed = None
    if choices["dout_mode"] == "typed" and form.get("dout_shape"):  # no shape yet: start from ones
        dshape = shape_field(form, "dout_shape", errors)
        if dshape:
            dout_typed = _cells(form, "dout", dshape, errors)
    if errors:
        return None, errors

    channels = dims[1]
    x = relayout(posted_x, dims)
    fills = {"gamma": 1.0, "beta": 0.0, "running_mean": 0.0, "running_var": 1.0}
    vecs = {k: _resize(v, (channels,), fills[k]) for k, v in vectors.items()}
    if choices["dout_mode"] == "typed":
        dout_typed = np.ones(dims) if dout_typed is None else relayout(dout_typed, dims, fill=1.0)
    state = NormState(
        x, **vecs, tab=choices["tab"], mode=choices["mode"], eps=eps, momentum=momentum,
        convention=choices["convention"], c=min(ints["c"], channels - 1), sample=min(ints["sample"], dims[0] - 1),
        dout_mode=choices["dout_mode"], dout_seed=ints["dout_seed"], dout_typed=dout_typed,
        source=choices["source"], batches=ints["batches"], seq_seed=ints["seq_seed"], true_mean=true_mean,
        true_var=true_var, p=p, p_means=choices["p_means"], drop_seed=ints["drop_seed"], draws=ints["draws"])
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
    return {"mode": state.mode, "convention": state.convention, "eps": format_number(state.eps),
            "momentum": "" if state.momentum is None else format_number(state.momentum), "c": str(state.c),
            "sample": str(state.sample), "source": state.source, "batches": str(state.batches),
            "seq_seed": str(state.seq_seed), "true_mean": format_number(state.true_mean),
            "true_var": format_number(state.true_var), "p_means": state.p_means, "p": format_number(state.p),
            "drop_seed": str(state.drop_seed), "draws": str(state.draws), "dout_mode": state.dout_mode,
            "dout_seed": str(state.dout_seed)}
