"""Max and average pooling over KH×KW windows, NCHW, with optional padding.

size, stride and pad are each an int (both axes) or a (height, width) pair, as PyTorch's
MaxPool2d / AvgPool2d take them; ``stride`` defaults to ``size`` (non-overlapping windows).
Output size per axis: ⌊(H + 2·pad − KH)/stride⌋ + 1. Padding may be at most half the window
(PyTorch's rule), so every window holds at least one input cell. Max pooling pads with −∞ (a
padded cell never wins); average pooling pads with 0 and divides by KH·KW (PyTorch's default
``count_include_pad=True``). When the stride does not divide evenly, the trailing rows/columns
of the padded input no window reaches are reported as ``dropped_rows`` / ``dropped_cols``
(shown, not hidden). A smaller stride makes windows overlap, and their gradients add up in ``dx``.

maxpool2d ``argmax`` is the flat index h·W + w of the maximum inside its (unpadded) input
plane (PyTorch's ``return_indices``); ``window_argmax`` is the row-major index kh·KW + kw of
the same cell inside its window. Ties go to the first maximum in row-major window order.

The fast versions loop over the KH×KW kernel offsets with strided slices (as im2col does);
the ``*_naive`` versions loop over every output pixel and are test oracles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.ops.im2col import IntOrPair, pair
from engine.records import Arrays, Index, Input, OpInputError, OpSpec, Param, Step, check_element


@dataclass(frozen=True)
class MaxPoolCache:
    """What max-pool forward keeps for backward and for display."""

    x_shape: tuple[int, ...]  # (N, C, H, W) of the input
    size: IntOrPair  # window side k (or (KH, KW)), as given
    stride: IntOrPair  # step s between window origins (or (SH, SW)), resolved
    windows: np.ndarray | None  # (N, C, OH, OW, KH, KW): the cells each output looks at (a copy; −∞ where
    # padded); None if forward was asked not to keep them (keep_windows=False: the lean path)
    window_argmax: np.ndarray  # (N, C, OH, OW): row-major index kh·KW + kw of the max inside its window
    argmax: np.ndarray  # (N, C, OH, OW): flat index h·W + w of the max inside its input plane
    dropped_rows: int  # bottom rows of the padded input no window reaches
    dropped_cols: int  # right columns of the padded input no window reaches
    pad: IntOrPair = 0  # −∞ cells added on each side


@dataclass(frozen=True)
class AvgPoolCache:
    """What average-pool forward keeps for backward and for display."""

    x_shape: tuple[int, ...]  # (N, C, H, W) of the input
    size: IntOrPair  # window side k (or (KH, KW)), as given
    stride: IntOrPair  # step s between window origins (or (SH, SW)), resolved
    windows: np.ndarray  # (N, C, OH, OW, KH, KW): the cells each output averages (a copy; 0 where padded)
    dropped_rows: int  # bottom rows of the padded input no window reaches
    dropped_cols: int  # right columns of the padded input no window reaches
    pad: IntOrPair = 0  # zeros added on each side (counted in the mean)


@dataclass(frozen=True)
class PoolGrads:
    dx: np.ndarray  # (N, C, H, W): dL/dx; where windows overlap their contributions add


# ---------------------------------------------------------------- shapes and checks


def pool_output_size(size_in: int, size: int, stride: int, pad: int = 0) -> int:
    """⌊(size_in + 2·pad − size)/stride⌋ + 1 along one axis (may be ≤ 0 for a window larger than the input)."""
    return (size_in + 2 * pad - size) // stride + 1


def resolve_stride(size: IntOrPair, stride: IntOrPair | None) -> IntOrPair:
    """The stride in force: ``None`` means equal to ``size``."""
    return size if stride is None else stride


def _whole(value: Any, lo: int) -> bool:
    items = value if isinstance(value, (tuple, list)) else (value,)
    return len(items) in (1, 2) and all(
        not isinstance(v, bool) and isinstance(v, (int, np.integer)) and v >= lo for v in items)


def check_pool(x_shape: tuple[int, ...], size: IntOrPair, stride: IntOrPair | None,
               pad: IntOrPair = 0) -> tuple[int, int]:
    """(OH, OW) for a pool over ``x_shape``; OpInputError if the windows do not fit."""
    if not _whole(size, 1):
        raise OpInputError("params.size", f"must be a whole number of at least 1 (or a pair of them), got {size!r}")
    if stride is not None and not _whole(stride, 1):
        raise OpInputError("params.stride", f"must be a whole number of at least 1 (or a pair of them), "
                                            f"got {stride!r}")
    if not _whole(pad, 0):
        raise OpInputError("params.pad", f"must be a whole number of at least 0 (or a pair of them), got {pad!r}")
    stride = resolve_stride(size, stride)
    if len(x_shape) != 4:
        raise OpInputError("inputs.x", f"must have 4 dimensions (N, C, H, W), got shape {list(x_shape)}")
    (kh, kw), (sh, sw), (ph, pw) = pair(size), pair(stride), pair(pad)
    for axis, k, p in (("height", kh, ph), ("width", kw, pw)):
        if 2 * p > k:
            raise OpInputError("params.pad", f"{p} on each side is more than half the window {axis} {k}: a window "
                                             "could then hold padding only (PyTorch's rule: pad ≤ size/2)")
    h, w = x_shape[2], x_shape[3]
    if kh > h + 2 * ph or kw > w + 2 * pw:
        axis, n, k, s, p = ("height", h, kh, sh, ph) if kh > h + 2 * ph else ("width", w, kw, sw, pw)
        padded = f" + 2·{p}" if p else ""
        raise OpInputError(
            "params.size",
            f"window {kh}×{kw} is larger than the input {h}×{w}{' padded by ' + str(pad) if ph or pw else ''}: "
            f"output {axis} would be ⌊({n}{padded} − {k})/{s}⌋ + 1 = {pool_output_size(n, k, s, p)}",
        )
    return pool_output_size(h, kh, sh, ph), pool_output_size(w, kw, sw, pw)


def _check_dout(dout_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> None:
    if tuple(dout_shape) != tuple(out_shape):
        raise OpInputError(
            "inputs.dout", f"must have the output's shape {list(out_shape)}, got {list(dout_shape)}"
        )


def _dropped(n_in: int, n_out: int, size: int, stride: int, pad: int = 0) -> int:
    """Trailing rows (or columns) of the padded input after the last window's end."""
    return n_in + 2 * pad - ((n_out - 1) * stride + size)


