"""The pooling lab's view: engine arrays for a state, laid out for the templates.

Every number shown comes from the engine: one registry call for the pooling op and one for
ReLU (``prepare`` → ``run`` + ``steps``), and ``engine.explain.pool`` for the window terms, the
routes of dout into dx and the ties. This module only arranges them into grids, labels and
the routing drawing's coordinates.
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import lru_cache

import numpy as np

from app.settings import Settings
from app.web.kit.routes import Shown
from app.web.labs.pool.activations import activations
from app.web.labs.pool.state import PoolState, fit_typed
from app.web.render.heatmap import Heatmaps, KeyedCells, batched, colours, keyed, planes, scale_max
from app.web.render.memo import Memo
from app.web.render.numbers import cell_text, exact_text
from engine.explain import pool as pool_lab
from engine.records import OpInputError
from engine.registry import prepare

DETAIL_CELLS = 512  # above this many cells of x, the detail sections draw only the stepper's plane
MAX_ROUTES = 48  # lines of "dx[...] = dout[...] + …" listed; hovering shows any other cell
INDEX = {"colour": "none", "kind": "heatmap--index"}  # index grids are labels, not values: no colour scale


def compute(state: PoolState):
    """(state with typed douts fitted, pool arrays, pool steps by name, relu arrays, relu steps by name).

    Raises OpInputError when the pooling cannot run (a window larger than the input).
    """
    state = fit_typed(state)
    op, arrays, params = prepare(state.op, state.pool_inputs(), state.params)
    result = op.run(arrays, params)
    steps = {s.name: s for s in op.steps(result, params)}  # made from run's arrays: one computation
    rop, rarrays, rparams = prepare("relu", state.relu_inputs(), {})
    relu = rop.run(rarrays, rparams)
    relu_steps = {s.name: s for s in rop.steps(relu, rparams)}
    return state, result, steps, relu, relu_steps


def _idx(index) -> str:
    return ",".join(str(int(i)) for i in index)


def _tip(array: str, prefix: tuple[int, ...], notes: dict | None = None):
    """A cell's tooltip: ``x[n,c,h,w] = <exact value><note>``, where the cell hides digits or has a note."""
    pre = _idx(prefix) + ","

    def tip(i: int, j: int, v: float, text: str) -> str:
        note = notes.get((i, j), "") if notes else ""
        if not note and v.is_integer():  # the cell already shows every digit
            return ""
        full = exact_text(v)
        return f"{array}[{pre}{i},{j}] = {full}{note}" if note or text != full else ""
    return keyed(tip, "pool", array, pre, tuple(sorted(notes.items())) if notes else ())


def _planes(grids: Heatmaps, values: np.ndarray, array: str, vmax: float, label: str, classes=None, attrs=None,
            notes=None, cell_classes: np.ndarray | None = None, **options) -> list[dict]:
    """Every (n, c) plane of an (N, C, H, W) array titled "<label>, n=…, c=…"; ``classes``/``attrs``/``notes``
    map (n, c) to that plane's per-cell dicts; ``cell_classes`` is a class name per cell of ``values``."""
    def per_plane(n: int, c: int) -> dict:
        mine = {"tip": _tip(array, (n, c), (notes or {}).get((n, c)))}
        if classes:
            mine["classes"] = classes.get((n, c))
        if attrs:
            mine["attrs"] = attrs.get((n, c))
        return mine
    return grids.planes(values, array, vmax=vmax, label=label, per_plane=per_plane, classes=cell_classes, **options)


def _dropped_mask(shape: tuple[int, int], dropped_rows: int, dropped_cols: int) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    if dropped_rows:
        mask[shape[0] - dropped_rows:, :] = True
    if dropped_cols:
        mask[:, shape[1] - dropped_cols:] = True
    return mask


