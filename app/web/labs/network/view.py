"""The network lab's view: engine results for a state, laid out for the templates.

Every number comes from the engine (:mod:`engine.network.trace.runs`, :mod:`engine.network.trace`,
:mod:`engine.optim.rules`, the op registry's step records); this module picks what to show,
cuts big arrays to what fits a screen (and says so), and labels it.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from app.web.labs.network import links
from app.web.labs.network import run as network_run
from app.web.labs.network.presets import RESNET_MODEL, RESNET_NAMES
from app.web.labs.network.state import (
    LAYER_TYPES,
    MAX_LAB_ACTIVATION,
    MAX_LAB_PARAMS,
    MAX_TYPED_INIT,
    SETTINGS,
    NetworkState,
    model_text,
    timeline,
    typed_input_fits,
)
from app.web.render import figures
from engine import registry
from engine.data import digits
from engine.network import runs as nl
from engine.network.model import Model, Residual, dropout_seed, layer_field, num_classes, param_shapes
from engine.optim import rules as optim
from engine.records import OpInputError

SHOW_N, SHOW_C = 2, 4  # examples and channels drawn of a 4-D array
SHOW_ROWS, SHOW_COLS = 4, 32  # rows and columns drawn of an (N, D) array
MAX_ROWS, MAX_COLS = 24, 36  # of a matrix (x_col, w_row, dense weights)
GRADCHECK_SAMPLE = 6  # entries checked per parameter array and of x
GRADCHECK_TOL = 1e-6

PHASES = {"f": "forward", "loss": "loss", "b": "backward", "u": "update"}


# --- the builder ------------------------------------------------------------------------------


def describe(layer) -> str:
    """A layer's settings in a few words: "6 filters 3×3, pad 1"."""
    t = layer.type
    if t == "conv2d":
        extra = (f", stride {layer.stride}" if layer.stride != 1 else "") + (f", pad {layer.pad}" if layer.pad else "")
        return f"{layer.filters} filter{'s' if layer.filters > 1 else ''} {layer.kernel}×{layer.kernel}{extra}"
    if t in ("maxpool2d", "avgpool2d"):
        return f"{layer.size}×{layer.size}" + (f", stride {layer.stride}" if layer.stride != layer.size else "")
    if t == "linear":
        return f"{layer.units} units"
    if t == "dropout":
        return f"p = {layer.p:g}"
    if t == "batchnorm":
        return f"ε = {layer.eps:g}, {layer.convention}"
    if t == "residual":
        return f"x + f(x), {len(layer.layers)} layer{'s' if len(layer.layers) > 1 else ''}"
    return ""


def dims(shape) -> str:
    return "×".join(str(d) for d in shape)


def _settings(layer, field: str) -> list[dict[str, Any]]:
    out = []
    for key, (kind, _) in SETTINGS[layer.type].items():
        value = getattr(layer, key)
        item = {"key": key, "name": f"{field}.{key}", "kind": kind, "value": "" if value is None else value}
        if kind == "choice":
            item["choices"] = ("pytorch", "cs231n")
        if key == "momentum":
            item["placeholder"] = "auto"
        out.append(item)
    return out


def lab_limit_error(report: nl.ShapeReport) -> OpInputError | None:
    """This lab's own bounds (a model the page can train live): the first layer over them."""
    total = 0
    for _path, info in report.infos.items():
        total += info.param_count
        size = math.prod(info.out_shape)
        if size > MAX_LAB_ACTIVATION:
            return OpInputError(info.field, f"{info.type} outputs {dims(info.out_shape)} = {size:,} numbers per "
                                            f"example; this lab trains live with at most {MAX_LAB_ACTIVATION:,}")
        if total > MAX_LAB_PARAMS:
            return OpInputError(info.field, f"{info.type} brings the model to {total:,} learnable numbers; this lab "
                                            f"trains live with at most {MAX_LAB_PARAMS:,}")
    return None


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
            "model_text": model_text(model)}


# --- arrays cut to a screen -------------------------------------------------------------------


def _range(n: int, shown: int, what: str) -> str:
    return f"{what} 0–{shown - 1} of {n}" if shown < n else ""


