"""The normalization lab's view: engine arrays for a state, laid out for the templates.

Every number shown comes from the engine — the registry's ``batchnorm``, ``layernorm`` and
``dropout`` ops (run + step records) and ``engine.explain.norm`` (batch sequences, both running
conventions, dropout's running mean, formulas with numbers). This module only arranges them
into grids, a graph drawing and plain plotly dicts. Only the section on screen is computed.
"""

from __future__ import annotations

import numpy as np

from app.web.labs.norm import stages
from app.web.labs.norm.groupnorm import group_view
from app.web.labs.norm.state import TAB_SETTINGS, NormState, form_values
from app.web.render.heatmap import batched, heatmap, planes, scale_max
from app.web.render.numbers import cell_text, exact_text
from engine.explain import norm as norm_lab
from engine.records import OpInputError
from engine.registry import prepare

GRAPH_ROWS = 4  # values listed per vector node of the graph; the rest are summarised
NUMBER_W = 9.7  # a character of a node's numbers (16 px monospace, norm.css) in the graph's units
BN_COLOURS = ("rgb(0,114,178)", "rgb(213,94,0)")  # pytorch blue, cs231n vermillion (Okabe–Ito)
PLOT_FONT = {"size": 14}
VAR_KIND = {"pytorch": "unbiased", "cs231n": "biased"}


# --------------------------------------------------------------------------- grids


def _labels(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(count)]


def vector_grid(values: np.ndarray, array: str, label: str, vmax: float | None = None,
                col_prefix: str | None = None, outline: int | None = None) -> dict:
    """A (C,) vector as one labelled row of cells indexed ``c``; ``outline`` frames cell ``outline``."""
    size = np.size(values)
    window = None if outline is None else (np.arange(size) == outline)[None, :]
    return heatmap(np.ravel(values), array, vmax=vmax, row_labels=[label], window=window,
                   col_labels=_labels(col_prefix, size) if col_prefix else None)


def column_grid(values: np.ndarray, array: str, label: str, vmax: float | None = None) -> dict:
    """An (N,) vector as one column of cells indexed ``n``, rows labelled n0, n1, …"""
    return heatmap(np.ravel(values), array, layout="column", vmax=vmax, row_labels=_labels("n", np.size(values)),
                   col_labels=[label])


def batch_grids(values: np.ndarray, array: str, vmax: float | None = None, col_prefix: str = "f",
                outline: int | None = None) -> list[dict]:
    """An x-shaped array: one (N, D) grid with labels, or one grid per (n, c) plane of (N, C, H, W);
    ``outline`` draws a frame around feature/channel ``outline``."""
    values = np.asarray(values, np.float64)
    vmax = scale_max(values) if vmax is None else vmax
    if values.ndim == 2:
        window = None
        if outline is not None:
            window = np.broadcast_to(np.arange(values.shape[1]) == outline, values.shape)
        return [heatmap(values, array, vmax=vmax, row_labels=_labels("n", values.shape[0]),
                        col_labels=_labels(col_prefix, values.shape[1]), window=window)]
    return planes(values, array, vmax=vmax,
                  per_plane=lambda n, c: {"window": np.ones(values.shape[2:], bool) if c == outline else None})


def _stat_rows(result: dict, rows: list[tuple[str, str]], prefix: str | None, outline: int | None = None) -> list[dict]:
    """One row per (C,) array; the first carries the column labels (``prefix`` None: none)."""
    return [vector_grid(result[k], k, label, col_prefix=prefix if i == 0 else None, outline=outline)
            for i, (k, label) in enumerate(rows)]


# --------------------------------------------------------------------------- batch norm


def _bn(state: NormState, mode: str | None = None):
    op, arrays, params = prepare("batchnorm", state.bn_inputs(), state.bn_params(mode))
    return op, arrays, params, op.run(arrays, params)


def _agree(a: np.ndarray, b: np.ndarray) -> dict:
    diff = float(np.max(np.abs(a - b)))
    scale = scale_max(a, b)
    return {"max_diff": cell_text(diff), "agree": diff <= 1e-9 * max(1.0, scale)}