def _x_planes(grids: Heatmaps, result: dict, state: PoolState, vmax: float, ties: np.ndarray | None,
              only: tuple[int, int] | None) -> list[dict]:
    """x with every window's winner flagged (max pooling), tied losers dashed, unreached cells hatched."""
    x = result["x"]
    N, C, H, W = x.shape
    mask = _dropped_mask((H, W), int(result["dropped_rows"]), int(result["dropped_cols"]))
    classes: dict = {}
    attrs: dict = {}
    titles: dict = {}
    image = grids.image_over is not None and H * W > grids.image_over  # an image draws no winners
    if "argmax" in result and not image:
        argmax, windows, out = result["argmax"], result["windows"], result["out"]
        s = state.stride
        won: dict[tuple[int, int, int, int], list[str]] = {}
        for n, c, r, q in np.ndindex(argmax.shape):
            if only is not None and (n, c) != only:
                continue
            h, w = divmod(int(argmax[n, c, r, q]), W)
            won.setdefault((n, c, h, w), []).append(f"{n},{c},{r},{q}")
            if ties is not None and ties[n, c, r, q] >= 2:
                for kh, kw in np.argwhere(windows[n, c, r, q] == out[n, c, r, q]):
                    classes.setdefault((n, c), {})[(r * s + int(kh), q * s + int(kw))] = "tie-loser"
        for (n, c, h, w), outs in won.items():
            classes.setdefault((n, c), {})[(h, w)] = "winner"
            attrs.setdefault((n, c), {})[(h, w)] = {"data-wins": " ".join(outs)}
            titles.setdefault((n, c), {})[(h, w)] = f" — wins out[{'], out['.join(outs)}]"
    return _planes(grids, x, "x", vmax, "x", mark=mask, classes=classes, attrs=attrs, notes=titles, only=only)


def _out_planes(grids: Heatmaps, result: dict, vmax: float) -> list[dict]:
    attrs: dict = {}
    if "argmax" in result:
        argmax, W = result["argmax"], result["x"].shape[3]
        for n, c in np.ndindex(argmax.shape[:2]):
            plane = np.ascontiguousarray(argmax[n, c])
            attrs[(n, c)] = _winners(n, c, W, plane.shape, plane.dtype.str, plane.tobytes())
    return _planes(grids, result["out"], "out", vmax, "out", attrs=attrs)


@lru_cache(maxsize=64)
def _winners(n: int, c: int, W: int, shape: tuple[int, int], dtype: str, argmax: bytes) -> KeyedCells:
    """Each out cell's data-winner: the x cell that won its window (shared by the edits that leave plane (n, c) of
    argmax as it was: most do; never changed), keyed by what it is made from (its table's key need not list it)."""
    flat = np.frombuffer(argmax, dtype=dtype).tolist()
    cells = {(r, q): {"data-winner": f"{n},{c},{a // W},{a % W}"} for (r, q), a in zip(np.ndindex(shape), flat,
                                                                                        strict=True)}
    return KeyedCells(cells, "winners", n, c, W, shape, dtype, argmax)


def size_latex(state: PoolState) -> list[str]:
    """Output size lines for when the engine refuses the setting (it then has no steps to give)."""
    _, _, H, W = state.x.shape
    k, s = state.size, state.stride
    return [rf"O_{axis} = \left\lfloor \frac{{{axis} - k}}{{s}} \right\rfloor + 1 = \left\lfloor \frac{{{n} - {k}}}"
            rf"{{{s}}} \right\rfloor + 1" for axis, n in (("H", H), ("W", W))]


def split_size_latex(latex: str) -> list[str]:
    """The engine's window-and-size formula as lines that fit a laptop: the window, OH, OW."""
    head, sep, tail = latex.partition(r"\quad")
    if not sep:
        return [latex]
    oh, sep, ow = tail.partition(r",\ OW")
    return [head, oh.strip(), "OW" + ow] if sep else [head, tail.strip()]


def show(state: PoolState, settings: Settings, part: str) -> Shown:
    """The lab's ``show`` (app.web.kit.routes.LabSpec): the view, its planes above the settings' size as images."""
    view = build(state, settings.plane_image_cells)
    return Shown({"view": view}, view["state"], 422 if "error" in view else 200)


