"""Max and average pooling over square size×size windows, NCHW, no padding.

Output size per spatial axis: ⌊(H − size)/stride⌋ + 1. When the stride does not divide
evenly, the trailing rows/columns no window reaches are reported as ``dropped_rows`` /
``dropped_cols`` (shown, not hidden). ``stride`` defaults to ``size`` (non-overlapping
windows); a smaller stride makes windows overlap, and their gradients add up in ``dx``.

maxpool2d ``argmax`` is the flat index h·W + w of the maximum inside its input plane
(PyTorch's ``return_indices``); ``window_argmax`` is the row-major index kh·size + kw of
the same cell inside its window. Ties go to the first maximum in row-major window order.

The fast versions loop over the size×size kernel offsets with strided slices (as im2col
does); the ``*_naive`` versions loop over every output pixel and are test oracles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.records import Arrays, Index, Input, OpInputError, OpSpec, Param, Step, check_element


@dataclass(frozen=True)
class MaxPoolCache:
    """What max-pool forward keeps for backward and for display."""

    x_shape: tuple[int, ...]  # (N, C, H, W) of the input
    size: int  # window side k
    stride: int  # step s between window origins
    windows: np.ndarray | None  # (N, C, OH, OW, k, k): the input cells each output looks at (a copy); None if
    # forward was asked not to keep them (keep_windows=False: the lean path)
    window_argmax: np.ndarray  # (N, C, OH, OW): row-major index kh·k + kw of the max inside its window
    argmax: np.ndarray  # (N, C, OH, OW): flat index h·W + w of the max inside its input plane
    dropped_rows: int  # bottom rows of x no window reaches
    dropped_cols: int  # right columns of x no window reaches


@dataclass(frozen=True)
class AvgPoolCache:
    """What average-pool forward keeps for backward and for display."""

    x_shape: tuple[int, ...]  # (N, C, H, W) of the input
    size: int  # window side k
    stride: int  # step s between window origins
    windows: np.ndarray  # (N, C, OH, OW, k, k): the input cells each output averages (a copy)
    dropped_rows: int  # bottom rows of x no window reaches
    dropped_cols: int  # right columns of x no window reaches


@dataclass(frozen=True)
class PoolGrads:
    dx: np.ndarray  # (N, C, H, W): dL/dx; where windows overlap their contributions add


# ---------------------------------------------------------------- shapes and checks


def pool_output_size(size_in: int, size: int, stride: int) -> int:
    """⌊(size_in − size)/stride⌋ + 1 (may be ≤ 0 for a window larger than the input)."""
    return (size_in - size) // stride + 1


def resolve_stride(size: int, stride: int | None) -> int:
    """The stride in force: ``None`` means equal to ``size``."""
    return size if stride is None else stride


def check_pool(x_shape: tuple[int, ...], size: int, stride: int | None) -> tuple[int, int]:
    """(OH, OW) for a pool over ``x_shape``; OpInputError if the windows do not fit."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise OpInputError("params.size", f"must be a whole number of at least 1, got {size!r}")
    if stride is not None and (isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 1):
        raise OpInputError("params.stride", f"must be a whole number of at least 1, got {stride!r}")
    stride = resolve_stride(size, stride)
    if len(x_shape) != 4:
        raise OpInputError("inputs.x", f"must have 4 dimensions (N, C, H, W), got shape {list(x_shape)}")
    h, w = x_shape[2], x_shape[3]
    if size > h or size > w:
        axis, n = ("height", h) if size > h else ("width", w)
        raise OpInputError(
            "params.size",
            f"window {size}×{size} is larger than the input {h}×{w}: output {axis} would be "
            f"⌊({n} − {size})/{stride}⌋ + 1 = {pool_output_size(n, size, stride)}",
        )
    return pool_output_size(h, size, stride), pool_output_size(w, size, stride)


