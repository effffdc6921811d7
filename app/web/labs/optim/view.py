"""The optimizer lab's view: engine results for a state, laid out for the templates.

Every number shown comes from the engine (``engine.optim.rules`` and ``engine.optim.rules.runs``); this module
only arranges them into grids, labels and plain plotly-schema dicts.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import numpy as np

from app.web.labs.optim import stages, starting
from app.web.labs.optim.presets import NOTES_GRADS, NOTES_NAMES, NOTES_PRINTED
from app.web.labs.optim.run import VECTOR, path, run
from app.web.labs.optim.state import OptimState, OptSpec
from app.web.render.heatmap import Heatmaps, batched, colours, keyed, scale_max
from app.web.render.numbers import cell_text, exact_text
from engine.optim import rules as optim
from engine.optim import runs as lab
from engine.optim import surfaces

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


# The conventions an optimizer can follow, as the values of its hyperparameter fields: PyTorch's (what the lab
# opens in) and the notes'. One click on either sets every field that differs.
FORMS: dict[str, tuple[tuple[str, dict[str, str]], ...]] = {
    "adam": (("PyTorch's", {"eps_placement": "outside", "bias_correction": "on"}),
             ("the notes'", {"eps_placement": "inside", "bias_correction": "off"})),
    "momentum": (("PyTorch's", {"form": "pytorch"}), ("the notes'", {"form": "ema"})),
}
FORMS["adamw"] = FORMS["adam"]


def forms(spec: OptSpec, prefix: str) -> list[dict[str, Any]]:
    """The one-click conventions of ``spec``: a label, the form fields (``<prefix>.<name>``: value) it sets,
    and whether the optimizer follows it now."""
    out = []
    for label, values in FORMS.get(spec.name, ()):
        current = all(_hp_form_text(spec.hp[k]) == v for k, v in values.items())
        out.append({"label": label, "current": current,
                    "vals": json.dumps({f"{prefix}.{k}": v for k, v in values.items()})})
    return out


def _hp_form_text(value: Any) -> str:
    return ("on" if value else "off") if isinstance(value, bool) else str(value)


def _denominator_label(spec: OptSpec) -> tuple[str, str]:
    if spec.name == "rmsprop":
        return "√s+ε", "denominator √s + ε"
    if spec.hp.get("eps_placement") == "inside":
        return "√(v̂+ε)", "denominator √(v̂ + ε)"
    return "√v̂+ε", "denominator √v̂ + ε"


def _finite_or_none(values) -> list:
    """JSON for plotly: a number that overflowed becomes a gap (JSON has no inf or nan)."""
    return [float(v) if np.isfinite(v) else None for v in values]


# A table of the step: each on its own symmetric scale, a value that overflowed (inf, nan: a learning
# rate too large) drawn as 0 and read as "inf" or "nan".
TABLE = {"colour": "finite"}


def _labels(key: str, spec: OptSpec) -> tuple[str, str]:
    symbol, doc = BANDS[key]
    if key == "denom":
        return _denominator_label(spec)
    if key == "v" and spec.name == "momentum":
        return symbol, "velocity v_t"
    return symbol, doc


def step_rows(grids: Heatmaps, tab: dict[str, np.ndarray], step: lab.LabStep, spec: OptSpec, j: int,
              t0: int = 0) -> list[dict]:
    """The selected step as a table: a row per quantity, a column per parameter.

    Each row is its own ``table.heatmap[data-arr]`` (cells ``data-idx="i,c"``, c = t − 1) so hovering
    outlines sources here and in the bands alike; fixed column widths line the rows up as one table.
    θ before the step has no array of the table: its row has no ``data-arr`` and its cells no index.
    """
    c = step.t - 1 - t0  # the step's column: t counts from the starting state's t0
    rows = [("", f"θ{subscript(step.t - 1)}", "θ before the step", np.asarray(step.params[VECTOR], np.float64))]
    for key in (k for k in BANDS if k in tab):
        symbol, doc = _labels(key, spec)
        rows.append((key, f"θ{subscript(step.t)}" if key == "theta" else symbol, doc, tab[key][c]))
    out = []
    for key, symbol, doc, values in rows:
        out.append(grids.add(values, key, index=[[f"{i},{c}" for i in range(values.size)]] if key else None,
                             row_labels=[symbol], row_title=doc, classes={(0, j): "pick"}, kind="steprow", label=doc,
                             tip=keyed(lambda i, col, v, text, doc=doc: f"{doc}: {exact_text(v)}", "row", doc),
                             **TABLE))
    return out


def subscript(n: int) -> str:
    """θ₀, θ₁₂: an index as Unicode subscript digits."""
    return str(n).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


def _bands(grids: Heatmaps, tab: dict[str, np.ndarray], names: tuple[str, ...], spec: OptSpec, k: int,
           t0: int = 0) -> list[dict]:
    """Every quantity of every step: a band per quantity, a row per parameter, a column per step (cells
    ``data-idx="i,c"``, c = t − 1); the selected step's column has class ``sel``."""
    out = []
    for key in (key for key in BANDS if key in tab):
        values = tab[key].T  # (P, T)
        symbol, doc = _labels(key, spec)
        selected = [["sel" if c == k - 1 else "" for c in range(values.shape[1])]] * values.shape[0]
        band = grids.add(values, key, band=(symbol, doc), row_labels=names, row_class="row-label",
                         classes=selected, kind="band", label=doc, **TABLE,
                         tip=keyed(lambda i, c, v, text, doc=doc: f"{doc}, {names[i]}, t={t0 + c + 1}: {exact_text(v)}",
                                   "band", doc, tuple(names), t0))
        band.update({"key": key, "symbol": symbol, "doc": doc})
        out.append(band)
    return out


