""""Open in its lab": one operation of the traced step carried into its own lab by link.

Each function takes the layer's forward and backward arrays (exactly what the step computed) and
answers ``{"lab", "href", "note"}``: the lab's own state (``app.web.labs.<lab>.state``) made from those
tensors, its canonical link, and a note of anything the lab's size limits cut (the first items that
fit are taken, and the note says what that changes). A lab that cannot take the tensors answers
``href`` None and says why.

This is the one module of a lab that imports other labs (an import contract in pyproject.toml holds it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from app.settings import get_settings
from app.web.kit.fields import FieldError
from app.web.labs.conv.state import ConvState
from app.web.labs.norm import state as norm_state
from app.web.labs.optim import starting as optim_starting
from app.web.labs.optim import state as optim_state
from app.web.labs.pool import state as pool_state
from app.web.labs.softmax import state as softmax_state
from engine.network.model import param_shapes
from engine.records import OpInputError

LINK_ERRORS = (FieldError, OpInputError, ValueError, KeyError, TypeError)
CONV_LAB = {"N": 4, "C": 4, "F": 4, "side": 16, "kernel": 5}  # what the convolution lab accepts


def _cut(what: list[str]) -> str:
    return "Carries " + "; ".join(what) + " — the lab's size limits." if what else ""


def _first(arr: np.ndarray, limits: tuple[int, ...]) -> np.ndarray:
    return np.array(arr[tuple(slice(0, lim) for lim in limits)])


def _parts(shape: tuple[int, ...], limits: tuple[int, ...], names: tuple[str, ...]) -> list[str]:
    out = []
    for size, lim, name in zip(shape, limits, names, strict=True):
        if size > lim:
            out.append(f"the first {lim} of {size} {name}")
    return out


def _failed(lab: str, exc: Exception) -> dict[str, Any]:
    message = getattr(exc, "message", str(exc))
    return {"lab": lab, "href": None, "note": f"The {lab} lab cannot take these tensors: {message}"}


def conv_link(fwd: dict, bwd: dict, layer) -> dict[str, Any]:
    """"Open in the convolution lab": this layer's x, w, b and dout, cut to what that lab accepts."""
    x, w, b, dout = fwd["x"], fwd["w"], fwd["b"], bwd["dout"]
    n, c, h, wd = x.shape
    f, _, k, _ = w.shape
    if k > CONV_LAB["kernel"]:
        return {"href": None, "note": f"The convolution lab takes kernels up to {CONV_LAB['kernel']}×"
                                      f"{CONV_LAB['kernel']}; this layer's is {k}×{k}."}
    nn, cc, ff = min(n, CONV_LAB["N"]), min(c, CONV_LAB["C"]), min(f, CONV_LAB["F"])
    hh, ww = min(h, CONV_LAB["side"]), min(wd, CONV_LAB["side"])
    xs, ws, bs = x[:nn, :cc, :hh, :ww], w[:ff, :cc], b[:ff]
    s, p = layer.stride, layer.pad
    oh, ow = (hh + 2 * p - k) // s + 1, (ww + 2 * p - k) // s + 1
    ds = dout[:nn, :ff, :oh, :ow]
    cut = []
    if nn < n:
        cut.append(f"the first {nn} of {n} examples")
    if cc < c:
        cut.append(f"the first {cc} of {c} input channels")
    if ff < f:
        cut.append(f"the first {ff} of {f} filters")
    if hh < h or ww < wd:
        cut.append(f"the top-left {hh}×{ww} of each {h}×{wd} plane (windows at the cut edge see padding)")
    state = ConvState(np.array(xs), np.array(ws), np.array(bs), stride=s, pad=p, dout_mode="typed",
                      dout_typed=np.array(ds))
    note = ("Carries " + "; ".join(cut) + " — the lab's size limits.") if cut else \
        "Carries this layer's exact x, w, b and dout."
    return {"href": f"/conv?{state.to_query()}", "note": note, "lab": "convolution"}


def pool_link(layer, fwd: dict, bwd: dict) -> dict[str, Any]:
    """A max/avg-pooling layer into /pool (x and the pooling's dout; the lab's ReLU gets dout of ones)."""
    try:
        x, dout = fwd["x"], bwd["dout"]
        lim = pool_state.limits(get_settings())
        xs = _first(x, lim)
        k, s = layer.size, layer.stride
        oh, ow = (xs.shape[2] - k) // s + 1, (xs.shape[3] - k) // s + 1
        ds = np.array(dout[:xs.shape[0], :xs.shape[1], :oh, :ow])
        state = pool_state.PoolState(xs, "max" if layer.type == "maxpool2d" else "avg", k, s, dout_mode="typed",
                                     dout_typed=ds, relu_dout_typed=np.ones(xs.shape))
        query = state.to_query()
        pool_state.from_link(query, get_settings())  # the lab must open it
    except LINK_ERRORS as exc:
        return _failed("pooling", exc)
    cut = _parts(x.shape, lim, ("examples", "channels", "rows", "columns"))
    note = _cut(cut) or "Carries this layer's exact x and dout."
    return {"lab": "pooling", "href": f"/pool?{query}", "note": note}