def show(arr: Any, name: str, title: str | None = None, axes: tuple[str, str] = ("n", "c"), vmax: float | None = None,
         row_labels: list[str] | None = None, col_labels: list[str] | None = None, max_a: int = SHOW_N,
         max_b: int = SHOW_C, max_rows: int | None = None) -> dict[str, Any]:
    """One array as a block the template draws: planes, a grid or a single value, with a note of what is cut."""
    arr = np.asarray(arr, dtype=np.float64)
    title = title if title is not None else name
    shape = dims(arr.shape) if arr.ndim else "scalar"
    if arr.ndim == 0:
        return {"kind": "value", "title": title, "name": name, "text": figures.format_value(float(arr)),
                "exact": repr(float(arr)), "shape": shape}
    vmax = figures.scale_max(arr) if vmax is None else vmax
    if arr.ndim == 4:
        a, b = min(arr.shape[0], max_a), min(arr.shape[1], max_b)
        planes = []
        for i in range(a):
            for j in range(b):
                g = figures.grid(arr[i, j], name, (i, j), vmax)
                g["title"] = f"{axes[0]}={i}, {axes[1]}={j}"
                planes.append(g)
        note = ", ".join(t for t in (_range(arr.shape[0], a, axes[0]), _range(arr.shape[1], b, axes[1])) if t)
        return {"kind": "planes", "title": title, "name": name, "planes": planes, "shape": shape,
                "note": f"showing {note}" if note else "", "vmax": figures.format_value(vmax)}
    if arr.ndim == 1:
        arr2 = arr[None, :SHOW_COLS * 2]
        cut = arr.shape[0] - arr2.shape[1]
        g = figures.grid(arr2, name, (), vmax, col_labels=col_labels or [str(i) for i in range(arr2.shape[1])],
                         hidden_cols=max(0, cut), shape_text=shape)
        return {"kind": "grid", "title": title, "name": name, "grid": g, "shape": shape,
                "note": f"showing 0–{arr2.shape[1] - 1} of {arr.shape[0]}" if cut > 0 else "",
                "vmax": figures.format_value(vmax)}
    if arr.ndim == 2:
        rows, cols = arr.shape
        r = min(rows, max_rows if max_rows is not None else (MAX_ROWS if row_labels is not None else SHOW_ROWS))
        c = min(cols, MAX_COLS if row_labels is not None else SHOW_COLS)
        rl = (row_labels or [f"{axes[0]}{i}" for i in range(rows)])[:r]
        cl = (col_labels or [str(j) for j in range(cols)])[:c]
        g = figures.grid(arr[:r, :c], name, (), vmax, row_labels=rl, col_labels=cl, hidden_rows=rows - r,
                         hidden_cols=cols - c, shape_text=shape)
        parts = [t for t in (f"rows 0–{r - 1} of {rows}" if r < rows else "",
                             f"columns 0–{c - 1} of {cols}" if c < cols else "") if t]
        return {"kind": "grid", "title": title, "name": name, "grid": g, "shape": shape,
                "note": "showing " + ", ".join(parts) if parts else "", "vmax": figures.format_value(vmax)}
    flat = arr.reshape(arr.shape[0], -1)
    return show(flat, name, title, axes, vmax)


def matrix(arr: np.ndarray, name: str, title: str, row_labels: list[str], col_labels: list[str]) -> dict[str, Any]:
    return show(arr, name, title, row_labels=row_labels, col_labels=col_labels)


def _conv_labels(c: int, k: int, n: int, oh: int, ow: int) -> tuple[list[str], list[str]]:
    rows = [f"c{ci} ({a},{b})" for ci in range(c) for a in range(k) for b in range(k)]
    cols = [f"n{ni} ({a},{b})" for ni in range(n) for a in range(oh) for b in range(ow)]
    return rows, cols


# --- one operation's panel ----------------------------------------------------------------------


def _formula(step) -> dict[str, Any]:
    return {"kind": "formula", "title": step.title, "latex": step.latex}


def _op_call(layer, fwd: dict, bwd: dict, seed: int, path: str) -> tuple[str, dict, dict]:
    """The registry op and the inputs/params this layer ran with, to ask the op for its step records."""
    t = layer.type
    x, dout = fwd["x"], bwd["dout"]
    if t == "conv2d":
        return t, {"x": x, "w": fwd["w"], "b": fwd["b"], "dout": dout}, {"stride": layer.stride, "pad": layer.pad}
    if t == "linear":
        return t, {"x": x, "w": fwd["w"], "b": fwd["b"], "dout": dout}, {}
    if t in ("maxpool2d", "avgpool2d"):
        return t, {"x": x, "dout": dout}, {"size": layer.size, "stride": layer.stride}
    if t == "batchnorm":
        return t, {"x": x, "gamma": fwd["gamma"], "beta": fwd["beta"], "dout": dout,
                   "running_mean": fwd["running_mean_before"], "running_var": fwd["running_var_before"]}, \
            {"eps": layer.eps, "mode": "train", "convention": layer.convention,
             **({} if layer.momentum is None else {"momentum": layer.momentum})}
    if t == "dropout":
        return t, {"x": x, "dout": dout}, {"p": layer.p, "mode": "train", "seed": dropout_seed(seed, path)}
    return t, {"x": x, "dout": dout}, {}


def op_steps(layer, fwd: dict, bwd: dict, seed: int, path: str) -> dict[str, dict[str, Any]]:
    """The op's own step records (titles and formulas with this layer's numbers), by step name."""
    if layer.type == "residual":
        return {}
    name, inputs, params = _op_call(layer, fwd, bwd, seed, path)
    try:
        steps = registry.op_steps(name, inputs, params)
    except OpInputError:
        return {}
    return {s.name: _formula(s) for s in steps}


