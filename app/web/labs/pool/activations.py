"""The pooling lab's activations section: sigmoid, tanh and leaky ReLU on ReLU's x and dout, side by side.

Every number is the registry's op (``sigmoid``, ``tanh``, ``leaky_relu`` with PyTorch's default slope
0.01): out, the local gradient ∂out/∂x and dx = dout ⊙ ∂out/∂x, for the plane the window stepper is on.
Their tables are named ``<op>_out``, ``<op>_local_grad``, ``<op>_dx`` (and the section's dout ``act_dout``);
hovering one asks :func:`provenance` — the op's own (``engine.registry.op_provenance``), its x the ReLU
section's ``relu_x`` — and a dx cell's terms (local slope · dout) come from :func:`terms`.
"""

from __future__ import annotations

import numpy as np

from app.web.render.heatmap import Heatmaps, scale_max
from engine.explain.terms import Terms, op_terms
from engine.registry import op_provenance, trace_op

ACTIVATIONS = (("sigmoid", "Sigmoid", {}), ("tanh", "Tanh", {}), ("leaky_relu", "Leaky ReLU", {"slope": 0.01}))
PARAMS = {name: params for name, _, params in ACTIVATIONS}
SHOWN = ("out", "local_grad", "dx")
ARRAYS = {f"{name}_{key}": (name, key) for name, _, _ in ACTIVATIONS for key in SHOWN}  # table -> (op, array)
DOUT = "act_dout"  # the section's dout plane
PROVENANCE_ARRAYS = {*ARRAYS, DOUT}


def _page_name(op: str, array: str) -> str:
    """Where an op's array is drawn on the page: x in the ReLU section, dout in this one, the rest per op."""
    return {"x": "relu_x", "dout": DOUT}.get(array, f"{op}_{array}")


def provenance(inputs: dict, array: str, index: tuple[int, ...]) -> dict[str, list[tuple[int, ...]]]:
    """The cells a table's cell came from (``inputs``: the ReLU section's x and dout); for ``act_dout``, the dx
    cells of each activation it went into."""
    if array == DOUT:
        return {f"{name}_dx": [index] for name in PARAMS}
    op, key = ARRAYS[array]
    found = op_provenance(op, inputs, PARAMS[op], key, index)
    return {_page_name(op, source): idxs for source, idxs in found.items()}


def terms(inputs: dict, array: str, index: tuple[int, ...]) -> Terms | None:
    """A dx cell's terms, local slope · dout, in the page's table names; None for the other tables."""
    if array not in ARRAYS or ARRAYS[array][1] != "dx":
        return None
    op = ARRAYS[array][0]
    return op_terms(op, inputs, PARAMS[op], "dx", index).renamed(lambda source: _page_name(op, source))


def activations(grids: Heatmaps, relu: dict, n: int, c: int) -> dict:
    """Per activation: its formulas (the op's step records) and the plane (n, c) of out, local_grad and dx."""
    shown = []
    inputs = {"x": relu["x"], "dout": relu["dout"]}
    results = {name: trace_op(name, inputs, params) for name, _, params in ACTIVATIONS}
    gvmax = scale_max(relu["dout"], *(a["dx"] for a, _ in results.values()))
    for name, title, params in ACTIVATIONS:
        a, steps = results[name]

        def plane(key: str, label: str, vmax=None, a=a, name=name) -> dict:
            return grids.planes(a[key], f"{name}_{key}", vmax=vmax, label=label, only=(n, c))[0]

        shown.append({"name": name, "title": title, "params": params,
                      # the op's three formulas, one a line (a narrow screen cannot hold them side by side)
                      "latex": r"\begin{gathered}" + r" \\ ".join(step.latex for step in steps) + r"\end{gathered}",
                      "out": plane("out", name, scale_max(a["out"])),
                      "local_grad": plane("local_grad", "slope", 1.0), "dx": plane("dx", "dx", gvmax)})
    return {"shown": shown, "plane": (n, c), "dout": grids.planes(relu["dout"], DOUT, vmax=gvmax, label="dout",
                                                                  only=(n, c))[0],
            "same_x": bool(np.array_equal(relu["x"], inputs["x"]))}
