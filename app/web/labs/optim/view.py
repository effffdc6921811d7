"""The optimizer lab's view: engine results for a state, laid out for the templates.

Every number shown comes from the engine (``engine.optim.rules`` and ``engine.optim.rules.runs``); this module
only arranges them into grids, labels and plain plotly-schema dicts.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
from markupsafe import Markup, escape

from app.web.labs.optim.presets import NOTES_GRADS, NOTES_NAMES, NOTES_PRINTED
from app.web.labs.optim.state import OptimState, OptSpec
from app.web.render import figures
from engine.optim import rules as optim
from engine.optim import runs as lab

# Okabe & Ito's colour-blind-safe palette (blue, vermillion, bluish green, reddish purple), and a
# marker shape per run so the paths differ without colour too.
RUN_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7")
RUN_SYMBOLS = ("circle", "square", "diamond", "triangle-up")
VARIANT_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7")
GRID_POINTS = 61

# what each quantity of the step table is, in the order the table shows them
BANDS: dict[str, tuple[str, str]] = {
    "g": ("g", "gradient g_t"),
    "g_wd": ("g′", "gradient with L2 decay: g + λ·θ"),
    "p_decayed": ("θ′", "θ after decoupled decay: θ·(1 − lr·λ)"),
    "m": ("m", "first moment m_t"),
    "s": ("s", "mean square s_t"),
    "v": ("v", "second moment v_t"),
    "m_hat": ("m̂", "bias-corrected m̂_t"),
    "v_hat": ("v̂", "bias-corrected v̂_t"),
    "denom": ("den", "denominator"),
    "effective_step": ("lr_eff", "effective step: lr / denominator"),
    "update": ("Δθ", "update Δθ_t = θ_t − θ_{t−1}"),
    "theta": ("θ", "θ_t after the step"),
}


SYMBOLS = {"lr": "lr", "beta1": "β₁", "beta2": "β₂", "eps": "ε", "momentum": "μ", "alpha": "α",
           "weight_decay": "λ", "eps_placement": "ε placement", "bias_correction": "bias correction",
           "form": "momentum form"}
CHOICES = {"outside": ("√v̂ + ε", "PyTorch"), "inside": ("√(v̂ + ε)", "the notes"),
           "pytorch": ("μv + g", "PyTorch"), "ema": ("μv + (1−μ)g", "the notes")}


def hp_fields(spec: OptSpec, prefix: str, idp: str) -> list[dict[str, Any]]:
    """The editable hyperparameters of ``spec``: form names ``<prefix>.<name>``, element ids ``<idp>-<name>``."""
    out = []
    for p in optim.OPTIMIZERS[spec.name]:
        value = spec.hp[p.name]
        f = {"name": p.name, "field": f"{prefix}.{p.name}", "id": f"{idp}-{p.name}", "doc": p.doc,
             "symbol": SYMBOLS.get(p.name, p.name), "value": value}
        if p.kind is bool:
            f.update(kind="choice", choices=[{"value": "on", "text": "on", "checked": value is True, "note": ""},
                                             {"value": "off", "text": "off", "checked": value is False, "note": ""}])
        elif p.choices:
            f.update(kind="choice", choices=[{"value": c, "text": CHOICES.get(c, (c, ""))[0],
                                              "note": CHOICES.get(c, (c, ""))[1], "checked": value == c}
                                             for c in p.choices])
        else:
            f.update(kind="float", range=f"{p.lo:g} … {p.hi:g}")
        out.append(f)
    return out


VECTOR = "theta"  # the step table runs its parameters as one vector: one optimizer update per step


def run(state: OptimState, spec: OptSpec | None = None) -> list[lab.LabStep]:
    """The step table's run for ``state`` (or with another optimizer ``spec``).

    The parameters travel as one vector ``theta`` (column i is parameter ``state.names[i]``): the
    optimizers are elementwise, so this is the same arithmetic as one scalar per name, in one update.
    """
    spec = spec or state.opt
    params = {VECTOR: np.array(state.theta, dtype=np.float64)}
    rows = state.grad_rows()
    if rows is None:
        return lab.run_steps(spec.name, params, spec.hp, grad_fn=lab.surface_gradient(state.gsurface, VECTOR),
                             steps=state.steps)
    return lab.run_steps(spec.name, params, spec.hp, grads_seq=[{VECTOR: row} for row in rows])


def path_points(steps: list[lab.LabStep]) -> np.ndarray:
    """θ_{t−1} of each step: where the surface-gradient steps took their gradients, (T, 2)."""
    return np.array([np.asarray(s.params[VECTOR], dtype=np.float64) for s in steps])


def _denominator_label(spec: OptSpec) -> tuple[str, str]:
    if spec.name == "rmsprop":
        return "√s+ε", "denominator √s + ε"
    if spec.hp.get("eps_placement") == "inside":
        return "√(v̂+ε)", "denominator √(v̂ + ε)"
    return "√v̂+ε", "denominator √v̂ + ε"


def scaled_colours(blocks: list[np.ndarray]) -> list[tuple[list, list]]:
    """(background, text colour) lists of several arrays, each on its own symmetric scale (its largest
    finite |value|), in one vectorised pass of :func:`app.web.render.figures.colours`. A value that overflowed
    (inf, nan: a learning rate too large) is drawn as 0 and reads as "inf" or "nan"."""
    scaled = []
    for b in blocks:
        b = np.asarray(b, dtype=np.float64)
        finite = np.isfinite(b)
        top = float(np.max(np.abs(b[finite]))) if finite.any() else 0.0
        scaled.append(np.where(finite, b, 0.0) / (top if top > 0 else 1.0))
    if not scaled:
        return []
    bg, fg = figures.colours(np.concatenate([b.ravel() for b in scaled]), 1.0)
    out, start = [], 0
    for b in scaled:
        n = b.size
        out.append((bg[start:start + n].reshape(b.shape).tolist(), fg[start:start + n].reshape(b.shape).tolist()))
        start += n
    return out


def _finite_or_none(values) -> list:
    """JSON for plotly: a number that overflowed becomes a gap (JSON has no inf or nan)."""
    return [float(v) if np.isfinite(v) else None for v in values]


def band_html(values: np.ndarray, colours: tuple[list, list], key: str, names: tuple[str, ...], symbol: str,
              doc: str, selected: int) -> Markup:
    """One band of the step table, rendered in one pass: a row per parameter, a column per step.

    Cells carry ``data-idx="i,c"`` (parameter i, column c = t − 1) for hover provenance; the
    selected step's column has class ``sel``.
    """
    bg, fg = colours
    doc_e, key_e = escape(doc), escape(key)
    rows = []
    for i, row in enumerate(values.tolist()):
        name = escape(names[i])
        head = (f'<th class="band-label" rowspan="{len(names)}" scope="rowgroup" title="{doc_e}">'
                f"{escape(symbol)}</th>" if i == 0 else "")
        cells = [f'{head}<th scope="row" class="row-label">{name}</th>']
        for c, v in enumerate(row):
            sel = ' class="sel"' if c == selected else ""
            cells.append(f'<td data-idx="{i},{c}" style="background:{bg[i][c]};color:{fg[i][c]}"{sel} '
                         f'title="{doc_e}, {name}, t={c + 1}: {v!r}">{figures.format_value(v)}</td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return Markup(f'<table class="heatmap band" data-arr="{key_e}" aria-label="{doc_e}">'
                  f"<tbody>{''.join(rows)}</tbody></table>")


def _labels(key: str, spec: OptSpec) -> tuple[str, str]:
    symbol, doc = BANDS[key]
    if key == "denom":
        return _denominator_label(spec)
    if key == "v" and spec.name == "momentum":
        return symbol, "velocity v_t"
    return symbol, doc


def step_rows(tab: dict[str, np.ndarray], step: lab.LabStep, spec: OptSpec, j: int) -> list[Markup]:
    """The selected step as a table: a row per quantity, a column per parameter.

    Each row is its own ``table.heatmap[data-arr]`` (cells ``data-idx="i,c"``, c = t − 1) so hovering
    outlines sources here and in the bands alike; fixed column widths line the rows up as one table.
    """
    c = step.t - 1
    keys = [k for k in BANDS if k in tab]
    values = [np.asarray(step.params[VECTOR], dtype=np.float64)] + [tab[k][c] for k in keys]
    colours = scaled_colours(values)
    rows = [_row_html(values[0], colours[0], "", f"θ{subscript(step.t - 1)}", "θ before the step", c, j)]
    for key, v, col in zip(keys, values[1:], colours[1:], strict=True):
        symbol, doc = _labels(key, spec)
        rows.append(_row_html(v, col, key, f"θ{subscript(step.t)}" if key == "theta" else symbol, doc, c, j))
    return rows


def subscript(n: int) -> str:
    """θ₀, θ₁₂: an index as Unicode subscript digits."""
    return str(n).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


def _row_html(values: np.ndarray, colours: tuple[list, list], key: str, symbol: str, doc: str, c: int,
              pick: int) -> Markup:
    bg, fg = colours
    doc_e = escape(doc)
    cells = [f'<th scope="row" title="{doc_e}">{escape(symbol)}</th>']
    for i, v in enumerate(values.tolist()):
        idx = f' data-idx="{i},{c}"' if key else ""
        cls = ' class="pick"' if i == pick else ""
        cells.append(f'<td{idx}{cls} style="background:{bg[i]};color:{fg[i]}" title="{doc_e}: {v!r}">'
                     f"{figures.format_value(v)}</td>")
    arr = f' data-arr="{escape(key)}"' if key else ""
    return Markup(f'<table class="heatmap steprow"{arr} aria-label="{doc_e}"><tbody><tr>{"".join(cells)}'
                  "</tr></tbody></table>")


def _bands(tab: dict[str, np.ndarray], names: tuple[str, ...], spec: OptSpec, k: int) -> list[dict]:
    keys = [key for key in BANDS if key in tab]
    blocks = [tab[key].T for key in keys]  # (P, T): a row per parameter, a column per step
    out = []
    for key, values, colours in zip(keys, blocks, scaled_colours(blocks), strict=True):
        symbol, doc = _labels(key, spec)
        out.append({"key": key, "symbol": symbol, "doc": doc,
                    "html": band_html(values, colours, key, names, symbol, doc, k - 1)})
    return out


def build_table(state: OptimState) -> dict[str, Any]:
    """Everything the results partial draws."""
    steps = run(state)
    tab = lab.table(steps)
    k = min(state.k, len(steps))
    key = state.names[state.j]
    step = steps[k - 1]
    view: dict[str, Any] = {
        "state": state, "steps": steps, "T": len(steps), "k": k, "key": key,
        "bands": _bands(tab, state.names, state.opt, k) if len(steps) > 1 else [],
        "step_rows": step_rows(tab, step, state.opt, state.j),
        "formulas": lab.plugged_step(step, VECTOR, state.j),
        "title": optim.TITLES[state.opt.name],
        "grad_rows": state.grad_rows(),
    }
    if state.gmode == "surface":
        view["gsurface"] = optim.SURFACES[state.gsurface]
    broken = ~np.all(np.isfinite(tab["theta"]), axis=1)  # steps whose θ overflowed
    view["overflow"] = int(np.argmax(broken)) + 1 if broken.any() else None
    view["conventions"] = conventions(state, steps)
    return view


# ---------------------------------------------------------------- conventions side by side


def _variants(spec: OptSpec) -> list[tuple[str, str, dict]]:
    """(key, label, hyperparameters) of the conventions to compare for ``spec``."""
    if spec.name in ("adam", "adamw"):
        return [(f"{placement}-{'on' if bc else 'off'}",
                 f"ε {placement} · bias correction {'on' if bc else 'off'}"
                 + (" (PyTorch)" if (placement, bc) == ("outside", True) else "")
                 + (" (the notes)" if (placement, bc) == ("inside", False) else ""),
                 {**spec.hp, "eps_placement": placement, "bias_correction": bc})
                for placement, bc in (("outside", True), ("outside", False), ("inside", True), ("inside", False))]
    if spec.name == "momentum":
        return [(form, f"{form}: " + ("v ← μv + g (PyTorch)" if form == "pytorch" else "v ← μv + (1−μ)g (the notes)"),
                 {**spec.hp, "form": form}) for form in ("pytorch", "ema")]
    return []


def _is_notes_example(state: OptimState, k: int) -> bool:
    """The notes' printed m and v apply: step 1 of their five gradients with β1 = 0.9 and β2 = 0.995."""
    hp = state.opt.hp
    if k != 1 or (hp["beta1"], hp["beta2"]) != (0.9, 0.995) or state.names != NOTES_NAMES:
        return False
    if state.opt.name == "adam" and hp["weight_decay"]:
        return False  # L2 decay changes what the moments see
    rows = state.grad_rows()
    return rows is not None and tuple(float(g) for g in rows[0]) == NOTES_GRADS