def _padded(x: np.ndarray, pad: IntOrPair, fill: float) -> np.ndarray:
    """x with ``fill`` added on each side (x itself without padding; never modified)."""
    ph, pw = pair(pad)
    if ph == pw == 0:
        return x
    n, c, h, w = x.shape
    out = np.full((n, c, h + 2 * ph, w + 2 * pw), fill, dtype=x.dtype)
    out[:, :, ph:ph + h, pw:pw + w] = x
    return out


def _windows(x: np.ndarray, size: IntOrPair, stride: IntOrPair, oh: int, ow: int) -> np.ndarray:
    """(N, C, OH, OW, KH, KW) copies of every window of the (padded) x, one strided slice per kernel offset."""
    n, c = x.shape[:2]
    (kh, kw), (sh, sw) = pair(size), pair(stride)
    windows = np.empty((n, c, oh, ow, kh, kw), dtype=x.dtype)
    h_span, w_span = sh * (oh - 1) + 1, sw * (ow - 1) + 1
    for i in range(kh):
        for j in range(kw):
            windows[..., i, j] = x[:, :, i : i + h_span : sh, j : j + w_span : sw]
    return windows


def _geometry(x_shape: tuple[int, ...], size: IntOrPair, stride: IntOrPair | None, pad: IntOrPair
              ) -> tuple[int, int, IntOrPair, int, int]:
    """(OH, OW, the stride in force, dropped rows, dropped columns)."""
    oh, ow = check_pool(x_shape, size, stride, pad)
    stride = resolve_stride(size, stride)
    (kh, kw), (sh, sw), (ph, pw) = pair(size), pair(stride), pair(pad)
    return oh, ow, stride, _dropped(x_shape[2], oh, kh, sh, ph), _dropped(x_shape[3], ow, kw, sw, pw)


# ---------------------------------------------------------------- max pooling