def _update_table(rec: optim.StepRecord, state: optim.OptimizerState, names: tuple[str, ...], old: dict,
                  new: dict) -> list[dict[str, Any]]:
    """1-D parameters (biases, γ, β): every quantity of the update as one table, rows = quantities."""
    blocks = []
    for name in names:
        p = np.asarray(old[name])
        if p.ndim != 1:
            continue
        pairs = [("θ before", p), ("g", rec.g[name]), *((f"{s} before", state.slots[s][name]) for s in rec.slots),
                 *((s, rec.slots[s][name]) for s in rec.slots), ("m̂", rec.m_hat.get(name)),
                 ("v̂", rec.v_hat.get(name)), ("Δθ", rec.update[name]), ("θ after", new[name])]
        blocks.append(_rows_block(name, [(label, v) for label, v in pairs if v is not None]))
    return blocks


def _layer_of(model: Model, path: str):
    layers, layer = model.layers, None
    for part in path.split("."):
        layer = layers[int(part)]
        layers = getattr(layer, "layers", ())
    return layer


def keras_names(model: Model) -> dict[str, str]:
    """For the ResNet-block preset's network: the name each layer has in ResNet-50 (Keras)."""
    return RESNET_NAMES if model_text(model) == model_text(nl.parse_structure(RESNET_MODEL)) else {}


def panel(state: NetworkState, st: nl.StepTrace, spec: nl.RunSpec) -> dict[str, Any]:
    """What the current operation's panel draws: a title, formulas and arrays, and any links out."""
    out = _panel(state, st, spec)
    name = keras_names(state.model).get(out.get("path") or "")
    if name:
        out["title"] += f" — {name} in ResNet-50"
    return out


def _panel(state: NetworkState, st: nl.StepTrace, spec: nl.RunSpec) -> dict[str, Any]:
    op = state.op
    layers = {entry["path"]: entry for entry in st.trace["layers"]}
    seed = nl.step_seed(spec.seed, st.t)
    if op == "loss":
        return _loss_panel(st)
    kind, _, path = op.partition(":")
    layer = _layer_of(state.model, path)
    entry = layers[path]
    fwd, bwd = entry["forward"], entry["backward"]
    out: dict[str, Any] = {"phase": PHASES[kind], "path": path, "type": layer.type, "field": layer_field(path),
                           "blocks": [], "links": []}
    if kind == "f":
        out["title"] = f"Forward through layer {path}: {layer.type}"
        out["lede"] = f"{describe(layer)} · input {dims(fwd['x'].shape)} → output {dims(fwd['out'].shape)}"
        out["blocks"] = _forward_blocks(layer, fwd, bwd, seed, path)
    elif kind == "b":
        out["title"] = f"Backward through layer {path}: {layer.type}"
        out["lede"] = (f"dL/d(out) {dims(bwd['dout'].shape)} arrives from above; this layer passes dL/dx "
                       f"{dims(bwd['dx'].shape)} down" + (" and keeps the gradients of its parameters"
                                                           if layer.type in ("conv2d", "linear", "batchnorm") else ""))
        out["blocks"] = _backward_blocks(layer, fwd, bwd, seed, path)
        names = nl.layer_groups(state.model).get(path, ())
        if names and st.update is not None:
            table = _update_table(st.update, st.state, names, st.params, st.new_params)
            if table:
                out["param_update"] = {"optimizer": optim.TITLES[spec.optimizer], "t": st.update.t, "blocks": table,
                                 "op": f"u:{path}"}
    else:
        out.update(_update_panel(state, st, spec, path, layer))
        for name in nl.layer_groups(state.model)[path]:
            link = links.optim_link(spec, name, st.t)
            if link and (link["href"] or all(other["note"] != link["note"] for other in out["links"])):
                link["param"] = name
                out["links"].append(link)
    if kind in ("f", "b"):
        link = None
        if layer.type == "conv2d":
            link = links.conv_link(fwd, bwd, layer)
        elif layer.type in ("maxpool2d", "avgpool2d"):
            link = links.pool_link(layer, fwd, bwd)
        elif layer.type == "relu":
            link = links.relu_link(fwd, bwd)
        elif layer.type == "batchnorm":
            link = links.norm_link(layer, fwd, bwd)
        if link:
            out["links"].append(link)
    return out


UPDATE_HERE = {"kind": "update_here"}  # where a backward panel shows its layer's update


