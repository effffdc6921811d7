"""The network lab's view: engine results for a state, laid out for the templates.

The builder (layers, shapes, parameter counts), the drawing of the network and the stepper through
one training step; the current operation's panel is :mod:`.step`'s, the training card :mod:`.train`'s.
Every number comes from the engine (:mod:`engine.network.runs`, :mod:`engine.optim.rules`).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from app.web.labs.network import run as network_run
from app.web.labs.network.state import (
    LAYER_TYPES,
    LOSS_TITLES,
    MAX_TYPED_INIT,
    SETTINGS,
    NetworkState,
    lab_limit_error,
    model_text,
    timeline,
    typed_input_fits,
)
from app.web.labs.network.step import IMAGE_OVER, PHASES, describe, dims, keras_names, layer_at, panel
from app.web.labs.network.train import train_view
from app.web.render.bars import probability_bars
from app.web.render.heatmap import batched, planes
from app.web.render.numbers import cell_text
from engine import conventions
from engine.data import digits
from engine.network import runs as nl
from engine.network.model import MAX_REG, Model, Residual, num_classes, param_shapes
from engine.optim import rules as optim
from engine.records import OpInputError

# --- the builder ------------------------------------------------------------------------------


def _settings(layer, field: str) -> list[dict[str, Any]]:
    out = []
    for key, (kind, _) in SETTINGS[layer.type].items():
        value = getattr(layer, key)
        item = {"key": key, "name": f"{field}.{key}", "kind": kind, "value": "" if value is None else value}
        if kind == "choice":
            item["choices"] = conventions.values("convention")
        if key == "momentum":
            item["placeholder"] = "auto"
        out.append(item)
    return out


def runnable(model: Model) -> bool:
    """The builder's "ok" (the stack fits and is within the lab's limits) without laying out its rows."""
    report = nl.shape_report(model)
    return (report.error or lab_limit_error(report)) is None


def builder(model: Model) -> dict[str, Any]:
    report = nl.shape_report(model)
    error = report.error or lab_limit_error(report)
    bad = nl.error_path(error) if error else None
    seen_error = [False]

    def rows(layers, prefix: str, field: str) -> list[dict[str, Any]]:
        out = []
        for i, layer in enumerate(layers):
            path, here = f"{prefix}{i}", f"{field}[{i}]"
            info = report.infos.get(path)
            row = {"path": path, "field": here, "type": layer.type, "label": describe(layer),
                   "settings": _settings(layer, here), "index": i, "count": len(layers),
                   "out": dims(info.out_shape) if info and (not seen_error[0] or path != bad) else None,
                   "params": info.param_count if info else None,
                   "error": error.message if error is not None and path == bad else None,
                   "error_field": error.field if error is not None and path == bad else None}
            if isinstance(layer, Residual):
                row["children"] = rows(layer.layers, f"{path}.", f"{here}.layers")
                row["depth_ok"] = path.count(".") + 2 <= 3
            if row["error"]:
                seen_error[0] = True
                row["out"] = None
            out.append(row)
        return out

    tree = rows(model.layers, "", "model.layers")
    loss_error = error.message if error is not None and bad is None else None
    return {"rows": tree, "ok": error is None, "error": error, "error_path": bad, "loss_error": loss_error,
            "total_params": report.total_params, "input": list(model.input_shape),
            "classes": num_classes(model) if error is None else None, "types": LAYER_TYPES,
            "model_text": model_text(model), "loss": model.loss, "losses": LOSS_TITLES, "reg": model.reg,
            "l1": model.l1, "max_reg": MAX_REG}


# --- the drawing of the network --------------------------------------------------------------


def drawing(model: Model, op: str) -> list[dict[str, Any]]:
    kind, _, current = op.partition(":")
    groups = nl.layer_groups(model)
    names = keras_names(model)

    def boxes(layers, prefix: str) -> list[dict[str, Any]]:
        out = []
        for i, layer in enumerate(layers):
            path = f"{prefix}{i}"
            box = {"path": path, "type": layer.type, "label": describe(layer) + (f" ({names[path]})" if path in names
                                                                                   else ""),
                   "current": current == path and kind in ("f", "b", "u"), "phase": PHASES.get(kind, ""),
                   "goto": f"{'b' if kind == 'b' else 'u' if kind == 'u' and path in groups else 'f'}:{path}"}
            if isinstance(layer, Residual):
                box["children"] = boxes(layer.layers, f"{path}.")
            out.append(box)
        return out

    return boxes(model.layers, "")


OP_TITLES = {"f": "Forward", "b": "Backward", "u": "Update"}


def op_title(model: Model, op: str) -> str:
    if op == "loss":
        return "Loss"
    kind, _, path = op.partition(":")
    return f"{OP_TITLES[kind]} · {path} {layer_at(model, path).type}"


HP_LABELS = {"lr": "lr", "beta1": "β1", "beta2": "β2", "eps": "ε", "momentum": "μ", "alpha": "α",
             "weight_decay": "λ", "eps_placement": "ε placement", "bias_correction": "bias correction", "form": "form"}


def hp_fields(state: NetworkState) -> list[dict[str, Any]]:
    hp = optim.clean_hyperparams(state.optimizer, state.hyperparams)
    out = []
    for p in optim.OPTIMIZERS[state.optimizer]:
        kind = "bool" if p.kind is bool else "choice" if p.choices else "number"
        out.append({"name": p.name, "kind": kind, "choices": p.choices, "doc": p.doc,
                    "label": HP_LABELS.get(p.name, p.name), "value": hp[p.name]})
    return out


# --- the whole view ---------------------------------------------------------------------------


def _example_grids(state: NetworkState) -> dict[str, Any] | None:
    """The typed examples; ``images``: x's planes as editable images (the kit's image plane, app.web.render.plane)
    when a plane has more cells than ``Settings.plane_image_cells`` (a 28×28 digit), else None (grids of cells)."""
    if state.x is None or not (state.data == "typed" or state.on == "own"):
        return None
    x = state.x
    images = None
    if x.ndim == 4 and x.shape[2] * x.shape[3] > IMAGE_OVER:
        images = planes(x, "x", ("n", "c"), label="x", image_over=IMAGE_OVER, editable=True)
    return {"x": x, "labels": state.labels, "n": x.shape[0], "images": images}


def _init_grids(state: NetworkState, report_ok: bool) -> dict[str, Any] | None:
    """Typed initial parameters: available for small models (the rest of the time: from the seed)."""
    if not report_ok:
        return None
    shapes = param_shapes(state.model)
    if not shapes or sum(math.prod(s) for s in shapes.values()) > MAX_TYPED_INIT:
        return None
    return {"typed": bool(state.init), "params": state.init}


def build(state: NetworkState, train: bool = True) -> dict[str, Any]:
    """Everything the lab partial draws; ``blocked`` says why the step cannot be shown, if it cannot.
    ``train=False``: without the training section (its charts and the first conv layer's maps).

    A step on the way to divergence holds ±∞ and NaN: they are shown as they are, without warnings.
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        return _build(state, train)


def step_build(state: NetworkState) -> dict[str, Any]:
    """What ``POST /network/step`` draws (network/step.html): the view without the training section, which a step
    of the trace never redraws (10–20 % of a step's build)."""
    return build(state, train=False)


@batched
def _build(state: NetworkState, train: bool = True) -> dict[str, Any]:
    # a step's view (train=False) lays the builder out only for a step it cannot show: network/step.html never draws
    # the builder, network/results.html (the step blocked) does
    b = builder(state.model) if train or not runnable(state.model) else None
    ok = b is None or b["ok"]
    view: dict[str, Any] = {"state": state, "builder": b, "examples": _example_grids(state),
                            "init": _init_grids(state, ok), "optimizers": optim.OPTIMIZERS,
                            "optimizer_titles": optim.TITLES, "hp": optim.clean_hyperparams(state.optimizer,
                                                                                           state.hyperparams),
                            "typed_fits": typed_input_fits(state.model), "hp_fields": hp_fields(state),
                            "pad": tuple(state.model.input_shape) == (1, digits.SIDE, digits.SIDE)}
    if not ok:
        where = f"layer {b['error_path']}" if b["error_path"] else "the end of the stack"
        view["blocked"] = {"field": b["error"].field, "message": f"The network cannot run yet: fix {where} "
                                                                 f"(“{b['error'].message}”)."}
        return view
    try:
        spec, at, st = network_run.traced_step(state)
    except OpInputError as err:
        path = nl.error_path(err)
        view["blocked"] = {"field": err.field, "message": err.message, "path": path}
        if b is None:
            b = view["builder"] = builder(state.model)
        if path is not None:
            _mark(b["rows"], path, err.message)
        return view
    view["spec"] = spec
    ops = timeline(state.model)
    index = ops.index(state.op) if state.op in ops else 0
    if state.op != ops[index]:  # (the same state object otherwise: its link is written once)
        state = replace(state, op=ops[index])
    view["state"] = state
    view["step"] = {"ops": [{"op": o, "phase": PHASES[o.partition(":")[0]], "title": op_title(state.model, o)}
                            for o in ops],
                    "index": index, "count": len(ops), "title": op_title(state.model, ops[index]),
                    "drawing": drawing(state.model, state.op), "loss_current": state.op == "loss",
                    "panel": panel(state, st, spec), "loss": cell_text(st.trace["loss"]),
                    "t": st.t, "batch": _batch_text(state, spec, st),
                    "input_shape": dims(state.model.input_shape), "classes": num_classes(state.model)}
    if train:
        view["train"] = train_view(state, spec, at)
    return view


def _batch_text(state: NetworkState, spec: nl.RunSpec, st: nl.StepTrace) -> str:
    n = st.x.shape[0]
    if state.data == "typed":
        return f"the typed example{'s' if n > 1 else ''} ({n})"
    if state.own_example:
        return f"your own example{'s' if n > 1 else ''} (labels {', '.join(str(int(v)) for v in st.labels)})"
    idx = nl.batch_indices(spec, st.t)
    shown = ", ".join(str(int(i)) for i in idx[:6])
    return f"digits batch {st.t + 1}: {n} images (#{shown}{', …' if n > 6 else ''})"


def _mark(rows: list[dict], path: str, message: str) -> None:
    for row in rows:
        if row["path"] == path:
            row["error"] = message
            return
        _mark(row.get("children", []), path, message)


def predict(state: NetworkState, pixels: np.ndarray) -> dict[str, Any]:
    """The network's class probabilities for a drawn digit, with the parameters after state.step steps."""
    probs, t, x = network_run.probabilities(state, pixels)
    best = int(np.argmax(probs))
    return {"probs": [cell_text(float(p)) for p in probs], "best": best,
            "bars": probability_bars(probs, best, "prediction", mark_word="answer", values=False,
                                     label=f"Probability of each class; the network's answer is {best}"),
            "t": t, "x": x}


