"""The convolution lab's view: engine arrays for a state, laid out for the templates.

Every number shown comes from one registry call (``conv2d``: run + step records); this
module only arranges them into grids and labels.
"""

from __future__ import annotations

import numpy as np

from app.settings import Settings
from app.web.kit.routes import Shown
from app.web.labs.conv import backward
from app.web.labs.conv.state import ConvState, fit_dout, out_shape
from app.web.render.heatmap import Heatmaps, batched, heatmap, scale_max
from app.web.render.numbers import cell_text
from engine.explain.conv import window_terms
from engine.ops.im2col import conv_output_size
from engine.records import OpInputError
from engine.registry import prepare, run_op

MAX_ROWS, MAX_COLS = 36, 40  # matrices larger than this are shown cut, and say so


def _params(state: ConvState) -> dict:
    return {"stride": state.stride, "pad": state.pad}


def compute(state: ConvState):
    """(state with dout fitted, arrays, steps by name) — raises OpInputError for impossible settings."""
    shape = out_shape(state)
    if shape is not None:
        state = fit_dout(state, shape)
    op, arrays, params = prepare("conv2d", state.inputs(shape), _params(state))
    result = op.run(arrays, params)
    steps = {s.name: s for s in op.steps(result, params)}  # made from run's arrays: one computation
    return state, result, steps


def _matrix(values: np.ndarray, array: str, row_labels, col_labels, vmax=None, tables: Heatmaps | None = None) -> dict:
    """A 2-D matrix grid, cut to MAX_ROWS × MAX_COLS with a note of what is hidden (a table, whatever its size: its
    cells' hover shows where each came from); added to ``tables`` when given (written by its render)."""
    rows, cols = values.shape
    options = {"vmax": scale_max(values) if vmax is None else vmax, "row_labels": row_labels[:MAX_ROWS],
               "col_labels": col_labels[:MAX_COLS], "hidden_rows": max(0, rows - MAX_ROWS),
               "hidden_cols": max(0, cols - MAX_COLS), "shape_text": f"{rows} × {cols}"}
    cut = values[:MAX_ROWS, :MAX_COLS]
    return heatmap(cut, array, **options) if tables is None else tables.add(cut, array, **options)


def output_size_latex(state: ConvState) -> list[str]:
    """The output-size formula of each axis with the numbers in; each axis on its own."""
    _, _, H, W = state.x.shape
    _, _, KH, KW = state.w.shape
    s, p = state.stride, state.pad
    lines = []
    for axis, size, k in (("H", H, KH), ("W", W, KW)):
        o = conv_output_size(size, k, s, p)
        result = str(o) if o >= 1 else rf"{o} < 1\text{{: no window fits}}"
        lines.append(rf"O_{axis} = \left\lfloor \frac{{{axis} + 2p - K_{axis}}}{{s}} \right\rfloor + 1"
                     rf" = \left\lfloor \frac{{{size} + 2\cdot{p} - {k}}}{{{s}}} \right\rfloor + 1 = {result}")
    return lines


def window(result: dict, step: int, image_over: int | None = None) -> dict:
    """The sliding window at output position ``step`` (flat index into out), with its terms."""
    out = result["out"]
    N, F, OH, OW = out.shape
    n, f, oh, ow = (int(i) for i in np.unravel_index(step % out.size, out.shape))
    terms = window_terms(result["x_padded"], result["w"], result["b"], int(result["stride"]), n, f, oh, ow)
    C, KH, KW = terms.products.shape
    padded = result["x_padded"]
    s = int(result["stride"])
    in_window = np.zeros(padded.shape[2:], dtype=bool)
    in_window[oh * s:oh * s + KH, ow * s:ow * s + KW] = True
    grids = Heatmaps(image_over)
    vmax, prod_vmax, win_vmax, w_vmax = (scale_max(a) for a in (padded, terms.products, terms.x_window, result["w"]))
    mask = _padding_mask(result)
    planes_ = [grids.add(padded[n, c], "x_padded", prefix=(n, c), vmax=vmax, mark=mask, window=in_window,
                         title=f"x_padded, n={n}, c={c}") for c in range(C)]
    products = [grids.add(terms.products[c], "products", prefix=(c,), vmax=prod_vmax, title=f"x ⊙ w, c={c}")
                for c in range(C)]
    x_window = [grids.add(terms.x_window[c], "x_window", prefix=(c,), vmax=win_vmax, title=f"window, c={c}")
                for c in range(C)]
    kernel = [grids.add(result["w"][f, c], "w", prefix=(f, c), vmax=w_vmax, title=f"w, f={f}, c={c}")
              for c in range(C)]
    grids.render()
    return {"step": step % out.size, "count": out.size, "n": n, "f": f, "oh": oh, "ow": ow,
            "rows": (oh * s, oh * s + KH - 1), "cols": (ow * s, ow * s + KW - 1), "x_window": x_window,
            "planes": planes_, "kernel": kernel, "products": products, "latex": terms.latex,
            "total": cell_text(terms.total), "bias": cell_text(terms.bias),
            "out": cell_text(terms.out)}


