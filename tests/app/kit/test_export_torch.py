"""Export to PyTorch (app.web.kit.export_torch): GET /<lab>/export/torch.py of every preset of each lab with
export (the same links as the NumPy test) is a script importing only torch, numpy and json whose JSON names
are arrays.json's, in order (checked without torch); run in a subprocess by an interpreter with torch, it
prints the arrays arrays.json gives, to 1e-12 of each array's scale.

The interpreter: this test's own if ``import torch`` works, else ``$BACKPROP_LENS_TORCH_PYTHON``; without
either the run is skipped (torch is not a dependency)."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest

from app.web.labs.pool.routes import LAB as POOL
from tests.app.export.test_export import LINKS, assert_same, imports


def torch_python() -> str | None:
    if importlib.util.find_spec("torch") is not None:
        return sys.executable
    return os.environ.get("BACKPROP_LENS_TORCH_PYTHON") or None


def run_torch(text: str, tmp_path) -> dict:
    """The script run by an interpreter with torch in an empty folder, isolated from this project (-I)."""
    python = torch_python()
    if python is None:
        pytest.skip("no interpreter with torch: set BACKPROP_LENS_TORCH_PYTHON")
    path = tmp_path / "export_torch.py"
    path.write_text(text)
    done = subprocess.run([python, "-I", str(path)], capture_output=True, text=True, cwd=tmp_path, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def script_names(text: str) -> list[str]:
    """The script's NAMES = [...] (the JSON it prints, in order), read without running it."""
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign) and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["NAMES"]:
            return ast.literal_eval(node.value)
    raise AssertionError("no NAMES in the script")


@pytest.mark.parametrize(("slug", "key", "query"), LINKS, ids=[f"{s}-{k}" for s, k, _ in LINKS])
def test_torch_script_names_the_engine_arrays(client, slug, key, query):
    arrays = client.get(f"/{slug}/export/arrays.json?{query}")
    assert arrays.status_code == 200, arrays.text
    script = client.get(f"/{slug}/export/torch.py?{query}")
    assert script.status_code == 200, script.text
    assert script.headers["content-type"].startswith("text/x-python")
    assert imports(script.text) == {"json", "numpy", "torch"}
    assert script_names(script.text) == list(arrays.json())


@pytest.mark.parametrize(("slug", "key", "query"), LINKS, ids=[f"{s}-{k}" for s, k, _ in LINKS])
def test_torch_script_prints_the_engine_arrays(client, tmp_path, slug, key, query):
    if torch_python() is None:
        pytest.skip("no interpreter with torch: set BACKPROP_LENS_TORCH_PYTHON")
    arrays = client.get(f"/{slug}/export/arrays.json?{query}").json()
    script = client.get(f"/{slug}/export/torch.py?{query}").text
    assert_same(arrays, run_torch(script, tmp_path))


def test_avgpool_script_prints_the_engine_arrays(client, tmp_path):
    """Average pooling (no preset uses it)."""
    state = POOL.presets[POOL.default].make(0)
    query = replace(state, pool="avg").to_query()
    arrays = client.get(f"/pool/export/arrays.json?{query}")
    assert arrays.status_code == 200, arrays.text
    script = client.get(f"/pool/export/torch.py?{query}").text
    assert script_names(script) == list(arrays.json())
    if torch_python() is None:
        pytest.skip("no interpreter with torch: set BACKPROP_LENS_TORCH_PYTHON")
    assert_same(arrays.json(), run_torch(script, tmp_path))


def test_a_broken_link_is_the_pages_named_422(client):
    answer = client.get("/conv/export/torch.py?v=1&x=1x1x2x2:1,2,3&w=1x1x1x1:1&b=1:0")
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["query", "x"]
