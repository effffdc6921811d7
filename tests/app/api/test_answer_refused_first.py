"""An op whose answer would be over Settings.api_max_answer_numbers is refused before it runs (issue 12): the answer's
size comes from the inputs' shapes (OpSpec.shapes), and the 422 body is the one the API wrote after running it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from app.settings import Settings, get_settings
from engine import registry

CONV = {"inputs": {"x": np.arange(32.0).reshape(1, 2, 4, 4).tolist(), "w": np.ones((2, 2, 3, 3)).tolist(),
                   "b": [0.0, 1.0]}, "params": {"pad": 1}}
# the body the API answered when it ran the op first (recorded before the change)
REFUSED = {"detail": [{"loc": ["body", "inputs"], "type": "value_error",
                       "msg": "the answer would hold 1,254 numbers (every named array of conv2d); the limit is 200 "
                              "(Settings.api_max_answer_numbers: writing a larger answer would cost seconds) — use "
                              "smaller arrays"}]}


def never_run(*args, **kwargs):
    raise AssertionError("the op ran")


@pytest.fixture
def small_limit(app):
    app.dependency_overrides[get_settings] = lambda: Settings(api_max_answer_numbers=200)
    yield
    app.dependency_overrides.pop(get_settings, None)


def test_an_oversized_answer_is_refused_with_the_same_body_without_running_the_op(client, small_limit, monkeypatch):
    monkeypatch.setitem(registry.OPS, "conv2d", dataclasses.replace(registry.OPS["conv2d"], run=never_run))
    r = client.post("/api/v1/ops/conv2d", json=CONV)
    assert r.status_code == 422
    assert r.json() == REFUSED


def test_the_refused_count_is_every_number_the_answer_would_hold(client, small_limit):
    """1,254: what run() answers for this call, counted array by array (the prediction is not an estimate)."""
    spec, arrays, params = registry.prepare("conv2d", CONV["inputs"], CONV["params"])
    assert sum(int(np.size(a)) for a in spec.run(arrays, params).values()) == 1254
    assert client.post("/api/v1/ops/conv2d", json=CONV).json() == REFUSED


def test_an_answer_within_the_limit_still_runs(client, app):
    app.dependency_overrides[get_settings] = lambda: Settings(api_max_answer_numbers=1254)
    try:
        r = client.post("/api/v1/ops/conv2d", json=CONV)
    finally:
        app.dependency_overrides.pop(get_settings, None)
    assert r.status_code == 200 and np.shape(r.json()["arrays"]["x_col"]) == (18, 16)