def _forward_blocks(layer, fwd, bwd, seed, path) -> list[dict[str, Any]]:
    t = layer.type
    steps = op_steps(layer, fwd, bwd, seed, path)

    def S(*names: str) -> list[dict[str, Any]]:  # noqa: N802 - the op's step records by name
        return [steps[n] for n in names if n in steps]

    x = show(fwd["x"], "x", "Input x")
    if t == "conv2d":
        n, c, _, _ = fwd["x"].shape
        f, _, k, _ = fwd["w"].shape
        _, _, oh, ow = fwd["out"].shape
        rows, cols = _conv_labels(c, k, n, oh, ow)
        return [x, show(fwd["w"], "w", "Filters w", ("f", "c"), max_a=4), show(fwd["b"], "b", "Bias b"),
                *S(*(("pad",) if layer.pad else ()), "im2col", "matmul"),
                matrix(fwd["x_col"], "x_col", "x_col: one column per window", rows, cols),
                matrix(fwd["w_row"], "w_row", "w_row: one row per filter", [f"f{i}" for i in range(f)], rows),
                *S("bias"), show(fwd["out"], "out", "Output out", ("n", "f"))]
    if t == "batchnorm":
        return [x, *S("mean"), show(fwd["mean"], "mean", "Batch mean μ (per channel)"), *S("var"),
                show(fwd["var"], "var", "Batch variance σ² (biased)"), *S("std", "x_hat"),
                show(fwd["x_hat"], "x_hat", "Normalised x̂"), show(fwd["gamma"], "gamma", "γ"),
                show(fwd["beta"], "beta", "β"), *S("out"), show(fwd["out"], "out", "Output y = γ·x̂ + β"),
                *S("running"), show(fwd["running_mean"], "running_mean", "Running mean (after this step)"),
                show(fwd["running_var"], "running_var", "Running variance (after this step)")]
    if t == "relu":
        return [x, *S("mask"), show(fwd["mask"], "mask", "mask = [x > 0]"), *S("relu"),
                show(fwd["out"], "out", "Output max(0, x)")]
    if t == "maxpool2d":
        return [x, *S("windows", "max"), show(fwd["out"], "out", "Output: each window's maximum"),
                show(fwd["argmax"], "argmax", "argmax: flat index h·W + w of each maximum in its plane")]
    if t == "avgpool2d":
        return [x, *S(*steps), show(fwd["out"], "out", "Output: each window's mean")]
    if t == "dropout":
        return [x, *S("mask"), show(fwd["mask"], "mask", "mask (1 = kept)"), *S("scale", "out"),
                show(fwd["out"], "out", "Output")]
    if t == "flatten":
        return [x, *S("flatten"), show(fwd["out"], "out", "Output: one row per example, row-major over (C, H, W)")]
    if t == "linear":
        d, m = fwd["w"].shape
        return [x, *S("affine"), matrix(fwd["w"], "w", "Weights w (D × M)", [f"d{i}" for i in range(d)],
                                        [f"m{j}" for j in range(m)]),
                show(fwd["b"], "b", "Bias b"), show(fwd["out"], "out", "Output x·w + b")]
    return [{"kind": "formula", "title": "The block adds its input to what its layers made",
             "latex": r"\text{out} = x + f(x)"},
            show(fwd["x"], "x", "Input x (the skip path carries it unchanged)"),
            show(fwd["fx"], "fx", "f(x): the block's layers"), show(fwd["out"], "out", "Output x + f(x)")]


