"""conv2d's backward, cell by cell, with the numbers: what the conv lab's backward steppers show.

- :func:`dx_window`: one dx cell as the full convolution — the (K' − 1)-padded, stride-dilated dout
  under the 180°-rotated kernel, the products and their sum — beside the same cell by col2im (the
  overlapping adds of dx_col entries, each of them w_rowᵀ·dout_row with its numbers); the two sums agree.
- :func:`dw_window`: one dw cell as x_pad's taps under that weight ⊙ dout of its filter, and the same
  entry as dout_row · x_colᵀ.
- :func:`db_sums`: each db entry as the sum of its dout values.

Every number is read from conv2d's run() arrays (with its extras) and the terms of
:mod:`engine.explain.terms`; nothing of the forward or backward pass is recomputed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from engine.explain.terms import terms_of
from engine.ops.im2col import ConvGeometry
from engine.records import Arrays, OpInputError
from engine.tex import tex_number

_num = partial(tex_number, digits=4, parens=True)  # a term: a cell's 4 digits
_MAX_TERMS = 12


def _sum_tex(parts: list[str], max_terms: int = _MAX_TERMS) -> str:
    if len(parts) > max_terms:
        parts = [*parts[:max_terms - 2], r"\cdots", parts[-1]]
    return " + ".join(parts) if parts else "0"


def shown_parts(count: int, part: Callable[[int], str], max_terms: int) -> list[str]:
    """The parts :func:`lines_tex` writes of a sum of ``count``, each made by ``part(k)`` only when written: past
    ``max_terms`` the first ``max_terms − 2``, ⋯ and the last (a weight's gradient sums every window: thousands)."""
    if count > max_terms:
        return [*map(part, range(max_terms - 2)), r"\cdots", part(count - 1)]
    return [part(k) for k in range(count)]


def lines_tex(lhs: str, parts: list[str], result: str, per_line: int = 5, max_terms: int = 15,
              via: str | None = None) -> str:
    """``lhs = p₁ + … = result`` in an aligned block, ``per_line`` terms a line (a narrow page scrolls less);
    ``via``: a form of the sum written first, on a line of its own (``lhs = via = p₁ + … = result``), so that
    a long form does not push the terms' lines off a narrow screen."""
    parts = shown_parts(len(parts), parts.__getitem__, max_terms)
    rows = [" + ".join(parts[i:i + per_line]) for i in range(0, len(parts), per_line)] or ["0"]
    if len(rows) == 1:
        return rf"{lhs} = {via + ' = ' if via else ''}{rows[0]} = {result}"
    body = r" \\ &\quad + ".join(rows)
    first = rf"{via} \\ &= " if via else ""
    return rf"\begin{{aligned}} {lhs} &= {first}{body} \\ &= {result} \end{{aligned}}"


def geometry(result: Arrays, params: dict[str, Any]) -> ConvGeometry:
    return ConvGeometry.of(result["x"].shape, result["w"].shape, params["stride"], params["pad"],
                           params.get("dilation", 1))


@dataclass(frozen=True)
class Col2imAdd:
    """One overlapping add of col2im: dx_col[r, j] lands on the cell, from window (oh, ow) at offset (kh, kw)."""

    r: int
    j: int
    oh: int
    ow: int
    kh: int
    kw: int
    value: float  # dx_col[r, j]
    latex: str  # dx_col[r, j] = Σ_f w_row[f, r]·dout_row[f, j] with the numbers


@dataclass(frozen=True)
class DxWindow:
    n: int
    c: int
    h: int
    w: int
    top: int  # the window's top-left in dout_padded: (h + pad_h, w + pad_w)
    left: int
    window: np.ndarray  # dout_padded[n, :, top : top + K'H, left : left + K'W], (F, K'H, K'W)
    kernel: np.ndarray  # w_rot[c], (F, K'H, K'W)
    products: np.ndarray  # window ⊙ kernel
    total: float  # Σ products: dx by the full convolution
    value: float  # dx[n, c, h, w] by col2im
    latex: str  # the sum with the numbers
    adds: tuple[Col2imAdd, ...]  # col2im's overlapping adds into the same cell
    col2im_latex: str  # dx[n, c, h, w] = dx_col[r₁, j₁] + … with the numbers
    nonzero: int  # products that are not 0 (the others meet dilation or padding zeros, or a zero weight)

    @property
    def agree(self) -> bool:
        return math.isclose(self.total, self.value, rel_tol=1e-9, abs_tol=1e-12)


def dx_window(result: Arrays, params: dict[str, Any], n: int, c: int, h: int, w: int) -> DxWindow:
    """dx[n, c, h, w] both ways, from conv2d's run() arrays (with extras: dout_padded, w_rot)."""
    g = geometry(result, params)
    if not (0 <= n < g.N and 0 <= c < g.C and 0 <= h < g.H and 0 <= w < g.W):
        raise OpInputError("walk_step", f"dx has no cell [{n}, {c}, {h}, {w}]")
    w_rot, dp = result["w_rot"], result["dout_padded"]
    KH, KW = w_rot.shape[2:]
    top, left = h + g.ph, w + g.pw
    window = np.array(dp[n, :, top:top + KH, left:left + KW], copy=True)
    kernel = np.array(w_rot[c], copy=True)
    products = window * kernel
    full = terms_of("conv2d", result, params, "dx_full_conv", (n, c, h, w))
    pairs = [rf"{_num(t.upstream.value)}\cdot{_num(t.coefficient.value)}" for t in full.terms]
    value = float(result["dx"][n, c, h, w])
    lhs = rf"\text{{dx}}[{n},{c},{h},{w}]"
    latex = lines_tex(lhs, pairs, tex_number(full.total, 6), per_line=min(max(KW, 3), 6), max_terms=27)
    adds = _col2im_adds(result, g, n, c, top, left)
    col2im = " + ".join(rf"dX_{{\text{{col}}}}[{a.r},{a.j}]" for a in adds) or "0"
    numbers = " + ".join(_num(a.value) for a in adds) or "0"
    col2im_latex = rf"{lhs} = {col2im} = {numbers} = {tex_number(value, 6)}"
    return DxWindow(n, c, h, w, top, left, window, kernel, products, full.total, value, latex, tuple(adds),
                    col2im_latex, int(np.count_nonzero(products)))


def _col2im_adds(result: Arrays, g: ConvGeometry, n: int, c: int, hp: int, wp: int) -> list[Col2imAdd]:
    adds = []
    for oh, ow, kh, kw in sorted(g.covering(hp, wp)):
        r, j = g.row(c, kh, kw), g.col(n, oh, ow)
        t = terms_of("conv2d", result, {"stride": (g.sh, g.sw), "pad": (g.ph, g.pw), "dilation": (g.dh, g.dw)},
                     "dx_col", (r, j))
        pairs = [rf"{_num(x.coefficient.value)}\cdot{_num(x.upstream.value)}" for x in t.terms]
        latex = rf"dX_{{\text{{col}}}}[{r},{j}] = {_sum_tex(pairs)} = {tex_number(t.value, 6)}"
        adds.append(Col2imAdd(r, j, oh, ow, kh, kw, t.value, latex))
    return adds


@dataclass(frozen=True)
class DwWindow:
    f: int
    c: int
    kh: int
    kw: int
    r: int  # the row of x_col (and column of dw_row) this weight is
    taps: np.ndarray  # x_padded[n, c, oh·s + kh·d, ow·s + kw·d] for every window: (N, OH, OW)
    upstream: np.ndarray  # dout[:, f]: (N, OH, OW)
    products: np.ndarray  # taps ⊙ upstream
    total: float  # Σ products
    value: float  # dw[f, c, kh, kw]
    latex: str  # Σ x·dout with the numbers
    matmul_latex: str  # the same entry as dout_row[f, :] · x_col[r, :]
    rows: tuple[int, ...]  # x_padded rows the taps read (one per oh)
    cols: tuple[int, ...]  # x_padded columns (one per ow)

    @property
    def agree(self) -> bool:
        return math.isclose(self.total, self.value, rel_tol=1e-9, abs_tol=1e-12)


def dw_window(result: Arrays, params: dict[str, Any], f: int, c: int, kh: int, kw: int) -> DwWindow:
    """dw[f, c, kh, kw] as x_pad's taps under this weight ⊙ dout[:, f], and as dout_row · x_colᵀ."""
    g = geometry(result, params)
    if not (0 <= f < g.F and 0 <= c < g.C and 0 <= kh < g.KH and 0 <= kw < g.KW):
        raise OpInputError("walk_step", f"dw has no cell [{f}, {c}, {kh}, {kw}]")
    rows, cols = g.taps(kh, kw)
    taps = np.array(result["x_padded"][:, c][:, rows][:, :, cols], copy=True)
    upstream = np.array(result["dout"][:, f], copy=True)
    products = taps * upstream
    t = terms_of("conv2d", result, params, "dw", (f, c, kh, kw))

    def pair(k: int) -> str:
        x = t.terms[k]
        return rf"{_num(x.coefficient.value)}\cdot{_num(x.upstream.value)}"

    lhs = rf"\text{{dw}}[{f},{c},{kh},{kw}]"
    latex = lines_tex(lhs, shown_parts(len(t.terms), pair, 24), tex_number(t.total, 6),
                      per_line=min(max(g.OW, 3), 6), max_terms=24)
    r = g.row(c, kh, kw)
    dout_row, x_col = result["dout_row"], result["x_col"]
    mm = shown_parts(dout_row.shape[1], lambda j: rf"{_num(dout_row[f, j])}\cdot{_num(x_col[r, j])}", 24)
    row_col = rf"\delta_{{\text{{row}}}}[{f},:]\cdot X_{{\text{{col}}}}[{r},:]^{{\top}}"
    matmul_latex = lines_tex(lhs, mm, tex_number(float(result["dw"][f, c, kh, kw]), 6), per_line=min(max(g.OW, 3), 6),
                             max_terms=24, via=row_col)
    return DwWindow(f, c, kh, kw, r, taps, upstream, products, t.total, float(result["dw"][f, c, kh, kw]), latex,
                    matmul_latex, rows, cols)


def db_sums(result: Arrays, params: dict[str, Any]) -> list[str]:
    """Each db[f] = Σ dout[n, f, oh, ow] with the numbers (the terms of db, read straight off dout: the sum
    shows at most 24 of them, and building every term of a large output would cost more than the page)."""
    dout = result["dout"]
    lines = []
    for f in range(result["db"].shape[0]):
        values = dout[:, f].ravel()  # (n, oh, ow) order, as the terms of db
        parts = shown_parts(values.size, lambda k, values=values: _num(values[k]), 24)
        lines.append(lines_tex(rf"\text{{db}}[{f}]", parts, tex_number(float(result["db"][f]), 6), per_line=12,
                               max_terms=24))
    return lines
