"""POST /api/v1/optimizers/{name} against CONVENTIONS.md ("Optimizers", "The JSON API")."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.settings import Settings, get_settings
from engine.optim import rules as optim
from tests.app.conftest import assert_error

NAMES = ("sgd", "momentum", "rmsprop", "adam", "adamw")  # CONVENTIONS.md's list
STATE_KEYS = {"sgd": set(), "momentum": {"v"}, "rmsprop": {"s"}, "adam": {"m", "v", "m_hat", "v_hat"},
              "adamw": {"m", "v", "m_hat", "v_hat"}}


def post(client, name, body):
    return client.post(f"/api/v1/optimizers/{name}", json=body)


def two_steps():
    return {"params": {"w": [0.5, -0.3], "b": 0.1},
            "grads": [{"w": [0.1, -0.2], "b": 0.05}, {"w": [0.08, -0.1], "b": 0.02}]}


def test_the_contracts_optimizers_are_all_registered():
    assert set(NAMES) <= set(optim.OPTIMIZERS)


@pytest.mark.parametrize("name", NAMES)
def test_every_optimizer_answers_one_entry_per_step(client, name):
    r = post(client, name, two_steps())
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["optimizer"] == name
    assert set(data["hyperparams"]) == {p.name for p in optim.OPTIMIZERS[name]}
    steps = data["steps"]
    assert [s["t"] for s in steps] == [1, 2]
    for step in steps:
        assert set(step["params"]) == {"w", "b"}
        assert isinstance(step["params"]["b"], float)  # a 0-d parameter stays a bare number
        assert len(step["params"]["w"]) == 2
        assert set(step["state"]) == STATE_KEYS[name], step["state"]
        for slot in step["state"].values():
            assert set(slot) == {"w", "b"}


def test_sgd_by_hand(client):
    r = post(client, "sgd", {**two_steps(), "hyperparams": {"lr": 0.5}})
    steps = r.json()["steps"]
    assert steps[0]["params"]["w"] == pytest.approx([0.5 - 0.05, -0.3 + 0.1], abs=1e-15)
    assert steps[1]["params"]["w"] == pytest.approx([0.45 - 0.04, -0.2 + 0.05], abs=1e-15)


def test_momentum_forms_by_hand(client):
    body = {"params": {"w": [1.0]}, "grads": [{"w": [0.5]}, {"w": [0.5]}]}
    # pytorch: v1 = g = 0.5, v2 = 0.9·0.5 + 0.5 = 0.95; p2 = 1 − 0.1·0.5 − 0.1·0.95
    r = post(client, "momentum", {**body, "hyperparams": {"lr": 0.1, "momentum": 0.9, "form": "pytorch"}})
    steps = r.json()["steps"]
    assert steps[1]["state"]["v"]["w"] == pytest.approx([0.95])
    assert steps[1]["params"]["w"] == pytest.approx([1 - 0.05 - 0.095])
    # ema (the notes): v1 = 0.1·0.5 = 0.05, v2 = 0.9·0.05 + 0.05 = 0.095
    r = post(client, "momentum", {**body, "hyperparams": {"lr": 0.1, "momentum": 0.9, "form": "ema"}})
    steps = r.json()["steps"]
    assert steps[1]["state"]["v"]["w"] == pytest.approx([0.095])
    assert steps[1]["params"]["w"] == pytest.approx([1 - 0.005 - 0.0095])


def test_adam_by_hand(client):
    lr, b1, b2, eps = 0.001, 0.9, 0.999, 1e-8
    r = post(client, "adam", {**two_steps(), "hyperparams": {"lr": lr}})
    assert r.status_code == 200, r.text
    steps = r.json()["steps"]
    p, m, v = 0.5, 0.0, 0.0
    for t, g in ((1, 0.1), (2, 0.08)):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        p = p - lr * m_hat / (math.sqrt(v_hat) + eps)
        state = steps[t - 1]["state"]
        assert state["m"]["w"][0] == pytest.approx(m, rel=1e-12)
        assert state["v"]["w"][0] == pytest.approx(v, rel=1e-12)
        assert state["m_hat"]["w"][0] == pytest.approx(m_hat, rel=1e-12)
        assert state["v_hat"]["w"][0] == pytest.approx(v_hat, rel=1e-12)
        assert steps[t - 1]["params"]["w"][0] == pytest.approx(p, rel=1e-12)
    # the first Adam step moves every parameter by about lr, whatever the gradient's size
    assert steps[0]["update"]["w"] == pytest.approx([-lr, lr], rel=1e-6)


def test_adam_as_in_the_notes(client):
    # ε inside the root, no bias correction: p ← p − lr·m/√(v + ε)
    body = {"params": {"w": [0.5]}, "grads": [{"w": [0.01]}],
            "hyperparams": {"lr": 0.1, "eps": 1e-8, "eps_placement": "inside", "bias_correction": False}}
    steps = post(client, "adam", body).json()["steps"]
    m, v = 0.1 * 0.01, 0.001 * 0.01**2
    assert steps[0]["state"]["m"]["w"] == pytest.approx([m], rel=1e-12)
    assert steps[0]["state"]["v"]["w"] == pytest.approx([v], rel=1e-12)
    assert steps[0]["params"]["w"] == pytest.approx([0.5 - 0.1 * m / math.sqrt(v + 1e-8)], rel=1e-12)


def test_unknown_optimizer_is_404_listing_the_known_ones(client):
    item = assert_error(post(client, "lion", two_steps()), 404, ["path", "optimizer"], "lion")
    for name in NAMES:
        assert name in item["msg"]


@pytest.mark.parametrize(
    "change, loc, words",
    [
        ({"hyperparams": {"lr": -1}}, ["body", "hyperparams", "lr"], ("between",)),
        ({"hyperparams": {"lr": "fast"}}, ["body", "hyperparams", "lr"], ("number",)),
        ({"hyperparams": {"beta9": 0.5}}, ["body", "hyperparams", "beta9"], ("beta9",)),
        ({"hyperparams": {"eps_placement": "middle"}}, ["body", "hyperparams", "eps_placement"], ("outside",)),
        ({"grads": [{"w": [0.1, 0.2, 0.3], "b": 0.0}]}, ["body", "grads", 0, "w"], ("shape",)),
        ({"grads": [{"w": [0.1, 0.2]}]}, ["body", "grads", 0, "b"], ("missing",)),
        ({"grads": [{"w": [0.1, "x"], "b": 0.0}]}, ["body", "grads", 0, "w"], ("numbers",)),
        ({"grads": []}, ["body", "grads"], ("at least one",)),
        ({"params": {"w": [[1.0, 2.0], [3.0]]}}, ["body", "params", "w"], ("ragged",)),
        ({"params": {}}, ["body", "params"], ()),
    ],
    ids=["lr-negative", "lr-string", "unknown-hyperparam", "bad-choice", "grad-shape", "grad-missing",
         "grad-non-number", "no-steps", "ragged-param", "no-params"],
)
def test_bad_input_is_422_naming_the_field(client, change, loc, words):
    assert_error(post(client, "adam", {**two_steps(), **change}), 422, loc, *words)


def test_nan_gradient_is_rejected(client):
    raw = '{"params": {"w": [1.0]}, "grads": [{"w": [NaN]}]}'
    r = client.post("/api/v1/optimizers/sgd", content=raw, headers={"content-type": "application/json"})
    assert_error(r, 422, ["body", "grads", 0, "w"], "finite")


def test_steps_over_the_limit(client):
    n = Settings().max_optimizer_steps + 1
    body = {"params": {"w": [1.0]}, "grads": [{"w": [0.1]}] * n}
    assert_error(post(client, "sgd", body), 422, ["body", "grads"], str(n), str(n - 1))


def test_response_size_limit(app, client):
    app.dependency_overrides[get_settings] = lambda: Settings(max_optimizer_values=100)
    body = {"params": {"w": [0.0] * 30}, "grads": [{"w": [0.1] * 30}] * 4}
    assert_error(post(client, "sgd", body), 422, ["body", "grads"], "120", "100")


def test_too_many_parameter_arrays(client):
    k = Settings().max_optimizer_params + 1
    body = {"params": {f"p{i}": [1.0] for i in range(k)}, "grads": [{f"p{i}": [0.1] for i in range(k)}]}
    assert_error(post(client, "sgd", body), 422, ["body", "params"], str(k))


def test_the_last_step_is_the_same_as_running_the_engine(client):
    body = two_steps()
    data = post(client, "adamw", body).json()
    direct = optim.run_optimizer("adamw", body["params"], body["grads"], {})
    np.testing.assert_array_equal(np.array(data["steps"][-1]["params"]["w"]), direct[-1]["params"]["w"])
