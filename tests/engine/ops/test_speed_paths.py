"""The engine's faster paths (issue 12, target 6) give the same bits as the straight-line code they replaced.

Each reference below is the previous implementation, kept here verbatim as the oracle: values are
compared byte for byte (so −0 against +0 and NaN payloads count), and memory layouts (strides) too,
since a later reduction's summation order follows the layout.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.ops import activations, dropout, linear, pool
from engine.ops.im2col import conv_output_size, im2col, pad_input, pair
from engine.ops.select import keep_or_zero

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