def conventions(state: OptimState, steps: list[lab.LabStep]) -> dict[str, Any] | None:
    variants = _variants(state.opt)
    if not variants:
        return None
    current = next(key for key, _, hp in variants if all(state.opt.hp[x] == hp[x] for x in hp))
    runs = {key: steps if key == current else run(state, OptSpec(state.opt.name, hp)) for key, _, hp in variants}
    labels = {key: label for key, label, _ in variants}
    j, key_name = state.j, state.names[state.j]
    first = min(len(steps), 12)
    out: dict[str, Any] = {"current": current, "labels": labels, "param": key_name,
                           "rows": [], "variants": [k for k, _, _ in variants]}
    tables = {key: lab.table(r) for key, r in runs.items()}
    quantity = "update"
    for t in range(first):
        out["rows"].append({"t": t + 1, "cells": {key: figures.format_value(float(tables[key][quantity][t, j]))
                                                  for key in runs},
                            "titles": {key: repr(float(tables[key][quantity][t, j])) for key in runs}})
    out["figure"] = _convention_figure(tables, labels, current, j, key_name, len(steps))
    if state.opt.name in ("adam", "adamw"):
        out["side_by_side"] = _side_by_side(state, runs, tables)
    return out


def _convention_figure(tables, labels, current, j, name, T) -> dict:
    data = []
    for i, (key, tab) in enumerate(tables.items()):
        mag = lab.magnitude(tab["update"][:, j])
        data.append({"type": "scatter", "mode": "lines+markers", "name": labels[key],
                     "x": list(range(1, T + 1)), "y": _finite_or_none(mag),
                     "line": {"color": VARIANT_COLOURS[i], "width": 3.5 if key == current else 1.8,
                              "dash": "solid" if key == current else ("dash", "dot", "dashdot")[i % 3]},
                     "marker": {"symbol": RUN_SYMBOLS[i], "size": 7, "color": VARIANT_COLOURS[i]},
                     "hovertemplate": f"{labels[key]}<br>t = %{{x}}<br>|Δθ| = %{{y:.4g}}<extra></extra>"})
    layout = {"height": 280, "margin": {"l": 64, "r": 12, "t": 8, "b": 44},
              "xaxis": {"title": {"text": "step t"}, "dtick": 1 if T <= 12 else None, "zeroline": False},
              "yaxis": {"title": {"text": f"|Δθ| of {name}"}, "rangemode": "tozero", "zeroline": True},
              "legend": {"orientation": "h", "y": -0.25, "x": 0}, "paper_bgcolor": "rgba(0,0,0,0)",
              "plot_bgcolor": "rgba(0,0,0,0)", "font": {"size": 13}}
    layout["height"] = 320
    layout["margin"]["b"] = 90
    return {"data": data, "layout": layout, "config": {"displayModeBar": False, "responsive": True}}


