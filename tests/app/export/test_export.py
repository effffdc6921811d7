"""Export (app.web.kit.export): the NumPy script of every preset of each lab with export, run in a
subprocess with NumPy alone, prints the arrays arrays.json gives, to 1e-12 of each array's scale."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from app.web.labs.conv.routes import LAB as CONV
from app.web.labs.norm.routes import LAB as NORM
from app.web.labs.optim.routes import LAB as OPTIM
from app.web.labs.optim.state import OptSpec
from app.web.labs.pool.routes import LAB as POOL
from app.web.labs.softmax.routes import LAB as SOFTMAX

RTOL = 1e-12


def _links():
    """(lab slug, query) of every preset (seeds 0 and 1), the normalization lab's tabs and modes, and every
    optimizer (and its conventions) on the optimizer lab's step table."""
    for lab in (CONV, POOL, NORM, SOFTMAX, OPTIM):
        for key, preset in lab.presets.items():
            for seed in (0, 1) if key.startswith("random") else (0,):
                state = preset.make(seed)
                yield lab.slug, key, state.to_query()
                if lab is NORM:
                    for tab in ("ln", "dropout"):
                        yield lab.slug, f"{key}-{tab}", replace(state, tab=tab).to_query()
                    for tab in ("bn", "ln", "dropout"):
                        yield lab.slug, f"{key}-{tab}-eval", replace(state, tab=tab, mode="eval").to_query()
                    yield lab.slug, f"{key}-cs231n", replace(state, convention="cs231n").to_query()
    state = OPTIM.presets["notes-001-steps"].make(0)
    for name, hp in (("sgd", {}), ("momentum", {"form": "ema"}), ("rmsprop", {}), ("adam", {"weight_decay": 0.1}),
                     ("adam", {"eps_placement": "inside", "bias_correction": False}), ("adamw", {})):
        yield OPTIM.slug, f"{name}-{'-'.join(hp) or 'defaults'}", replace(state, opt=OptSpec.make(name, hp)).to_query()


LINKS = list(_links())


def run_script(text: str, tmp_path) -> dict:
    """The script run by a fresh interpreter in an empty folder, isolated from this project (-I)."""
    path = tmp_path / "export.py"
    path.write_text(text)
    done = subprocess.run([sys.executable, "-I", str(path)], capture_output=True, text=True, cwd=tmp_path,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def imports(text: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            found.add((node.module or "").split(".")[0])
    return found


def assert_same(engine: dict, script: dict) -> None:
    assert list(script) == list(engine)
    for name, value in engine.items():
        want, got = np.asarray(value, dtype=np.float64), np.asarray(script[name], dtype=np.float64)
        assert got.shape == want.shape, name
        scale = float(np.max(np.abs(want))) if want.size else 0.0
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL * scale, err_msg=name)


@pytest.mark.parametrize(("slug", "key", "query"), LINKS, ids=[f"{s}-{k}" for s, k, _ in LINKS])
def test_numpy_script_prints_the_engine_arrays(client, tmp_path, slug, key, query):
    arrays = client.get(f"/{slug}/export/arrays.json?{query}")
    assert arrays.status_code == 200, arrays.text
    script = client.get(f"/{slug}/export/numpy.py?{query}")
    assert script.status_code == 200, script.text
    assert script.headers["content-type"].startswith("text/x-python")
    assert imports(script.text) == {"json", "numpy"}
    assert_same(arrays.json(), run_script(script.text, tmp_path))


def test_arrays_are_the_pages_engine_arrays(client):
    """arrays.json of the conv lab's default link holds conv2d's out and dx as the engine computes them."""
    from engine.registry import prepare

    state = CONV.presets[CONV.default].make(0)
    got = client.get(f"/conv/export/arrays.json?{state.to_query()}").json()
    op, arrays, params = prepare("conv2d", {"x": state.x, "w": state.w, "b": state.b},
                                 {"stride": state.stride, "pad": state.pad})
    result = op.run(arrays, params)
    for name in ("out", "dx", "dw", "db"):
        np.testing.assert_array_equal(np.asarray(got[name]), result[name])


@pytest.mark.parametrize("route", ["arrays.json", "numpy.py"])
def test_a_broken_link_is_the_pages_named_422(client, route):
    page = client.get("/conv?v=1&x=1x1x2x2:1,2,3&w=1x1x1x1:1&b=1:0")
    answer = client.get(f"/conv/export/{route}?v=1&x=1x1x2x2:1,2,3&w=1x1x1x1:1&b=1:0")
    assert page.status_code == answer.status_code == 422
    loc = answer.json()["detail"][0]["loc"]
    assert loc == ["query", "x"]
    assert "x" in page.text


def test_an_impossible_op_is_a_named_422(client):
    """A kernel larger than the input: the engine's refusal, naming its field."""
    answer = client.get("/conv/export/arrays.json?v=1&x=1x1x2x2:1,2,3,4&w=1x1x3x3:1,1,1,1,1,1,1,1,1&b=1:0")
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"][0] == "query"
