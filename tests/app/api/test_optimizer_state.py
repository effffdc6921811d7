"""POST /api/v1/optimizers/{name} with a starting ``state``: a run continues exactly, bad state is a 422."""

from __future__ import annotations

import numpy as np
import pytest

from tests.app.conftest import assert_error

NAMES = ("sgd", "momentum", "rmsprop", "adam", "adamw")
SLOTS = {"sgd": (), "momentum": ("v",), "rmsprop": ("s",), "adam": ("m", "v"), "adamw": ("m", "v")}


def post(client, name, body):
    return client.post(f"/api/v1/optimizers/{name}", json=body)


def _run(seed=0, steps=6):
    rng = np.random.default_rng(seed)
    params = {"w": rng.normal(size=(2, 3)).tolist(), "b": float(rng.normal())}
    grads = [{"w": rng.normal(size=(2, 3)).tolist(), "b": float(rng.normal())} for _ in range(steps)]
    return params, grads


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("split", [1, 4])
def test_a_run_continues_from_the_state_it_answered(client, name, split):
    params, grads = _run(seed=len(name))
    hyper = {"lr": 0.05}
    whole = post(client, name, {"params": params, "grads": grads, "hyperparams": hyper}).json()["steps"]
    first = post(client, name, {"params": params, "grads": grads[:split], "hyperparams": hyper}).json()["steps"]
    last = first[-1]
    state = {"t": last["t"], **{slot: last["state"][slot] for slot in SLOTS[name]}}
    rest = post(client, name, {"params": last["params"], "grads": grads[split:], "hyperparams": hyper,
                               "state": state})
    assert rest.status_code == 200, rest.text
    rest = rest.json()["steps"]
    assert [s["t"] for s in rest] == [s["t"] for s in whole[split:]] == list(range(split + 1, len(grads) + 1))
    for mine, theirs in zip(rest, whole[split:], strict=True):
        np.testing.assert_array_equal(mine["params"]["w"], theirs["params"]["w"])  # bit for bit
        assert mine["state"] == theirs["state"]


def test_a_state_without_t_starts_the_count_at_one(client):
    body = {"params": {"w": [1.0]}, "grads": [{"w": [0.5]}], "hyperparams": {"lr": 0.1, "momentum": 0.9},
            "state": {"v": {"w": [2.0]}}}
    step = post(client, "momentum", body).json()["steps"][0]
    assert step["t"] == 1
    assert step["state"]["v"]["w"] == pytest.approx([0.9 * 2.0 + 0.5])  # pytorch form: v ← μ·v + g
    assert step["params"]["w"] == pytest.approx([1.0 - 0.1 * 2.3])


def test_adam_bias_correction_uses_the_continued_count(client):
    body = {"params": {"w": [0.0]}, "grads": [{"w": [1.0]}], "hyperparams": {"lr": 1.0, "eps": 1e-12},
            "state": {"t": 2, "m": {"w": [0.5]}, "v": {"w": [0.25]}}}
    step = post(client, "adam", body).json()["steps"][0]
    m, v = 0.9 * 0.5 + 0.1, 0.999 * 0.25 + 0.001
    assert step["t"] == 3
    assert step["state"]["m_hat"]["w"] == pytest.approx([m / (1 - 0.9**3)], rel=1e-14)
    assert step["state"]["v_hat"]["w"] == pytest.approx([v / (1 - 0.999**3)], rel=1e-14)


@pytest.mark.parametrize("state, loc, words", [
    ({"velocity": {"w": [1.0]}}, ["body", "state", "velocity"], ("'v'",)),
    ({"v": {"w": [1.0]}, "m_hat": {"w": [1.0]}}, ["body", "state", "m_hat"], ("computed",)),
    ({"v": {"w": [1.0]}, "foo": 1}, ["body", "state", "foo"], ("allowed keys: t, v",)),
    ({}, ["body", "state", "v"], ("required",)),
    ({"v": {"w": [1.0, 2.0]}}, ["body", "state", "v.w"], ("shape [2]", "[1]")),
    ({"v": {"w": [1.0], "b": [1.0]}}, ["body", "state", "v.b"], ("no parameter",)),
    ({"v": {}}, ["body", "state", "v.w"], ("missing",)),
    ({"v": {"w": ["a"]}}, ["body", "state", "v.w"], ("numbers",)),
    ({"v": [1.0]}, ["body", "state", "v"], ("object",)),
    ({"t": -1, "v": {"w": [1.0]}}, ["body", "state", "t"], ("whole number",)),
    ({"t": 1.5, "v": {"w": [1.0]}}, ["body", "state", "t"], ()),
    ({"t": True, "v": {"w": [1.0]}}, ["body", "state", "t"], ()),
    ({"t": "5", "v": {"w": [1.0]}}, ["body", "state", "t"], ()),
], ids=lambda v: str(v)[:30])
def test_bad_state_is_a_422_naming_the_field(client, state, loc, words):
    body = {"params": {"w": [1.0]}, "grads": [{"w": [0.5]}], "state": state}
    r = post(client, "momentum", body)
    assert_error(r, 422, loc, *words)


def test_second_moments_may_not_be_negative(client):
    body = {"params": {"w": [1.0, 2.0]}, "grads": [{"w": [0.5, 0.5]}], "state": {"s": {"w": [0.1, -0.2]}}}
    assert_error(post(client, "rmsprop", body), 422, ["body", "state", "s.w"], "negative", "[1]")
    body = {"params": {"w": [1.0]}, "grads": [{"w": [0.5]}], "state": {"m": {"w": [-1.0]}, "v": {"w": [-0.1]}}}
    assert_error(post(client, "adam", body), 422, ["body", "state", "v.w"], "negative")


def test_sgd_takes_only_a_count_and_state_must_be_an_object(client):
    body = {"params": {"w": [1.0]}, "grads": [{"w": [0.5]}], "hyperparams": {"lr": 0.5}, "state": {"t": 7}}
    step = post(client, "sgd", body).json()["steps"][0]
    assert step["t"] == 8 and step["params"]["w"] == [0.75]
    assert_error(post(client, "sgd", {**body, "state": {"t": 1, "v": {"w": [0.0]}}}), 422, ["body", "state", "v"])
    assert post(client, "sgd", {**body, "state": [1]}).status_code == 422
