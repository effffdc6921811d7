"""pad_input / im2col / col2im give the same bits as the straight-line code they replaced.

The references below are the previous implementations, kept verbatim as the oracle. Arrays are
compared byte for byte — dtype, shape, strides and every bit, so −0 against +0 counts — over many
random geometries: pairs for stride, pad and dilation, strides that do not divide evenly,
non-square kernels, several dtypes, and values that include ±0, ±inf, NaN, subnormals and numbers
large enough to overflow when added.

One thing no implementation of col2im can promise: when two NaNs meet in one sum (a NaN in
dx_col, or one made by inf − inf), which of them comes out — its sign and payload — depends on
where NumPy's add loop puts the cell (SIMD body or scalar tail), not on the math; the oracle
itself differs from cell to cell there. So such cells are compared as "both NaN"; every other
cell, and a lone NaN's own bits, must match exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.ops import im2col as im2col_module
from engine.ops.im2col import col2im, conv_output_size, copy_rows, im2col, pad_input, pair

SPECIAL = (0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 1e308, -1e308, 1.0, -1.0)
DTYPES = (np.float64, np.float32, np.float16, np.complex128, np.int64)


@pytest.fixture(params=["rows", "default", "numbers"])
def copy_mode(request, monkeypatch) -> str:
    """Whole rows copied at once always (threshold 1), from the default number of rows on, or never."""
    threshold = {"rows": 1, "default": im2col_module.BYTE_ROWS_MIN, "numbers": 10**18}[request.param]
    monkeypatch.setattr(im2col_module, "BYTE_ROWS_MIN", threshold)
    return request.param


@pytest.fixture(params=["one image", "default"])
def chunk_mode(request, monkeypatch) -> str:
    """col2im adds back one image at a time (CHUNK_BYTES 1: every chunk holds its one image), or as it chooses."""
    if request.param == "one image":
        monkeypatch.setattr(im2col_module, "CHUNK_BYTES", 1)
    return request.param


# --- the previous implementations (the oracle) ------------------------------------------------


def _pad_input_before(x: np.ndarray, pad) -> np.ndarray:
    ph, pw = pair(pad)
    if ph == 0 and pw == 0:
        return x
    N, C, H, W = x.shape
    x_padded = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=x.dtype)
    x_padded[:, :, ph:ph + H, pw:pw + W] = x
    return x_padded


def _im2col_before(x_padded: np.ndarray, kh: int, kw: int, stride, dilation=1) -> np.ndarray:
    N, C, Hp, Wp = x_padded.shape
    (sh, sw), (dh, dw) = pair(stride), pair(dilation)
    OH, OW = conv_output_size(Hp, kh, sh, 0, dh), conv_output_size(Wp, kw, sw, 0, dw)
    sN, sC, sH, sW = x_padded.strides
    shape, strides = (C, kh, kw, N, OH, OW), (sC, sH * dh, sW * dw, sN, sH * sh, sW * sw)
    if x_padded.flags.c_contiguous:
        windows = np.ndarray(shape, x_padded.dtype, x_padded, 0, strides)
    else:
        windows = np.lib.stride_tricks.as_strided(x_padded, shape, strides, writeable=False)
    col = np.empty(shape, dtype=x_padded.dtype)
    np.copyto(col, windows)
    return col.reshape(C * kh * kw, N * OH * OW)


def _col2im_before(dx_col: np.ndarray, padded_shape, kh: int, kw: int, stride, dilation=1) -> np.ndarray:
    N, C, Hp, Wp = padded_shape
    (sh, sw), (dh, dw) = pair(stride), pair(dilation)
    OH, OW = conv_output_size(Hp, kh, sh, 0, dh), conv_output_size(Wp, kw, sw, 0, dw)
    col = dx_col.reshape(C, kh, kw, N, OH, OW)
    dx_padded = np.zeros((N, C, Hp, Wp), dtype=dx_col.dtype)
    dt = dx_padded.transpose(1, 0, 2, 3)  # (C, N, Hp, Wp) view, written through
    for i in range(kh):
        top = i * dh
        for j in range(kw):
            left = j * dw
            dt[:, :, top:top + sh * OH:sh, left:left + sw * OW:sw] += col[:, i, j]
    return dx_padded


# --- helpers ----------------------------------------------------------------------------------


def _same(got: np.ndarray, want: np.ndarray, nan_bits: bool = True) -> None:
    """Same dtype, shape, strides and bytes; ``nan_bits=False``: NaN cells need only both be NaN."""
    assert got.dtype == want.dtype and got.shape == want.shape and got.strides == want.strides
    if not nan_bits and want.dtype.kind in "fc":
        nan = np.isnan(want)
        np.testing.assert_array_equal(np.isnan(got), nan)
        got, want = np.where(nan, 0, got), np.where(nan, 0, want)
    assert got.tobytes(order="A") == want.tobytes(order="A")


def _values(rng: np.random.Generator, shape: tuple[int, ...], dtype, special: bool) -> np.ndarray:
    v = rng.standard_normal(shape)
    if special:
        hit = rng.random(shape) < 0.3
        v[hit] = rng.choice(np.array(SPECIAL), int(hit.sum()))
    with np.errstate(over="ignore"):
        if np.dtype(dtype).kind == "i":
            return np.round(np.nan_to_num(v * 1e3, nan=7, posinf=2**40, neginf=-2**40)).astype(dtype)
        return v.astype(dtype)


def _geometries(seed: int, count: int):
    """Random (N, C, H, W, KH, KW, stride, pad, dilation), each of the last three a pair or an int."""
    rng = np.random.default_rng(seed)
    made = 0
    while made < count:
        N, C = (int(v) for v in rng.integers(1, 4, 2))
        H, W = (int(v) for v in rng.integers(1, 12, 2))
        KH, KW = (int(v) for v in rng.integers(1, 5, 2))
        stride, pad, dilation = (tuple(int(v) for v in rng.integers(lo, hi, 2)) for lo, hi in ((1, 4), (0, 3), (1, 3)))
        if rng.integers(2):  # half of them at stride 1, where col2im sums layers (unless the kernel is wide)
            stride = (1, 1)
        if rng.integers(3) == 0:  # sometimes plain ints, as most callers pass them
            stride, pad, dilation = stride[0], pad[0], dilation[0]
        (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(pad), pair(dilation)
        if min(conv_output_size(H, KH, sh, ph, dh), conv_output_size(W, KW, sw, pw, dw)) < 1:
            continue
        made += 1
        yield N, C, H, W, KH, KW, stride, pad, dilation


def _layouts(x: np.ndarray) -> list[np.ndarray]:
    """x as a C-order array, channel-major (a conv output's layout), read-only, and every other column."""
    channel_major = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    read_only = x.copy()
    read_only.flags.writeable = False
    wide = np.repeat(x, 2, axis=3)[..., ::2]  # rows not contiguous: the element-by-element copy
    return [x, channel_major, read_only, wide]


# --- the tests --------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_col2im_bit_for_bit(dtype, copy_mode, chunk_mode) -> None:
    rng = np.random.default_rng(11)
    for N, C, H, W, KH, KW, stride, pad, dilation in _geometries(seed=12, count=120):
        (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(pad), pair(dilation)
        padded_shape = (N, C, H + 2 * ph, W + 2 * pw)
        OH, OW = conv_output_size(H, KH, sh, ph, dh), conv_output_size(W, KW, sw, pw, dw)
        for special in (False, True):
            dx_col = _values(rng, (C * KH * KW, N * OH * OW), dtype, special)
            before = dx_col.copy()
            with np.errstate(over="ignore", invalid="ignore"):
                got = col2im(dx_col, padded_shape, KH, KW, stride, dilation)
                want = _col2im_before(dx_col, padded_shape, KH, KW, stride, dilation)
            _same(got, want, nan_bits=False)
            assert dx_col.tobytes() == before.tobytes()  # the input is not modified


def test_col2im_keeps_a_lone_nan_and_the_sign_of_zero(copy_mode, chunk_mode) -> None:
    """With one NaN (own payload) and no inf − inf, every bit matches, NaN included; −0 terms sum to +0."""
    rng = np.random.default_rng(13)
    payload = np.array(0x7FF8_0000_0000_1234, dtype=np.uint64).view(np.float64)
    for N, C, H, W, KH, KW, stride, pad, dilation in _geometries(seed=14, count=60):
        (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(pad), pair(dilation)
        padded_shape = (N, C, H + 2 * ph, W + 2 * pw)
        shape = (C * KH * KW, N * conv_output_size(H, KH, sh, ph, dh) * conv_output_size(W, KW, sw, pw, dw))
        for dtype in (np.float64, np.float32):
            signed_zeros = np.where(rng.random(shape) < 0.7, -0.0, 0.0).astype(dtype)
            mixed = rng.standard_normal(shape).astype(dtype)
            mixed[rng.random(shape) < 0.2] = np.inf
            mixed[rng.random(shape) < 0.2] = -0.0
            mixed.reshape(-1)[rng.integers(mixed.size)] = payload.astype(dtype)
            for dx_col in (signed_zeros, mixed):
                _same(col2im(dx_col, padded_shape, KH, KW, stride, dilation),
                      _col2im_before(dx_col, padded_shape, KH, KW, stride, dilation))


@pytest.mark.parametrize("dtype", DTYPES)
def test_pad_input_and_im2col_bit_for_bit(dtype, copy_mode) -> None:
    """Both only copy, so every bit matches, NaN payloads too, whatever the input's layout."""
    rng = np.random.default_rng(15)
    for N, C, H, W, KH, KW, stride, pad, dilation in _geometries(seed=16, count=80):
        for x in _layouts(_values(rng, (N, C, H, W), dtype, special=True)):
            before = x.copy()
            x_padded = pad_input(x, pad)
            _same(x_padded, _pad_input_before(x, pad))
            _same(im2col(x_padded, KH, KW, stride, dilation), _im2col_before(x_padded, KH, KW, stride, dilation))
            assert x.tobytes() == before.tobytes()  # the input is not modified


def test_copy_rows_matches_copyto(copy_mode) -> None:
    """Whole rows at once where rows are contiguous; np.copyto's own copy otherwise (objects, strided rows)."""
    rng = np.random.default_rng(17)
    base = rng.standard_normal((3, 4, 10))
    for src in (base, base[:, ::2], base[..., ::2], base.transpose(1, 0, 2), base[..., :0], base.astype(object),
                np.broadcast_to(base[:, :, :1], base.shape)):
        dst, want = np.zeros(src.shape, src.dtype), np.zeros(src.shape, src.dtype)
        copy_rows(dst, src)
        np.copyto(want, src)
        assert dst.dtype == want.dtype and np.array_equal(dst, want) and (
            src.dtype.hasobject or dst.tobytes() == want.tobytes())
