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

The fast versions loop over the KH×KW kernel offsets with strided slices (as im2col does) — max
pooling over each offset's cells gathered into one contiguous block first (one np.take by an index
cached per geometry); the ``*_naive`` versions loop over every output pixel and are test oracles.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.ops.im2col import IntOrPair, pair
from engine.records import OpInputError


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


def check_dout(dout_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> None:
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


def _plain(value: Any) -> bool:
    """An int or a pair of ints (or None), exactly: hashable, and never equal to a value check_pool refuses
    (2.0 == 2 and True == 1 would share an lru_cache entry)."""
    return (value is None or type(value) is int
            or (type(value) is tuple and len(value) == 2 and type(value[0]) is int and type(value[1]) is int))


def _geometry(x_shape: tuple[int, ...], size: IntOrPair, stride: IntOrPair | None, pad: IntOrPair
              ) -> tuple[int, int, IntOrPair, int, int]:
    """(OH, OW, the stride in force, dropped rows, dropped columns); checked once per plain geometry."""
    if _plain(size) and _plain(stride) and _plain(pad):
        return _cached_geometry(tuple(x_shape), size, stride, pad)
    return _checked_geometry(x_shape, size, stride, pad)


def _checked_geometry(x_shape: tuple[int, ...], size: IntOrPair, stride: IntOrPair | None, pad: IntOrPair
                      ) -> tuple[int, int, IntOrPair, int, int]:
    oh, ow = check_pool(x_shape, size, stride, pad)
    stride = resolve_stride(size, stride)
    (kh, kw), (sh, sw), (ph, pw) = pair(size), pair(stride), pair(pad)
    return oh, ow, stride, _dropped(x_shape[2], oh, kh, sh, ph), _dropped(x_shape[3], ow, kw, sw, pw)


_cached_geometry = functools.lru_cache(maxsize=256)(_checked_geometry)  # errors are raised again, never cached


# ---------------------------------------------------------------- max pooling


GATHER_MAX = 1 << 17  # cells (all offsets') up to which max pooling gathers them by a cached index (≤ 1 MiB)


@dataclass(frozen=True)
class _OffsetPlan:
    """How :func:`_running_max` reads x, computed once per geometry and memory layout."""

    axes: tuple[int, ...]  # out's axes, largest stride first: out.transpose(axes) is C-contiguous
    inverse: tuple[int, ...]  # the permutation that undoes transpose(axes)
    # (KH, KW, ...): where each cell kernel offset (i, j) reads sits in x.transpose(axes) flattened, in the
    # layout of out.transpose(axes); None above GATHER_MAX cells (then the offsets are read as strided views)
    index: np.ndarray | None


def _offset_view(x: np.ndarray, axes: tuple[int, ...], kh: int, kw: int, sh: int, sw: int, oh: int, ow: int
                 ) -> np.ndarray:
    """A read-only (KH, KW, ...) strided view of x: [i, j] is x[:, :, i::sh, j::sw] (OH × OW of them), the
    cells kernel offset (i, j) reads, with its axes in the order ``axes``."""
    shape = (kh, kw, *(x.shape[a] if a < 2 else (oh, ow)[a - 2] for a in axes))
    strides = (x.strides[2], x.strides[3], *(x.strides[a] * (1, 1, sh, sw)[a] for a in axes))
    return np.lib.stride_tricks.as_strided(x, shape, strides, writeable=False)


@functools.lru_cache(maxsize=16)
def _offset_plan(x_shape: tuple[int, ...], out_strides: tuple[int, ...], kh: int, kw: int, sh: int, sw: int,
                 oh: int, ow: int) -> _OffsetPlan:
    """The plan for an x of this shape whose out has these strides (:func:`_running_max`)."""
    axes = tuple(sorted(range(4), key=lambda axis: -abs(out_strides[axis])))
    inverse = tuple(sorted(range(4), key=axes.__getitem__))
    if kh * kw * math.prod(x_shape[:2]) * oh * ow > GATHER_MAX:
        return _OffsetPlan(axes, inverse, None)
    where = np.arange(math.prod(x_shape)).reshape([x_shape[a] for a in axes]).transpose(inverse)
    index = _offset_view(where, axes, kh, kw, sh, sw, oh, ow).copy()
    index.flags.writeable = False
    return _OffsetPlan(axes, inverse, index)


@functools.lru_cache(maxsize=64)
def _offsets(count: int, dtype: type) -> np.ndarray:
    """(count, 1, 1, 1, 1) read-only: 0, 1, ..., count − 1, one per kernel offset."""
    offsets = np.arange(count, dtype=dtype).reshape(count, 1, 1, 1, 1)
    offsets.flags.writeable = False
    return offsets


def _running_max(x: np.ndarray, kh: int, kw: int, sh: int, sw: int, oh: int, ow: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(out, window_argmax as int8/int16): a branch-free running max over the KH·KW kernel offsets.

    Offsets are visited in row-major window order and a later offset wins only if it is
    strictly greater, so ties keep the first maximum (np.argmax's rule, and PyTorch's).

    out is in x's own memory order (conv's output is channel-major), as a copy(order="K") of offset 0's
    cells would be; the loop runs on its C-contiguous transpose. Each offset's cells are first gathered
    (one np.take) into a contiguous block laid out the same way: a strided read of windows a few numbers
    wide costs several times more per number than a contiguous one, and there are two per offset.
    """
    h_span, w_span = sh * (oh - 1) + 1, sw * (ow - 1) + 1
    out = np.empty_like(x[:, :, :h_span:sh, :w_span:sw])
    plan = _offset_plan(x.shape, out.strides, kh, kw, sh, sw, oh, ow)
    if plan.index is not None:
        blocks = x.transpose(plan.axes).reshape(-1).take(plan.index)
    else:
        blocks = _offset_view(x, plan.axes, kh, kw, sh, sw, oh, ow)
    running = out.transpose(plan.axes)
    running[...] = blocks[0, 0]
    index_dtype = np.int8 if kh * kw <= 127 else np.int16
    won = np.empty((kh * kw, *running.shape), dtype=bool)  # won[o]: offset o was strictly greater than all before
    won[0] = False
    for o in range(1, kh * kw):
        v = blocks[o // kw, o % kw]
        np.greater(v, running, out=won[o])  # strictly greater: the first maximum keeps ties
        np.maximum(running, v, out=running)
    # the last offset that won (0 if none did): the largest of o·won[o], offsets only growing
    steps = won.view(np.int8) * _offsets(kh * kw, index_dtype)
    window_argmax = np.maximum.reduce(steps, axis=0)
    return out, window_argmax.transpose(plan.inverse)


@functools.lru_cache(maxsize=64)
def _argmax_maps(kh: int, kw: int, sh: int, sw: int, ph: int, pw: int, w: int, oh: int, ow: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(offset_lut, origin), read-only and computed once per geometry: argmax = offset_lut[window_argmax] + origin.

    offset_lut[kh·KW + kw] = kh·W + kw, the offset's flat step; origin[oh, ow] = (oh·sh − ph)·W + ow·sw − pw,
    the window's origin in the unpadded input plane.
    """
    offset_lut = np.array([(o // kw) * w + o % kw for o in range(kh * kw)], dtype=np.int64)
    origin = ((np.arange(oh, dtype=np.int64) * sh - ph) * w).reshape(oh, 1) + np.arange(ow, dtype=np.int64) * sw - pw
    offset_lut.flags.writeable = False
    origin.flags.writeable = False
    return offset_lut, origin


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
    out, window_argmax = _running_max(xp, kh, kw, sh, sw, oh, ow)
    # argmax = (oh·sh − ph + i)·W + ow·sw − pw + j: the window origin in x plus the offset's flat step
    offset_lut, origin = _argmax_maps(kh, kw, sh, sw, ph, pw, w, oh, ow)
    window_argmax = window_argmax.astype(np.int64)
    argmax = offset_lut.take(window_argmax)
    argmax += origin
    cache = MaxPoolCache(
        x_shape=tuple(x.shape), size=size, stride=stride, windows=windows,
        window_argmax=window_argmax, argmax=argmax, dropped_rows=rows, dropped_cols=cols, pad=pad,
    )
    return out, cache


@functools.lru_cache(maxsize=64)
def _plane_starts(n: int, c: int, plane: int) -> np.ndarray:
    """(N, C, 1, 1) read-only: where each (sample, channel) plane starts in a flat (N, C, H, W) array."""
    starts = (np.arange(n * c, dtype=np.int64) * plane).reshape(n, c, 1, 1)
    starts.flags.writeable = False
    return starts


def maxpool2d_backward(dout: np.ndarray, cache: MaxPoolCache) -> PoolGrads:
    """Route each dout to its window's argmax; overlapping windows add (one bincount, no add.at)."""
    n, c, h, w = cache.x_shape
    check_dout(dout.shape, cache.argmax.shape)
    # each cell's flat index in dx: its plane's start plus argmax, written in C order (bincount's)
    flat_index = np.add(_plane_starts(n, c, h * w), cache.argmax, out=np.empty(cache.argmax.shape, np.int64))
    dx = np.bincount(flat_index.reshape(-1), weights=dout.ravel(), minlength=n * c * h * w)  # sums in float64
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
    check_dout(dout.shape, cache.argmax.shape)
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
    check_dout(dout.shape, cache.windows.shape[:4])
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
    check_dout(dout.shape, cache.windows.shape[:4])
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