def _side_by_side(state: OptimState, runs, tables) -> dict[str, Any]:
    """Step k in the notes' form and in PyTorch's: per parameter a notes cell beside a PyTorch cell
    (one cell across both where the two forms agree exactly), the notes' printed moments, and the
    difference of the updates."""
    k = min(state.k, len(runs["inside-off"]))
    names = state.names
    notes, torch = tables["inside-off"], tables["outside-on"]
    diff = lab.difference(torch, notes)
    show_printed = _is_notes_example(state, k)
    rows = []
    quantities = ("m", "v", "m_hat", "v_hat", "denom", "effective_step", "update", "theta")
    pairs = [np.stack([notes[q][k - 1], torch[q][k - 1]]) for q in quantities]  # one colour scale per row
    for q, pair, (bg, fg) in zip(quantities, pairs, scaled_colours(pairs), strict=True):
        a, b = pair
        same = bool(np.array_equal(a, b))
        values = pair.tolist()
        cells = [[{"text": figures.format_value(v), "title": repr(v), "bg": bg[f][i], "fg": fg[f][i]}
                  for i, v in enumerate(values[f])] for f in ((0,) if same else (0, 1))]
        symbol = "denom." if q == "denom" else BANDS[q][0]
        per_param = [[form[i] for form in cells] for i in range(len(names))]
        rows.append({"key": q, "symbol": symbol, "doc": BANDS[q][1], "same": same, "cells": per_param})
        if show_printed and q in NOTES_PRINTED:
            printed = []
            for i, n in enumerate(names):
                value = NOTES_PRINTED[q][n]
                got = float(a[i])
                slip = abs(value - got) > 1e-12 * max(1.0, abs(value))
                printed.append({"text": figures.format_value(value), "slip": slip,
                                "correct": figures.format_value(got)})
            rows.append({"key": f"printed-{q}", "symbol": "notes print", "printed": True,
                         "doc": f"what the notes print for {BANDS[q][1]}", "cells": printed})
    diff_cells = [{"text": figures.format_value(float(d)), "title": repr(float(d))} for d in diff["update"][k - 1]]
    return {"k": k, "names": names, "rows": rows, "diff": diff_cells, "printed": show_printed}


