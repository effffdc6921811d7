"""What the network lab exports for a link's traced training step (app.web.kit.export):

- ``GET /network/export/arrays.json``: the engine's arrays of the step — the batch, each layer's input and output
  and the gradients that reach them (``<path>.x``, ``<path>.out``, ``<path>.backward.dout``, ``<path>.backward.dx``;
  a residual block's ``fx`` and the fork's ``dx_skip``/``dx_branch``; batch norm's running statistics after the
  step; dropout's mask), the probabilities and loss, each parameter's gradient, value before and after the update
  and the optimizer's quantities of that update. A layer's inner workings (im2col columns, pooling windows, the
  staged batch-norm quantities) are left to the layer's own lab and its export: they made arrays.json of a
  32-example batch ~11 MB, and the scripts print exactly these names.
- ``GET /network/export/torch.py``: an ``nn.Module`` holding the run's weights after the link's step count, the
  step's batch, loss and optimizer (state included), running that step (:mod:`.export_scripts`);
- ``GET /network/export/numpy.py``: the same step with NumPy alone, each layer type's forward and backward
  written out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from app.web.kit.export import Export, OpCall
from app.web.labs.network import run as network_run
from app.web.labs.network.export_scripts import numpy_script, torch_script
from app.web.labs.network.state import NetworkState
from engine.network.runs import StepTrace

# a layer type's own arrays besides x and out (forward) and dout and dx (backward)
FORWARD = {"residual": ("fx",), "dropout": ("mask",), "batchnorm": ("running_mean", "running_var")}
BACKWARD = {"residual": ("dx_skip", "dx_branch")}


def _layers(found: dict[str, np.ndarray], layers: list[dict[str, Any]]) -> None:
    """Each layer's arrays under its path, in pre-order (a residual block before its layers)."""
    for entry in layers:
        path, kind, fwd, bwd = entry["path"], entry["type"], entry["forward"], entry["backward"]
        for name in ("x", *FORWARD.get(kind, ()), "out"):
            found[f"{path}.{name}"] = np.asarray(fwd[name])
        for name in ("dout", *BACKWARD.get(kind, ()), "dx"):
            found[f"{path}.backward.{name}"] = np.asarray(bwd[name])


def arrays(state: NetworkState) -> dict[str, np.ndarray]:
    """The traced step's arrays, named as above (the step the page's link is at)."""
    return step_arrays(network_run.traced_step(state)[2])


def step_arrays(st: StepTrace) -> dict[str, np.ndarray]:
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


def _torch(state: NetworkState, link: str, json_link: str) -> str:
    spec, _, st = network_run.traced_step(state)
    return torch_script(spec, st, list(step_arrays(st)), link, json_link)


def _numpy(state: NetworkState, link: str, json_link: str) -> str:
    spec, _, st = network_run.traced_step(state)
    return numpy_script(spec, st, list(step_arrays(st)), link, json_link)


EXPORT = Export(calls, title="Network lab", writers={"torch.py": _torch, "numpy.py": _numpy})