def input_images(state: PoolState, image_over: int | None) -> dict[str, list[dict]]:
    """The inputs whose planes are drawn as editable images (more than ``image_over`` cells), by name: x and the
    typed douts; the others stay grids of cells (kit/grid.html)."""
    arrays = {"x": state.x}
    if state.dout_mode == "typed":
        arrays.update(dout=state.dout_typed, relu_dout=state.relu_dout_typed)
    return {name: planes(values, name, ("n", "c"), label=name, image_over=image_over, editable=True)
            for name, values in arrays.items()
            if values is not None and image_over is not None and values.shape[2] * values.shape[3] > image_over}


@batched
def build(state: PoolState, image_over: int | None = None) -> dict:
    """Everything the lab draws; ``error`` set when the engine refuses the setting. Planes of more than
    ``image_over`` cells (``Settings.plane_image_cells``) are drawn as images (app.web.render.plane), and the
    routing drawing is left out for them (hundreds of arrows)."""
    N, C, H, W = state.x.shape
    is_max = state.pool == "max"
    view: dict = {"state": fit_typed(state), "dims": {"N": N, "C": C, "H": H, "W": W}, "is_max": is_max,
                  "op_title": "Max pooling" if is_max else "Average pooling"}
    view["inputs"] = input_images(view["state"], image_over)
    try:
        state, result, steps, relu, relu_steps = compute(state)
    except OpInputError as exc:
        view["error"] = {"field": exc.field, "message": exc.message}
        view["size_latex"] = size_latex(state)
        return view
    out = result["out"]
    if state.step % out.size != state.step:  # (the same state object otherwise: its link is written once)
        state = replace(state, step=state.step % out.size)
    view["state"] = state
    step_plane = tuple(int(i) for i in np.unravel_index(state.step, out.shape)[:2])
    only = step_plane if state.x.size > DETAIL_CELLS else None  # large inputs: details for one plane
    ties = pool_lab.tie_counts(result) if is_max else None
    xvmax = scale_max(result["x"])
    gvmax = scale_max(result["dout"], result["dx"])
    grids = Heatmaps(image_over)  # every grid of the page coloured in one pass (x is drawn up to four times)
    view.update({
        "size_step": steps["windows"],
        "size_lines": split_size_latex(steps["windows"].latex),
        "forward_step": steps["max" if is_max else "mean"],
        "backward_step": steps["route" if is_max else "spread"],
        "dropped": {"rows": int(result["dropped_rows"]), "cols": int(result["dropped_cols"])},
        "only": only,
        "x": _x_planes(grids, result, state, xvmax, ties, only),
        "out": _out_planes(grids, result, xvmax),  # out holds values of x: one colour scale for both
        "dout": _planes(grids, result["dout"], "dout", gvmax, "dout", only=only),
        "dx": _planes(grids, result["dx"], "dx", gvmax, "dx"),
        "xvmax": cell_text(xvmax), "gvmax": cell_text(gvmax),
    })
    if is_max:
        view["window_argmax"] = _planes(grids, result["window_argmax"], "window_argmax", 1.0, "window_argmax",
                                        **INDEX)
        view["argmax"] = _planes(grids, result["argmax"], "argmax", 1.0, "argmax", only=only, **INDEX)
        view["ties"] = _ties(result, ties, state)
    for name in ("out", "dx", "window_argmax"):  # the detail sections reuse the summary's grids
        if name in view:
            view[name + "_detail"] = view[name] if only is None else [view[name][only[0] * C + only[1]]]
    view["routes"], view["routes_hidden"], view["routes_adding"] = _routes(state, result)
    view["window"] = window(grids, state, result, drawn=image_over is None or H * W <= image_over)
    view["relu"] = _relu(grids, relu, relu_steps, *step_plane, only)
    view["activations"] = activations(grids, relu, *step_plane)
    grids.render()
    return view


