"""The engine's faster paths (issue 12, target 6) give the same bits as the straight-line code they replaced.

Each reference below is the previous implementation, kept here verbatim as the oracle: values are
compared byte for byte (so −0 against +0 and NaN payloads count), and memory layouts (strides) too,
since a later reduction's summation order follows the layout.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from engine.ops import activations, dropout, linear, pool, softmax
from engine.ops.im2col import conv_output_size, im2col, pad_input, pair
from engine.ops.select import keep_or_zero
from engine.records import OpInputError
from tests.engine.ops import previous

SPECIAL = (0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 1.0, -1.0, 3.5)


def _same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape and a.strides == b.strides
    assert a.tobytes(order="A") == b.tobytes(order="A")


# --- relu ------------------------------------------------------------------------------------


def _relu_forward_select(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    positive = x > 0
    return np.where(positive, x, x.dtype.type(0)), positive.astype(x.dtype)


def _relu_backward_select(dout: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return np.where(mask > 0, dout, dout.dtype.type(0))


def _layouts(rng: np.random.Generator, dtype: type) -> list[np.ndarray]:
    values = rng.standard_normal(8 * 3 * 4 * 5).astype(dtype)
    values[: len(SPECIAL)] = np.array(SPECIAL).astype(dtype)
    rng.shuffle(values)
    c_order = values.reshape(8, 3, 4, 5)
    channel_major = values.reshape(3, 8, 4, 5).transpose(1, 0, 2, 3)  # conv's output layout
    strided = values.reshape(8, 3, 4, 5)[:, :, ::2]
    return [c_order, channel_major, strided, values[:17]]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_relu_forward_bit_for_bit(dtype: type) -> None:
    rng = np.random.default_rng(0)
    for x in _layouts(rng, dtype):
        out, cache = activations.relu_forward(x)
        want_out, want_mask = _relu_forward_select(x)
        _same(out, want_out)
        _same(cache.mask, want_mask)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_relu_backward_bit_for_bit(dtype: type) -> None:
    rng = np.random.default_rng(1)
    xs = _layouts(rng, dtype)
    for x in xs:
        _, cache = activations.relu_forward(x)
        for dout in _layouts(np.random.default_rng(2), dtype):
            if dout.shape != x.shape:
                continue
            for finite in (True, False):  # inf and NaN in dout must come through where x > 0, and give +0 elsewhere
                d = np.nan_to_num(dout, nan=0.5, posinf=2.0, neginf=-2.0) if finite else dout
                _same(activations.relu_backward(d, cache).dx, _relu_backward_select(d, cache.mask))
    # another dtype for dout than x's: the select's dtype (dout's)
    x = xs[0]
    _, cache = activations.relu_forward(x.astype(np.float64))
    d = rng.standard_normal(x.shape).astype(np.float32)
    _same(activations.relu_backward(d, cache).dx, _relu_backward_select(d, cache.mask))


# --- im2col ----------------------------------------------------------------------------------


def _im2col_loop(x_padded: np.ndarray, kh: int, kw: int, stride, dilation=1) -> np.ndarray:
    N, C, Hp, Wp = x_padded.shape
    (sh, sw), (dh, dw) = pair(stride), pair(dilation)
    OH, OW = conv_output_size(Hp, kh, sh, 0, dh), conv_output_size(Wp, kw, sw, 0, dw)
    col = np.empty((C, kh, kw, N, OH, OW), dtype=x_padded.dtype)
    xt = x_padded.transpose(1, 0, 2, 3)
    for i in range(kh):
        for j in range(kw):
            col[:, i, j] = xt[:, :, i * dh:i * dh + sh * OH:sh, j * dw:j * dw + sw * OW:sw]
    return col.reshape(C * kh * kw, N * OH * OW)


def test_im2col_one_strided_copy_matches_the_loop() -> None:
    rng = np.random.default_rng(3)
    checked = 0
    for _ in range(300):
        n, c = (int(v) for v in rng.integers(1, 4, 2))
        h, w = (int(v) for v in rng.integers(2, 11, 2))
        kh, kw = (int(v) for v in rng.integers(1, 4, 2))
        stride = tuple(int(v) for v in rng.integers(1, 4, 2))
        dilation = tuple(int(v) for v in rng.integers(1, 3, 2))
        pad = tuple(int(v) for v in rng.integers(0, 3, 2))
        x = rng.standard_normal((c, n, h, w)).transpose(1, 0, 2, 3)  # channel-major, as a conv's output
        if rng.integers(2):
            x = np.ascontiguousarray(x)
        xp = pad_input(x, pad)
        if min(conv_output_size(xp.shape[2], kh, stride[0], 0, dilation[0]),
               conv_output_size(xp.shape[3], kw, stride[1], 0, dilation[1])) < 1:
            continue
        for dtype in (np.float64, np.float32):
            xd = xp.astype(dtype)
            got = im2col(xd, kh, kw, stride, dilation)
            _same(got, _im2col_loop(xd, kh, kw, stride, dilation))
            assert got.flags.c_contiguous and got.flags.writeable and not np.shares_memory(got, xd)
            checked += 1
    assert checked > 300


# --- flatten, max pooling's argmax ------------------------------------------------------------


def test_flatten_copies_once_and_never_aliases() -> None:
    base = np.arange(2 * 3 * 4 * 5, dtype=np.float64)
    for x in (base.reshape(2, 3, 4, 5), base.reshape(3, 2, 4, 5).transpose(1, 0, 2, 3), base.reshape(6, 20)):
        out, cache = linear.flatten_forward(x)
        _same(out, x.reshape(x.shape[0], -1).copy())
        assert not np.shares_memory(out, x) and cache.x_shape == x.shape


def test_maxpool_argmax_maps_are_shared_read_only() -> None:
    x = np.random.default_rng(4).standard_normal((2, 3, 7, 7))
    _, first = pool.maxpool2d_forward(x, 3, 2, 1)
    _, again = pool.maxpool2d_forward(x, 3, 2, 1)
    np.testing.assert_array_equal(first.argmax, again.argmax)
    lut, origin = pool._argmax_maps(3, 3, 2, 2, 1, 1, 7, 4, 4)
    assert not lut.flags.writeable and not origin.flags.writeable
    first.argmax[...] = -1  # the cache's argmax is its own array, not the shared map
    _, third = pool.maxpool2d_forward(x, 3, 2, 1)
    np.testing.assert_array_equal(third.argmax, again.argmax)


# --- dropout, keep_or_zero -------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, np.int64])
def test_dropout_bit_for_bit(dtype: type) -> None:
    rng = np.random.default_rng(5)
    for x in _layouts(rng, np.float64):
        x = np.nan_to_num(x, nan=7.0, posinf=9.0, neginf=-9.0).astype(dtype) if dtype == np.int64 else x.astype(dtype)
        for p, p_means in ((0.5, "drop"), (0.3, "keep")):
            out, cache = dropout.dropout_forward(x, p, "train", seed=3, p_means=p_means)
            mask, scale = cache.mask, cache.scale
            want_dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
            _same(out, np.where(mask != 0, x * scale, 0).astype(want_dtype, copy=False))
            for dout in (x, np.ascontiguousarray(x), x.astype(np.float32)):
                got = dropout.dropout_backward(dout, cache).dx
                _same(got, np.where(mask != 0, dout * scale, 0).astype(np.result_type(dout, mask), copy=False))


def test_keep_or_zero_matches_where() -> None:
    rng = np.random.default_rng(6)
    for dtype in (np.float64, np.float32, np.float16, np.int32, np.complex128):
        for values in _layouts(rng, np.float64):
            values = values.astype(dtype) if np.dtype(dtype).kind != "i" else np.arange(values.size).reshape(
                values.shape).astype(dtype)
            for keep in (rng.random(values.shape) < 0.5, (rng.random(values.shape) < 0.5).astype(np.float64)):
                _same(keep_or_zero(keep, values), np.where(keep, values, values.dtype.type(0)))


# --- max pooling's running max and backward, softmax cross-entropy (tests/engine/ops/previous.py) ----------


def _record_same(got: Any, want: Any) -> None:
    for f in dataclasses.fields(want):
        a, b = getattr(got, f.name), getattr(want, f.name)
        if isinstance(b, np.ndarray):
            _same(a, b)
        else:
            assert type(a) is type(b) and a == b, f.name


def _pool_inputs(rng: np.random.Generator, dtype: type) -> list[np.ndarray]:
    n, c = (int(v) for v in rng.integers(1, 4, 2))
    h, w = (int(v) for v in rng.integers(2, 10, 2))
    values = rng.integers(-2, 3, n * c * h * w).astype(dtype)  # small integers: many ties
    values[rng.random(values.size) < 0.2] = -0.0
    special = values.copy()
    fit = min(len(SPECIAL), special.size)
    special[:fit] = np.array(SPECIAL[:fit]).astype(dtype)
    rng.shuffle(special)
    return [values.reshape(n, c, h, w),
            special.reshape(c, n, h, w).transpose(1, 0, 2, 3),  # channel-major, as a conv's output
            np.concatenate([special, values]).reshape(n, c, h, 2 * w)[:, :, :, ::2]]  # strided


@pytest.mark.parametrize("gather", [True, False])
def test_maxpool_bit_for_bit(gather: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """out, window_argmax, argmax (ties to the first maximum, NaN and −0 as before) and dx, strides included;
    ``gather=False``: the strided reads large inputs take instead of the gathered blocks."""
    if not gather:
        monkeypatch.setattr(pool, "GATHER_MAX", 0)
        pool._offset_plan.cache_clear()
    rng = np.random.default_rng(7)
    checked = 0
    for _ in range(60):
        size = tuple(int(v) for v in rng.integers(1, 4, 2)) if rng.integers(2) else int(rng.integers(1, 4))
        stride = (None if rng.integers(3) == 0 else tuple(int(v) for v in rng.integers(1, 4, 2)) if rng.integers(2)
                  else int(rng.integers(1, 4)))
        pad = int(rng.integers(0, 2)) if min(pair(size)) >= 2 else 0
        for dtype in (np.float64, np.float32):
            for x in _pool_inputs(rng, dtype):
                try:
                    want_out, want = previous.maxpool2d_forward(x, size, stride, pad, keep_windows=False)
                except OpInputError:
                    with pytest.raises(OpInputError):
                        pool.maxpool2d_forward(x, size, stride, pad)
                    continue
                for keep_windows in (True, False):
                    out, cache = pool.maxpool2d_forward(x, size, stride, pad, keep_windows=keep_windows)
                    _same(out, want_out)
                    _same(cache.window_argmax, want.window_argmax)
                    _same(cache.argmax, want.argmax)
                    if not keep_windows:
                        _record_same(cache, want)
                dout = rng.standard_normal(out.shape).astype(dtype)
                if np.all(want.argmax >= 0):  # a window of −∞ padding and NaN points its argmax at the padding
                    for d in (dout, np.ascontiguousarray(dout.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)):
                        _same(pool.maxpool2d_backward(d, cache).dx, previous.maxpool2d_backward(d, want).dx)
                checked += 1
    pool._offset_plan.cache_clear()
    assert checked > 250


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_cross_entropy_forward_bit_for_bit(dtype: type) -> None:
    rng = np.random.default_rng(8)
    for n, k in ((1, 2), (5, 3), (32, 10), (7, 1)):
        labels = rng.integers(0, k, n)
        for scale in (1.0, 30.0, 1e-3):
            logits = (rng.standard_normal((n, k)) * scale).astype(dtype)
            for temperature in (1.0, 0.05, 0.5, 2.0, 20.0):
                for given in (labels, labels.astype(np.int32), labels.astype(float), labels.tolist()):
                    loss, cache = softmax.softmax_cross_entropy_forward(logits, given, temperature)
                    want_loss, want = previous.softmax_cross_entropy_forward(logits, given, temperature)
                    _same(loss, want_loss)
                    _record_same(cache, want)
                    _same(softmax.clean_labels(given, n, k), previous.clean_labels(given, n, k))
    huge = np.array([[np.finfo(dtype).max / 2, 0.0]], dtype=dtype)  # overflows once divided by T < 1: one error
    for args in ((huge, [0], 0.05), (np.array([[np.nan, 0.0]], dtype=dtype), [0], 1.0)):
        _same_error(args, softmax.softmax_cross_entropy_forward, previous.softmax_cross_entropy_forward)
    for bad in (np.array([0, 3]), np.array([-1, 0]), np.array([0.5, 1.0])):  # out of range, negative, not whole
        _same_error((bad, 2, 3), softmax.clean_labels, previous.clean_labels)


def _same_error(args: tuple, new: Any, old: Any) -> None:
    messages = []
    for f in (new, old):
        with pytest.raises(OpInputError) as err:
            f(*args)
        messages.append((err.value.field, err.value.message))
    assert messages[0] == messages[1]


# --- relu's lean mask and its backward ------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_relu_lean_mask_gives_the_same_out_and_dx(dtype: type) -> None:
    """relu_forward(x, mask_as_numbers=False) keeps the bools x > 0 (in the layout the numbers have); backward
    gives np.where's bits from either mask, for every layout of dout, inf and NaN included."""
    rng = np.random.default_rng(9)
    xs = _layouts(rng, dtype)
    for x in xs:
        out, full = activations.relu_forward(x)
        lean_out, lean = activations.relu_forward(x, mask_as_numbers=False)
        _same(lean_out, out)
        _same(lean.mask, x > 0)
        assert np.array_equal(lean.mask, full.mask != 0)
        for dout in _layouts(np.random.default_rng(10), dtype) + [x.astype(np.float64)]:
            if dout.shape != x.shape:
                continue
            want = _relu_backward_select(dout, full.mask)
            _same(activations.relu_backward(dout, full).dx, want)
            _same(activations.relu_backward(dout, lean).dx, want)


def test_relu_backward_of_a_dout_without_float_bits_is_np_where() -> None:
    x = np.array([[-1.0, 0.0, 2.0], [3.0, -0.0, np.nan]])
    for mask_as_numbers in (True, False):
        _, cache = activations.relu_forward(x, mask_as_numbers)
        for dout in (np.arange(6).reshape(2, 3), np.full((2, 3), 1 + 2j)):
            _same(activations.relu_backward(dout, cache).dx, np.where(x > 0, dout, dout.dtype.type(0)))