def _backward_blocks(layer, fwd, bwd, seed, path) -> list[dict[str, Any]]:
    t = layer.type
    steps = op_steps(layer, fwd, bwd, seed, path)

    def S(*names: str) -> list[dict[str, Any]]:  # noqa: N802
        return [steps[n] for n in names if n in steps]

    dout = show(bwd["dout"], "dout", "Upstream gradient dout = dL/d(out)")
    if t == "conv2d":
        n, c, _, _ = fwd["x"].shape
        f, _, k, _ = fwd["w"].shape
        _, _, oh, ow = fwd["out"].shape
        rows, cols = _conv_labels(c, k, n, oh, ow)
        diff = float(np.max(np.abs(bwd["dx"] - bwd["dx_full_conv"])))
        scale = figures.scale_max(bwd["dx"])
        return [dout, *S("dout_row", "dw"), show(bwd["dw"], "dw", "dw", ("f", "c"), max_a=4), *S("db"),
                show(bwd["db"], "db", "db"), UPDATE_HERE, *S("dx_col"),
                matrix(bwd["dx_col"], "dx_col", "dx_col = w_rowᵀ · dout_row", rows, cols), *S("col2im"),
                show(bwd["dx"], "dx", "dx by col2im"), *S("full_conv"),
                show(bwd["dx_full_conv"], "dx_full_conv", "dx by full convolution with the rotated kernel"),
                {"kind": "agree", "ok": diff <= 1e-9 * max(1.0, scale), "diff": figures.format_value(diff)}]
    if t == "batchnorm":
        return [dout, *S("dgamma"), show(bwd["dgamma"], "dgamma", "dγ = Σ dout · x̂"), *S("dbeta"),
                show(bwd["dbeta"], "dbeta", "dβ = Σ dout"), UPDATE_HERE, *S("dx_hat"),
                show(bwd["dx_hat"], "dx_hat", "dx̂ = dout · γ"), *S("dvar"), show(bwd["dvar"], "dvar", "dσ²"),
                *S("dmean"), show(bwd["dmean"], "dmean", "dμ"), *S("dx"),
                show(bwd["dx"], "dx", "dx (staged, as in the notes)"), *S("dx_compact"),
                show(bwd["dx_compact"], "dx_compact", "dx (the compact formula): the same numbers")]
    if t == "linear":
        d, m = fwd["w"].shape
        return [dout, *S("dw"), matrix(bwd["dw"], "dw", "dw = xᵀ · dout", [f"d{i}" for i in range(d)],
                                       [f"m{j}" for j in range(m)]),
                *S("db"), show(bwd["db"], "db", "db = Σₙ dout"), UPDATE_HERE, *S("dx"),
                show(bwd["dx"], "dx", "dx = dout · wᵀ")]
    if t == "residual":
        return [dout, {"kind": "formula", "title": "The gradient copies to both paths and adds up at the fork",
                       "latex": r"\frac{\partial L}{\partial x} = \underbrace{\text{dout}}_{\text{skip}}"
                                r" + \underbrace{\frac{\partial L}{\partial f}\frac{\partial f}{\partial x}}"
                                r"_{\text{branch}}"},
                show(bwd["dx_skip"], "dx_skip", "Skip path: dout itself"),
                show(bwd["dx_branch"], "dx_branch", "Branch: dout sent back through the block's layers"),
                show(bwd["dx"], "dx", "dx = skip + branch")]
    extra = []
    if t == "relu":
        extra.append(show(fwd["mask"], "mask", "mask = [x > 0] (from the forward pass)"))
    if t == "maxpool2d":
        extra.append(show(fwd["argmax"], "argmax", "argmax (from the forward pass): where each gradient goes"))
    if t == "dropout":
        extra.append(show(fwd["mask"], "mask", "mask (from the forward pass)"))
    return [dout, *extra, *S(*steps), show(bwd["dx"], "dx", "dx")]


def _loss_panel(st: nl.StepTrace) -> dict[str, Any]:
    tr = st.trace
    last = tr["layers"][-1]
    logits, dlogits = last["forward"]["out"], last["backward"]["dout"]
    try:
        steps = {s.name: _formula(s) for s in registry.op_steps("softmax_cross_entropy",
                                                                 {"logits": logits, "labels": st.labels})}
    except OpInputError:
        steps = {}

    def S(*names: str) -> list[dict[str, Any]]:  # noqa: N802
        return [steps[n] for n in names if n in steps]

    n, k = logits.shape
    rows = [f"n{i}" for i in range(n)]
    classes = [str(j) for j in range(k)]
    blocks = [show(logits, "logits", "Logits z (the last layer's output)", row_labels=rows, col_labels=classes,
                   max_rows=8),
              show(np.asarray(st.labels, np.float64), "labels", "Labels y"), *S("shift", "exp", "normalise"),
              show(tr["probs"], "probs", "Probabilities p = softmax(z)", row_labels=rows, col_labels=classes,
                   max_rows=8), *S("log", "nll", "mean"),
              {"kind": "value", "title": "Loss L = mean over the batch of −log p[n, yₙ]", "name": "loss",
               "text": figures.format_value(tr["loss"]), "exact": repr(float(tr["loss"])), "shape": "scalar"},
              *S("p_minus_y", "divide"),
              show(dlogits, "dlogits", "dL/dz = (p − onehot(y)) / N: where backward starts", row_labels=rows,
                   col_labels=classes, max_rows=8)]
    link = links.softmax_link(logits, np.asarray(st.labels, np.int64))
    return {"phase": "loss", "path": None, "type": "softmax_cross_entropy", "field": "model.loss",
            "title": "The loss: softmax cross-entropy", "blocks": blocks, "links": [link] if link else [],
            "lede": f"{n} example{'s' if n > 1 else ''}, {k} classes"}


def _rows_block(name: str, pairs: list[tuple[str, np.ndarray]], title: str | None = None) -> dict[str, Any]:
    """A 1-D parameter's quantities as one table, one row each, each row on its own colour scale."""
    table = np.stack([np.asarray(v, np.float64).ravel()[:SHOW_COLS * 2] for _, v in pairs])
    cols = [str(i) for i in range(table.shape[1])]
    grids = [figures.grid(table[r:r + 1], f"update.{name}", (), None, row_labels=[label],
                          col_labels=cols if r == 0 else None) for r, (label, _) in enumerate(pairs)]
    n = np.asarray(pairs[0][1]).size
    return {"kind": "rows", "title": title or name, "name": f"update.{name}", "grids": grids,
            "shape": str(n), "note": "each row on its own colour scale" + (
                f"; showing 0–{table.shape[1] - 1} of {n}" if table.shape[1] < n else "")}


