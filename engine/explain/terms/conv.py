"""conv2d's gradients as terms (CONVENTIONS.md, im2col):

- dx[n, c, h, w] = Σ w[f, c, kh, kw]·dout[n, f, oh, ow] over every filter f and every window (oh, ow)
  whose kernel offset (kh, kw) lands on (h + pad, w + pad); dx_padded likewise at (hp, wp);
- dw[f, c, kh, kw] = Σ x_pad[n, c, oh·s + kh·d, ow·s + kw·d]·dout[n, f, oh, ow] over (n, oh, ow)
  (the coefficient is the x cell, or an x_padded zero where the window reads padding);
- db[f] = Σ 1·dout[n, f, oh, ow];
- dx_col[r, j] = Σ_f w_row[f, r]·dout_row[f, j];
- dx_full_conv[n, c, h, w] = Σ w_rot[c, f, i, j]·dout_padded[n, f, h + p + i, w + p + j] (the full
  convolution's window, zeros of the dilation and the padding included).
"""

from __future__ import annotations

from typing import Any

from engine.explain.terms.record import Cells, Column, Factor, Grid, Made, Term, Terms, cell, constant
from engine.ops.im2col import ConvGeometry, row_to_offset
from engine.records import Arrays, Index, OpInputError

ARRAYS = ("dx", "dx_padded", "dw", "db", "dx_col", "dx_full_conv")

FORMULAS = {
    "dx": r"\frac{\partial L}{\partial x}[n,c,i,j] = \sum_{f}\sum_{(o_h,o_w)\ \ni\ (i,j)}"
          r" w[f,c,k_h,k_w]\,\frac{\partial L}{\partial \text{out}}[n,f,o_h,o_w]",
    "dx_padded": r"dx_{\text{pad}}[n,c,h,w] = \sum_{f}\sum_{(o_h,o_w)\ \ni\ (h,w)}"
                 r" w[f,c,k_h,k_w]\,\frac{\partial L}{\partial \text{out}}[n,f,o_h,o_w]",
    "dw": r"\frac{\partial L}{\partial w}[f,c,k_h,k_w] = \sum_{n,o_h,o_w}"
          r" x_{\text{pad}}[n,c,o_h s + k_h d,\ o_w s + k_w d]\,\frac{\partial L}{\partial \text{out}}[n,f,o_h,o_w]",
    "db": r"\frac{\partial L}{\partial b_f} = \sum_{n,o_h,o_w} 1\cdot"
          r"\frac{\partial L}{\partial \text{out}}[n,f,o_h,o_w]",
    "dx_col": r"dX_{\text{col}}[r,j] = \sum_f W_{\text{row}}[f,r]\,\delta_{\text{row}}[f,j]",
    "dx_full_conv": r"dx[n,c,i,j] = \sum_{f,u,v} W^{\text{rot}}[c,f,u,v]\,"
                    r"\delta_{\text{pad}}[n,f,i + p + u,\ j + p + v]",
}


def _geometry(result: Arrays, params: dict[str, Any]) -> ConvGeometry:
    return ConvGeometry.of(result["x"].shape, result["w"].shape, params["stride"], params["pad"],
                           params.get("dilation", 1))


def _dx_terms(result: Arrays, g: ConvGeometry, n: int, c: int, hp: int, wp: int) -> list[Term]:
    """The terms of dx_padded[n, c, hp, wp]: one per filter and covering window, by (f, oh, ow)."""
    w, dout = result["w"], result["dout"]
    cover = sorted(g.covering(hp, wp))
    return [Term(cell("w", (f, c, kh, kw), w[f, c, kh, kw]), cell("dout", (n, f, oh, ow), dout[n, f, oh, ow]))
            for f in range(g.F) for oh, ow, kh, kw in cover]


def _dout_of(result: Arrays, g: ConvGeometry, f: int) -> Cells:
    """Every cell dout[n, f, oh, ow] of filter f, by (n, oh, ow): the upstream side of dw[f, …] and db[f]."""
    cells = Grid((g.N, g.OH, g.OW), lambda i: (i[0], f, i[1], i[2]))
    return Cells("dout", cells, result["dout"][:, f].reshape(-1).tolist())


