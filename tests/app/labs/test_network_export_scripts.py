"""The network lab's script exports (app/web/labs/network/export.py, export_scripts.py): GET
/network/export/numpy.py and torch.py of every preset — and of variants that reach every layer type the builder
offers (dropout, cs231n batch norm, sigmoid, tanh, average pooling, L1) and every optimizer form — is a script
importing only json and numpy (and torch) whose NAMES are arrays.json's; run in a subprocess (torch.py by an
interpreter with torch: tests/app/kit/test_export_torch.py says which) it prints arrays.json's arrays to 1e-12
of each array's scale.

One honest exception: a bias feeding a batch norm straight away has a gradient that is exactly 0 in exact
arithmetic, so the engine and the scripts all print rounding noise (~1e-17), and the optimizer's moments and its
(ε-dominated) update of that bias are noise too. Those parameters' arrays are compared to 1e-9 absolute instead.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from app.settings import Settings
from app.web.labs.network import export_scripts
from app.web.labs.network.presets import PRESETS
from engine.network.runs import parse_structure
from engine.optim import rules as optim
from tests.app import replay
from tests.app.export.test_export import imports, run_script
from tests.app.kit.test_export_torch import run_torch, script_names, torch_python

RTOL = 1e-12
EVERY_LAYER = {"input_shape": [1, 8, 8], "layers": [
    {"type": "conv2d", "filters": 3, "kernel": 3, "pad": 1}, {"type": "batchnorm", "convention": "cs231n"},
    {"type": "tanh"}, {"type": "avgpool2d", "size": 2}, {"type": "dropout", "p": 0.3},
    {"type": "residual", "layers": [{"type": "conv2d", "filters": 3, "kernel": 1}, {"type": "sigmoid"}]},
    {"type": "flatten"}, {"type": "linear", "units": 10}], "l1": 0.001, "reg": 0.01}


def _variants():
    for key, preset in PRESETS.items():
        yield key, preset.make(0)
    base = PRESETS["lenet"].make(0)
    every = replace(base, model=parse_structure(EVERY_LAYER), batch=8, step=3)
    for name, hp in (("sgd", {"lr": 0.05}), ("momentum", {"form": "pytorch"}), ("momentum", {"form": "ema"}),
                     ("rmsprop", {}), ("adam", {"weight_decay": 0.1}),
                     ("adam", {"eps_placement": "inside", "bias_correction": False}), ("adamw", {})):
        tag = "-".join(f"{k}={v}" for k, v in hp.items())
        yield f"every-layer-{name}-{tag}", replace(every, optimizer=name, hyperparams=optim.clean_hyperparams(name, hp))


VARIANTS = list(_variants())


def _get(client, route: str, query: str):
    r = replay.get(client, f"/network/export/{route}?{query}", tries=600)
    assert r.status_code != 503, "the replay never finished"
    return r


def assert_same_step(engine: dict, script: dict) -> None:
    assert list(script) == list(engine)
    grads = {k[5:]: np.asarray(v, dtype=float) for k, v in engine.items() if k.startswith("grad.")}
    top = max((float(np.max(np.abs(g))) for g in grads.values() if g.size), default=0.0)
    noise = {name for name, g in grads.items() if float(np.max(np.abs(g))) < 1e-12 * top}  # exactly 0 in ℝ
    for name, value in engine.items():
        want, got = np.asarray(value, dtype=np.float64), np.asarray(script[name], dtype=np.float64)
        assert got.shape == want.shape, name
        if any(name.endswith("." + p) and not name.startswith("param.") for p in noise):
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-9, err_msg=name)
            continue
        scale = float(np.max(np.abs(want))) if want.size else 0.0
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL * scale, err_msg=name)


@pytest.mark.parametrize(("key", "state"), VARIANTS, ids=[k for k, _ in VARIANTS])
def test_network_numpy_script(client, tmp_path, key, state):
    query = state.to_query()
    arrays = _get(client, "arrays.json", query)
    assert arrays.status_code == 200, arrays.text[:300]
    script = _get(client, "numpy.py", query)
    assert script.status_code == 200, script.text[:300]
    assert imports(script.text) == {"json", "numpy"}
    assert script_names(script.text) == list(arrays.json())
    assert_same_step(arrays.json(), run_script(script.text, tmp_path))


@pytest.mark.parametrize(("key", "state"), VARIANTS, ids=[k for k, _ in VARIANTS])
def test_network_torch_script(client, tmp_path, key, state):
    query = state.to_query()
    arrays = _get(client, "arrays.json", query)
    assert arrays.status_code == 200, arrays.text[:300]
    script = _get(client, "torch.py", query)
    assert script.status_code == 200, script.text[:300]
    assert imports(script.text) == {"json", "numpy", "torch"}
    assert script_names(script.text) == list(arrays.json())
    if torch_python() is None:
        pytest.skip("no interpreter with torch: set BACKPROP_LENS_TORCH_PYTHON")
    assert_same_step(arrays.json(), run_torch(script.text, tmp_path))


def test_a_script_too_large_is_a_named_422(client, monkeypatch):
    monkeypatch.setattr(export_scripts, "get_settings", lambda: Settings(export_max_script_values=100))
    for route in ("numpy.py", "torch.py"):
        r = _get(client, route, PRESETS["lenet"].make(0).to_query())
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["query", "export"]


@pytest.mark.parametrize("route", ["numpy.py", "torch.py"])
def test_a_bad_link_is_the_pages_named_422(client, route):
    r = client.get(f"/network/export/{route}?v=1&z=damaged!")
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][0] == "query"
