"""The registry's view of max and average pooling: validation, step records with their formulas, provenance.

The ops themselves (forward/backward pairs and the naive oracles) are in :mod:`engine.ops.pool`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.ops.im2col import pair
from engine.ops.pool import (
    avgpool2d_backward,
    avgpool2d_forward,
    check_dout,
    check_pool,
    maxpool2d_backward,
    maxpool2d_forward,
    resolve_stride,
)
from engine.records import Arrays, Index, Input, OpSpec, Param, Step, check_element

_INPUTS = (
    Input("x", (4,), doc="input feature maps (N, C, H, W)"),
    Input("dout", (4,), required=False, grad=False, doc="upstream gradient dL/dout, the shape of out; ones if missing"),
)
_PARAMS = (
    Param("size", int, 2, 1, 8, pair=True, doc="window side k (k×k windows), or [height, width]"),
    Param("stride", int, None, 1, 8, pair=True,
          doc="step s between windows, or [height, width]; default (none given): equal to size"),
    Param("pad", int, 0, 0, 4, pair=True,
          doc="cells added on each side (−∞ for max, 0 for the mean), or [height, width]; at most half the window"),
)


def _params(params: dict[str, Any]) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """(KH, KW), (SH, SW), (PH, PW) of a pool's params."""
    size = params["size"]
    return pair(size), pair(resolve_stride(size, params["stride"])), pair(params.get("pad", 0))


def _check(shapes: dict[str, tuple[int, ...]], params: dict[str, Any]) -> None:
    oh, ow = check_pool(shapes["x"], params["size"], params["stride"], params.get("pad", 0))
    if "dout" in shapes:
        check_dout(shapes["dout"], (*shapes["x"][:2], oh, ow))