def _update_panel(state: NetworkState, st: nl.StepTrace, spec: nl.RunSpec, path: str, layer) -> dict[str, Any]:
    """The update of one layer's parameters: the formulas of every sub-step, then each parameter's quantities."""
    names = nl.layer_groups(state.model)[path]
    blocks: list[dict[str, Any]] = [_formula(step) for step in st.update_steps]
    for name in names:
        seen: dict[str, np.ndarray] = {}
        for step in st.update_steps:  # every quantity once, in the order the update makes them
            for key, arr in step.arrays.items():
                quantity, _, param = key.partition(".")
                if param == name and quantity not in seen:
                    seen[quantity] = arr
        if np.ndim(seen.get("p", 0)) <= 1:
            blocks.append(_rows_block(name, [(_quantity(q, short=True), v) for q, v in seen.items()],
                                      f"Every quantity of {name}"))
        else:
            blocks += [show(v, f"{q}.{name}", f"{_quantity(q)} of {name}", ("f", "c"), max_a=4)
                       for q, v in seen.items()]
    return {"title": f"{optim.TITLES[spec.optimizer]} update of layer {path} ({layer.type}): step t = {st.update.t}",
            "lede": f"{', '.join(names)} move against their gradients; the optimizer state carries over from the "
                    f"{st.t} step{'s' if st.t != 1 else ''} before this one",
            "blocks": blocks}


QUANTITIES = {"p": "θ before", "g": "gradient g", "g_wd": "g + λθ", "p_decayed": "θ after decay",
              "m_prev": "m before", "v_prev": "v before", "s_prev": "s before", "m": "m (first moment)",
              "v": "v (second moment)", "s": "s (mean square)", "m_hat": "m̂ (bias-corrected)",
              "v_hat": "v̂ (bias-corrected)", "denom": "denominator", "update": "update Δθ",
              "effective_step": "effective step size", "p_new": "θ after"}


SHORT = {"p": "θ before", "g": "g", "g_wd": "g + λθ", "p_decayed": "θ decayed", "m_prev": "m before",
         "v_prev": "v before", "s_prev": "s before", "m_hat": "m̂", "v_hat": "v̂", "denom": "denominator",
         "update": "Δθ", "effective_step": "step size", "p_new": "θ after"}


def _quantity(q: str, short: bool = False) -> str:
    return (SHORT if short else QUANTITIES).get(q, q)


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
    return f"{OP_TITLES[kind]} · {path} {_layer_of(model, path).type}"


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
    if state.x is None or not (state.data == "typed" or state.on == "own"):
        return None
    return {"x": state.x, "labels": state.labels, "n": state.x.shape[0]}


def _init_grids(state: NetworkState, report_ok: bool) -> dict[str, Any] | None:
    """Typed initial parameters: available for small models (the rest of the time: from the seed)."""
    if not report_ok:
        return None
    shapes = param_shapes(state.model)
    if not shapes or sum(math.prod(s) for s in shapes.values()) > MAX_TYPED_INIT:
        return None
    return {"typed": bool(state.init), "params": state.init}


def compute_step(state: NetworkState) -> tuple[nl.RunSpec, nl.Checkpoint, nl.StepTrace]:
    """(run, checkpoint after state.step steps, the traced step) — OpInputError when it cannot run."""
    spec = state.spec()
    at = network_run.checkpoint(spec, state.step)
    if state.own_example:
        st = nl.step_trace(spec, at, state.x, state.labels.astype(np.int64))
    else:
        st = nl.step_trace(spec, at)
    return spec, at, st


