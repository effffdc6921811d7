"""The conv lab's backward stepper: dx cell by cell (the full convolution beside col2im's adds) or dw
cell by cell (x_pad's taps ⊙ dout, and dout_row · x_colᵀ), laid out for templates/conv/walk.html.

Every number comes from :mod:`engine.explain.conv_backward` on the lab's one conv2d run.
"""

from __future__ import annotations

import numpy as np

from app.web.render.heatmap import Heatmaps, scale_max
from app.web.render.numbers import cell_text
from engine.explain.conv_backward import db_sums, dw_window, dx_window, geometry, lines_tex
from engine.explain.transposed import MAX_SIDE, conv_matrix, small_enough
from engine.tex import tex_number


def _params(state) -> dict:
    return {"stride": state.stride, "pad": state.pad}


def _not_dout(result: dict, g) -> np.ndarray:
    """(rows, cols) of dout_padded that hold no dout value: the padding and the stride's dilation zeros."""
    Hd, Wd = result["dout_padded"].shape[2:]
    real = np.zeros((Hd, Wd), dtype=bool)
    KH, KW = result["w_rot"].shape[2:]
    real[KH - 1:KH - 1 + (g.OH - 1) * g.sh + 1:g.sh, KW - 1:KW - 1 + (g.OW - 1) * g.sw + 1:g.sw] = True
    return ~real


def walk(result: dict, state, image_over: int | None = None) -> dict:
    """The backward stepper at ``state.walk_step`` of ``state.walk``; db's sums always."""
    params = _params(state)
    g = geometry(result, params)
    view = {"walk": state.walk, "db": db_sums(result, params)}
    if state.walk == "dw":
        count = result["dw"].size
        step = state.walk_step % count
        view.update(_dw(result, params, g, *np.unravel_index(step, result["dw"].shape), image_over=image_over))
    else:
        count = result["dx"].size
        step = state.walk_step % count
        view.update(_dx(result, params, g, *np.unravel_index(step, result["dx"].shape), image_over=image_over))
    view.update(step=step, count=count)
    view["transposed"] = transposed(result, state, view["cell"] if state.walk == "dx" else None)
    return view


def transposed(result: dict, state, cell: tuple[int, int, int, int] | None) -> dict:
    """The convolution as a matrix C (out = C·vec(x) + b) and dx = Cᵀ·vec(dout) for one sample, the dx
    stepper's cell (n, c, h, w) picking the sample and the row of Cᵀ; ``small`` False when C is too large."""
    x, w, dout = result["x"], result["w"], result["dout"]
    OH, OW = result["out"].shape[2:]
    if not small_enough(x.shape, w.shape, (OH, OW)):
        F, C, H, W = w.shape[0], *x.shape[1:]
        return {"small": False, "rows": F * OH * OW, "cols": C * H * W, "max": MAX_SIDE}
    m = conv_matrix(w, x.shape, state.stride, state.pad)
    n = cell[0] if cell else 0
    grids = Heatmaps()
    ct = m.C.T
    here = np.zeros(ct.shape, dtype=bool)
    dx_here = np.zeros((ct.shape[0], 1), dtype=bool)
    view = {"small": True, "n": n, "shape": m.C.shape}
    if cell is not None:
        r = m.col_of(*cell[1:])
        here[r, :] = True
        dx_here[r, 0] = True
        pairs = [rf"{tex_number(ct[r, k], 4, parens=True)}\cdot{tex_number(v, 4, parens=True)}"
                 for k, v in enumerate(dout[n].ravel()) if ct[r, k] != 0]
        view["row_latex"] = lines_tex(rf"\text{{dx}}[{n},{cell[1]},{cell[2]},{cell[3]}]", pairs,
                                      tex_number(float(result["dx"][cell]), 6), per_line=5,
                                      via=rf"C^{{\top}}[{r},:]\cdot\operatorname{{vec}}(\text{{dout}}[{n}])")
        view["row"] = r
    vmax = scale_max(m.C)
    view["ct"] = grids.add(ct, "", vmax=vmax, row_labels=m.col_labels, col_labels=m.row_labels, window=here,
                           title=f"Cᵀ ({ct.shape[0]} × {ct.shape[1]})")
    gv = scale_max(dout, result["dx"])
    view["dout"] = grids.add(dout[n].reshape(-1, 1), "", vmax=gv, row_labels=m.row_labels,
                             title=f"vec(dout[{n}])")
    view["dx"] = grids.add(result["dx"][n].reshape(-1, 1), "", vmax=gv, row_labels=m.col_labels, window=dx_here,
                           title=f"vec(dx[{n}])")
    view["c"] = grids.add(m.C, "", vmax=vmax, row_labels=m.row_labels, col_labels=m.col_labels,
                          title=f"C ({m.C.shape[0]} × {m.C.shape[1]})")
    view["x"] = grids.add(x[n].reshape(-1, 1), "", row_labels=m.col_labels, title=f"vec(x[{n}])")
    view["out"] = grids.add(result["out"][n].reshape(-1, 1), "", row_labels=m.row_labels, title=f"vec(out[{n}])")
    grids.render()
    return view


