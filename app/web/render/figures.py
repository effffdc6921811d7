"""Figures as plain data: plotly-schema dicts for plots (the heatmap tables are render/heatmap.py's).

Pure functions from engine arrays to dicts — no plotly.graph_objects on request paths
(it costs milliseconds a figure); static/js/lens.js draws them.
"""

from __future__ import annotations

import numpy as np


def gradcheck_scatter(analytic: dict[str, np.ndarray], numeric: dict[str, np.ndarray]) -> dict:
    """Analytic against numeric gradient, one point per checked element, on the line y = x."""
    colours = ["rgb(33,102,172)", "rgb(191,91,23)", "rgb(90,90,90)", "rgb(120,60,160)"]
    data, lo, hi = [], 0.0, 0.0
    for i, (name, a) in enumerate(analytic.items()):
        n = numeric[name]
        lo, hi = min(lo, float(a.min()), float(n.min())), max(hi, float(a.max()), float(n.max()))
        data.append({"type": "scatter", "mode": "markers", "name": name, "x": n.ravel().tolist(),
                     "y": a.ravel().tolist(), "marker": {"size": 7, "color": colours[i % 4], "opacity": 0.8},
                     "hovertemplate": f"{name}<br>numeric %{{x:.6g}}<br>analytic %{{y:.6g}}<extra></extra>"})
    pad = 0.05 * (hi - lo or 1.0)
    line = [lo - pad, hi + pad]
    data.insert(0, {"type": "scatter", "mode": "lines", "x": line, "y": line, "name": "y = x",
                    "line": {"color": "rgba(0,0,0,0.35)", "dash": "dot"}, "hoverinfo": "skip"})
    layout = {"height": 260, "margin": {"l": 56, "r": 12, "t": 8, "b": 44},
              "xaxis": {"title": {"text": "numeric (central differences)"}, "zeroline": False},
              "yaxis": {"title": {"text": "analytic (backward)"}, "zeroline": False},
              "legend": {"orientation": "h", "y": 1.12}, "paper_bgcolor": "rgba(0,0,0,0)",
              "plot_bgcolor": "rgba(0,0,0,0)", "font": {"size": 13}}
    return {"data": data, "layout": layout, "config": {"displayModeBar": False, "responsive": True}}


def tile(planes: np.ndarray, gap: int = 1) -> list[list[float | None]]:
    """Planes (P, H, W) side by side in one image, ``gap`` empty columns between them, as the z of a
    Plotly heatmap (rows bottom-up; the gaps are None, drawn transparent)."""
    p, h, w = planes.shape
    image = np.full((h, p * w + (p - 1) * gap), np.nan)
    for i in range(p):
        image[:, i * (w + gap):i * (w + gap) + w] = planes[i]
    rows = np.round(image[::-1], 5).tolist()
    return [[None if v != v else v for v in row] for row in rows]
