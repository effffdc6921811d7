"""The geometry of a 2-D convolution: output sizes, the im2col index maps, pad / im2col / col2im.

Layouts follow CONVENTIONS.md: x (N, C, H, W), w (F, C, KH, KW), out (N, F, OH, OW),
OH = ⌊(H + 2·pad − dilation·(KH − 1) − 1)/stride⌋ + 1 (⌊(H + 2·pad − KH)/stride⌋ + 1 undilated).
im2col lays every receptive field out as one column: x_col has shape (C·KH·KW, N·OH·OW),
row r = (c·KH + kh)·KW + kw, column j = (n·OH + oh)·OW + ow; kernel offset (kh, kw) reads
x_padded[oh·s + kh·d, ow·s + kw·d]. col2im is its adjoint: every column added back onto its
window, overlaps adding up.

Stride, pad and dilation are each an int (both axes) or a pair (height, width), as PyTorch's
Conv2d takes them; :func:`pair` reads either.

When the stride does not divide evenly, the bottom rows / right columns of the padded input
that no window reaches are dropped (:func:`dropped`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

IntOrPair = int | tuple[int, int]


def pair(value: Any) -> tuple[int, int]:
    """(height, width) of a stride, pad or dilation given as an int or a pair."""
    if isinstance(value, (tuple, list)):
        h, w = value
        return int(h), int(w)
    return int(value), int(value)

# ---------------------------------------------------------------------------------------------
# Sizes and index maps
# ---------------------------------------------------------------------------------------------


def conv_output_size(size: int, kernel: int, stride: int, pad: int, dilation: int = 1) -> int:
    """⌊(size + 2·pad − dilation·(kernel − 1) − 1)/stride⌋ + 1 along one axis; below 1: the kernel does not fit."""
    return (size + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1


def dropped(padded: int, kernel: int, stride: int, out: int, dilation: int = 1) -> int:
    """How many trailing rows (or columns) of the padded input no window reaches (one axis)."""
    return padded - ((out - 1) * stride + dilation * (kernel - 1) + 1)


def col_to_window(j: int, N: int, OH: int, OW: int) -> tuple[int, int, int]:
    """Column j of x_col -> the window (n, oh, ow) it holds: j = (n·OH + oh)·OW + ow."""
    if not 0 <= j < N * OH * OW:
        raise IndexError(f"column {j} is outside 0..{N * OH * OW - 1}")
    n, rest = divmod(j, OH * OW)
    oh, ow = divmod(rest, OW)
    return n, oh, ow


def window_to_col(n: int, oh: int, ow: int, OH: int, OW: int) -> int:
    """The window (n, oh, ow) -> its column of x_col (inverse of :func:`col_to_window`)."""
    return (n * OH + oh) * OW + ow


def row_to_offset(r: int, C: int, KH: int, KW: int) -> tuple[int, int, int]:
    """Row r of x_col -> the kernel offset (c, kh, kw) it holds: r = (c·KH + kh)·KW + kw."""
    if not 0 <= r < C * KH * KW:
        raise IndexError(f"row {r} is outside 0..{C * KH * KW - 1}")
    c, rest = divmod(r, KH * KW)
    kh, kw = divmod(rest, KW)
    return c, kh, kw


def offset_to_row(c: int, kh: int, kw: int, KH: int, KW: int) -> int:
    """The kernel offset (c, kh, kw) -> its row of x_col (inverse of :func:`row_to_offset`)."""
    return (c * KH + kh) * KW + kw


# ---------------------------------------------------------------------------------------------
# pad / im2col / col2im
# ---------------------------------------------------------------------------------------------


def pad_input(x: np.ndarray, pad: IntOrPair) -> np.ndarray:
    """x with ``pad`` zeros on each side of H (top and bottom) and W (left and right); x itself when
    there is no padding (never modified)."""
    ph, pw = pair(pad)
    if ph == 0 and pw == 0:
        return x
    N, C, H, W = x.shape
    x_padded = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=x.dtype)
    copy_rows(x_padded[:, :, ph:ph + H, pw:pw + W], x)
    return x_padded


CHUNK_BYTES = 1 << 18  # col2im's layers for this many bytes of images stay in L2 (2 MB here) while they are summed


def batch_chunks(n: int, bytes_per_image: int) -> list[tuple[int, int]]:
    """Images [n0, n1) in runs of about :data:`CHUNK_BYTES` (at least one image each) that cover 0..n in order.

    A cell of dx_padded sums columns of one image only, so col2im can add back one chunk of images at
    a time — with scratch the size of a chunk, that stays in the cache — and every number comes out the
    same (the same bits) whatever the chunks.
    """
    per = max(1, CHUNK_BYTES // max(1, bytes_per_image))
    return [(n0, min(n, n0 + per)) for n0 in range(0, n, per)]


def im2col(x_padded: np.ndarray, kh: int, kw: int, stride: IntOrPair, dilation: IntOrPair = 1) -> np.ndarray:
    """Every kh×kw window of the (already padded) input as a column: (C·KH·KW, N·OH·OW).

    One copy of a read-only (C, KH, KW, N, OH, OW) strided view of x_padded — element
    [c, i, j, n, oh, ow] is x_padded[n, c, oh·sh + i·dh, ow·sw + j·dw] — into that layout,
    no loop over pixels or kernel offsets (one NumPy call: tiny inputs pay its overhead once).
    At stride 1 along the width each window row is contiguous in x_padded too, and is copied
    whole (:func:`copy_rows`).
    """
    N, C, Hp, Wp = x_padded.shape
    (sh, sw), (dh, dw) = pair(stride), pair(dilation)
    OH, OW = conv_output_size(Hp, kh, sh, 0, dh), conv_output_size(Wp, kw, sw, 0, dw)
    sN, sC, sH, sW = x_padded.strides
    shape, strides = (C, kh, kw, N, OH, OW), (sC, sH * dh, sW * dw, sN, sH * sh, sW * sw)
    if x_padded.flags.c_contiguous:  # a view straight on its buffer: ~0.6 µs, where as_strided takes ~5
        windows = np.ndarray(shape, x_padded.dtype, x_padded, 0, strides)
    else:
        windows = np.lib.stride_tricks.as_strided(x_padded, shape, strides, writeable=False)
    col = np.empty(shape, dtype=x_padded.dtype)
    copy_rows(col, windows)
    return col.reshape(C * kh * kw, N * OH * OW)


def col2im(dx_col: np.ndarray, padded_shape: tuple[int, ...], kh: int, kw: int, stride: IntOrPair,
           dilation: IntOrPair = 1) -> np.ndarray:
    """The adjoint of :func:`im2col`: add every column back onto its window (overlaps add).

    Returns dx_padded of ``padded_shape``; positions no window reaches stay 0. Offset by offset —
    (0, 0), (0, 1), … — every cell's sum starts at +0 and takes its terms in that order, whichever
    of the two ways below computes it (they give the same bits).
    """
    N, C, Hp, Wp = padded_shape
    (sh, sw), (dh, dw) = pair(stride), pair(dilation)
    OH, OW = conv_output_size(Hp, kh, sh, 0, dh), conv_output_size(Wp, kw, sw, 0, dw)
    col = dx_col.reshape(C, kh, kw, N, OH, OW)
    if sh == sw == 1 and 4 * OH * OW >= Hp * Wp:  # offset (0, 0) reaches a quarter of the cells or more
        return _col2im_by_layers(col, padded_shape, dh, dw)
    return _col2im_by_windows(col, padded_shape, sh, sw, dh, dw)


def _col2im_by_windows(col: np.ndarray, padded_shape: tuple[int, ...], sh: int, sw: int, dh: int, dw: int
                       ) -> np.ndarray:
    """col2im adding each offset's columns (C, KH, KW, N, OH, OW) straight onto its cells of dx_padded.

    NumPy adds such a strided block in N·C·OH runs of OW numbers, copied through its buffers: slow
    per number when OW is a few dozen, but it touches only the cells the offset reaches.
    """
    C, kh, kw, N, OH, OW = col.shape
    dx_padded = np.zeros(padded_shape, dtype=col.dtype)
    dt = dx_padded.transpose(1, 0, 2, 3)  # (C, N, Hp, Wp) view, written through
    for i in range(kh):
        top = i * dh
        for j in range(kw):
            left = j * dw
            dt[:, :, top:top + sh * OH:sh, left:left + sw * OW:sw] += col[:, i, j]
    return dx_padded


def _col2im_by_layers(col: np.ndarray, padded_shape: tuple[int, ...], dh: int, dw: int) -> np.ndarray:
    """col2im at stride 1: each offset's columns (C, KH, KW, N, OH, OW) laid onto its cells of its own zero
    layer shaped like dx_padded, and the KH·KW layers summed cell by cell, in offset order.

    At stride 1 a window row is a contiguous run of cells, so laying out every offset is one copy of whole
    rows (:func:`byte_rows`), and the sum one NumPy reduction over whole layers, where adding each offset's
    block onto dx_padded would go run by run of OW numbers. NumPy reduces an axis that is not the innermost
    by adding its slices one after the other (pairwise summation is only along the innermost axis), so
    every cell takes its terms in offset order. A layer's zeros land on cells its offset does not reach,
    where adding +0 changes no bit: a sum that starts at +0 (``initial``) is never −0 (rounding to
    nearest). This adds every cell once per offset, so it pays when offset (0, 0)'s cells are a fair part
    of all (:func:`col2im` asks for a quarter).

    Image by image the sums are independent, so this goes a chunk of images at a time
    (:func:`batch_chunks`): the layers, KH·KW times a chunk of dx_padded, stay in the cache between
    being laid out and summed, and are reused chunk after chunk (only reached cells are ever written:
    the rest stay 0). dx_col itself is read once, from memory: 32×8×30×30 float64 (dx_col 14 MB) takes
    ~1.3 ms here, where adding offset by offset onto dx_padded-sized arrays took ~2.4.
    """
    C, kh, kw, N, OH, OW = col.shape
    _, _, Hp, Wp = padded_shape
    dx_padded = np.empty(padded_shape, dtype=col.dtype)  # every cell is a sum written below
    chunks = batch_chunks(N, kh * kw * C * Hp * Wp * col.itemsize)
    chunk = chunks[0][1]
    layers = np.zeros((chunk, kh, kw, C, Hp, Wp), dtype=col.dtype)
    sN, sI, sJ, sC, sH, sW = layers.strides
    # [i, j, n, c, oh, ow] -> layers[n, i, j, c, oh + i·dh, ow + j·dw]: offset (i, j)'s cells in its layer
    cells = np.ndarray((kh, kw, chunk, C, OH, OW), col.dtype, layers, 0, (sI + dh * sH, sJ + dw * sW, sN, sC, sH, sW))
    col_rows, cell_rows = byte_rows(col.transpose(1, 2, 3, 0, 4, 5), cells)  # col as (KH, KW, N, C, OH, OW)
    stacked, dx_flat, zero = layers.reshape(chunk, kh * kw, -1), dx_padded.reshape(N, -1), col.dtype.type(0)
    for n0, n1 in chunks:
        cell_rows[:, :, :n1 - n0] = col_rows[:, :, n0:n1]
        np.add.reduce(stacked[:n1 - n0], axis=1, out=dx_flat[n0:n1], initial=zero)
    return dx_padded


BYTE_ROWS_MIN = 1024  # fewer rows (in the first array) than this: NumPy's own copy is as fast (the views cost ~4 µs)


def byte_rows(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """The arrays with each row (last axis) seen as one opaque element of its bytes — views, the
    last axis dropped — so that a copy between them moves whole rows, one memcpy each, where
    NumPy would go row by row at a fixed cost per row that dominates for rows of a few dozen numbers.

    The arrays themselves, unchanged, when that is not possible for all of them (different dtypes
    or row lengths, rows not contiguous in memory, Python objects) or not worth it (few rows).
    Either way a copy between the results moves the same bits.
    """
    first = arrays[0]
    rows = first.size // first.shape[-1] if first.ndim and first.shape[-1] else 0
    if rows < BYTE_ROWS_MIN or first.dtype.hasobject:
        return arrays
    if any(a.dtype != first.dtype or a.shape[-1] != first.shape[-1] or a.strides[-1] != a.itemsize for a in arrays):
        return arrays
    row = np.dtype((np.void, first.shape[-1] * first.itemsize))
    return tuple(a.view(row)[..., 0] for a in arrays)


def copy_rows(dst: np.ndarray, src: np.ndarray) -> None:
    """dst[...] = src for arrays of one shape and dtype, whole rows at a time where that pays (:func:`byte_rows`)."""
    dst_rows, src_rows = byte_rows(dst, src)
    dst_rows[...] = src_rows


# ---------------------------------------------------------------------------------------------
# One convolution's geometry, for provenance
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConvGeometry:
    """Every size of one conv2d call, the shape of each of its arrays, and which windows read a cell."""

    N: int
    C: int
    H: int
    W: int
    F: int
    KH: int
    KW: int
    sh: int  # stride along the height
    sw: int  # ... and the width
    ph: int  # zeros above and below
    pw: int  # zeros left and right
    dh: int  # dilation: kernel offset kh reads row oh·sh + kh·dh
    dw: int
    OH: int
    OW: int

    @classmethod
    def of(cls, x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: IntOrPair, pad: IntOrPair,
           dilation: IntOrPair = 1) -> ConvGeometry:
        N, C, H, W = x_shape
        F, _, KH, KW = w_shape
        (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(pad), pair(dilation)
        return cls(N, C, H, W, F, KH, KW, sh, sw, ph, pw, dh, dw, conv_output_size(H, KH, sh, ph, dh),
                   conv_output_size(W, KW, sw, pw, dw))

    @property
    def KHe(self) -> int:
        """The dilated kernel's height: dh·(KH − 1) + 1."""
        return self.dh * (self.KH - 1) + 1

    @property
    def KWe(self) -> int:
        return self.dw * (self.KW - 1) + 1

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape of every array conv2d names (CONVENTIONS.md)."""
        N, C, F, KH, KW, OH, OW = self.N, self.C, self.F, self.KH, self.KW, self.OH, self.OW
        Hp, Wp = self.H + 2 * self.ph, self.W + 2 * self.pw
        return {
            "x": (N, C, self.H, self.W), "w": (F, C, KH, KW), "b": (F,), "dout": (N, F, OH, OW),
            "x_padded": (N, C, Hp, Wp), "x_col": (C * KH * KW, N * OH * OW), "w_row": (F, C * KH * KW),
            "wx_row": (F, N * OH * OW), "out": (N, F, OH, OW), "dout_row": (F, N * OH * OW), "dw": (F, C, KH, KW),
            "db": (F,), "dx_col": (C * KH * KW, N * OH * OW), "dx_padded": (N, C, Hp, Wp), "dx": (N, C, self.H, self.W),
            "dout_dilated": (N, F, (OH - 1) * self.sh + 1, (OW - 1) * self.sw + 1),
            "dout_padded": (N, F, Hp + self.KHe - 1, Wp + self.KWe - 1),
            "w_rot": (C, F, self.KHe, self.KWe), "dx_full_conv": (N, C, self.H, self.W), "dropped_rows": (),
            "dropped_cols": (),
        }

    def inside(self, h: int, w: int) -> bool:
        return 0 <= h < self.H and 0 <= w < self.W

    def col(self, n: int, oh: int, ow: int) -> int:
        return window_to_col(n, oh, ow, self.OH, self.OW)

    def row(self, c: int, kh: int, kw: int) -> int:
        return offset_to_row(c, kh, kw, self.KH, self.KW)

    def cell(self, oh: int, ow: int, kh: int, kw: int) -> tuple[int, int]:
        """The x_padded position (hp, wp) kernel offset (kh, kw) of window (oh, ow) reads."""
        return oh * self.sh + kh * self.dh, ow * self.sw + kw * self.dw

    def taps(self, kh: int, kw: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(the x_padded rows, the x_padded columns) kernel offset (kh, kw) reads, one per output row and column:
        weight w[·, ·, kh, kw] meets x_padded[n, c, rows[oh], cols[ow]] in window (oh, ow)."""
        return (tuple(self.cell(oh, 0, kh, kw)[0] for oh in range(self.OH)),
                tuple(self.cell(0, ow, kh, kw)[1] for ow in range(self.OW)))

    def covering(self, hp: int, wp: int) -> Iterator[tuple[int, int, int, int]]:
        """(oh, ow, kh, kw) of every window that reads x_padded position (hp, wp)."""
        for kh in range(self.KH):
            oh, r = divmod(hp - kh * self.dh, self.sh)
            if r or not 0 <= oh < self.OH:
                continue
            for kw in range(self.KW):
                ow, r = divmod(wp - kw * self.dw, self.sw)
                if r or not 0 <= ow < self.OW:
                    continue
                yield oh, ow, kh, kw