# ---------------------------------------------------------------- the surface explorer


@lru_cache(maxsize=16)
def _contour(surface: str) -> dict:
    """The contour trace of a surface (a pure function of its name: cached)."""
    grid = lab.surface_grid(surface, GRID_POINTS)
    text = [[figures.format_value(float(v)) for v in row] for row in grid.f]
    return {"type": "contour", "x": grid.x.round(6).tolist(), "y": grid.y.round(6).tolist(),
            "z": grid.level.round(5).tolist(), "text": text, "name": "loss", "showscale": False,
            "ncontours": 26, "contours": {"coloring": "fill", "showlines": True},
            "colorscale": [[0.0, "rgb(255,255,255)"], [1.0, "rgb(178,178,178)"]],
            "line": {"color": "rgba(60,60,60,0.25)", "width": 0.7},
            "hovertemplate": "(%{x:.3f}, %{y:.3f})<br>f = %{text}<extra></extra>", "showlegend": False}


@lru_cache(maxsize=128)
def _trajectory(surface: str, name: str, start: tuple[float, float], hp: tuple, steps: int) -> optim.Trajectory:
    """engine.optim.rules.trajectory, cached by its full input (pages re-render the same paths often)."""
    return optim.trajectory(surface, name, list(start), dict(hp), steps)