def bn_view(state: NormState) -> dict:
    op, arrays, params, r = _bn(state)
    steps = op.steps(r, params)  # made from run's arrays: one computation
    prefix = "f" if state.layout == "nd" else "c"
    row_prefix = None if state.layout == "nd" else prefix  # (N, D): the x grid above labels the columns
    x_vmax = scale_max(r["x"])
    xh_vmax = scale_max(r["x_hat"])
    dx_vmax = scale_max(r["dx"], r["dx_compact"])
    stats = [("mean", "μ"), ("var", "σ²"), ("std", "√(σ²+ε)")]
    running = [("running_mean_before", "μ_run in"), ("running_mean", "μ_run out"),
               ("running_var_before", "σ²_run in"), ("running_var", "σ²_run out")]
    grads = [("dbeta", "∂L/∂β"), ("dgamma", "∂L/∂γ"), ("dvar", "∂L/∂σ²"), ("dmean", "∂L/∂μ")]
    n_values = int(r["x"].size // r["x"].shape[1])
    terms = norm_lab.batchnorm_terms(r, state.c, params["mode"], params["eps"], max_terms=4 if n_values <= 4 else 3)
    view = {
        "x": batch_grids(r["x"], "x", x_vmax, prefix, outline=state.c),
        "stats": _stat_rows(r, stats, row_prefix, outline=state.c),
        "affine": _stat_rows(r, [("gamma", "γ"), ("beta", "β")], None, outline=state.c),
        "running": _stat_rows(r, running, prefix),
        "x_hat": batch_grids(r["x_hat"], "x_hat", xh_vmax, prefix, outline=state.c),
        "out": batch_grids(r["out"], "out", None, prefix, outline=state.c),
        "dout": batch_grids(r["dout"], "dout", None, prefix),
        "dx_hat": batch_grids(r["dx_hat"], "dx_hat", None, prefix),
        "dx": batch_grids(r["dx"], "dx", dx_vmax, prefix),
        "dx_compact": batch_grids(r["dx_compact"], "dx_compact", dx_vmax, prefix),
        "grads": _stat_rows(r, grads, prefix),
        "dx_agree": _agree(r["dx"], r["dx_compact"]),
        "forward_steps": [s for s in steps if s.phase == "forward"],
        "backward_steps": [s for s in steps if s.phase == "backward"],
        "terms": {t.name: t for t in terms},
        "forward_terms": [t for t in terms if not t.name.startswith("d")],
        "backward_terms": [t for t in terms if t.name.startswith("d")],
        "graph": graph(r, state.c, params["mode"], state.layout),
        "n": n_values,
        "momentum": float(r["momentum"]),
        "mode": params["mode"],
    }
    view["stage"] = stages.stage_view(r, params, state.c, state.stage, view["graph"], view["terms"])
    if view["n"] == 2 and params["mode"] == "train":
        view["two_sample"] = two_sample(r, state.eps)
    return view


def two_sample(r: dict, eps: float) -> list[dict]:
    """Per feature of a two-sample batch: σ² against ε, x̂, dout and dx (engine numbers only)."""
    rows = []
    for c in range(r["x"].shape[1]):
        col = (slice(None), c) if r["x"].ndim == 2 else (slice(None), c, 0, 0)
        var = float(r["var"][c])
        rows.append({"c": c, "var": cell_text(var), "small": var < 10 * eps,
                     "x": [cell_text(v) for v in r["x"][col]],
                     "x_hat": [cell_text(v) for v in r["x_hat"][col]],
                     "x_hat_title": [exact_text(v) for v in r["x_hat"][col]],
                     "dout": [cell_text(v) for v in r["dout"][col]],
                     "dx": [cell_text(v) for v in r["dx"][col]],
                     "dx_title": [exact_text(v) for v in r["dx"][col]]})
    return rows


# --------------------------------------------------------------------------- the computational graph


def _node(key: str, x: float, y: float, w: float, title: str, order: int | None, rows: list[list[dict]],
          head: list[str] | None = None) -> dict:
    h = 36 + (22 if head else 0) + 22 * len(rows) + 8
    return {"key": key, "x": x, "y": y, "w": w, "h": h, "title": title, "order": order, "rows": rows,
            "head": head, "cx": x + w / 2, "cy": y + h / 2, "right": x + w, "bottom": y + h}


def _vector_rows(values: np.ndarray, grads: np.ndarray, sub: str) -> list[list[dict]]:
    rows = []
    shown = min(GRAPH_ROWS, values.size)
    for i in range(shown):
        rows.append([{"text": f"{sub}{i}", "cls": "idx"},
                     {"text": cell_text(float(values[i])), "cls": "fwd", "title": exact_text(values[i])},
                     {"text": cell_text(float(grads[i])), "cls": "bwd", "title": exact_text(grads[i])}])
    if values.size > shown:
        rows.append([{"text": f"… {values.size - shown} more", "cls": "more"}])
    return rows


def _scalar_rows(pairs: list[tuple[str, float | None, str]]) -> list[list[dict]]:
    rows = []
    for label, value, cls in pairs:
        text = "0: constant" if value is None else cell_text(value)
        rows.append([{"text": label, "cls": "idx"},
                     {"text": text, "cls": cls, "title": "" if value is None else exact_text(value)}])
    return rows


def _place(node: dict, x: float, y: float) -> dict:
    node.update({"x": x, "y": y, "cx": x + node["w"] / 2, "cy": y + node["h"] / 2, "right": x + node["w"],
                 "bottom": y + node["h"]})
    if node["head"]:  # columns of a row: index, value, gradient (right-aligned)
        node["cols"] = [x + 12, x + 52, x + node["w"] - 12]
    else:
        node["cols"] = [x + 12, x + node["w"] - 12]
    return node


TAILS = {"xᵢ": "x", "μ": "mu", "σ²": "var", "x̂ᵢ": "x_hat", "γ": "gamma", "β": "beta"}  # an edge's ∂/∂(tail)


def graph(r: dict, c: int, mode: str, layout: str) -> dict:
    """The notes' computational graph of batch norm for feature/channel ``c``: every node's value and
    ∂L/∂node, the forward pass left to right, numbered in the order the backward pass visits them.

    Three rows: μ and σ² on top; x, x̂ and y in the middle; γ and β below. Geometry only: every
    number is an engine array's.
    """
    def col(a) -> np.ndarray:
        return np.asarray(a)[:, c].reshape(-1)

    train = mode == "train"
    vec_w, sc_w = 196, 176

    def vector(key: str, title: str, order: int | None, vals, grads, head: str) -> dict:
        rows = _vector_rows(vals, grads, "i=")
        # wide enough for its longest value and gradient side by side (-1.235e-05 and -0.0001671 on one row)
        longest = [max((len(row[k]["text"]) for row in rows if len(row) == 3), default=0) for k in (1, 2)]
        w = max(vec_w, round(52 + NUMBER_W * (longest[0] + longest[1]) + 14 + 12))
        return _node(key, 0, 0, w, title, order, rows, ["", "value", head])

    def scalar(key: str, title: str, order: int | None, rows, w: float = sc_w) -> dict:
        return _node(key, 0, 0, w, title, order, _scalar_rows(rows))

    n = {  # eval: μ and σ² are the running statistics, constants the backward pass does not visit
        "mu": scalar("mu", "μ  mean" if train else "μ  running", 5 if train else None,
                     [("value", float(r["mean"][c]), "fwd"),
                      ("∂L/∂μ", float(r["dmean"][c]) if train else None, "bwd")]),
        "var": scalar("var", "σ²  variance" if train else "σ²  running", 4 if train else None,
                      [("value", float(r["var"][c]), "fwd"), ("√(σ²+ε)", float(r["std"][c]), "fwd"),
                       ("∂L/∂σ²", float(r["dvar"][c]) if train else None, "bwd")], w=196),
        "x": vector("x", "x  input", 6 if train else 4, col(r["x"]), col(r["dx"]), "∂L/∂x"),
        "x_hat": vector("x_hat", "x̂  normalised", 3, col(r["x_hat"]), col(r["dx_hat"]), "∂L/∂x̂"),
        "y": vector("y", "y  output", None, col(r["out"]), col(r["dout"]), "∂L/∂y"),
        "gamma": scalar("gamma", "γ  scale", 2, [("value", float(r["gamma"][c]), "fwd"),
                                                 ("∂L/∂γ", float(r["dgamma"][c]), "bwd")]),
        "beta": scalar("beta", "β  shift", 1, [("value", float(r["beta"][c]), "fwd"),
                                               ("∂L/∂β", float(r["dbeta"][c]), "bwd")]),
    }
    top = 84  # room above μ and σ² for the arc x → σ² and its label over it, then ∂σ²/∂μ's label below it
    mid = top + max(n["mu"]["h"], n["var"]["h"]) + 78
    _place(n["mu"], 262, top)
    _place(n["var"], 486, top)
    _place(n["x"], 12, mid)  # a wider node moves the ones to its right (their arrows' labels keep their room)
    _place(n["x_hat"], max(486, n["x"]["right"] + 178), mid)
    _place(n["y"], max(792, n["x_hat"]["right"] + 110), mid)
    low = mid + max(n[k]["h"] for k in ("x", "x_hat", "y")) + 60
    _place(n["gamma"], n["x_hat"]["x"], low)
    _place(n["beta"], n["y"]["x"] + 24, low)
    edges = []

    def edge(a: tuple[float, float], b: tuple[float, float], label: str, at: tuple[float, float],
             anchor: str = "middle", curve: float | None = None, used: bool = True) -> None:
        # the local derivative ∂head/∂tail: the backward pass uses it at the tail's stage
        tail = TAILS[label.split("/∂", 1)[1].split(" ", 1)[0]]
        if curve is None:
            path = f"M{a[0]:.0f},{a[1]:.0f} L{b[0]:.0f},{b[1]:.0f}"
        else:
            path = f"M{a[0]:.0f},{a[1]:.0f} C{a[0]:.0f},{curve:.0f} {b[0]:.0f},{curve:.0f} {b[0]:.0f},{b[1]:.0f}"
        edges.append({"path": path, "label": label, "lx": at[0], "ly": at[1], "used": used, "anchor": anchor,
                      "tail": tail})

    x, mu, var, xh, y, g, b = (n[k] for k in ("x", "mu", "var", "x_hat", "y", "gamma", "beta"))
    arrow_y = mid + 78  # the middle row's horizontal arrows, below the column headers
    edge((x["x"] + 150, x["y"]), (mu["x"], mu["cy"]), "∂μ/∂xᵢ = 1/n", (x["x"] + 146, mu["cy"] + 40), "end",
         used=train)
    edge((x["x"] + 44, x["y"]), (var["cx"], var["y"]), "∂σ²/∂xᵢ = 2(xᵢ − μ)/n", (mu["cx"], 14), curve=0,
         used=train)
    edge((mu["right"], mu["y"] + 30), (var["x"], mu["y"] + 30), "∂σ²/∂μ = Σ −2(xᵢ − μ)/n",
         ((mu["right"] + var["x"]) / 2, top - 12), used=train)
    edge((mu["cx"], mu["bottom"]), (xh["x"] + 22, xh["y"]), "∂x̂ᵢ/∂μ = −1/√(σ²+ε)",
         (mu["x"] - 4, mu["bottom"] + 26), "start", used=train)
    edge((var["cx"] + 30, var["bottom"]), (var["cx"] + 30, xh["y"]), "∂x̂ᵢ/∂σ² = −½(xᵢ − μ)(σ²+ε)⁻³ᐟ²",
         (var["cx"] + 38, (var["bottom"] + xh["y"]) / 2 + 5), "start", used=train)
    edge((x["right"], arrow_y), (xh["x"], arrow_y), "∂x̂ᵢ/∂xᵢ = 1/√(σ²+ε)", ((x["right"] + xh["x"]) / 2, arrow_y - 8))
    edge((xh["right"], arrow_y), (y["x"], arrow_y), "∂yᵢ/∂x̂ᵢ = γ", ((xh["right"] + y["x"]) / 2, arrow_y + 22))
    edge((g["right"], g["cy"]), (y["x"] + 40, y["bottom"]), "∂yᵢ/∂γ = x̂ᵢ", (g["right"] + 8, g["cy"] + 30), "start")
    edge((b["x"] + 60, b["y"]), (b["x"] + 60, y["bottom"]), "∂yᵢ/∂β = 1",
         (b["x"] + 68, (b["y"] + y["bottom"]) / 2 + 5), "start")
    height = max(node["bottom"] for node in n.values()) + 36
    width = max(1000, round(max(node["right"] for node in n.values())) + 12)
    return {"nodes": list(n.values()), "edges": edges, "width": width, "height": height, "c": c,
            "what": "feature" if layout == "nd" else "channel", "train": train}


# --------------------------------------------------------------------------- running statistics


def running_view(state: NormState) -> dict:
    if state.source == "random":
        batches = norm_lab.random_batches(state.x.shape, state.batches, state.true_mean, state.true_var,
                                          state.seq_seed)
    else:
        batches = norm_lab.repeated_batches(state.x, state.batches)
    chosen, other = norm_lab.running_both_conventions(batches, state.convention, state.momentum,
                                                      state.running_mean, state.running_var)
    runs = {run.convention: run for run in (chosen, other)}
    steps = {}
    for run in (chosen, other):  # the update formula, from the op's own step record
        op, arrays, params = prepare("batchnorm", {"x": batches[0]},
                                     {"convention": run.convention, "momentum": run.momentum})
        steps[run.convention] = next(s for s in op.trace(arrays, params)[1] if s.name == "running")
    prefix = "f" if state.layout == "nd" else "c"
    final = []
    for conv, who in (("pytorch", "PyTorch"), ("cs231n", "notes")):
        a = runs[conv].arrays
        final.append(vector_grid(a["running_mean"][-1], f"seq_{conv}_mean", f"{who} μ_run",
                                 col_prefix=prefix if not final else None))
        final.append(vector_grid(a["running_var"][-1], f"seq_{conv}_var", f"{who} σ²_run"))
    n = int(state.x.size // state.x.shape[1])
    return {"runs": runs, "chosen": chosen, "other": other, "steps": steps, "final": final, "n": n,
            "figures": running_figures(state, runs, len(batches)), "last": {
                conv: {"mean": cell_text(float(runs[conv].arrays["running_mean"][-1, state.c])),
                       "var": cell_text(float(runs[conv].arrays["running_var"][-1, state.c]))}
                for conv in runs}}


def running_figures(state: NormState, runs: dict, count: int) -> list[dict]:
    """Two plots of feature c against the batch index: the running mean, then the running variance.

    Both conventions as lines (PyTorch solid, the notes dashed), each batch's own statistic as faint
    dots, the true value of the random draws dotted. The legend is the page's (one for both plots).
    """
    c = state.c
    t = list(range(count + 1))
    what = "feature" if state.layout == "nd" else "channel"
    start = {"mean": float(state.running_mean[c]), "var": float(state.running_var[c])}
    batch = runs["pytorch"].arrays
    figures_ = []
    for stat, title in (("mean", f"running mean μ_run, {what} {c}"), ("var", f"running variance σ²_run, {what} {c}")):
        data = [{"type": "scatter", "mode": "markers", "x": t[1:], "y": batch[f"batch_{stat}"][:, c].tolist(),
                 "name": "this batch's own " + ("μ" if stat == "mean" else "σ² (biased)"),
                 "marker": {"size": 6, "color": "rgba(90,90,90,0.35)"},
                 "hovertemplate": "batch %{x}: %{y:.4g}<extra>the batch's own</extra>"}]
        for i, conv in enumerate(("pytorch", "cs231n")):
            data.append({"type": "scatter", "mode": "lines", "x": t,
                         "y": [start[stat], *runs[conv].arrays[f"running_{stat}"][:, c].tolist()],
                         "name": f"{conv} (m = {runs[conv].momentum:g})",
                         "line": {"color": BN_COLOURS[i], "width": 4.5 if i == 0 else 2.5,
                                  "dash": "solid" if i == 0 else "dash"},
                         "hovertemplate": f"after batch %{{x}}: %{{y:.4g}}<extra>{conv}</extra>"})
        if state.source == "random":
            true = state.true_mean if stat == "mean" else state.true_var
            data.append({"type": "scatter", "mode": "lines", "x": [0, count], "y": [true, true], "name": "true value",
                         "hoverinfo": "skip", "line": {"color": "rgba(0,0,0,0.6)", "dash": "dot", "width": 1.5}})
        layout = {"height": 300, "margin": {"l": 52, "r": 12, "t": 34, "b": 44}, "font": PLOT_FONT,
                  "title": {"text": title, "x": 0, "xanchor": "left", "font": {"size": 15}},
                  "xaxis": {"title": {"text": "batch t"}, "zeroline": False},
                  "yaxis": {"zeroline": False}, "showlegend": False,
                  "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)"}
        figures_.append({"data": data, "layout": layout, "config": {"displayModeBar": False, "responsive": True}})
    return figures_


# --------------------------------------------------------------------------- layer norm


def _ln(state: NormState):
    op, arrays, params = prepare("layernorm", state.ln_inputs(), {"eps": state.eps})
    return op, arrays, params, op.run(arrays, params)


def _texts(a: np.ndarray) -> list:
    return np.vectorize(cell_text, otypes=[str])(np.asarray(a, np.float64)).tolist()


def groups(x: np.ndarray, bn: dict, ln: dict) -> dict:
    """x's cells coloured by the group each normalisation averages over — batch norm by feature/channel,
    layer norm by sample — with each group's μ and σ² (the ops' own arrays) beside it."""
    text = _texts(x)
    stats = {"bn_mean": _texts(bn["mean"]), "bn_var": _texts(bn["var"]),
             "ln_mean": _texts(ln["mean"]), "ln_var": _texts(ln["var"])}
    if x.ndim == 2:
        rows = [[{"text": text[i][j], "bn": j % 4, "ln": i % 4} for j in range(x.shape[1])]
                for i in range(x.shape[0])]
        return {"layout": "nd", "rows": rows, **stats}
    planes = [[{"n": n, "c": c, "bn": c % 4, "ln": n % 4, "rows": text[n][c]} for c in range(x.shape[1])]
              for n in range(x.shape[0])]
    return {"layout": "nchw", "planes": planes, **stats}


def ln_view(state: NormState) -> dict:
    op, arrays, params, r = _ln(state)
    steps = op.steps(r, params)
    _, _, bn_params, b = _bn(state)
    prefix = "f" if state.layout == "nd" else "c"
    xh_vmax = scale_max(b["x_hat"], r["x_hat"])
    ln_stats = [column_grid(r[k], f"ln_{k}", label) for k, label in (("mean", "μ"), ("var", "σ²"),
                                                                    ("std", "√(σ²+ε)"))]
    return {
        "groups": groups(state.x, b, r),
        "ln_stats": ln_stats,
        "bn_x_hat": batch_grids(b["x_hat"], "x_hat", xh_vmax, prefix),
        "ln_x_hat": batch_grids(r["x_hat"], "ln_x_hat", xh_vmax, prefix),
        "ln_out": batch_grids(r["out"], "ln_out", None, prefix),
        "ln_dx": batch_grids(r["dx"], "ln_dx", scale_max(r["dx"], r["dx_compact"]), prefix),
        "ln_dx_compact": batch_grids(r["dx_compact"], "ln_dx_compact", scale_max(r["dx"], r["dx_compact"]),
                                     prefix),
        "ln_dx_agree": _agree(r["dx"], r["dx_compact"]),
        "ln_steps": steps,
        "ln_terms": {t.name: t for t in norm_lab.layernorm_terms(r, state.sample, state.eps)},
        "gn": group_view(state.x, state.eps),
        "bn_mode": bn_params["mode"],
        "d": int(r["x"][0].size),
        "n_bn": int(b["x"].size // b["x"].shape[1]),
    }


# --------------------------------------------------------------------------- dropout


def _dropout(state: NormState, p_means: str | None = None, mode: str | None = None):
    params = {**state.dropout_params()}
    if p_means:
        params["p_means"] = p_means
    if mode:
        params["mode"] = mode
    op, arrays, clean = prepare("dropout", {"x": state.x, "dout": state.dout()}, params)
    return op, arrays, clean, op.run(arrays, clean)


def dropout_view(state: NormState) -> dict:
    op, arrays, params, r = _dropout(state)
    prefix = "f" if state.layout == "nd" else "c"
    x_vmax = scale_max(state.x)
    view = {
        "steps": op.steps(r, params),
        "mask": batch_grids(r["mask"], "drop_mask", 1.0, prefix),
        "out": batch_grids(r["out"], "drop_out", None, prefix),
        "dx": batch_grids(r["dx"], "drop_dx", None, prefix),
        "x": batch_grids(state.x, "x", x_vmax, prefix),
        "scale": cell_text(float(r["scale"])),
        "kept": int(np.sum(r["mask"])), "total": int(r["mask"].size),
    }
    other = "keep" if state.p_means == "drop" else "drop"
    try:
        _, _, oparams, o = _dropout(state, p_means=other, mode="train")
        view["other"] = {"p_means": other, "mask": batch_grids(o["mask"], "drop_other_mask", 1.0, prefix),
                         "out": batch_grids(o["out"], "drop_other_out", None, prefix),
                         "scale": cell_text(float(o["scale"])), "kept": int(np.sum(o["mask"]))}
    except OpInputError as exc:
        view["other"] = {"p_means": other, "error": exc.message}
    return view


def expectation_view(state: NormState) -> dict:
    """The running mean of dropout's train-mode output over ``draws`` seeded masks, converging to x."""
    rows = norm_lab.dropout_running_mean(state.x, state.p, state.draws, state.drop_seed, state.p_means)
    prefix = "f" if state.layout == "nd" else "c"
    final = rows[-1]
    flat_x, flat_rows = state.x.reshape(-1), rows.reshape(rows.shape[0], -1)
    nonzero = [int(i) for i in np.flatnonzero(flat_x)]  # a zero stays zero under any mask: nothing to watch
    picked = (nonzero + [i for i in range(flat_x.size) if i not in nonzero])[:6]
    palette = ["rgb(0,114,178)", "rgb(213,94,0)", "rgb(0,158,115)", "rgb(204,121,167)", "rgb(86,180,233)",
               "rgb(230,159,0)"]
    k = list(range(1, rows.shape[0] + 1))
    data = []
    for colour, i in zip(palette, picked, strict=False):
        idx = ", ".join(str(int(v)) for v in np.unravel_index(i, state.x.shape))
        data.append({"type": "scatter", "mode": "lines", "x": k, "y": flat_rows[:, i].tolist(),
                     "name": f"mean of out[{idx}]", "legendgroup": str(i), "line": {"color": colour, "width": 2},
                     "hovertemplate": f"out[{idx}]: mean over %{{x}} draws = %{{y:.4g}}<extra></extra>"})
        data.append({"type": "scatter", "mode": "lines", "x": [1, k[-1]], "y": [float(flat_x[i])] * 2,
                     "name": f"x[{idx}]", "legendgroup": str(i), "showlegend": False, "hoverinfo": "skip",
                     "line": {"color": colour, "width": 1.5, "dash": "dot"}})
    shown = len(picked)
    seeds = ", ".join(str((state.drop_seed + j) % (2**31)) for j in range(3))
    layout = {"height": 340, "margin": {"l": 56, "r": 16, "t": 12, "b": 50}, "font": PLOT_FONT,
              "xaxis": {"title": {"text": f"number of masks averaged (seeds {seeds}, …)"},
                        **({"type": "log", "tickvals": [1, 10, 100, 1000]} if rows.shape[0] >= 20 else {})},
              "yaxis": {"title": {"text": "mean of out so far"}, "zeroline": True},
              "legend": {"orientation": "v", "x": 1.02, "y": 1}, "paper_bgcolor": "rgba(0,0,0,0)",
              "plot_bgcolor": "rgba(0,0,0,0)"}
    figure = {"data": data, "layout": layout, "config": {"displayModeBar": False, "responsive": True}}
    vmax = scale_max(state.x, final)
    return {"figure": figure, "shown": shown, "total": flat_x.size, "draws": rows.shape[0],
            "mean": batch_grids(final, "drop_mean", vmax, prefix), "x": batch_grids(state.x, "x", vmax, prefix)}


# --------------------------------------------------------------------------- the whole view


BUILDERS = {"bn": bn_view, "running": running_view, "ln": ln_view, "dropout": dropout_view}


@batched
def build(state: NormState) -> dict:
    """Everything the results partial draws for the section on screen; ``error`` when the engine refuses."""
    view = {"state": state, "tab": state.tab, "layout": state.layout,
            "what": "feature" if state.layout == "nd" else "channel",
            "fields": form_values(state), "shown": TAB_SETTINGS[state.tab]}
    try:
        view.update(BUILDERS[state.tab](state))
    except OpInputError as exc:
        view["error"] = {"field": exc.field, "message": exc.message}
    return view