def build(state: NetworkState) -> dict[str, Any]:
    """Everything the lab partial draws; ``blocked`` says why the step cannot be shown, if it cannot.

    A step on the way to divergence holds ±∞ and NaN: they are shown as they are, without warnings.
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        return _build(state)


def _build(state: NetworkState) -> dict[str, Any]:
    b = builder(state.model)
    view: dict[str, Any] = {"state": state, "builder": b, "examples": _example_grids(state),
                            "init": _init_grids(state, b["ok"]), "optimizers": optim.OPTIMIZERS,
                            "optimizer_titles": optim.TITLES, "hp": optim.clean_hyperparams(state.optimizer,
                                                                                           state.hyperparams),
                            "typed_fits": typed_input_fits(state.model), "hp_fields": hp_fields(state),
                            "pad": tuple(state.model.input_shape) == (1, digits.SIDE, digits.SIDE)}
    if not b["ok"]:
        where = f"layer {b['error_path']}" if b["error_path"] else "the end of the stack"
        view["blocked"] = {"field": b["error"].field, "message": f"The network cannot run yet: fix {where} "
                                                                 f"(“{b['error'].message}”)."}
        return view
    try:
        spec, at, st = compute_step(state)
    except OpInputError as err:
        path = nl.error_path(err)
        view["blocked"] = {"field": err.field, "message": err.message, "path": path}
        if path is not None:
            _mark(b["rows"], path, err.message)
        return view
    view["spec"] = spec
    ops = timeline(state.model)
    index = ops.index(state.op) if state.op in ops else 0
    state = replace(state, op=ops[index])
    view["state"] = state
    view["step"] = {"ops": [{"op": o, "phase": PHASES[o.partition(":")[0]], "title": op_title(state.model, o)}
                            for o in ops],
                    "index": index, "count": len(ops), "title": op_title(state.model, ops[index]),
                    "drawing": drawing(state.model, state.op), "loss_current": state.op == "loss",
                    "panel": panel(state, st, spec), "loss": figures.format_value(st.trace["loss"]),
                    "t": st.t, "batch": _batch_text(state, spec, st),
                    "input_shape": dims(state.model.input_shape), "classes": num_classes(state.model)}
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


def gradcheck(state: NetworkState):
    """The whole-network numeric gradient check of the traced step: (report, whether x was checked).

    Every learnable parameter is checked (a sample of each array's entries). The input x is
    checked for typed or drawn examples only: the digits' flat background makes exactly tied
    maxima in max-pooling, where the loss has no derivative, and a difference quotient across
    the tie is not a gradient.
    """
    spec, at, st = compute_step(state)
    check_x = state.own_example  # typed or drawn examples: also dL/dx
    report = nl.check_gradients(spec.model, at.params, st.x, np.asarray(st.labels, np.int64),
                                nl.step_seed(spec.seed, at.t), GRADCHECK_SAMPLE, check_x)
    return report, check_x


def predict(state: NetworkState, pixels: np.ndarray) -> dict[str, Any]:
    """The network's class probabilities for a drawn digit, with the parameters after state.step steps."""
    spec = state.spec()
    at = network_run.checkpoint(spec, state.step)
    x = digits.split(nl.DIGITS_SPLIT_SEED).normalise(pixels)[None, None]
    probs = nl.predict(spec.model, at.params, x)[0]
    best = int(np.argmax(probs))
    return {"probs": [figures.format_value(float(p)) for p in probs], "best": best,
            "figure": _probs_figure(probs), "t": at.t, "x": x}


def _probs_figure(probs: np.ndarray) -> dict[str, Any]:
    best = int(np.argmax(probs))
    colours = ["rgb(191,91,23)" if i == best else "rgb(120,120,120)" for i in range(len(probs))]
    return {"data": [{"type": "bar", "x": [str(i) for i in range(len(probs))], "y": [float(p) for p in probs],
                      "marker": {"color": colours}, "hovertemplate": "class %{x}: %{y:.4f}<extra></extra>"}],
            "layout": {"height": 180, "margin": {"l": 36, "r": 8, "t": 10, "b": 36}, "yaxis": {"range": [0, 1.05]},
                       "xaxis": {"type": "category", "dtick": 1, "title": {"text": "class"}},
                       "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)", "font": {"size": 12}},
            "config": {"displayModeBar": False, "responsive": True, "staticPlot": True}}


# --- the training card ------------------------------------------------------------------------

LINE_COLOURS = ["rgb(0,114,178)", "rgb(213,94,0)", "rgb(0,158,115)", "rgb(204,121,167)", "rgb(230,159,0)",
                "rgb(86,180,233)", "rgb(120,120,120)", "rgb(20,24,31)"]


def _layout(ytitle: str, until: int, **extra) -> dict[str, Any]:
    """A chart of the run: the x axis fixed to the whole run (no re-ranging while points stream in)."""
    layout = {"height": 250, "margin": {"l": 56, "r": 12, "t": 30, "b": 40},
              "xaxis": {"title": {"text": "step"}, "range": [0, until], "autorange": False, "zeroline": False},
              "yaxis": {"title": {"text": ytitle}, "zeroline": False}, "showlegend": True,
              "legend": {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom", "font": {"size": 11}},
              "paper_bgcolor": "rgba(0,0,0,0)",
              "plot_bgcolor": "rgba(0,0,0,0)", "font": {"size": 12}, "uirevision": "keep"}
    layout.update(extra)
    return layout


CONFIG = {"displayModeBar": False, "responsive": True}


def _line(name: str, colour: str, mode: str = "lines", width: float = 1.5, dash: str | None = None) -> dict:
    trace = {"type": "scatter", "mode": mode, "name": name, "x": [], "y": [],
             "line": {"color": colour, "width": width}, "marker": {"size": 5, "color": colour}}
    if dash:
        trace["line"]["dash"] = dash
    return trace


def snapshot_figure(snap: nl.Snapshot) -> dict[str, Any] | None:
    """The first conv layer's filters (top) and its feature maps for one image (bottom): two tiled heatmaps,
    so a new snapshot is one cheap restyle."""
    if snap.filters is None:
        return None
    data = [{"type": "heatmap", "z": figures.tile(snap.filters), "xaxis": "x", "yaxis": "y",
             "colorscale": figures.DIVERGING_PLOTLY, "zmid": 0, "showscale": False, "hoverongaps": False,
             "hovertemplate": "filter value %{z:.4g}<extra></extra>"},
            {"type": "heatmap", "z": figures.tile(snap.maps), "xaxis": "x2", "yaxis": "y2",
             "colorscale": figures.DIVERGING_PLOTLY, "zmid": 0, "showscale": False, "hoverongaps": False,
             "hovertemplate": "activation %{z:.4g}<extra></extra>"}]
    hidden = {"visible": False, "fixedrange": True}
    layout = {"height": 250, "margin": {"l": 8, "r": 8, "t": 22, "b": 4}, "showlegend": False,
              "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)", "font": {"size": 11},
              "xaxis": {**hidden, "domain": [0, 1], "anchor": "y"},
              "yaxis": {**hidden, "domain": [0.62, 1.0], "anchor": "x", "scaleanchor": "x"},
              "xaxis2": {**hidden, "domain": [0, 1], "anchor": "y2"},
              "yaxis2": {**hidden, "domain": [0.0, 0.52], "anchor": "x2", "scaleanchor": "x2"},
              "annotations": [
                  {"text": f"filters of layer {snap.conv_path} (input channel 0)", "x": 0, "y": 1.0, "xref": "paper",
                   "yref": "paper", "xanchor": "left", "yanchor": "bottom", "showarrow": False},
                  {"text": f"feature maps: layer {snap.maps_path}'s output for one test image", "x": 0, "y": 0.54,
                   "xref": "paper", "yref": "paper", "xanchor": "left", "yanchor": "bottom", "showarrow": False}]}
    return {"data": data, "layout": layout, "config": {**CONFIG, "displayModeBar": False}}


def train_view(state: NetworkState, spec: nl.RunSpec, at: nl.Checkpoint) -> dict[str, Any]:
    groups = nl.layer_groups(spec.model)
    types = {p: _layer_of(spec.model, p).type for p in groups}
    labels = {p: f"{p} {types[p]}" for p in groups}
    every = network_run.eval_every(state.until)
    loss = {"data": [_line("training loss (each step's batch)", "rgba(0,114,178,0.55)", width=1),
                     _line("train sample (eval mode)", LINE_COLOURS[2], "lines+markers", 2),
                     _line("test (eval mode)", LINE_COLOURS[1], "lines+markers", 2)],
            "layout": _layout("cross-entropy", state.until), "config": CONFIG}
    acc = {"data": [_line("train sample", LINE_COLOURS[2], "lines+markers", 2),
                    _line("test", LINE_COLOURS[1], "lines+markers", 2)],
           "layout": _layout("accuracy", state.until, yaxis={"title": {"text": "accuracy"}, "range": [0, 1.02],
                                                "tickformat": ".0%"},
                             shapes=[{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": 0.9, "y1": 0.9,
                                      "line": {"color": "rgba(0,0,0,0.35)", "dash": "dot", "width": 1}}]),
           "config": CONFIG}
    gnorm = {"data": [_line(labels[p], LINE_COLOURS[i % len(LINE_COLOURS)]) for i, p in enumerate(groups)],
             "layout": _layout("‖∇θ‖ (log)", state.until, yaxis={"title": {"text": "‖∇θ‖ (log)"}, "type": "log"}),
             "config": CONFIG}
    ratio = {"data": [_line(labels[p], LINE_COLOURS[i % len(LINE_COLOURS)]) for i, p in enumerate(groups)],
             "layout": _layout("‖Δθ‖ / ‖θ‖ (log)", state.until,
                               yaxis={"title": {"text": "‖Δθ‖ / ‖θ‖ (log)"}, "type": "log"},
                               shapes=[{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": 1e-3, "y1": 1e-3,
                                        "line": {"color": "rgba(0,0,0,0.35)", "dash": "dot", "width": 1}}]),
             "config": CONFIG}
    image = spec.x[0] if spec.data == "typed" else digits.split(nl.DIGITS_SPLIT_SEED).x_test[0]
    snap = snapshot_figure(nl.snapshot(spec.model, at.params, image))
    if spec.data == "typed":
        source = f"the typed example{'s' if spec.x.shape[0] > 1 else ''}, every step"
    else:
        source = f"batches of {spec.batch} of the 1,438 training digits (test: 359 held-out digits)"
    return {"figures": {"loss": loss, "acc": acc, "gnorm": gnorm, "ratio": ratio}, "snapshot": snap,
            "layers": list(groups), "every": every, "until": state.until, "source": source,
            "optimizer": optim.TITLES[spec.optimizer], "typed": spec.data == "typed"}