def _ties(result: dict, ties: np.ndarray, state: PoolState) -> dict:
    """The windows whose maximum is shared, each with the cells that tie and the one that wins."""
    listed = []
    W = result["x"].shape[3]
    k, s = state.size, state.stride
    tied = np.argwhere(ties >= 2)
    for n, c, r, q in tied[:12]:
        win = result["windows"][n, c, r, q]
        cells = [(int(r * s + i), int(q * s + j)) for i, j in np.argwhere(win == result["out"][n, c, r, q])]
        h, w = divmod(int(result["argmax"][n, c, r, q]), W)
        listed.append({"out": f"{n},{c},{r},{q}", "value": cell_text(float(result["out"][n, c, r, q])),
                       "cells": [f"({a}, {b})" for a, b in cells], "winner": f"({h}, {w})",
                       "window_argmax": int(result["window_argmax"][n, c, r, q]), "k": k})
    return {"count": len(tied), "windows": listed, "hidden": max(0, len(tied) - 12)}


# The routes listed are made from dout, dx, the winners and x's shape alone; a pixel edit seldom moves a winner, so
# most edits list the routes the last one did (the CIFAR preset's 48 lines are ~0.5 ms to write).
_ROUTES = Memo(limit=1 << 20)


def _routes(state: PoolState, result: dict) -> tuple[list[dict], int, int]:
    """The first MAX_ROUTES "dx[…] = dout[…] + …" lines, how many more there are, how many cells add up."""
    read = [result[name] for name in ("dout", "dx", *(("argmax",) if state.op == "maxpool2d" else ()))]
    key = (state.op, state.size, state.stride, result["x"].shape, *((a.shape, a.dtype.str, a.tobytes()) for a in read))
    kept = _ROUTES.get(key)
    if kept is not None:
        return kept
    lines: list[dict] = []
    N, C = result["x"].shape[:2]
    for n, c in np.ndindex(N, C):
        if len(lines) >= MAX_ROUTES:
            break
        for r in pool_lab.routes(state.op, result, state.size, state.stride, (n, c), MAX_ROUTES - len(lines)):
            lines.append({"text": r.text, "adds": len(r.sources) > 1, "idx": _idx(r.dx_index),
                          "sources": " ".join(_idx(s) for s in r.sources)})
    total, adding = pool_lab.route_counts(state.op, result, state.size, state.stride)
    answer = lines, total - len(lines), adding
    _ROUTES.put(key, answer, sum(len(line["text"]) + len(line["sources"]) for line in lines) + 64 * len(lines))
    return answer


# ---------------------------------------------------------------- the window stepper and the routing drawing

CELL, GAP, PAD = 60, 6, 16  # routing drawing: cell side, gap, outer padding (px)
TOKEN_R, TOKEN_CHAR = 13, 7.2  # a dout token's radius, and a character of its 11 px bold number (pool.css), px
VALUE_PX, VALUE_CHAR = 12, 7.3  # a dx cell's number: its font size and one character's width at that size (pool.css)


def value_size(text: str) -> float | None:
    """The font size (px) that fits a dx cell's number inside its cell, 3 px from each side; None: the
    stylesheet's VALUE_PX fits it (up to 7 characters). −0.0001234 at 12 px ran past its cell and off the drawing."""
    room = CELL - 6
    return None if VALUE_CHAR * len(text) <= room else math.floor(10 * VALUE_PX * room / (VALUE_CHAR * len(text))) / 10


