"""The norm lab's group-norm card: the same x grouped between layer norm (G = 1) and instance norm (G = C).

Every number is the registry's ``groupnorm`` (γ = 1, β = 0); this module picks the groupings to show
and lays them out. The tables of grouping G are named ``gn<G>_stats`` (each sample's μ and σ² per group,
side by side) and ``gn<G>_x_hat``; :func:`provenance` answers a hover on them with the op's own provenance
(``engine.registry.op_provenance``): the x cells of the group, and for x̂ also its group's μ and σ².
"""

from __future__ import annotations

import re

import numpy as np

from app.web.render.heatmap import heatmap, planes, scale_max
from engine.registry import op_provenance, run_op

PREFIX = re.compile(r"^gn(\d+)_(stats|x_hat)$")  # a grouping's tables: gn2_stats, gn4_x_hat


def is_group_table(array: str) -> bool:
    return PREFIX.match(array) is not None


def provenance(x: np.ndarray, eps: float, array: str, index: tuple[int, ...]) -> dict[str, list[tuple[int, ...]]]:
    """The cells a group-norm table's cell came from: x's cells of that (sample, group); x̂ adds the μ and σ²
    cells of its group. ValueError for a grouping the page does not show or a cell outside the table."""
    found = PREFIX.match(array)
    if found is None:
        raise ValueError(array)
    g, table = int(found.group(1)), found.group(2)
    c = x.shape[1]
    if g not in (groupings(c) if x.ndim == 4 else groupings(c)[:-1]):
        raise ValueError(array)
    params = {"groups": g, "eps": eps}
    if table == "stats":
        if len(index) != 2 or not (0 <= index[0] < x.shape[0] and 0 <= index[1] < 2 * g):
            raise ValueError(array)
        n, col = index
        return op_provenance("groupnorm", {"x": x}, params, ("mean", "var")[col % 2], (n, col // 2))
    sources = op_provenance("groupnorm", {"x": x}, params, "x_hat", index)
    k = index[1] // (c // g)  # the group of this channel (feature)
    return {**sources, f"gn{g}_stats": [(index[0], 2 * k), (index[0], 2 * k + 1)]}


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
        x_hat = ([heatmap(a["x_hat"], f"gn{g}_x_hat", vmax=vmax, label=f"group norm x̂, G = {g}", row_labels=rows,
                          col_labels=[f"f{j}" for j in range(c)])] if x.ndim == 2
                 else planes(a["x_hat"], f"gn{g}_x_hat", vmax=vmax))
        name = "instance norm" if g == c else ""
        shown.append({"groups": g, "per": per, "name": name, "d": int(x[0].size // g),
                      "stats": heatmap(stats, f"gn{g}_stats", label=f"group norm μ, σ², G = {g}", row_labels=rows,
                                       col_labels=cols),
                      "x_hat": x_hat})
    return {"channels": c, "shown": shown}
