"""What the network lab exports: the engine's arrays of the traced training step of a link (app.web.kit.export),
as ``GET /network/export/arrays.json`` — every layer's forward and backward arrays under its path, the batch, the
loss and probabilities, each parameter's gradient, value before and after the update, and the optimizer's
quantities of that update. No NumPy script yet (a network's script would have to replay the training up to the
link's step): the lab exports arrays.json only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from app.web.kit.export import Export, OpCall
from app.web.labs.network import run as network_run
from app.web.labs.network.state import NetworkState


def _layers(found: dict[str, np.ndarray], layers: list[dict[str, Any]]) -> None:
    """``<path>.<name>`` for each layer's forward arrays and ``<path>.backward.<name>`` for its backward ones."""
    for entry in layers:
        path = entry["path"]
        for name, value in entry["forward"].items():
            found[f"{path}.{name}"] = np.asarray(value)
        for name, value in entry["backward"].items():
            found[f"{path}.backward.{name}"] = np.asarray(value)
        _layers(found, entry.get("layers", []))


def arrays(state: NetworkState) -> dict[str, np.ndarray]:
    """The traced step's arrays, named as above (the step the page's link is at)."""
    _, _, st = network_run.traced_step(state)
    tr = st.trace
    found: dict[str, np.ndarray] = {"x": np.asarray(st.x), "labels": np.asarray(st.labels)}
    _layers(found, tr["layers"])
    found["probs"] = np.asarray(tr["probs"])
    found["loss"] = np.asarray(tr["loss"])
    for name, value in tr["grads"].items():
        found[f"grad.{name}"] = np.asarray(value)
    for name, value in st.params.items():
        found[f"param.{name}"] = np.asarray(value)
    for name, value in st.new_params.items():
        found[f"param_after.{name}"] = np.asarray(value)
    rec = st.update
    if rec is not None:
        quantities = {**rec.slots, "m_hat": rec.m_hat, "v_hat": rec.v_hat, "update": getattr(rec, "update", {})}
        for quantity, per_param in quantities.items():
            for name, value in (per_param or {}).items():
                found[f"update.{quantity}.{name}"] = np.asarray(value)
    return found


def calls(state: NetworkState) -> list[OpCall]:
    found = arrays(state)

    def engine(_inputs: Mapping[str, Any], _params: Mapping[str, Any]) -> Mapping[str, Any]:
        return found

    return [OpCall("network_step", {}, {}, tuple(found), engine=engine)]


EXPORT = Export(calls, title="Network lab", formats=("arrays.json",))