def path(state: OptimState, spec: OptSpec) -> dict[str, Any]:
    """One run's path up to t: points, losses, and whether (and why) it stopped."""
    if state.t == 0:
        loss = lab.surface_loss(state.surface, state.start)
        return {"points": np.array([state.start]), "losses": np.array([loss]), "stopped": None, "reason": ""}
    tr = _trajectory(state.surface, spec.name, tuple(state.start), tuple(spec.hp.items()), state.t)
    return {"points": tr.points, "losses": tr.losses, "stopped": tr.diverged_at, "reason": tr.reason}


def build_surface(state: OptimState, stream_url: str) -> dict[str, Any]:
    surf = optim.SURFACES[state.surface]
    paths = [path(state, spec) for spec in state.runs]
    traces = [_contour(state.surface),
              {"type": "scatter", "mode": "markers", "name": "minimum", "x": [m[0] for m in surf.minima],
               "y": [m[1] for m in surf.minima], "hovertemplate": "minimum (%{x:.4g}, %{y:.4g})<extra></extra>",
               "marker": {"symbol": "star", "size": 15, "color": "#111", "line": {"color": "#fff", "width": 1}}},
              {"type": "scatter", "mode": "markers", "name": "start", "x": [state.start[0]], "y": [state.start[1]],
               "hovertemplate": "start (%{x:.4g}, %{y:.4g})<extra></extra>",
               "marker": {"symbol": "x-thin", "size": 14, "color": "#111", "line": {"color": "#111", "width": 3}}}]
    first_run = len(traces)
    runs, loss_traces = [], []
    for i, (spec, p) in enumerate(zip(state.runs, paths, strict=True)):
        label = f"{i + 1} · {spec.summary()}"
        n = len(p["points"])
        custom = [[t, round(float(f), 8)] for t, f in enumerate(p["losses"])]
        traces.append({"type": "scatter", "mode": "lines+markers", "name": label,
                       "x": p["points"][:, 0].tolist(), "y": p["points"][:, 1].tolist(), "customdata": custom,
                       "line": {"color": RUN_COLOURS[i], "width": 2.2},
                       "marker": {"symbol": RUN_SYMBOLS[i], "size": 5, "color": RUN_COLOURS[i]},
                       "hovertemplate": f"{label}<br>t = %{{customdata[0]}}<br>(%{{x:.4g}}, %{{y:.4g}})"
                                        "<br>f = %{customdata[1]:.4g}<extra></extra>"})
        loss_traces.append({"type": "scatter", "mode": "lines", "name": label, "x": list(range(n)),
                            "y": p["losses"].tolist(), "line": {"color": RUN_COLOURS[i], "width": 2},
                            "hovertemplate": f"{label}<br>t = %{{x}}<br>f = %{{y:.4g}}<extra></extra>"})
        last = p["points"][-1]
        runs.append({"index": i + 1, "spec": spec, "label": label, "colour": RUN_COLOURS[i],
                     "symbol": RUN_SYMBOLS[i], "trace": first_run + i, "loss_trace": i, "t": n - 1,
                     "x": figures.format_value(float(last[0])), "y": figures.format_value(float(last[1])),
                     "f": figures.format_value(float(p["losses"][-1])), "stopped": p["stopped"],
                     "reason": p["reason"], "params": optim.OPTIMIZERS[spec.name]})
    axis = {"zeroline": False, "showgrid": False, "autorange": False, "fixedrange": False}
    layout = {"height": 520, "margin": {"l": 52, "r": 12, "t": 10, "b": 44}, "hovermode": "closest",
              "xaxis": {**axis, "range": list(surf.x_range), "title": {"text": "x"}},
              "yaxis": {**axis, "range": list(surf.y_range), "title": {"text": "y"}},
              "showlegend": False, "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "#fff",
              "font": {"size": 13}, "uirevision": state.surface}
    figure = {"data": traces, "layout": layout,
              "config": {"displayModeBar": False, "responsive": True, "scrollZoom": False}}
    positive = state.surface != "saddle"
    loss_layout = {"height": 260, "margin": {"l": 64, "r": 12, "t": 8, "b": 44}, "showlegend": False,
                   "xaxis": {"title": {"text": "step t"}, "range": [0, state.path_steps], "zeroline": False},
                   "yaxis": {"title": {"text": "loss f"}, "type": "log" if positive else "linear",
                             "exponentformat": "power"},
                   "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)", "font": {"size": 13}}
    loss_figure = {"data": loss_traces, "layout": loss_layout,
                   "config": {"displayModeBar": False, "responsive": True}}
    runs_js = [{"index": r["index"], "trace": r["trace"], "loss_trace": r["loss_trace"], "colour": r["colour"],
                "stopped": r["stopped"]} for r in runs]
    return {"surface": surf, "figure": figure, "loss_figure": loss_figure, "runs": runs, "runs_js": runs_js,
            "all_stopped": all(r["stopped"] for r in runs),
            "stream_url": stream_url, "surfaces": optim.SURFACES, "optimizers": optim.OPTIMIZERS,
            "titles": optim.TITLES}


def check_points(state: OptimState) -> np.ndarray:
    """Where to check the surface's gradient: a 7 × 7 grid over the plot, the start, and the paths so far."""
    surf = optim.SURFACES[state.surface]
    xs, ys = np.linspace(*surf.x_range, 7), np.linspace(*surf.y_range, 7)
    X, Y = np.meshgrid(xs, ys)
    pts = [np.stack([X.ravel(), Y.ravel()], axis=1), np.array([state.start])]
    for spec in state.runs:
        p = path(state, spec)["points"]
        pts.append(p[:: max(1, len(p) // 20)])
    return np.concatenate(pts)
