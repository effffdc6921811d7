"""The pooling lab's activations section: sigmoid, tanh and leaky ReLU on ReLU's x and dout, side by side.

Every number is the registry's op (``sigmoid``, ``tanh``, ``leaky_relu`` with PyTorch's default slope
0.01): out, the local gradient ∂out/∂x and dx = dout ⊙ ∂out/∂x, for the plane the window stepper is on.
The grids carry no provenance (``array=""``): each cell comes from the same cell of x (and dout).
"""

from __future__ import annotations

import numpy as np

from app.web.render.heatmap import Heatmaps, scale_max
from engine.registry import trace_op

ACTIVATIONS = (("sigmoid", "Sigmoid", {}), ("tanh", "Tanh", {}), ("leaky_relu", "Leaky ReLU", {"slope": 0.01}))


def activations(grids: Heatmaps, relu: dict, n: int, c: int) -> dict:
    """Per activation: its formulas (the op's step records) and the plane (n, c) of out, local_grad and dx."""
    shown = []
    inputs = {"x": relu["x"], "dout": relu["dout"]}
    results = {name: trace_op(name, inputs, params) for name, _, params in ACTIVATIONS}
    gvmax = scale_max(relu["dout"], *(a["dx"] for a, _ in results.values()))
    for name, title, params in ACTIVATIONS:
        a, steps = results[name]

        def plane(key: str, label: str, vmax=None, a=a) -> dict:
            return grids.planes(a[key], "", vmax=vmax, label=label, only=(n, c))[0]

        shown.append({"name": name, "title": title, "params": params,
                      # the op's three formulas, one a line (a narrow screen cannot hold them side by side)
                      "latex": r"\begin{gathered}" + r" \\ ".join(step.latex for step in steps) + r"\end{gathered}",
                      "out": plane("out", name, scale_max(a["out"])),
                      "local_grad": plane("local_grad", "slope", 1.0), "dx": plane("dx", "dx", gvmax)})
    return {"shown": shown, "plane": (n, c), "dout": grids.planes(relu["dout"], "", vmax=gvmax, label="dout",
                                                                  only=(n, c))[0],
            "same_x": bool(np.array_equal(relu["x"], inputs["x"]))}