def _running_max(x: np.ndarray, size: IntOrPair, stride: IntOrPair, oh: int, ow: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(out, window_argmax as int8/int16): a branch-free running max over the KH·KW kernel offsets.

    Offsets are visited in row-major window order and a later offset wins only if it is
    strictly greater, so ties keep the first maximum (np.argmax's rule, and PyTorch's).
    """
    (kh, kw), (sh, sw) = pair(size), pair(stride)
    h_span, w_span = sh * (oh - 1) + 1, sw * (ow - 1) + 1
    # offset 0, copied in x's own memory order (conv's output is channel-major): every array
    # below follows it, so the loop never mixes layouts
    out = x[:, :, :h_span:sh, :w_span:sw].copy(order="K")
    index_dtype = np.int8 if kh * kw <= 127 else np.int16
    window_argmax = np.zeros_like(out, dtype=index_dtype)
    upd = np.empty_like(out, dtype=bool)
    step = np.empty_like(out, dtype=index_dtype)
    upd_int = upd.view(np.int8) if index_dtype == np.int8 else upd
    for o in range(1, kh * kw):
        i, j = divmod(o, kw)
        v = x[:, :, i : i + h_span : sh, j : j + w_span : sw]
        np.greater(v, out, out=upd)  # strictly greater: the first maximum keeps ties
        np.maximum(out, v, out=out)
        np.subtract(index_dtype(o), window_argmax, out=step)  # window_argmax += upd·(o − window_argmax)
        np.multiply(step, upd_int, out=step)
        window_argmax += step
    return out, window_argmax


def maxpool2d_forward(x: np.ndarray, size: IntOrPair = 2, stride: IntOrPair | None = None, pad: IntOrPair = 0, *,
                      keep_windows: bool = True) -> tuple[np.ndarray, MaxPoolCache]:
    """Max over each window; remembers where the max was (first one in row-major order on ties).

    ``keep_windows=False`` skips the (N, C, OH, OW, KH, KW) copy of every window (a display
    extra that backward never reads): the cache's ``windows`` is then None.
    """
    oh, ow, stride, rows, cols = _geometry(x.shape, size, stride, pad)
    (kh, kw), (sh, sw), (ph, pw) = pair(size), pair(stride), pair(pad)
    w = x.shape[3]
    xp = _padded(x, pad, -np.inf)
    windows = _windows(xp, size, stride, oh, ow) if keep_windows else None
    out, window_argmax = _running_max(xp, size, stride, oh, ow)
    # argmax = (oh·sh − ph + i)·W + ow·sw − pw + j: the window origin in x plus the offset's flat step
    offset_lut = np.array([(o // kw) * w + o % kw for o in range(kh * kw)], dtype=np.int64)
    argmax = offset_lut.take(window_argmax)
    argmax += ((np.arange(oh, dtype=np.int64) * sh - ph) * w).reshape(oh, 1) + np.arange(ow, dtype=np.int64) * sw - pw
    cache = MaxPoolCache(
        x_shape=tuple(x.shape), size=size, stride=stride, windows=windows,
        window_argmax=window_argmax.astype(np.int64), argmax=argmax, dropped_rows=rows, dropped_cols=cols, pad=pad,
    )
    return out, cache


def maxpool2d_backward(dout: np.ndarray, cache: MaxPoolCache) -> PoolGrads:
    """Route each dout to its window's argmax; overlapping windows add (one bincount, no add.at)."""
    n, c, h, w = cache.x_shape
    _check_dout(dout.shape, cache.argmax.shape)
    flat_index = (np.arange(n * c, dtype=np.int64) * (h * w)).reshape(n, c, 1, 1) + cache.argmax
    dx = np.bincount(flat_index.ravel(), weights=dout.ravel(), minlength=n * c * h * w)  # sums in float64
    return PoolGrads(dx=dx.reshape(cache.x_shape).astype(dout.dtype, copy=False))


def maxpool2d_forward_naive(x: np.ndarray, size: IntOrPair = 2, stride: IntOrPair | None = None,
                            pad: IntOrPair = 0) -> tuple[np.ndarray, MaxPoolCache]:
    """Reference: one Python loop per output pixel, scanning each window row by row (padding skipped)."""
    oh, ow, stride, rows, cols = _geometry(x.shape, size, stride, pad)
    (kh, kw), (sh, sw), (ph, pw) = pair(size), pair(stride), pair(pad)
    n, c, h, w = x.shape
    out = np.zeros((n, c, oh, ow), dtype=x.dtype)
    windows = np.full((n, c, oh, ow, kh, kw), -np.inf, dtype=x.dtype)
    window_argmax = np.zeros((n, c, oh, ow), dtype=np.int64)
    argmax = np.zeros((n, c, oh, ow), dtype=np.int64)
    for i in range(n):
        for ch in range(c):
            for r in range(oh):
                for q in range(ow):
                    best, best_k = None, 0
                    for a in range(kh):
                        for b in range(kw):
                            row, col = r * sh - ph + a, q * sw - pw + b
                            if not (0 <= row < h and 0 <= col < w):
                                continue
                            value = x[i, ch, row, col]
                            windows[i, ch, r, q, a, b] = value
                            if best is None or value > best:  # strict: the first maximum wins ties
                                best, best_k = value, a * kw + b
                    out[i, ch, r, q] = best
                    window_argmax[i, ch, r, q] = best_k
                    argmax[i, ch, r, q] = (r * sh - ph + best_k // kw) * w + q * sw - pw + best_k % kw
    cache = MaxPoolCache(
        x_shape=tuple(x.shape), size=size, stride=stride, windows=windows, window_argmax=window_argmax,
        argmax=argmax, dropped_rows=rows, dropped_cols=cols, pad=pad,
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


def avgpool2d_forward(x: np.ndarray, size: IntOrPair = 2, stride: IntOrPair | None = None,
                      pad: IntOrPair = 0) -> tuple[np.ndarray, AvgPoolCache]:
    """Mean over each window (padded zeros count: divided by KH·KW)."""
    oh, ow, stride, rows, cols = _geometry(x.shape, size, stride, pad)
    windows = _windows(_padded(x, pad, 0.0), size, stride, oh, ow)
    out = windows.mean(axis=(-2, -1))
    cache = AvgPoolCache(x_shape=tuple(x.shape), size=size, stride=stride, windows=windows,
                         dropped_rows=rows, dropped_cols=cols, pad=pad)
    return out, cache


def avgpool2d_backward(dout: np.ndarray, cache: AvgPoolCache) -> PoolGrads:
    """Spread dout/(KH·KW) over each window; overlaps add (one strided += per kernel offset), padding cropped."""
    _check_dout(dout.shape, cache.windows.shape[:4])
    oh, ow = dout.shape[2:]
    (kh, kw), (sh, sw), (ph, pw) = pair(cache.size), pair(cache.stride), pair(cache.pad)
    n, c, h, w = cache.x_shape
    share = dout / (kh * kw)
    dx = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=share.dtype)
    for i in range(kh):
        for j in range(kw):
            dx[:, :, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw] += share
    return PoolGrads(dx=dx[:, :, ph:ph + h, pw:pw + w] if ph or pw else dx)


def avgpool2d_forward_naive(x: np.ndarray, size: IntOrPair = 2, stride: IntOrPair | None = None,
                            pad: IntOrPair = 0) -> tuple[np.ndarray, AvgPoolCache]:
    """Reference: one Python loop per output pixel."""
    oh, ow, stride, rows, cols = _geometry(x.shape, size, stride, pad)
    (kh, kw), (sh, sw), (ph, pw) = pair(size), pair(stride), pair(pad)
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    out = np.zeros((n, c, oh, ow), dtype=x.dtype)
    windows = np.zeros((n, c, oh, ow, kh, kw), dtype=x.dtype)
    for i in range(n):
        for ch in range(c):
            for r in range(oh):
                for q in range(ow):
                    window = xp[i, ch, r * sh : r * sh + kh, q * sw : q * sw + kw]
                    windows[i, ch, r, q] = window
                    out[i, ch, r, q] = window.sum() / (kh * kw)
    cache = AvgPoolCache(x_shape=tuple(x.shape), size=size, stride=stride, windows=windows,
                         dropped_rows=rows, dropped_cols=cols, pad=pad)
    return out, cache


def avgpool2d_backward_naive(dout: np.ndarray, cache: AvgPoolCache) -> PoolGrads:
    """Reference: every output pixel adds dout/(KH·KW) to each input cell of its window."""
    _check_dout(dout.shape, cache.windows.shape[:4])
    (kh, kw), (sh, sw), (ph, pw) = pair(cache.size), pair(cache.stride), pair(cache.pad)
    dx = np.zeros(cache.x_shape, dtype=dout.dtype)
    n, c, oh, ow = dout.shape
    h, w = cache.x_shape[2:]
    for i in range(n):
        for ch in range(c):
            for r in range(oh):
                for q in range(ow):
                    for a in range(kh):
                        for b in range(kw):
                            row, col = r * sh - ph + a, q * sw - pw + b
                            if 0 <= row < h and 0 <= col < w:
                                dx[i, ch, row, col] += dout[i, ch, r, q] / (kh * kw)
    return PoolGrads(dx=dx)


# ---------------------------------------------------------------- registry glue

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
        _check_dout(shapes["dout"], (*shapes["x"][:2], oh, ow))


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