def _dx(result, params, g, n, c, h, w, image_over=None) -> dict:
    n, c, h, w = int(n), int(c), int(h), int(w)
    win = dx_window(result, params, n, c, h, w)
    F, KH, KW = win.kernel.shape
    grids = Heatmaps(image_over)
    dp = result["dout_padded"]
    in_window = np.zeros(dp.shape[2:], dtype=bool)
    in_window[win.top:win.top + KH, win.left:win.left + KW] = True
    hollow = _not_dout(result, g)
    dp_vmax, rot_vmax, prod_vmax = scale_max(dp), scale_max(result["w_rot"]), scale_max(win.products)
    rows = []
    for f in range(F):
        rows.append({
            "f": f,
            "padded": grids.add(dp[n, f], "dout_padded", prefix=(n, f), vmax=dp_vmax, mark=hollow, window=in_window,
                                title=f"dout padded, n={n}, f={f}"),
            "window": grids.add(win.window[f], "", vmax=dp_vmax, title="window"),
            "kernel": grids.add(win.kernel[f], "w_rot", prefix=(c, f), vmax=rot_vmax, title=f"w_rot, c={c}, f={f}"),
            "products": grids.add(win.products[f], "", vmax=prod_vmax, title="products"),
        })
    here = np.zeros(result["dx"].shape[2:], dtype=bool)
    here[h, w] = True
    plane = grids.add(result["dx"][n, c], "dx", prefix=(n, c), vmax=scale_max(result["dx"]), window=here,
                      title=f"dx, n={n}, c={c}")
    grids.render()
    return {"cell": (n, c, h, w), "rows": rows, "plane": plane, "latex": win.latex, "total": cell_text(win.total),
            "value": cell_text(win.value), "agree": win.agree, "nonzero": win.nonzero, "terms": F * KH * KW,
            "top": win.top, "left": win.left, "kh": KH, "kw": KW, "adds": win.adds, "col2im_latex": win.col2im_latex,
            "stride": (g.sh, g.sw), "pad": (g.ph, g.pw)}


def _dw(result, params, g, f, c, kh, kw, image_over=None) -> dict:
    f, c, kh, kw = int(f), int(c), int(kh), int(kw)
    win = dw_window(result, params, f, c, kh, kw)
    grids = Heatmaps(image_over)
    xp = result["x_padded"]
    taps = np.zeros(xp.shape[2:], dtype=bool)
    taps[np.ix_(win.rows, win.cols)] = True
    pad = np.ones(xp.shape[2:], dtype=bool)
    pad[g.ph:g.ph + g.H, g.pw:g.pw + g.W] = False
    x_vmax, d_vmax, p_vmax = scale_max(xp), scale_max(result["dout"]), scale_max(win.products)
    samples = []
    for n in range(g.N):
        samples.append({
            "n": n,
            "padded": grids.add(xp[n, c], "x_padded", prefix=(n, c), vmax=x_vmax, mark=pad, window=taps,
                                title=f"x_padded, n={n}, c={c}"),
            "taps": grids.add(win.taps[n], "", vmax=x_vmax, title="the cells it touched"),
            "dout": grids.add(win.upstream[n], "dout", prefix=(n, f), vmax=d_vmax, title=f"dout, n={n}, f={f}"),
            "products": grids.add(win.products[n], "", vmax=p_vmax, title="products"),
        })
    here = np.zeros(result["dw"].shape[2:], dtype=bool)
    here[kh, kw] = True
    plane = grids.add(result["dw"][f, c], "dw", prefix=(f, c), vmax=scale_max(result["dw"]), window=here,
                      title=f"dw, f={f}, c={c}")
    grids.render()
    return {"cell": (f, c, kh, kw), "samples": samples, "plane": plane, "latex": win.latex,
            "matmul_latex": win.matmul_latex, "r": win.r, "total": cell_text(win.total), "value": cell_text(win.value),
            "agree": win.agree, "rows": win.rows, "cols": win.cols}