def _padding_mask(result: dict) -> np.ndarray:
    """True where x_padded holds padding or rows/columns no window reaches."""
    padded = result["x_padded"]
    Hp, Wp = padded.shape[2:]
    p = int(result["pad"]) if "pad" in result else 0
    mask = np.zeros((Hp, Wp), dtype=bool)
    if p:
        mask[:p, :] = mask[-p:, :] = True
        mask[:, :p] = mask[:, -p:] = True
    dr, dc = int(result["dropped_rows"]), int(result["dropped_cols"])
    if dr:
        mask[Hp - dr:, :] = True
    if dc:
        mask[:, Wp - dc:] = True
    return mask


@batched
def build(state: ConvState, image_over: int | None = None) -> dict:
    """Everything the lab draws; ``error`` set when the engine refuses the setting. Planes of more than
    ``image_over`` cells (``Settings.plane_image_cells``) are drawn as images (app.web.render.plane)."""
    N, C, H, W = state.x.shape
    F, _, KH, KW = state.w.shape
    view = {"state": state, "dims": {"N": N, "C": C, "H": H, "W": W, "F": F, "KH": KH, "KW": KW}}
    view["size_latex"] = output_size_latex(state)
    try:
        state, result, steps = compute(state)
    except OpInputError as exc:
        view["inputs"] = input_images(state, image_over)
        view["error"] = {"field": exc.field, "message": exc.message}
        return view
    result = {**result, "stride": state.stride, "pad": state.pad}
    view["state"] = state
    _, _, OH, OW = result["out"].shape
    # the summary always; of the three sections only the open one (an edit re-renders just these). The summary's
    # planes are the sections' too (the same dicts, written once), every plane of the view coloured in one batch.
    grids = Heatmaps(image_over)
    view["inputs"] = input_images(state, image_over, grids)  # dout fitted to the output
    view["out"] = grids.planes(result["out"], "out", ("n", "f"))
    view["dout"] = grids.planes(result["dout"], "dout", ("n", "f"))
    view["dx"] = grids.planes(result["dx"], "dx", ("n", "c"), scale_max(result["dx"], result["dx_full_conv"]))
    if state.tab == "im2col":
        view.update(_forward_view(result, steps, N, C, F, KH, KW, OH, OW, grids, view["out"]))
    elif state.tab == "backward":
        view.update(_backward_view(result, steps, N, C, F, KH, KW, OH, OW, grids, view["dout"], view["dx"]))
    grids.render()
    if state.tab == "backward":
        view["walk"] = backward.walk(result, state, image_over)
    else:
        view["window"] = window(result, state.step, image_over)
    view["dropped"] = {"rows": int(result["dropped_rows"]), "cols": int(result["dropped_cols"])}
    return view


def input_images(state: ConvState, image_over: int | None, grids: Heatmaps | None = None) -> dict[str, list[dict]]:
    """The inputs whose planes are drawn as editable images (more than ``image_over`` cells), by name: x, a
    typed dout; the others stay grids of cells (kit/grid.html). Added to ``grids`` (written by its render) when
    given, else written now."""
    arrays = {"x": (state.x, ("n", "c")), "w": (state.w, ("f", "c"))}
    if state.dout_mode == "typed" and state.dout_typed is not None:
        arrays["dout"] = (state.dout_typed, ("n", "f"))
    batch = Heatmaps() if grids is None else grids
    images = {name: batch.planes(values, name, names, label=name, image_over=image_over, editable=True)
              for name, (values, names) in arrays.items()
              if image_over is not None and values.shape[2] * values.shape[3] > image_over}
    if grids is None:
        batch.render()
    return images