def _shapes(shapes: dict[str, tuple[int, ...]], params: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """The shape of every array max pooling answers (average pooling's are these without the argmaxes)."""
    oh, ow = check_pool(shapes["x"], params["size"], params["stride"], params.get("pad", 0))
    (kh, kw), _, _ = _params(params)
    out = (*shapes["x"][:2], oh, ow)
    return {"x": shapes["x"], "dout": out, "windows": (*out, kh, kw), "out": out, "window_argmax": out,
            "argmax": out, "dx": shapes["x"], "dropped_rows": (), "dropped_cols": ()}


def _avg_shapes(shapes: dict[str, tuple[int, ...]], params: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    found = _shapes(shapes, params)
    return {name: found[name] for name in (*_ARRAYS_COMMON, "dx", "dropped_rows", "dropped_cols")}


def _defaults(shapes: dict[str, tuple[int, ...]], params: dict[str, Any], dtype: Any) -> Arrays:
    if "dout" in shapes:
        return {}
    oh, ow = check_pool(shapes["x"], params["size"], params["stride"], params.get("pad", 0))
    return {"dout": np.ones((*shapes["x"][:2], oh, ow), dtype=dtype)}


def _window_cells(n: int, c: int, r: int, q: int, params: dict[str, Any], hw: tuple[int, int]) -> list[Index]:
    """The input cells of window (r, q) (padding left out)."""
    (kh, kw), (sh, sw), (ph, pw) = _params(params)
    cells = [(n, c, r * sh - ph + i, q * sw - pw + j) for i in range(kh) for j in range(kw)]
    return [cell for cell in cells if 0 <= cell[2] < hw[0] and 0 <= cell[3] < hw[1]]


def _covering(pos: int, size: int, stride: int, n_out: int, pad: int = 0) -> range:
    """Output positions whose window [o·s − p, o·s − p + k) contains input position ``pos``."""
    pos += pad
    first = max(0, -(-(pos - size + 1) // stride))
    last = min(n_out - 1, pos // stride)
    return range(first, last + 1)


def _size_latex(h: int, w: int, params: dict[str, Any], oh: int, ow: int) -> str:
    (kh, kw), (sh, sw), (ph, pw) = _params(params)
    if kh == kw and sh == sw and ph == pw == 0:
        k, s = kh, sh
        return (
            rf"\quad k = {k},\ s = {s}:\ OH = \left\lfloor \frac{{{h} - {k}}}{{{s}}} \right\rfloor + 1 = {oh},"
            rf"\ OW = \left\lfloor \frac{{{w} - {k}}}{{{s}}} \right\rfloor + 1 = {ow}"
        )
    return (
        rf"\quad OH = \left\lfloor \frac{{{h} + 2 \cdot {ph} - {kh}}}{{{sh}}} \right\rfloor + 1 = {oh},"
        rf"\ OW = \left\lfloor \frac{{{w} + 2 \cdot {pw} - {kw}}}{{{sw}}} \right\rfloor + 1 = {ow}"
    )


def _window_latex(params: dict[str, Any]) -> str:
    (kh, kw), (sh, sw), (ph, pw) = _params(params)
    if kh == kw and sh == sw and ph == pw == 0:
        return r"\text{win}_{oh,ow} = x\big[\,s\,oh : s\,oh + k,\ \ s\,ow : s\,ow + k\,\big]"
    return (r"\text{win}_{oh,ow} = x_{\text{pad}}\big[\,s_h\,oh : s_h\,oh + k_h,\ \ s_w\,ow : s_w\,ow + k_w\,\big],"
            rf"\quad k = ({kh}, {kw}),\ s = ({sh}, {sw}),\ p = ({ph}, {pw})")


# max pooling


def _max_run(arrays: Arrays, params: dict[str, Any], extras: bool = True) -> Arrays:
    """Forward and backward; ``extras``: also the copy of every window (display only)."""
    out, cache = maxpool2d_forward(arrays["x"], params["size"], params["stride"], params.get("pad", 0),
                                   keep_windows=extras)
    grads = maxpool2d_backward(arrays["dout"], cache)
    result = {
        "x": arrays["x"], "dout": arrays["dout"], "windows": cache.windows, "out": out,
        "window_argmax": cache.window_argmax, "argmax": cache.argmax, "dx": grads.dx,
        "dropped_rows": np.array(cache.dropped_rows), "dropped_cols": np.array(cache.dropped_cols),
    }
    if not extras:
        del result["windows"]
    return result


def _windows_step(a: Arrays, params: dict[str, Any]) -> Step:
    """Both poolings' first step: the k×k windows s apart, with the output size worked out."""
    h, w = a["x"].shape[2:]
    oh, ow = a["out"].shape[2:]
    return Step("forward", "windows", "Cut the input into k×k windows, s apart",
                _window_latex(params) + _size_latex(h, w, params, oh, ow),
                {"x": a["x"], "windows": a["windows"], "dropped_rows": a["dropped_rows"],
                 "dropped_cols": a["dropped_cols"]})


def _max_steps(a: Arrays, params: dict[str, Any]) -> list[Step]:
    """The steps of what :func:`_max_run` computed (with its extras), from its arrays."""
    return [
        _windows_step(a, params),
        Step("forward", "max", "Keep each window's maximum and remember where it was",
             r"y_{oh,ow} = \max \text{win}_{oh,ow},\quad \text{argmax}_{oh,ow} = h^{*} W + w^{*}"
             r"\ \ \text{(first maximum in row-major order)}",
             {"windows": a["windows"], "window_argmax": a["window_argmax"], "argmax": a["argmax"], "out": a["out"]}),
        Step("backward", "route", "Route each upstream gradient to its window's maximum (overlaps add)",
             r"\frac{\partial L}{\partial x_{h,w}} = \sum_{(oh,ow)\,:\ \text{argmax}_{oh,ow} = hW + w}"
             r" \frac{\partial L}{\partial y_{oh,ow}}",
             {"dout": a["dout"], "argmax": a["argmax"], "dx": a["dx"]}),
    ]


def _max_provenance(arrays: Arrays, params: dict[str, Any], name: str, index: Index) -> dict[str, list[Index]]:
    result = _max_run(arrays, params)
    check_element(result, "maxpool2d", name, index)
    hw = result["x"].shape[2:]
    if name in ("out", "window_argmax", "argmax"):
        found: dict[str, list[Index]] = {"x": _window_cells(*index, params, hw)}
        if name == "out":
            found["argmax"] = [index]
        return found
    if name == "windows":
        return {"x": _window_cell(index, params, hw)}
    if name == "dx":
        n, c, h, w = index
        width = result["x"].shape[3]
        routed = [(n, c, int(r), int(q)) for r, q in np.argwhere(result["argmax"][n, c] == h * width + w)]
        return {"dout": routed, "argmax": list(routed)}
    return {}  # inputs and the dropped counts come from nothing inside the op


def _window_cell(index: Index, params: dict[str, Any], hw: tuple[int, int]) -> list[Index]:
    """The input cell under windows[n, c, r, q, i, j] (none where it is padding)."""
    n, c, r, q, i, j = index
    _, (sh, sw), (ph, pw) = _params(params)
    row, col = r * sh - ph + i, q * sw - pw + j
    return [(n, c, row, col)] if 0 <= row < hw[0] and 0 <= col < hw[1] else []


def _max_example(rng: np.random.Generator) -> tuple[dict[str, Any], dict[str, Any]]:
    shape = (int(rng.integers(1, 3)), int(rng.integers(1, 3)), 4, 4)
    x = np.round(rng.normal(size=shape), 2)
    return {"x": x.tolist()}, {"size": 2, "stride": 2}


# average pooling


def _avg_run(arrays: Arrays, params: dict[str, Any], extras: bool = True) -> Arrays:
    out, cache = avgpool2d_forward(arrays["x"], params["size"], params["stride"], params.get("pad", 0))
    grads = avgpool2d_backward(arrays["dout"], cache)
    return {
        "x": arrays["x"], "dout": arrays["dout"], "windows": cache.windows, "out": out, "dx": grads.dx,
        "dropped_rows": np.array(cache.dropped_rows), "dropped_cols": np.array(cache.dropped_cols),
    }


def _mean_latex(params: dict[str, Any]) -> str:
    (kh, kw), _, (ph, pw) = _params(params)
    if kh == kw and ph == pw == 0:
        return r"y_{oh,ow} = \frac{1}{k^2} \sum_{i=0}^{k-1} \sum_{j=0}^{k-1} x_{s\,oh + i,\ s\,ow + j}"
    return (r"y_{oh,ow} = \frac{1}{k_h k_w} \sum_{i=0}^{k_h-1} \sum_{j=0}^{k_w-1}"
            r" x_{\text{pad}}[s_h\,oh + i,\ s_w\,ow + j] \quad \text{(padded zeros count)}")


def _avg_steps(a: Arrays, params: dict[str, Any]) -> list[Step]:
    """The steps of what :func:`_avg_run` computed, from its arrays."""
    return [
        _windows_step(a, params),
        Step("forward", "mean", "Average each window",
             _mean_latex(params),
             {"windows": a["windows"], "out": a["out"]}),
        Step("backward", "spread", "Share each upstream gradient equally over its window (overlaps add)",
             r"\frac{\partial L}{\partial x_{h,w}} = \sum_{(oh,ow)\,:\ (h,w) \in \text{win}_{oh,ow}}"
             r" \frac{1}{k^2} \frac{\partial L}{\partial y_{oh,ow}}",
             {"dout": a["dout"], "dx": a["dx"]}),
    ]


def _avg_provenance(arrays: Arrays, params: dict[str, Any], name: str, index: Index) -> dict[str, list[Index]]:
    result = _avg_run(arrays, params)
    check_element(result, "avgpool2d", name, index)
    hw = result["x"].shape[2:]
    (kh, kw), (sh, sw), (ph, pw) = _params(params)
    if name == "out":
        return {"x": _window_cells(*index, params, hw)}
    if name == "windows":
        return {"x": _window_cell(index, params, hw)}
    if name == "dx":
        n, c, h, w = index
        oh, ow = result["out"].shape[2:]
        return {"dout": [(n, c, r, q) for r in _covering(h, kh, sh, oh, ph) for q in _covering(w, kw, sw, ow, pw)]}
    return {}


def _avg_example(rng: np.random.Generator) -> tuple[dict[str, Any], dict[str, Any]]:
    shape = (int(rng.integers(1, 3)), int(rng.integers(1, 3)), 4, 4)
    return {"x": np.round(rng.normal(size=shape), 2).tolist()}, {"size": 2, "stride": 2}


_ARRAYS_COMMON = ("x", "dout", "windows", "out")

SPECS = (
    OpSpec(
        name="maxpool2d",
        title="Max pooling",
        inputs=_INPUTS,
        params=_PARAMS,
        arrays=(*_ARRAYS_COMMON, "window_argmax", "argmax", "dx", "dropped_rows", "dropped_cols"),
        run=_max_run,
        check=_check,
        defaults=_defaults,
        steps=_max_steps,
        provenance=_max_provenance,
        example=_max_example,
        extras=("windows",),
        shapes=_shapes,
    ),
    OpSpec(
        name="avgpool2d",
        title="Average pooling",
        inputs=_INPUTS,
        params=_PARAMS,
        arrays=(*_ARRAYS_COMMON, "dx", "dropped_rows", "dropped_cols"),
        run=_avg_run,
        check=_check,
        defaults=_defaults,
        steps=_avg_steps,
        provenance=_avg_provenance,
        example=_avg_example,
        shapes=_avg_shapes,
    ),
)
