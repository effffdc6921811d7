"""The network lab's training card: the charts the training stream fills in, and the first layer's filters.

Plain plotly-schema dicts; static/js/labs/network.js extends them with the streamed steps.
"""

from __future__ import annotations

from typing import Any

from app.web.labs.network import run as network_run
from app.web.labs.network.state import NetworkState
from app.web.labs.network.step import layer_at
from app.web.render import figures
from app.web.render.heatmap import DIVERGING_PLOTLY
from engine.data import digits
from engine.network import runs as nl
from engine.optim import rules as optim

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
FIRST_SCREEN_HEIGHT = 210  # the loss and accuracy charts of the first screen (the others: 250)


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
             "colorscale": DIVERGING_PLOTLY, "zmid": 0, "showscale": False, "hoverongaps": False,
             "hovertemplate": "filter value %{z:.4g}<extra></extra>"},
            {"type": "heatmap", "z": figures.tile(snap.maps), "xaxis": "x2", "yaxis": "y2",
             "colorscale": DIVERGING_PLOTLY, "zmid": 0, "showscale": False, "hoverongaps": False,
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


def _loss_axis(model) -> str:
    """The loss chart's axis: the model's loss, and its weight penalties when it has them."""
    name = "hinge loss" if model.loss == "svm_loss" else "cross-entropy"
    penalties = [p for p, on in (("L2", model.reg), ("L1", model.l1)) if on]
    return " + ".join([name, *penalties])


CHART_BUCKETS = 500  # the live charts keep each bucket's lowest and highest point (static/js/live-chart.js)


def bucket_steps(until: int) -> int:
    """Steps a bucket of the live charts spans: at most ``CHART_BUCKETS`` buckets, ~1,000 points a trace."""
    return max(1, -(-until // CHART_BUCKETS))


def train_view(state: NetworkState, spec: nl.RunSpec, at: nl.Checkpoint) -> dict[str, Any]:
    groups = nl.layer_groups(spec.model)
    types = {p: layer_at(spec.model, p).type for p in groups}
    labels = {p: f"{p} {types[p]}" for p in groups}
    every = network_run.eval_every(state.until)
    loss = {"data": [_line("training loss (each step's batch)", "rgba(0,114,178,0.55)", width=1),
                     _line("train sample (eval mode)", LINE_COLOURS[2], "lines+markers", 2),
                     _line("test (eval mode)", LINE_COLOURS[1], "lines+markers", 2)],
            "layout": _layout(_loss_axis(spec.model), state.until, height=FIRST_SCREEN_HEIGHT), "config": CONFIG}
    acc = {"data": [_line("train sample", LINE_COLOURS[2], "lines+markers", 2),
                    _line("test", LINE_COLOURS[1], "lines+markers", 2)],
           "layout": _layout("accuracy", state.until, height=FIRST_SCREEN_HEIGHT,
                             yaxis={"title": {"text": "accuracy"}, "range": [0, 1.02],
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
            "bucket_steps": bucket_steps(state.until),
            "optimizer": optim.TITLES[spec.optimizer], "typed": spec.data == "typed"}