def conv_terms(result: Arrays, params: dict[str, Any], array: str, index: Index) -> Terms:
    """The terms of ``array[index]`` (one of :data:`ARRAYS`) from conv2d's run() arrays."""
    g = _geometry(result, params)
    value = float(result[array][index])
    note = ""
    if array in ("dx", "dx_padded"):
        n, c, h, w = index
        hp, wp = (h + g.ph, w + g.pw) if array == "dx" else (h, w)
        terms = _dx_terms(result, g, n, c, hp, wp)
        windows = len({(t.upstream.index[2], t.upstream.index[3]) for t in terms})
        note = (f"{windows} window{'s' * (windows != 1)} cover{'s' * (windows == 1)} x_padded[{n},{c},{hp},{wp}]; "
                f"each brings the weight that sat on it times that window's upstream gradient, for each of the "
                f"{g.F} filter{'s' * (g.F != 1)}." if windows else
                f"No window covers x_padded[{n},{c},{hp},{wp}] (the stride skips it): its gradient is 0.")
    elif array == "dw":
        f, c, kh, kw = index
        rows, cols = g.taps(kh, kw)  # the x_padded row and column each window reads
        inputs = result["x_padded"][:, c][:, rows][:, :, cols].reshape(-1).tolist()  # by (n, oh, ow)

        def coefficient(k: int) -> Factor:  # the x cell, or (the label only here) an x_padded zero of padding
            n, at = divmod(k, g.OH * g.OW)
            hp, wp = rows[at // g.OW], cols[at % g.OW]
            if g.inside(hp - g.ph, wp - g.pw):
                return Factor("x", (n, c, hp - g.ph, wp - g.pw), inputs[k])
            return Factor("x_padded", (n, c, hp, wp), inputs[k], f"x_padded[{n},{c},{hp},{wp}] (padding)")

        terms = Column(Made(inputs, coefficient), _dout_of(result, g, f))
        note = (f"Weight w[{f},{c},{kh},{kw}] multiplied one input cell in each of the {len(terms)} windows; "
                "its gradient adds each such input times that window's upstream gradient.")
    elif array == "db":
        (f,) = index
        terms = Column(constant(1.0, "1"), _dout_of(result, g, f))
        note = f"b[{f}] is added to every output of filter {f}: its gradient sums their upstream gradients."
    elif array == "dx_col":
        r, j = index
        w_row, dout_row = result["w_row"], result["dout_row"]
        terms = [Term(cell("w_row", (f, r), w_row[f, r]), cell("dout_row", (f, j), dout_row[f, j]))
                 for f in range(g.F)]
        c, kh, kw = row_to_offset(r, g.C, g.KH, g.KW)
        note = f"Row {r} is kernel offset (c, kh, kw) = ({c}, {kh}, {kw}); column {j} is one window."
    elif array == "dx_full_conv":
        n, c, h, w = index
        w_rot, dp = result["w_rot"], result["dout_padded"]
        hp, wp = h + g.ph, w + g.pw
        KH, KW = w_rot.shape[2:]
        terms = [Term(cell("w_rot", (c, f, u, v), w_rot[c, f, u, v]),
                      cell("dout_padded", (n, f, hp + u, wp + v), dp[n, f, hp + u, wp + v]))
                 for f in range(g.F) for u in range(KH) for v in range(KW)]
        note = (f"The rotated kernel over the {KH}×{KW} window of the dilated, padded dout at ({hp}, {wp}): "
                "zeros of the dilation and the padding give zero products.")
    else:
        raise OpInputError("array", f"conv2d has no terms for {array!r}; arrays with terms: {', '.join(ARRAYS)}")
    return Terms("conv2d", array, tuple(index), value, terms, FORMULAS[array], note)


FAMILY = {"conv2d": (conv_terms, ARRAYS)}