def relu_link(fwd: dict, bwd: dict) -> dict[str, Any] | None:
    """A ReLU on images into /pool, whose ReLU gets this layer's x and dout (its pooling: 2×2 windows, dout ones)."""
    x, dout = fwd["x"], bwd["dout"]
    if x.ndim != 4:
        return None
    try:
        lim = pool_state.limits(get_settings())
        xs = _first(x, lim)
        k = min(2, xs.shape[2], xs.shape[3])
        out = (xs.shape[0], xs.shape[1], (xs.shape[2] - k) // k + 1, (xs.shape[3] - k) // k + 1)
        state = pool_state.PoolState(xs, "max", k, k, dout_mode="typed", dout_typed=np.ones(out),
                                     relu_dout_typed=_first(dout, lim))
        query = state.to_query()
        pool_state.from_link(query, get_settings())
    except LINK_ERRORS as exc:
        return _failed("pooling & ReLU", exc)
    note = _cut(_parts(x.shape, lim, ("examples", "channels", "rows", "columns"))) or \
        "Carries this layer's exact x and dout (to the lab's ReLU)."
    return {"lab": "pooling & ReLU", "href": f"/pool?{query}", "note": note}


def norm_link(layer, fwd: dict, bwd: dict) -> dict[str, Any]:
    """A batch norm layer into /norm: x, γ, β, the running statistics it started from, and dout."""
    x = fwd["x"]
    try:
        lim = norm_state.x_limits(get_settings(), x.ndim)
        xs = _first(x, lim)
        c = xs.shape[1]
        state = norm_state.NormState(xs, np.array(fwd["gamma"][:c]), np.array(fwd["beta"][:c]),
                                     np.array(fwd["running_mean_before"][:c]), np.array(fwd["running_var_before"][:c]),
                                     tab="bn", mode="train", eps=layer.eps, momentum=layer.momentum,
                                     convention=layer.convention, dout_mode="typed",
                                     dout_typed=_first(bwd["dout"], lim))
        query = state.to_query()
        norm_state.from_link(query, get_settings())
    except LINK_ERRORS as exc:
        return _failed("normalization", exc)
    names = ("examples", "features") if x.ndim == 2 else ("examples", "channels", "rows", "columns")
    cut = _parts(x.shape, lim, names)
    note = _cut(cut)
    if cut and (xs.shape[0] < x.shape[0] or (x.ndim == 4 and xs.shape[2:] != x.shape[2:])):
        note += " The batch statistics there are those of what it carries, so its numbers differ from these."
    return {"lab": "normalization", "href": f"/norm?{query}",
            "note": note or "Carries this layer's exact x, γ, β, running statistics and dout."}


def softmax_link(logits: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """The loss into /softmax: logits and labels (the loss there is the mean over what it carries)."""
    try:
        n_max, k_max = softmax_state.limits(get_settings())
        if logits.shape[1] > k_max:
            raise FieldError("logits", f"it takes at most {k_max} classes; this network has {logits.shape[1]}")
        state = softmax_state.SoftmaxState(np.array(logits[:n_max]), np.asarray(labels[:n_max], np.int64), 1.0)
        query = state.to_query()
        softmax_state.from_link(query, get_settings())
    except LINK_ERRORS as exc:
        return _failed("softmax", exc)
    n = logits.shape[0]
    note = (f"Carries the first {n_max} of {n} examples — the lab's size limit; its loss is their mean, "
            "so it differs from this batch's." if n > n_max else "Carries these exact logits and labels.")
    return {"lab": "softmax", "href": f"/softmax?{query}", "note": note}


def optim_link(spec, name: str, st) -> dict[str, Any]:
    """One parameter's update into /optim: its first entries' θ before this step, this step's gradient, and the
    optimizer state the run had reached (t0 = the steps before, m0/v0/s0 — the lab's starting state), so the
    lab takes exactly this update, at any step of the run."""
    try:
        limit = get_settings().optim_max_params
        size = int(np.prod(spec_param_shape(spec, name)))
        k = min(size, limit)
        short = name.rsplit(".", 1)[1]
        names = tuple(f"{short}{i}" for i in range(k))
        theta = np.asarray(st.params[name], np.float64).ravel()[:k]
        grads = np.asarray(st.update.g[name], np.float64).ravel()[:k][None, :]
        slots = {slot: np.asarray(values[name], np.float64).ravel()[:k] for slot, values in st.state.slots.items()}
        start = optim_starting.canonical(optim_starting.StartingState(st.state.t, slots))
        opt = optim_state.OptSpec.make(spec.optimizer, dict(spec.hyperparams))
        state = optim_state.OptimState(opt=opt, names=names, theta=theta, gmode="typed", grads=grads, steps=1,
                                       k=1, j=0, runs=(opt,), starting=start)
        query = state.to_query()
        optim_state.from_link(query, get_settings())
    except LINK_ERRORS as exc:
        return _failed("optimizer", exc)
    what = f"the first {k} of {size} entries of {name}" if k < size else f"every entry of {name}"
    since = (f"the optimizer's state after the run's {st.state.t} step{'s' if st.state.t != 1 else ''} "
             f"(t0 = {st.state.t}{''.join(f', {s}0' for s in slots)})" if start else "zero state (the first step)")
    return {"lab": "optimizer", "href": f"/optim?{query}",
            "note": f"Carries {what}: θ before this step, its gradient and {since}, so the lab takes exactly "
                    "this update."}


def spec_param_shape(spec, name: str) -> tuple[int, ...]:
    return param_shapes(spec.model)[name]