def window(grids: Heatmaps, state: PoolState, result: dict, drawn: bool = True) -> dict:
    """The window at output position ``state.step`` (flat index into out), term by term, and the routing drawing
    (None unless ``drawn``)."""
    out = result["out"]
    index = tuple(int(i) for i in np.unravel_index(state.step % out.size, out.shape))
    win = pool_lab.pool_window(state.op, result, state.size, state.stride, index)
    n, c, oh, ow = index
    H, W = result["x"].shape[2:]
    k = state.size
    in_window = np.zeros((H, W), dtype=bool)
    in_window[win.rows[0]:win.rows[1] + 1, win.cols[0]:win.cols[1] + 1] = True
    xvmax = scale_max(result["x"])
    tied = set(win.tied) if len(win.tied) > 1 else set()
    plane_cls = {} if win.winner_x is None else {tuple(win.winner_x[2:]): "winner"}
    plane = grids.add(result["x"][n, c], "x", prefix=(n, c), vmax=xvmax, window=in_window, classes=plane_cls,
                      mark=_dropped_mask((H, W), int(result["dropped_rows"]), int(result["dropped_cols"])),
                      tip=_tip("x", (n, c)), title=f"x, n={n}, c={c}")
    value_cls = {cell: "tie-loser" for cell in tied}
    if win.winner is not None:
        value_cls[win.winner] = "winner"
    subs = {(i, j): str(i * k + j) for i in range(k) for j in range(k)}  # the row-major index window_argmax counts
    values = grids.add(win.values, "windows", prefix=(n, c, oh, ow), vmax=xvmax, classes=value_cls, subs=subs,
                       tip=_tip("windows", (n, c, oh, ow)), title=f"window of out[{n}, {c}, {oh}, {ow}]")
    routed = pool_lab.routing_step(state.op, result, state.size, state.stride, index)
    gvmax = scale_max(result["dout"], result["dx"])
    landing = np.zeros((H, W), dtype=bool)
    for t in routed.targets:
        landing[t[2:]] = True
    routing = {"before": grids.add(routed.before, "", vmax=gvmax, window=landing, title="dx before"),
               "after": grids.add(routed.after, "", vmax=gvmax, window=landing,
                                  title="dx after" + (" = dx" if routed.complete else "")),
               "lines": routed.lines, "routed": routed.routed, "total": routed.total, "complete": routed.complete,
               "dout": cell_text(routed.dout), "share": cell_text(routed.share), "targets": len(routed.targets)}
    return {"step": state.step % out.size, "count": out.size, "n": n, "c": c, "oh": oh, "ow": ow, "routing": routing,
            "rows": win.rows, "cols": win.cols, "plane": plane, "window_grid": values, "latex": win.latex,
            "backward_latex": win.backward_latex, "winner": win.winner, "winner_x": win.winner_x,
            "window_argmax": None if win.winner is None else win.winner[0] * k + win.winner[1],
            "argmax": win.argmax, "tied": sorted(tied), "is_tie": bool(tied), "k": k,
            "out": cell_text(win.out), "dout": cell_text(win.dout),
            "drawing": _drawing(state, result, index) if drawn else None}


def _centre(h: float, w: float) -> tuple[float, float]:
    return PAD + w * (CELL + GAP) + CELL / 2, PAD + h * (CELL + GAP) + CELL / 2