@batched
def build_table(state: OptimState) -> dict[str, Any]:
    """Everything the results partial draws."""
    steps = run(state)
    tab = lab.table(steps)
    k = min(state.k, len(steps))
    key = state.names[state.j]
    step = steps[k - 1]
    t0 = state.starting.t if state.starting else 0
    grids = Heatmaps()
    view: dict[str, Any] = {
        "state": state, "steps": steps, "T": len(steps), "k": k, "key": key,
        "bands": _bands(grids, tab, state.names, state.opt, k, t0) if len(steps) > 1 else [],
        "step_rows": step_rows(grids, tab, step, state.opt, state.j, t0),
        "t0": t0, "starting": starting_rows(state),
        "formulas": lab.plugged_step(step, VECTOR, state.j),
        "title": optim.TITLES[state.opt.name],
        "grad_rows": state.grad_rows(),
    }
    view["stage"] = stages.stage_view(view["formulas"], step.grads, key, VECTOR, state.j, step.t, state.stage)
    if state.gmode == "surface":
        view["gsurface"] = surfaces.SURFACES[state.gsurface]
    broken = ~np.all(np.isfinite(tab["theta"]), axis=1)  # steps whose θ overflowed
    view["overflow"] = int(np.argmax(broken)) + 1 if broken.any() else None
    view["conventions"] = conventions(state, steps)
    grids.render()
    return view


def starting_rows(state: OptimState) -> list[dict[str, Any]]:
    """The form's starting-state cells: a row per slot of the optimizer (its key, title, a value per parameter)."""
    start = state.starting or starting.zero(state.opt.name, state.P)
    return [{"slot": slot, "key": starting.SLOT_KEYS[slot], "title": starting.slot_title(state.opt.name, slot),
             "cells": [{"label": starting.slot_label(slot, n), "value": start.value(slot, i)}
                       for i, n in enumerate(state.names)]}
            for slot in optim.SLOTS[state.opt.name]]


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
    if k != 1 or (hp["beta1"], hp["beta2"]) != (0.9, 0.995) or state.names != NOTES_NAMES or state.starting:
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
        out["rows"].append({"t": steps[t].t, "cells": {key: cell_text(float(tables[key][quantity][t, j]))
                                                  for key in runs},
                            "titles": {key: exact_text(tables[key][quantity][t, j]) for key in runs}})
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
    pairs = np.stack([np.stack([notes[q][k - 1], torch[q][k - 1]]) for q in quantities])  # (Q, 2, P)
    tops = np.array([scale_max(pair) for pair in pairs])[:, None, None]  # one colour scale per row
    shades = colours(pairs, tops, rule="finite")
    for q, pair, bg, fg in zip(quantities, pairs, *shades, strict=True):
        a, b = pair
        same = bool(np.array_equal(a, b))
        values = pair.tolist()
        cells = [[{"text": cell_text(v), "title": exact_text(v), "bg": bg[f][i], "fg": fg[f][i]}
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
                printed.append({"text": cell_text(value), "slip": slip,
                                "correct": cell_text(got)})
            rows.append({"key": f"printed-{q}", "symbol": "notes print", "printed": True,
                         "doc": f"what the notes print for {BANDS[q][1]}", "cells": printed})
    diff_cells = [{"text": cell_text(float(d)), "title": exact_text(d)} for d in diff["update"][k - 1]]
    return {"k": k, "names": names, "rows": rows, "diff": diff_cells, "printed": show_printed}


# ---------------------------------------------------------------- the surface explorer


@lru_cache(maxsize=16)
def _contour(surface: str) -> dict:
    """The contour trace of a surface (a pure function of its name: cached)."""
    grid = lab.surface_grid(surface, GRID_POINTS)
    text = [[cell_text(float(v)) for v in row] for row in grid.f]
    return {"type": "contour", "x": grid.x.round(6).tolist(), "y": grid.y.round(6).tolist(),
            "z": grid.level.round(5).tolist(), "text": text, "name": "loss", "showscale": False,
            "ncontours": 26, "contours": {"coloring": "fill", "showlines": True},
            "colorscale": [[0.0, "rgb(255,255,255)"], [1.0, "rgb(178,178,178)"]],
            "line": {"color": "rgba(60,60,60,0.25)", "width": 0.7},
            "hovertemplate": "(%{x:.3f}, %{y:.3f})<br>f = %{text}<extra></extra>", "showlegend": False}


def build_surface(state: OptimState, stream_url: str) -> dict[str, Any]:
    surf = surfaces.SURFACES[state.surface]
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
                     "x": cell_text(float(last[0])), "y": cell_text(float(last[1])),
                     "f": cell_text(float(p["losses"][-1])), "stopped": p["stopped"],
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
            "stream_url": stream_url, "surfaces": surfaces.SURFACES, "optimizers": optim.OPTIMIZERS,
            "titles": optim.TITLES}
