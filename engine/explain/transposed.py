"""The convolution as a matrix, and its backward as the transpose: the transposed convolution.

For one sample, conv2d is linear in x: vec(out[n]) = C · vec(x[n]) + b (each bias repeated over its
filter's outputs), with C of shape (F·OH·OW, C·H·W) built from w — row (f, oh, ow), column (c, h, w)
holds w[f, c, kh, kw] where the window (oh, ow) reads x[c, h, w] through offset (kh, kw), and 0
elsewhere (padding reads zeros, so it has no column). Its backward is the transpose:
vec(dx[n]) = Cᵀ · vec(dout[n]) — what "transposed convolution" means. The same C serves every sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.ops.im2col import ConvGeometry, IntOrPair
from engine.records import OpInputError

MAX_SIDE = 36  # rows or columns beyond this: too large to read as a matrix (the lab cuts its matrices there too)


@dataclass(frozen=True)
class ConvMatrix:
    C: np.ndarray  # (F·OH·OW, C·H·W)
    row_labels: tuple[str, ...]  # "out[f,oh,ow]"
    col_labels: tuple[str, ...]  # "x[c,h,w]"
    row_index: tuple[tuple[int, int, int], ...]  # (f, oh, ow) of each row
    col_index: tuple[tuple[int, int, int], ...]  # (c, h, w) of each column

    def row_of(self, f: int, oh: int, ow: int) -> int:
        return self.row_index.index((f, oh, ow))

    def col_of(self, c: int, h: int, w: int) -> int:
        return self.col_index.index((c, h, w))


def conv_matrix(w: np.ndarray, x_shape: tuple[int, ...], stride: IntOrPair = 1, pad: IntOrPair = 0,
                dilation: IntOrPair = 1) -> ConvMatrix:
    """C with vec(out[n]) = C·vec(x[n]) + b for conv2d(x, w, b, stride, pad, dilation)."""
    g = ConvGeometry.of(tuple(x_shape), w.shape, stride, pad, dilation)
    if g.OH < 1 or g.OW < 1:
        raise OpInputError("inputs.w", "no window fits: there is no matrix")
    rows = [(f, oh, ow) for f in range(g.F) for oh in range(g.OH) for ow in range(g.OW)]
    cols = [(c, h, wc) for c in range(g.C) for h in range(g.H) for wc in range(g.W)]
    C = np.zeros((len(rows), len(cols)), dtype=np.result_type(w, np.float64))
    for r, (f, oh, ow) in enumerate(rows):
        for c in range(g.C):
            for kh in range(g.KH):
                for kw in range(g.KW):
                    hp, wp = g.cell(oh, ow, kh, kw)
                    h, wc = hp - g.ph, wp - g.pw
                    if g.inside(h, wc):
                        C[r, (c * g.H + h) * g.W + wc] = w[f, c, kh, kw]
    return ConvMatrix(C, tuple(f"out[{f},{oh},{ow}]" for f, oh, ow in rows),
                      tuple(f"x[{c},{h},{wc}]" for c, h, wc in cols), tuple(rows), tuple(cols))


def small_enough(x_shape: tuple[int, ...], w_shape: tuple[int, ...], out_hw: tuple[int, int]) -> bool:
    """Whether C (F·OH·OW × C·H·W) is small enough to read: at most MAX_SIDE rows and columns."""
    _, C, H, W = x_shape
    return w_shape[0] * out_hw[0] * out_hw[1] <= MAX_SIDE and C * H * W <= MAX_SIDE
