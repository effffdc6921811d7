"""One operation of the network lab's training step, laid out: the panel of a forward, loss, backward or update.

Every number comes from the engine (the traced step of :mod:`engine.network.runs`, the op registry's
step records, :mod:`engine.optim.rules`); this module picks what to show, cuts big arrays to what fits
a screen (and says so), and labels it.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any

import numpy as np

from app.settings import Settings
from app.web.labs.network import explain, links, step_layers, step_loss
from app.web.labs.network import run as network_run
from app.web.labs.network.presets import RESNET_MODEL, RESNET_NAMES
from app.web.labs.network.state import NetworkState, model_text
from app.web.render.heatmap import Heatmaps, heatmap, scale_max
from app.web.render.memo import Memo
from app.web.render.numbers import cell_text, exact_text
from engine import registry
from engine.explain.chain import layer_at
from engine.network import runs as nl
from engine.network.model import Model, layer_field
from engine.network.params import dropout_seed
from engine.optim import rules as optim
from engine.records import OpInputError

SHOW_N, SHOW_C = 2, 4  # examples and channels drawn of a 4-D array
IMAGE_OVER = Settings().plane_image_cells  # a plane of more cells (a 28×28 input) is drawn as an image (render.plane)
SHOW_ROWS, SHOW_COLS = 4, 32  # rows and columns drawn of an (N, D) array
MAX_ROWS, MAX_COLS = 24, 36  # of a matrix (x_col, w_row, dense weights)

PHASES = {"f": "forward", "loss": "loss", "b": "backward", "u": "update"}


# --- layers ---------------------------------------------------------------------------------------


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
    return step_layers.describe(layer)


def dims(shape) -> str:
    return "×".join(str(d) for d in shape)





@cache
def _resnet_text() -> str:
    return model_text(nl.parse_structure(RESNET_MODEL))


@lru_cache(maxsize=64)
def keras_names(model: Model) -> dict[str, str]:
    """For the ResNet-block preset's network: the name each layer has in ResNet-50 (Keras). By model, read twice a
    step (its panel's title, the drawing): its text is written once (~0.1 ms)."""
    return RESNET_NAMES if model_text(model) == _resnet_text() else {}


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
        return {"kind": "value", "title": title, "name": name, "text": cell_text(float(arr)),
                "exact": exact_text(arr), "shape": shape}
    vmax = scale_max(arr) if vmax is None else vmax
    if arr.ndim == 4:
        a, b = min(arr.shape[0], max_a), min(arr.shape[1], max_b)
        grids = Heatmaps(IMAGE_OVER)
        planes = [grids.add(arr[i, j], name, prefix=(i, j), vmax=vmax, title=f"{axes[0]}={i}, {axes[1]}={j}")
                  for i in range(a) for j in range(b)]
        grids.render()
        note = ", ".join(t for t in (_range(arr.shape[0], a, axes[0]), _range(arr.shape[1], b, axes[1])) if t)
        return {"kind": "planes", "title": title, "name": name, "planes": planes, "shape": shape,
                "note": f"showing {note}" if note else "", "vmax": cell_text(vmax)}
    if arr.ndim == 1:
        arr1 = arr[:SHOW_COLS * 2]  # one row whose cells are indexed as the array's own: "j"
        cut = arr.shape[0] - arr1.shape[0]
        g = heatmap(arr1, name, vmax=vmax, col_labels=col_labels or [str(i) for i in range(arr1.shape[0])],
                    hidden_cols=max(0, cut), shape_text=shape)
        return {"kind": "grid", "title": title, "name": name, "grid": g, "shape": shape,
                "note": f"showing 0–{arr1.shape[0] - 1} of {arr.shape[0]}" if cut > 0 else "",
                "vmax": cell_text(vmax)}
    if arr.ndim == 2:
        rows, cols = arr.shape
        r = min(rows, max_rows if max_rows is not None else (MAX_ROWS if row_labels is not None else SHOW_ROWS))
        c = min(cols, MAX_COLS if row_labels is not None else SHOW_COLS)
        rl = (row_labels or [f"{axes[0]}{i}" for i in range(rows)])[:r]
        cl = (col_labels or [str(j) for j in range(cols)])[:c]
        g = heatmap(arr[:r, :c], name, vmax=vmax, row_labels=rl, col_labels=cl, hidden_rows=rows - r,
                    hidden_cols=cols - c, shape_text=shape)
        parts = [t for t in (f"rows 0–{r - 1} of {rows}" if r < rows else "",
                             f"columns 0–{c - 1} of {cols}" if c < cols else "") if t]
        return {"kind": "grid", "title": title, "name": name, "grid": g, "shape": shape,
                "note": "showing " + ", ".join(parts) if parts else "", "vmax": cell_text(vmax)}
    flat = arr.reshape(arr.shape[0], -1)
    return show(flat, name, title, axes, vmax)


def matrix(arr: np.ndarray, name: str, title: str, row_labels: list[str], col_labels: list[str]) -> dict[str, Any]:
    return show(arr, name, title, row_labels=row_labels, col_labels=col_labels)


def _conv_labels(fwd: dict) -> tuple[tuple[str, ...], tuple[str, ...], int]:
    """A conv layer's im2col labels: (rows "c0 (kh,kw)", columns "n0 (oh,ow)", the number of filters)."""
    n, c, _, _ = fwd["x"].shape
    f, _, k, _ = fwd["w"].shape
    _, _, oh, ow = fwd["out"].shape
    return (*_im2col_labels(c, k, n, oh, ow), f)


@cache
def _im2col_labels(c: int, k: int, n: int, oh: int, ow: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The labels of a layer's geometry, written once (a batch of 32 has 2,048 columns, of which a table shows the
    first few: 0.8 ms a conv panel)."""
    rows = tuple(f"c{ci} ({a},{b})" for ci in range(c) for a in range(k) for b in range(k))
    cols = tuple(f"n{ni} ({a},{b})" for ni in range(n) for a in range(oh) for b in range(ow))
    return rows, cols


def _picker(steps: dict[str, dict[str, Any]]):
    """S("mean", "var"): those of an op's step records that it has, in that order."""
    return lambda *names: [steps[n] for n in names if n in steps]


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
    return step_layers.op_call(layer, fwd, bwd) or (t, {"x": x, "dout": dout}, {})


def formulas_size(blocks: dict[str, dict[str, Any]]) -> int:
    """Roughly the bytes of formula blocks by name (what a Memo is told they hold)."""
    return sum(200 + len(b.get("title", "")) + len(b.get("latex", "")) for b in blocks.values())


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
        return _loss_panel(state.model, st)
    kind, _, path = op.partition(":")
    layer = layer_at(state.model, path)
    entry = layers[path]
    fwd, bwd = entry["forward"], entry["backward"]
    traced = network_run.trace_key(spec, state)  # what the layer's formulas are kept by (its f: and b: panels)
    steps = network_run.kept_part((traced, "op_steps", path), lambda: op_steps(layer, fwd, bwd, seed, path),
                                  formulas_size) if kind in ("f", "b") else {}
    out: dict[str, Any] = {"phase": PHASES[kind], "path": path, "type": layer.type, "field": layer_field(path),
                           "blocks": [], "links": []}
    if kind == "f":
        out["title"] = f"Forward through layer {path}: {layer.type}"
        out["lede"] = f"{describe(layer)} · input {dims(fwd['x'].shape)} → output {dims(fwd['out'].shape)}"
        out["blocks"] = _forward_blocks(layer, fwd, steps)
    elif kind == "b":
        out["title"] = f"Backward through layer {path}: {layer.type}"
        out["lede"] = (f"dL/d(out) {dims(bwd['dout'].shape)} arrives from above; this layer passes dL/dx "
                       f"{dims(bwd['dx'].shape)} down" + (" and keeps the gradients of its parameters"
                                                           if layer.type in ("conv2d", "linear", "batchnorm",
                                                                             "groupnorm") else ""))
        names = nl.layer_groups(state.model).get(path, ())
        formulas = network_run.kept_part((traced, "elements", path, (SHOW_N, SHOW_C)),
                                         lambda: explain.element_formulas(layer, fwd, bwd, (SHOW_N, SHOW_C)),
                                         formulas_size)
        out["blocks"] = explain.with_elements(_backward_blocks(layer, fwd, bwd, steps), formulas)
        out["blocks"] += step_loss.reg_grad_blocks(state.model, st.trace, names, show)
        out["chain"] = explain.chain_view(state, st, names, traced) if names else None
        if names and st.update is not None:
            table = _update_table(st.update, st.state, names, st.params, st.new_params)
            if table:
                out["param_update"] = {"optimizer": optim.TITLES[spec.optimizer], "t": st.update.t, "blocks": table,
                                 "op": f"u:{path}"}
    else:
        out.update(_update_panel(state, st, spec, path, layer))
        out["chain"] = explain.chain_view(state, st, nl.layer_groups(state.model).get(path, ()), traced)
        for name in nl.layer_groups(state.model)[path]:
            link = links.optim_link(spec, name, st)
            if link and (link["href"] or all(other["note"] != link["note"] for other in out["links"])):
                link["param"] = name
                out["links"].append(link)
    if kind in ("f", "b"):
        link = _layer_link(layer, fwd, bwd)
        if link:
            out["links"].append(dict(link))
    return out


LINKS = Memo(limit=4 << 20)  # a layer's "Open in its lab", by what it is made from (a link: ~1-30 KB)
# what each link reads of the layer's forward and backward arrays: it is handed these alone, so its key is exactly
# what it is made from (a link that read another array would fail its tests, not be kept under a wrong key)
LINK_READS = {"conv2d": (lambda layer, f, b: links.conv_link(f, b, layer), ("x", "w", "b"), ("dout",)),
              "maxpool2d": (links.pool_link, ("x",), ("dout",)), "avgpool2d": (links.pool_link, ("x",), ("dout",)),
              "relu": (lambda layer, f, b: links.relu_link(f, b), ("x",), ("dout",)),
              "batchnorm": (links.norm_link, ("x", "gamma", "beta", "running_mean_before", "running_var_before"),
                            ("dout",))}


def _layer_link(layer, fwd: dict, bwd: dict) -> dict | None:
    """The layer's "Open in its lab" link (app.web.labs.network.links), made once for its forward and backward
    panels (f:k, b:k) and their revisits: a link writes the lab's whole state (a deflated query, and for pool and
    norm a check that the lab opens it), 2-3 ms on resnet's first layers. Kept by the layer and the bytes of the
    arrays the link reads: another step's tensors are another key."""
    if layer.type not in LINK_READS:
        return None
    make, fwd_names, bwd_names = LINK_READS[layer.type]
    fwd, bwd = {k: fwd[k] for k in fwd_names}, {k: bwd[k] for k in bwd_names}
    key = (layer, *((k, a.shape, a.dtype.str, np.ascontiguousarray(a).tobytes())
                    for side in (fwd, bwd) for k, a in side.items()))
    return LINKS.made(key, lambda: make(layer, fwd, bwd),
                      lambda link: sum(len(part[3]) for part in key[1:]) + len(str(link)))


UPDATE_HERE = {"kind": "update_here"}  # where a backward panel shows its layer's update


def _forward_blocks(layer, fwd, steps) -> list[dict[str, Any]]:
    """The forward panel's blocks: the layer's arrays after its op's step records ``steps`` (:func:`op_steps`)."""
    t = layer.type
    S = _picker(steps)  # noqa: N806 - the op's step records by name

    if t in step_layers.LAYERS:
        return step_layers.forward_blocks(layer, fwd, show, S)
    x = show(fwd["x"], "x", "Input x")
    if t == "conv2d":
        rows, cols, f = _conv_labels(fwd)
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


def _backward_blocks(layer, fwd, bwd, steps) -> list[dict[str, Any]]:
    """The backward panel's blocks: the layer's gradients after its op's step records ``steps``."""
    t = layer.type
    S = _picker(steps)  # noqa: N806

    if t in step_layers.LAYERS:
        return step_layers.backward_blocks(layer, fwd, bwd, show, S, UPDATE_HERE)
    dout = show(bwd["dout"], "dout", "Upstream gradient dout = dL/d(out)")
    if t == "conv2d":
        rows, cols, _ = _conv_labels(fwd)
        diff = float(np.max(np.abs(bwd["dx"] - bwd["dx_full_conv"])))
        scale = scale_max(bwd["dx"])
        return [dout, *S("dout_row", "dw"), show(bwd["dw"], "dw", "dw", ("f", "c"), max_a=4), *S("db"),
                show(bwd["db"], "db", "db"), UPDATE_HERE, *S("dx_col"),
                matrix(bwd["dx_col"], "dx_col", "dx_col = w_rowᵀ · dout_row", rows, cols), *S("col2im"),
                show(bwd["dx"], "dx", "dx by col2im"), *S("full_conv"),
                show(bwd["dx_full_conv"], "dx_full_conv", "dx by full convolution with the rotated kernel"),
                {"kind": "agree", "ok": diff <= 1e-9 * max(1.0, scale), "diff": cell_text(diff)}]
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


def _loss_panel(model: Model, st: nl.StepTrace) -> dict[str, Any]:
    """The loss (softmax cross-entropy or the SVM loss) and, with reg or l1, the weight penalty: :mod:`.step_loss`."""
    tr = st.trace
    logits = tr["layers"][-1]["forward"]["out"]
    labels = np.asarray(st.labels, np.int64)
    blocks = step_loss.loss_blocks(model, tr, labels, show) + step_loss.penalty_blocks(model, tr, show)
    link = links.softmax_link(logits, labels) if model.loss == "softmax_cross_entropy" else None
    n, k = logits.shape
    penalty = " + the weight penalty" if model.reg or model.l1 else ""
    return {"phase": "loss", "path": None, "type": model.loss, "field": "model.loss",
            "title": f"The loss: {step_loss.TITLES[model.loss]}{penalty}", "blocks": blocks,
            "links": [link] if link else [], "lede": f"{n} example{'s' if n > 1 else ''}, {k} classes"}


def _rows_block(name: str, pairs: list[tuple[str, np.ndarray]], title: str | None = None) -> dict[str, Any]:
    """A 1-D parameter's quantities as one table, one row each, each row on its own colour scale."""
    table = np.stack([np.asarray(v, np.float64).ravel()[:SHOW_COLS * 2] for _, v in pairs])
    cols = [str(i) for i in range(table.shape[1])]
    batch = Heatmaps()  # each row on its own colour scale, coloured in one pass
    grids = [batch.add(table[r:r + 1], f"update.{name}", row_labels=[label], label=f"{name}: {label}",
                       col_labels=cols if r == 0 else None) for r, (label, _) in enumerate(pairs)]
    batch.render()
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


