"""Which cells of conv2d's arrays a cell was computed from: the provenance the labs outline on hover."""

from __future__ import annotations

from typing import Any

from engine.ops.im2col import ConvGeometry, col_to_window, row_to_offset
from engine.records import Arrays, Index, OpInputError


def provenance(arrays: Arrays, params: dict[str, Any], array: str, index: Index) -> dict[str, list[Index]]:
    g = ConvGeometry.of(arrays["x"].shape, arrays["w"].shape, params["stride"], params["pad"],
                        params.get("dilation", 1))
    N, C, F, KH, KW, ph, pw = g.N, g.C, g.F, g.KH, g.KW, g.ph, g.pw
    shape = tuple(arrays[array].shape) if array in arrays else g.shapes()[array]
    index = tuple(int(i) for i in index)
    if len(index) != len(shape) or any(not 0 <= i < n for i, n in zip(index, shape, strict=True)):
        raise OpInputError("index", f"{list(index)} is not an index of {array} with shape {list(shape)}")
    offsets = [(c, kh, kw) for c in range(C) for kh in range(KH) for kw in range(KW)]
    res: dict[str, list[Index]] = {}

    def dx_sources(n: int, c: int, hp: int, wp: int) -> None:
        """dx_padded[n, c, hp, wp] = Σ dout[n, f, oh, ow] · w[f, c, kh, kw] over covering windows."""
        cover = list(g.covering(hp, wp))
        res["dx_col"] = [(g.row(c, kh, kw), g.col(n, oh, ow)) for oh, ow, kh, kw in cover]
        res["dout"] = [(n, f, oh, ow) for f in range(F) for oh, ow, _, _ in cover]
        res["w"] = [(f, c, kh, kw) for f in range(F) for _, _, kh, kw in cover]

    if array == "out" or array == "wx_row":
        if array == "out":
            n, f, oh, ow = index
        else:
            f, j = index
            n, oh, ow = col_to_window(j, N, g.OH, g.OW)
        j = g.col(n, oh, ow)
        padded = [(n, c, *g.cell(oh, ow, kh, kw)) for c, kh, kw in offsets]
        res["x_padded"] = padded  # paired with w, in the same (c, kh, kw) order
        res["w"] = [(f, c, kh, kw) for c, kh, kw in offsets]
        res["x"] = [(n, c, h - ph, w - pw) for (_, c, h, w) in padded if g.inside(h - ph, w - pw)]
        res["x_col"] = [(r, j) for r in range(len(offsets))]
        res["w_row"] = [(f, r) for r in range(len(offsets))]
        if array == "out":
            res["wx_row"] = [(f, j)]
            res["b"] = [(f,)]
    elif array == "x_padded":
        n, c, hp, wp = index
        res["x"] = [(n, c, hp - ph, wp - pw)] if g.inside(hp - ph, wp - pw) else []
    elif array == "x_col":
        r, j = index
        c, kh, kw = row_to_offset(r, C, KH, KW)
        n, oh, ow = col_to_window(j, N, g.OH, g.OW)
        hp, wp = g.cell(oh, ow, kh, kw)
        res["x_padded"] = [(n, c, hp, wp)]
        res["x"] = [(n, c, hp - ph, wp - pw)] if g.inside(hp - ph, wp - pw) else []
    elif array == "w_row":
        f, r = index
        res["w"] = [(f, *row_to_offset(r, C, KH, KW))]
    elif array == "dout_row":
        f, j = index
        n, oh, ow = col_to_window(j, N, g.OH, g.OW)
        res["dout"] = [(n, f, oh, ow)]
    elif array == "dw":
        f, c, kh, kw = index
        r = g.row(c, kh, kw)
        windows = [(n, oh, ow) for n in range(N) for oh in range(g.OH) for ow in range(g.OW)]
        res["dout_row"] = [(f, g.col(*win)) for win in windows]  # paired with x_col
        res["x_col"] = [(r, g.col(*win)) for win in windows]
        cells = [(n, oh, ow, *g.cell(oh, ow, kh, kw)) for n, oh, ow in windows]
        inside = [(n, oh, ow, hp, wp) for n, oh, ow, hp, wp in cells if g.inside(hp - ph, wp - pw)]
        res["x"] = [(n, c, hp - ph, wp - pw) for n, _, _, hp, wp in inside]  # paired with dout
        res["dout"] = [(n, f, oh, ow) for n, oh, ow, _, _ in inside]
    elif array == "db":
        (f,) = index
        res["dout"] = [(n, f, oh, ow) for n in range(N) for oh in range(g.OH) for ow in range(g.OW)]
        res["dout_row"] = [(f, j) for j in range(N * g.OH * g.OW)]
    elif array == "dx_col":
        r, j = index
        c, kh, kw = row_to_offset(r, C, KH, KW)
        n, oh, ow = col_to_window(j, N, g.OH, g.OW)
        res["w_row"] = [(f, r) for f in range(F)]  # paired with dout_row
        res["dout_row"] = [(f, j) for f in range(F)]
        res["w"] = [(f, c, kh, kw) for f in range(F)]  # paired with dout
        res["dout"] = [(n, f, oh, ow) for f in range(F)]
    elif array == "dx_padded":
        n, c, hp, wp = index
        dx_sources(n, c, hp, wp)
    elif array in ("dx", "dx_full_conv"):
        n, c, h, w = index
        dx_sources(n, c, h + ph, w + pw)
        if array == "dx":
            res["dx_padded"] = [(n, c, h + ph, w + pw)]
        else:
            del res["dx_col"]
            # dx_full_conv[n, c, h, w] = Σ dout_padded[n, f, hp + kh, wp + kw] · w_rot[c, f, kh, kw]
            hp, wp = h + ph, w + pw
            pairs = [(f, kh, kw) for f in range(F) for kh in range(g.KHe) for kw in range(g.KWe)]
            res["dout_padded"] = [(n, f, hp + kh, wp + kw) for f, kh, kw in pairs]
            res["w_rot"] = [(c, f, kh, kw) for f, kh, kw in pairs]
    elif array in ("dout_dilated", "dout_padded"):
        n, f, i, j = index
        if array == "dout_padded":
            i, j = i - (g.KHe - 1), j - (g.KWe - 1)
        oh, ri = divmod(i, g.sh)
        ow, rj = divmod(j, g.sw)
        hit = not ri and not rj and 0 <= oh < g.OH and 0 <= ow < g.OW
        res["dout"] = [(n, f, oh, ow)] if hit else []
    elif array == "w_rot":
        c, f, kh, kw = index
        th, rh = divmod(g.KHe - 1 - kh, g.dh)  # the tap of w under this entry of the spread-out kernel
        tw, rw = divmod(g.KWe - 1 - kw, g.dw)
        res["w"] = [] if rh or rw else [(f, c, th, tw)]
    # inputs (x, w, b, dout) and dropped_rows/dropped_cols come from nothing else
    return res