def show(state: ConvState, settings: Settings, part: str) -> Shown:
    """The lab's ``show`` (app.web.kit.routes.LabSpec): the view, its planes above the settings' size as images."""
    view = build(state, settings.plane_image_cells)
    return Shown({"view": view}, view["state"], 422 if "error" in view else 200)


def _labels(N, C, F, KH, KW, OH, OW):
    rows = [f"c{c} ({kh},{kw})" for c in range(C) for kh in range(KH) for kw in range(KW)]
    cols = [f"n{n} ({oh},{ow})" for n in range(N) for oh in range(OH) for ow in range(OW)]
    return rows, cols, [f"f{f}" for f in range(F)]


def _forward_view(result, steps, N, C, F, KH, KW, OH, OW, grids: Heatmaps, out: list[dict]) -> dict:
    """The im2col section; its planes added to ``grids``, ``out`` the summary's planes of out (the same)."""
    rows, cols, filters = _labels(N, C, F, KH, KW, OH, OW)
    tables = Heatmaps()  # matrices stay tables (cut), whatever their size
    view = {
        "x_padded": grids.planes(result["x_padded"], "x_padded", ("n", "c"), mark=_padding_mask(result)),
        "out": out,
        "x_col": _matrix(result["x_col"], "x_col", rows, cols, tables=tables),
        "w_row": _matrix(result["w_row"], "w_row", filters, rows, tables=tables),
        "wx_row": _matrix(result["wx_row"], "wx_row", filters, cols, tables=tables),
        "bias": tables.add(result["b"][:, None], "b", row_labels=filters),
        "forward_steps": [steps[k] for k in ("pad", "im2col", "matmul", "bias")],
    }
    tables.render()
    return view


def _backward_view(result, steps, N, C, F, KH, KW, OH, OW, grids: Heatmaps, dout: list[dict],
                   dx: list[dict]) -> dict:
    """The backward section; its planes added to ``grids``, ``dout`` and ``dx`` the summary's planes (the same)."""
    rows, cols, filters = _labels(N, C, F, KH, KW, OH, OW)
    dx_vmax = scale_max(result["dx"], result["dx_full_conv"])
    diff = float(np.max(np.abs(result["dx"] - result["dx_full_conv"])))
    tables = Heatmaps()  # matrices and the small planes (dw, w_rot: kernel-sized) stay tables
    view = {
        "dout": dout,
        "dout_row": _matrix(result["dout_row"], "dout_row", filters, cols, tables=tables),
        "dw": tables.planes(result["dw"], "dw", ("f", "c")),
        "db": tables.add(result["db"][:, None], "db", row_labels=filters),
        "dx_col": _matrix(result["dx_col"], "dx_col", rows, cols, tables=tables),
        "dx": dx,
        "dx_full_conv": grids.planes(result["dx_full_conv"], "dx_full_conv", ("n", "c"), dx_vmax),
        "w_rot": tables.planes(result["w_rot"], "w_rot", ("c", "f")),
        "dx_agree": {"max_diff": cell_text(diff), "agree": diff <= 1e-9 * max(1.0, dx_vmax)},
        "dx_transpose": _transposed(result, C, dx_vmax),
        "backward_steps": [steps[k] for k in ("dout_row", "dw", "db", "dx_col", "col2im", "full_conv")],
    }
    tables.render()
    return view


def _transposed(result: dict, C: int, dx_vmax: float) -> dict:
    """dx a third way: the transposed convolution of dout with w (conv_transpose2d), the rows/columns no window
    reached given back as output_padding — equal to dx."""
    params = {"stride": result["stride"], "pad": result["pad"],
              "output_padding": [int(result["dropped_rows"]), int(result["dropped_cols"])]}
    out = run_op("conv_transpose2d", {"x": result["dout"], "w": result["w"], "b": np.zeros(C)}, params)["out"]
    diff = float(np.max(np.abs(out - result["dx"])))
    return {"max_diff": cell_text(diff), "agree": diff <= 1e-9 * max(1.0, dx_vmax),
            "output_padding": params["output_padding"]}
