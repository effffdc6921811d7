"""The ops' previous implementations, kept verbatim as oracles for their faster replacements (issue 12, target 6):
max pooling's running max and backward, keep_or_zero, softmax cross-entropy's forward and clean_labels, as they
were before the tiny CNN's training step was sped up. test_speed_paths compares each with its replacement byte
for byte; tests/engine/network/test_lean_bits puts them back into whole training runs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.ops.im2col import IntOrPair, pair
from engine.ops.pool import (
    MaxPoolCache,
    PoolGrads,
    _argmax_maps,
    _checked_geometry,
    _padded,
    _windows,
    check_dout,
)
from engine.ops.softmax import SoftmaxCECache
from engine.records import OpInputError

_BITS = {2: np.int16, 4: np.int32, 8: np.int64}


def keep_or_zero(keep: np.ndarray, values: np.ndarray) -> np.ndarray:
    if values.dtype.kind != "f" or values.dtype.itemsize not in _BITS or keep.shape != values.shape:
        return np.where(keep, values, values.dtype.type(0))
    bits = _BITS[values.dtype.itemsize]
    ones = keep.astype(bits)  # 1 or 0
    np.negative(ones, out=ones)  # −1 (every bit set) or 0
    return np.bitwise_and(values.view(bits), ones).view(values.dtype)


def _running_max(x: np.ndarray, size: IntOrPair, stride: IntOrPair, oh: int, ow: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    (kh, kw), (sh, sw) = pair(size), pair(stride)
    h_span, w_span = sh * (oh - 1) + 1, sw * (ow - 1) + 1
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
    oh, ow, stride, rows, cols = _checked_geometry(x.shape, size, stride, pad)
    (kh, kw), (sh, sw), (ph, pw) = pair(size), pair(stride), pair(pad)
    w = x.shape[3]
    xp = _padded(x, pad, -np.inf)
    windows = _windows(xp, size, stride, oh, ow) if keep_windows else None
    out, window_argmax = _running_max(xp, size, stride, oh, ow)
    offset_lut, origin = _argmax_maps(kh, kw, sh, sw, ph, pw, w, oh, ow)
    argmax = offset_lut.take(window_argmax)
    argmax += origin
    cache = MaxPoolCache(
        x_shape=tuple(x.shape), size=size, stride=stride, windows=windows,
        window_argmax=window_argmax.astype(np.int64), argmax=argmax, dropped_rows=rows, dropped_cols=cols, pad=pad,
    )
    return out, cache


def maxpool2d_backward(dout: np.ndarray, cache: MaxPoolCache) -> PoolGrads:
    n, c, h, w = cache.x_shape
    check_dout(dout.shape, cache.argmax.shape)
    flat_index = (np.arange(n * c, dtype=np.int64) * (h * w)).reshape(n, c, 1, 1) + cache.argmax
    dx = np.bincount(flat_index.ravel(), weights=dout.ravel(), minlength=n * c * h * w)  # sums in float64
    return PoolGrads(dx=dx.reshape(cache.x_shape).astype(dout.dtype, copy=False))


def clean_labels(labels: Any, n: int, k: int) -> np.ndarray:
    try:
        labels = np.asarray(labels)
    except ValueError:  # ragged: [[1, 2], [3]]
        raise OpInputError("inputs.labels", f"must hold one whole number per row of logits ({n}), "
                                            "got a ragged list") from None
    if labels.shape != (n,):
        raise OpInputError("inputs.labels",
                           f"must hold one label per row of logits ({n}), got shape {list(labels.shape)}")
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)) or not np.all(labels == np.round(labels)):
            raise OpInputError("inputs.labels", "must hold whole numbers (class indices)")
    elif labels.dtype.kind not in "iu":
        raise OpInputError("inputs.labels", "must hold whole numbers (class indices)")
    bad = np.flatnonzero((labels < 0) | (labels >= k))
    if bad.size:
        i = int(bad[0])
        raise OpInputError(
            "inputs.labels",
            f"label {labels[i]:g} at position {i} is out of range: logits has {k} classes, "
            f"so a label must be between 0 and {k - 1}",
        )
    return labels.astype(np.int64)


def softmax_cross_entropy_forward(logits: np.ndarray, labels: Any,
                                  temperature: float = 1.0) -> tuple[np.ndarray, SoftmaxCECache]:
    if logits.ndim != 2:
        raise OpInputError("inputs.logits", f"must be (N, K), got shape {list(logits.shape)}")
    if not temperature > 0:
        raise OpInputError("params.temperature", f"must be positive, got {temperature!r}")
    n, k = logits.shape
    labels = clean_labels(labels, n, k)
    at_label = np.arange(0, n * k, k) + labels  # flat index of each row's label: faster than [rows, labels]
    with np.errstate(over="ignore"):
        scaled = logits / temperature
    if not np.all(np.isfinite(scaled)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(scaled))[0])
        raise OpInputError("inputs.logits", f"logit {logits[bad]:g} at {list(bad)} divided by the temperature "
                           f"{temperature:g} overflows {logits.dtype}; use smaller logits or a higher temperature")
    shifted = scaled - scaled.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    sum_exp = exp.sum(axis=1)
    probs = exp / sum_exp[:, None]
    log_probs = shifted - np.log(sum_exp)[:, None]
    onehot = np.zeros(logits.shape, logits.dtype)  # C order, so ravel() is a view to write through
    onehot.ravel()[at_label] = 1
    nll = -log_probs.ravel()[at_label]
    loss = np.asarray(nll.mean(), dtype=logits.dtype)
    cache = SoftmaxCECache(
        logits=logits.copy(), labels=labels, temperature=float(temperature), scaled=scaled, shifted=shifted,
        exp=exp, sum_exp=sum_exp, probs=probs, log_probs=log_probs, onehot=onehot, nll=nll, loss=loss,
    )
    return loss, cache
