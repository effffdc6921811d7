"""The network lab's export scripts of a link's traced step: ``torch.py`` (templates/export/network/torch.py.j2)
and ``numpy.py`` (numpy.py.j2).

Each holds, written out exactly, the run's parameters and running statistics after the link's step count, the
optimizer's state then, the step's batch and dropout masks, and runs that one step: forward, the loss, backward
(``.backward()`` in torch; each layer type's backward written out in NumPy) and one optimizer update, printing
:mod:`.export`'s names. A link whose script would write out more numbers than
``Settings.export_max_script_values`` is a 422 naming ``export``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from app.settings import get_settings
from app.web.kit.export import _ENV, literal
from app.web.kit.export_torch import tensor_literal
from engine.network.model import layer_to_json
from engine.network.runs import RunSpec, StepTrace
from engine.optim import rules as optim
from engine.records import OpInputError


def _start_params(st: StepTrace) -> dict[str, np.ndarray]:
    """Parameters and buffers the traced step starts from: the learnable ones and batch norm's running statistics
    before the step (its forward's ``running_mean_before``/``running_var_before``)."""
    params = {name: np.asarray(value) for name, value in st.params.items()}
    for entry in st.trace["layers"]:
        if entry["type"] == "batchnorm":
            fwd = entry["forward"]
            params[f"{entry['path']}.running_mean"] = np.asarray(fwd["running_mean_before"])
            params[f"{entry['path']}.running_var"] = np.asarray(fwd["running_var_before"])
    return params


def _context(spec: RunSpec, st: StepTrace, names: list[str], link: str, json_link: str,
             write: Callable[[np.ndarray], str]) -> dict[str, Any]:
    params = _start_params(st)
    state = st.state if st.state is not None else optim.init_state(spec.optimizer, st.params)
    masks = [(e["path"], np.asarray(e["forward"]["mask"])) for e in st.trace["layers"] if e["type"] == "dropout"]
    count = sum(v.size for v in params.values()) + np.asarray(st.x).size + sum(m.size for _, m in masks) \
        + sum(np.asarray(v).size for per in state.slots.values() for v in per.values())
    limit = get_settings().export_max_script_values
    if count > limit:
        raise OpInputError("export", f"this step's script would write out {count:,} numbers; the limit is "
                                     f"{limit:,} (Settings.export_max_script_values) — a smaller batch or model")
    model = spec.model
    return dict(
        link=link, json_link=json_link, step=st.t, names=names,
        model=repr([layer_to_json(layer) for layer in model.layers]), loss=repr(model.loss), reg=repr(model.reg),
        l1=repr(model.l1), optimizer=repr(spec.optimizer), hp=repr(spec.hp), t_before=repr(state.t),
        start=[(name, write(value)) for name, value in params.items()],
        slots=[(slot, [(name, write(v)) for name, v in per.items()]) for slot, per in state.slots.items()],
        x=write(np.asarray(st.x, dtype=np.float64)), labels=write(np.asarray(st.labels).astype(np.int64)),
        masks=[(path, write(m)) for path, m in masks])


def torch_script(spec: RunSpec, st: StepTrace, names: list[str], link: str, json_link: str) -> str:
    """The PyTorch script of the traced step ``st`` of run ``spec``, printing ``names``."""
    return _ENV.get_template("network/torch.py.j2").render(**_context(spec, st, names, link, json_link,
                                                                      tensor_literal))


def numpy_script(spec: RunSpec, st: StepTrace, names: list[str], link: str, json_link: str) -> str:
    """The NumPy-only script of the traced step ``st`` of run ``spec``, printing ``names``."""
    return _ENV.get_template("network/numpy.py.j2").render(**_context(spec, st, names, link, json_link, literal))