def _drawing(state: PoolState, result: dict, current: tuple[int, int, int, int]) -> dict:
    """Coordinates of the routing drawing for plane (n, c): dx's cells, and one token per dout cell
    at the centre of its window with arrows to the dx cells it is added into (the engine's routes)."""
    n, c = current[:2]
    H, W = result["x"].shape[2:]
    OH, OW = result["out"].shape[2:]
    k, s = state.size, state.stride
    dx, dout = result["dx"][n, c], result["dout"][n, c]
    gvmax = scale_max(result["dout"], result["dx"])
    incoming: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for target, sources in pool_lab.route_sources(state.op, result, k, s, (n, c)).items():
        incoming[target[2:]] = [src[2:] for src in sources]
    cells = []
    dx_bg, dx_fg = colours(dx, gvmax)
    dout_bg, dout_fg = colours(dout, gvmax)
    for h in range(H):
        for w in range(W):
            bg, fg = dx_bg[h][w], dx_fg[h][w]
            x0, y0 = _centre(h, w)
            count = len(incoming.get((h, w), []))
            text = cell_text(float(dx[h, w]))
            cells.append({"x": x0 - CELL / 2, "y": y0 - CELL / 2, "cx": x0, "cy": y0, "bg": bg, "fg": fg,
                          "text": text, "size": value_size(text), "count": count,
                          "title": f"dx[{n},{c},{h},{w}] = {text}"
                                   + (f": {count} dout cells add up here" if count > 1 else "")})
    arrows, tokens = [], []
    mid = k // 2 - 0.5  # the token sits on the grid line nearest the window's centre, never on a number
    every = OH * OW * (1 if state.pool == "max" else k * k) <= 400
    for (h, w), sources in incoming.items():
        for r, q in sources:
            mine = (r, q) == tuple(current[2:])
            if not (every or mine):
                continue
            (x1, y1), (x2, y2) = _centre(r * s + mid, q * s + mid), _centre(h, w)
            dx_, dy_ = x2 - x1, y2 - y1
            length = (dx_ * dx_ + dy_ * dy_) ** 0.5
            shrink = min(1.0, 4 / length) if length else 0.0  # the head ends at the cell centre; the number sits below
            arrows.append({"x1": round(x1, 1), "y1": round(y1, 1), "x2": round(x2 - dx_ * shrink, 1),
                           "y2": round(y2 - dy_ * shrink, 1), "current": mine, "zero": length == 0,
                           "title": f"dout[{n},{c},{r},{q}] → dx[{n},{c},{h},{w}]"})
    arrows.sort(key=lambda a: a["current"])  # the current window's arrows on top
    for r in range(OH):
        for q in range(OW):
            x0, y0 = _centre(r * s + mid, q * s + mid)
            bg, fg = dout_bg[r][q], dout_fg[r][q]
            text = cell_text(float(dout[r, q]))
            # a disc for a short number, a pill as wide as a long one (its white digits would be lost off a disc)
            tokens.append({"cx": round(x0, 1), "cy": round(y0, 1), "bg": bg, "fg": fg, "text": text,
                           "w": max(2 * TOKEN_R, round(TOKEN_CHAR * len(text) + 4)),
                           "current": (r, q) == tuple(current[2:]), "title": f"dout[{n},{c},{r},{q}] = {text}"})
    top, left = current[2] * s, current[3] * s
    frame = {"x": PAD + left * (CELL + GAP) - 3, "y": PAD + top * (CELL + GAP) - 3,
             "w": k * (CELL + GAP) - GAP + 6, "h": k * (CELL + GAP) - GAP + 6}
    return {"width": 2 * PAD + W * (CELL + GAP) - GAP, "height": 2 * PAD + H * (CELL + GAP) - GAP,
            "cells": cells, "arrows": arrows, "tokens": tokens, "frame": frame, "cell": CELL, "every": every,
            "n": n, "c": c}


# ---------------------------------------------------------------- ReLU


def _relu(grids: Heatmaps, relu: dict, steps: dict, n: int, c: int, only: tuple[int, int] | None) -> dict:
    """ReLU's grids (its x is the pooling's x, on the same scale)."""
    xvmax = scale_max(relu["x"])
    gvmax = scale_max(relu["dout"], relu["dx"])
    mask = _planes(grids, relu["mask"], "relu_mask", 1.0, "mask", cell_classes=np.where(relu["mask"] > 0, "on", "off"),
                   only=only, **INDEX)
    # x == 0 is the kink: the mask is 0 there (no gradient passes)
    x = _planes(grids, relu["x"], "relu_x", xvmax, "x", cell_classes=np.where(relu["x"] == 0, "kink", ""), only=only)
    small = relu["x"].shape[2] <= 6 and relu["x"].shape[3] <= 6
    numbers = {}
    if small:
        m, xs, ys = (pool_lab.bmatrix(relu[a][n, c]) for a in ("mask", "x", "out"))
        g, d = pool_lab.bmatrix(relu["dout"][n, c]), pool_lab.bmatrix(relu["dx"][n, c])
        numbers = {"mask": rf"m = \mathbf{{1}}\left[{xs} > 0\right] = {m}",
                   "relu": rf"y = \max\left(0,\ {xs}\right) = {ys}",
                   "dx": rf"\frac{{\partial L}}{{\partial x}} = {m} \odot {g} = {d}"}
    return {"x": x, "mask": mask, "out": _planes(grids, relu["out"], "relu_out", xvmax, "out", only=only),
            "dout": _planes(grids, relu["dout"], "relu_dout", gvmax, "dout", only=only),
            "dx": _planes(grids, relu["dx"], "relu_dx", gvmax, "dx", only=only),
            "steps": [steps[k] for k in ("mask", "relu", "dx")], "numbers": numbers, "plane": (n, c),
            "xvmax": cell_text(xvmax), "gvmax": cell_text(gvmax),
            "zeros": int(np.sum(relu["x"] == 0))}