def _check_dout(dout_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> None:
    if tuple(dout_shape) != tuple(out_shape):
        raise OpInputError(
            "inputs.dout", f"must have the output's shape {list(out_shape)}, got {list(dout_shape)}"
        )


def _dropped(n_in: int, n_out: int, size: int, stride: int) -> int:
    """Trailing rows (or columns) after the last window's end."""
    return n_in - ((n_out - 1) * stride + size)


def _windows(x: np.ndarray, size: int, stride: int, oh: int, ow: int) -> np.ndarray:
    """(N, C, OH, OW, k, k) copies of every window, one strided slice per kernel offset."""
    n, c = x.shape[:2]
    windows = np.empty((n, c, oh, ow, size, size), dtype=x.dtype)
    h_span, w_span = stride * (oh - 1) + 1, stride * (ow - 1) + 1
    for kh in range(size):
        for kw in range(size):
            windows[..., kh, kw] = x[:, :, kh : kh + h_span : stride, kw : kw + w_span : stride]
    return windows


# ---------------------------------------------------------------- max pooling


def _running_max(x: np.ndarray, size: int, stride: int, oh: int, ow: int) -> tuple[np.ndarray, np.ndarray]:
    """(out, window_argmax as int8/int16): a branch-free running max over the k·k kernel offsets.

    Offsets are visited in row-major window order and a later offset wins only if it is
    strictly greater, so ties keep the first maximum (np.argmax's rule, and PyTorch's).
    """
    h_span, w_span = stride * (oh - 1) + 1, stride * (ow - 1) + 1
    # offset 0, copied in x's own memory order (conv's output is channel-major): every array
    # below follows it, so the loop never mixes layouts
    out = x[:, :, :h_span:stride, :w_span:stride].copy(order="K")
    index_dtype = np.int8 if size * size <= 127 else np.int16
    window_argmax = np.zeros_like(out, dtype=index_dtype)
    upd = np.empty_like(out, dtype=bool)
    step = np.empty_like(out, dtype=index_dtype)
    upd_int = upd.view(np.int8) if index_dtype == np.int8 else upd
    for o in range(1, size * size):
        kh, kw = divmod(o, size)
        v = x[:, :, kh : kh + h_span : stride, kw : kw + w_span : stride]
        np.greater(v, out, out=upd)  # strictly greater: the first maximum keeps ties
        np.maximum(out, v, out=out)
        np.subtract(index_dtype(o), window_argmax, out=step)  # window_argmax += upd·(o − window_argmax)
        np.multiply(step, upd_int, out=step)
        window_argmax += step
    return out, window_argmax


def maxpool2d_forward(x: np.ndarray, size: int = 2, stride: int | None = None, *,
                      keep_windows: bool = True) -> tuple[np.ndarray, MaxPoolCache]:
    """Max over each window; remembers where the max was (first one in row-major order on ties).

    ``keep_windows=False`` skips the (N, C, OH, OW, k, k) copy of every window (a display
    extra that backward never reads): the cache's ``windows`` is then None.
    """
    oh, ow = check_pool(x.shape, size, stride)
    stride = resolve_stride(size, stride)
    h, w = x.shape[2:]
    windows = _windows(x, size, stride, oh, ow) if keep_windows else None
    out, window_argmax = _running_max(x, size, stride, oh, ow)
    # argmax = (oh·s + kh)·W + ow·s + kw: the window origin plus the offset's flat step
    offset_lut = np.array([(o // size) * w + o % size for o in range(size * size)], dtype=np.int64)
    argmax = offset_lut.take(window_argmax)
    argmax += (np.arange(oh, dtype=np.int64) * (stride * w)).reshape(oh, 1) + np.arange(ow, dtype=np.int64) * stride
    cache = MaxPoolCache(
        x_shape=tuple(x.shape), size=size, stride=stride, windows=windows,
        window_argmax=window_argmax.astype(np.int64), argmax=argmax,
        dropped_rows=_dropped(h, oh, size, stride), dropped_cols=_dropped(w, ow, size, stride),
    )
    return out, cache


def maxpool2d_backward(dout: np.ndarray, cache: MaxPoolCache) -> PoolGrads:
    """Route each dout to its window's argmax; overlapping windows add (one bincount, no add.at)."""
    n, c, h, w = cache.x_shape
    _check_dout(dout.shape, cache.argmax.shape)
    flat_index = (np.arange(n * c, dtype=np.int64) * (h * w)).reshape(n, c, 1, 1) + cache.argmax
    dx = np.bincount(flat_index.ravel(), weights=dout.ravel(), minlength=n * c * h * w)  # sums in float64
    return PoolGrads(dx=dx.reshape(cache.x_shape).astype(dout.dtype, copy=False))


def maxpool2d_forward_naive(x: np.ndarray, size: int = 2, stride: int | None = None) -> tuple[np.ndarray, MaxPoolCache]:
    """Reference: one Python loop per output pixel, scanning each window row by row."""
    oh, ow = check_pool(x.shape, size, stride)
    stride = resolve_stride(size, stride)
    n, c, h, w = x.shape
    out = np.zeros((n, c, oh, ow), dtype=x.dtype)
    windows = np.zeros((n, c, oh, ow, size, size), dtype=x.dtype)
    window_argmax = np.zeros((n, c, oh, ow), dtype=np.int64)
    argmax = np.zeros((n, c, oh, ow), dtype=np.int64)
    for i in range(n):
        for ch in range(c):
            for r in range(oh):
                for q in range(ow):
                    best, best_k = None, 0
                    for kh in range(size):
                        for kw in range(size):
                            value = x[i, ch, r * stride + kh, q * stride + kw]
                            windows[i, ch, r, q, kh, kw] = value
                            if best is None or value > best:  # strict: the first maximum wins ties
                                best, best_k = value, kh * size + kw
                    out[i, ch, r, q] = best
                    window_argmax[i, ch, r, q] = best_k
                    argmax[i, ch, r, q] = (r * stride + best_k // size) * w + q * stride + best_k % size
    cache = MaxPoolCache(
        x_shape=tuple(x.shape), size=size, stride=stride, windows=windows, window_argmax=window_argmax,
        argmax=argmax, dropped_rows=_dropped(h, oh, size, stride), dropped_cols=_dropped(w, ow, size, stride),
    )
    return out, cache


def maxpool2d_backward_naive(dout: np.ndarray, cache: MaxPoolCache) -> PoolGrads:
    """Reference: dx[h, w] += dout[oh, ow] for every output pixel, one at a time."""
    _check_dout(dout.shape, cache.argmax.shape)
    n, c, h, w = cache.x_shape
    dx = np.zeros(cache.x_shape, dtype=dout.dtype)
    for i in range(n):
        for ch in range(c):
            for r in range(dout.shape[2]):
                for q in range(dout.shape[3]):
                    row, col = divmod(int(cache.argmax[i, ch, r, q]), w)
                    dx[i, ch, row, col] += dout[i, ch, r, q]
    return PoolGrads(dx=dx)


# ---------------------------------------------------------------- average pooling


def avgpool2d_forward(x: np.ndarray, size: int = 2, stride: int | None = None) -> tuple[np.ndarray, AvgPoolCache]:
    """Mean over each window."""
    oh, ow = check_pool(x.shape, size, stride)
    stride = resolve_stride(size, stride)
    h, w = x.shape[2:]
    windows = _windows(x, size, stride, oh, ow)
    out = windows.mean(axis=(-2, -1))
    cache = AvgPoolCache(
        x_shape=tuple(x.shape), size=size, stride=stride, windows=windows,
        dropped_rows=_dropped(h, oh, size, stride), dropped_cols=_dropped(w, ow, size, stride),
    )
    return out, cache


def avgpool2d_backward(dout: np.ndarray, cache: AvgPoolCache) -> PoolGrads:
    """Spread dout/k² over each window; overlaps add (one strided += per kernel offset)."""
    _check_dout(dout.shape, cache.windows.shape[:4])
    oh, ow = dout.shape[2:]
    k, s = cache.size, cache.stride
    share = dout / (k * k)
    dx = np.zeros(cache.x_shape, dtype=share.dtype)
    for kh in range(k):
        for kw in range(k):
            dx[:, :, kh : kh + s * (oh - 1) + 1 : s, kw : kw + s * (ow - 1) + 1 : s] += share
    return PoolGrads(dx=dx)


def avgpool2d_forward_naive(x: np.ndarray, size: int = 2, stride: int | None = None) -> tuple[np.ndarray, AvgPoolCache]:
    """Reference: one Python loop per output pixel."""
    oh, ow = check_pool(x.shape, size, stride)
    stride = resolve_stride(size, stride)
    n, c, h, w = x.shape
    out = np.zeros((n, c, oh, ow), dtype=x.dtype)
    windows = np.zeros((n, c, oh, ow, size, size), dtype=x.dtype)
    for i in range(n):
        for ch in range(c):
            for r in range(oh):
                for q in range(ow):
                    window = x[i, ch, r * stride : r * stride + size, q * stride : q * stride + size]
                    windows[i, ch, r, q] = window
                    out[i, ch, r, q] = window.sum() / (size * size)
    cache = AvgPoolCache(
        x_shape=tuple(x.shape), size=size, stride=stride, windows=windows,
        dropped_rows=_dropped(h, oh, size, stride), dropped_cols=_dropped(w, ow, size, stride),
    )
    return out, cache


def avgpool2d_backward_naive(dout: np.ndarray, cache: AvgPoolCache) -> PoolGrads:
    """Reference: every output pixel adds dout/k² to each cell of its window."""
    _check_dout(dout.shape, cache.windows.shape[:4])
    k, s = cache.size, cache.stride
    dx = np.zeros(cache.x_shape, dtype=dout.dtype)
    n, c, oh, ow = dout.shape
    for i in range(n):
        for ch in range(c):
            for r in range(oh):
                for q in range(ow):
                    dx[i, ch, r * s : r * s + k, q * s : q * s + k] += dout[i, ch, r, q] / (k * k)
    return PoolGrads(dx=dx)


# ---------------------------------------------------------------- registry glue

_INPUTS = (
    Input("x", (4,), doc="input feature maps (N, C, H, W)"),
    Input("dout", (4,), required=False, grad=False, doc="upstream gradient dL/dout, the shape of out; ones if missing"),
)
_PARAMS = (
    Param("size", int, 2, 1, 8, doc="window side k (windows are k×k)"),
    Param("stride", int, None, 1, 8, doc="step s between windows; default (none given): equal to size"),
)


def _check(shapes: dict[str, tuple[int, ...]], params: dict[str, Any]) -> None:
    oh, ow = check_pool(shapes["x"], params["size"], params["stride"])
    if "dout" in shapes:
        _check_dout(shapes["dout"], (*shapes["x"][:2], oh, ow))


def _defaults(shapes: dict[str, tuple[int, ...]], params: dict[str, Any], dtype: Any) -> Arrays:
    if "dout" in shapes:
        return {}
    oh, ow = check_pool(shapes["x"], params["size"], params["stride"])
    return {"dout": np.ones((*shapes["x"][:2], oh, ow), dtype=dtype)}


def _window_cells(n: int, c: int, r: int, q: int, size: int, stride: int) -> list[Index]:
    return [(n, c, r * stride + kh, q * stride + kw) for kh in range(size) for kw in range(size)]


def _covering(pos: int, size: int, stride: int, n_out: int) -> range:
    """Output positions whose window [o·s, o·s + k) contains input position ``pos``."""
    first = max(0, -(-(pos - size + 1) // stride))
    last = min(n_out - 1, pos // stride)
    return range(first, last + 1)


def _size_latex(h: int, w: int, k: int, s: int, oh: int, ow: int) -> str:
    return (
        rf"\quad k = {k},\ s = {s}:\ OH = \left\lfloor \frac{{{h} - {k}}}{{{s}}} \right\rfloor + 1 = {oh},"
        rf"\ OW = \left\lfloor \frac{{{w} - {k}}}{{{s}}} \right\rfloor + 1 = {ow}"
    )


_WINDOW_LATEX = r"\text{win}_{oh,ow} = x\big[\,s\,oh : s\,oh + k,\ \ s\,ow : s\,ow + k\,\big]"


# max pooling


def _max_run(arrays: Arrays, params: dict[str, Any], extras: bool = True) -> Arrays:
    """Forward and backward; ``extras``: also the copy of every window (display only)."""
    out, cache = maxpool2d_forward(arrays["x"], params["size"], params["stride"], keep_windows=extras)
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
    k, s = params["size"], resolve_stride(params["size"], params["stride"])
    return Step("forward", "windows", "Cut the input into k×k windows, s apart",
                _WINDOW_LATEX + _size_latex(h, w, k, s, oh, ow),
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
    k, s = params["size"], resolve_stride(params["size"], params["stride"])
    if name in ("out", "window_argmax", "argmax"):
        found: dict[str, list[Index]] = {"x": _window_cells(*index, k, s)}
        if name == "out":
            found["argmax"] = [index]
        return found
    if name == "windows":
        n, c, r, q, kh, kw = index
        return {"x": [(n, c, r * s + kh, q * s + kw)]}
    if name == "dx":
        n, c, h, w = index
        width = result["x"].shape[3]
        routed = [(n, c, int(r), int(q)) for r, q in np.argwhere(result["argmax"][n, c] == h * width + w)]
        return {"dout": routed, "argmax": list(routed)}
    return {}  # inputs and the dropped counts come from nothing inside the op


def _max_example(rng: np.random.Generator) -> tuple[dict[str, Any], dict[str, Any]]:
    shape = (int(rng.integers(1, 3)), int(rng.integers(1, 3)), 4, 4)
    x = np.round(rng.normal(size=shape), 2)
    return {"x": x.tolist()}, {"size": 2, "stride": 2}


# average pooling


def _avg_run(arrays: Arrays, params: dict[str, Any], extras: bool = True) -> Arrays:
    out, cache = avgpool2d_forward(arrays["x"], params["size"], params["stride"])
    grads = avgpool2d_backward(arrays["dout"], cache)
    return {
        "x": arrays["x"], "dout": arrays["dout"], "windows": cache.windows, "out": out, "dx": grads.dx,
        "dropped_rows": np.array(cache.dropped_rows), "dropped_cols": np.array(cache.dropped_cols),
    }


def _avg_steps(a: Arrays, params: dict[str, Any]) -> list[Step]:
    """The steps of what :func:`_avg_run` computed, from its arrays."""
    return [
        _windows_step(a, params),
        Step("forward", "mean", "Average each window",
             r"y_{oh,ow} = \frac{1}{k^2} \sum_{i=0}^{k-1} \sum_{j=0}^{k-1} x_{s\,oh + i,\ s\,ow + j}",
             {"windows": a["windows"], "out": a["out"]}),
        Step("backward", "spread", "Share each upstream gradient equally over its window (overlaps add)",
             r"\frac{\partial L}{\partial x_{h,w}} = \sum_{(oh,ow)\,:\ (h,w) \in \text{win}_{oh,ow}}"
             r" \frac{1}{k^2} \frac{\partial L}{\partial y_{oh,ow}}",
             {"dout": a["dout"], "dx": a["dx"]}),
    ]


def _avg_provenance(arrays: Arrays, params: dict[str, Any], name: str, index: Index) -> dict[str, list[Index]]:
    result = _avg_run(arrays, params)
    check_element(result, "avgpool2d", name, index)
    k, s = params["size"], resolve_stride(params["size"], params["stride"])
    if name == "out":
        return {"x": _window_cells(*index, k, s)}
    if name == "windows":
        n, c, r, q, kh, kw = index
        return {"x": [(n, c, r * s + kh, q * s + kw)]}
    if name == "dx":
        n, c, h, w = index
        oh, ow = result["out"].shape[2:]
        return {"dout": [(n, c, r, q) for r in _covering(h, k, s, oh) for q in _covering(w, k, s, ow)]}
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
    ),
)
