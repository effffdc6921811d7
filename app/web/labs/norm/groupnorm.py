"""The norm lab's group-norm card: the same x grouped between layer norm (G = 1) and instance norm (G = C).

Every number is the registry's ``groupnorm`` (γ = 1, β = 0); this module picks the groupings to show
and lays them out. The grids carry no provenance (``array=""``): the lab's hover answers batch and
layer norm.
"""

from __future__ import annotations

import numpy as np

from app.web.render.heatmap import heatmap, planes, scale_max
from engine.registry import run_op


def groupings(channels: int) -> list[int]:
    """The group counts shown: the smallest proper divisor of C (if any), then C itself (instance norm)."""
    proper = [g for g in range(2, channels) if channels % g == 0]
    return [*proper[:1], channels]


def group_view(x: np.ndarray, eps: float) -> dict:
    """Per grouping: G, what it is called, each (sample, group)'s μ and σ² and the normalised x̂. Features (N, D)
    show only a grouping strictly between 1 and D (one feature alone normalises to 0)."""
    c = x.shape[1]
    shown = []
    for g in (groupings(c) if x.ndim == 4 else groupings(c)[:-1]):
        a = run_op("groupnorm", {"x": x}, {"groups": g, "eps": eps})
        per = c // g
        members = [f"{'c' if x.ndim == 4 else 'f'}{k * per}–{(k + 1) * per - 1}" if per > 1
                   else f"{'c' if x.ndim == 4 else 'f'}{k}" for k in range(g)]
        stats = np.stack([a["mean"], a["var"]], axis=2).reshape(x.shape[0], 2 * g)
        cols = [f"{m} {what}" for m in members for what in ("μ", "σ²")]
        rows = [f"n{i}" for i in range(x.shape[0])]
        vmax = scale_max(a["x_hat"])
        x_hat = ([heatmap(a["x_hat"], "", vmax=vmax, label=f"group norm x̂, G = {g}", row_labels=rows,
                          col_labels=[f"f{j}" for j in range(c)])] if x.ndim == 2
                 else planes(a["x_hat"], "", vmax=vmax))
        name = "instance norm" if g == c else ""
        shown.append({"groups": g, "per": per, "name": name, "d": int(x[0].size // g),
                      "stats": heatmap(stats, "", label=f"group norm μ, σ², G = {g}", row_labels=rows, col_labels=cols),
                      "x_hat": x_hat})
    return {"channels": c, "shown": shown}
