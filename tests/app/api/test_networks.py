"""POST /api/v1/networks/trace against CONVENTIONS.md ("Networks"): the answer's shape, the op arrays of
every layer, the update, and 422s that name the field — for bad models, inputs and the API's limits."""

from __future__ import annotations

import math

import pytest
from fastapi.testclient import TestClient

from app.api.v1 import networks as network_api
from app.main import create_app
from app.settings import Settings
from tests.app.conftest import assert_error

URL = "/api/v1/networks/trace"

# CONVENTIONS.md's example model, verbatim
EXAMPLE_MODEL = {
    "input_shape": [1, 8, 8],
    "layers": [
        {"type": "conv2d", "filters": 4, "kernel": 3, "stride": 1, "pad": 1},
        {"type": "batchnorm", "eps": 1e-5, "momentum": 0.1, "convention": "pytorch"},
        {"type": "relu"},
        {"type": "maxpool2d", "size": 2, "stride": 2},
        {"type": "residual", "layers": [{"type": "conv2d", "filters": 4, "kernel": 1}, {"type": "relu"}]},
        {"type": "dropout", "p": 0.25},
        {"type": "flatten"},
        {"type": "linear", "units": 10},
    ],
    "loss": "softmax_cross_entropy",
}


# CONVENTIONS.md's table: the arrays each op answers (at least), plus its inputs
TABLE = {
    "conv2d": {"x", "w", "b", "dout", "x_padded", "x_col", "w_row", "out", "dw", "db", "dx_col", "dx"},
    "maxpool2d": {"x", "dout", "out", "argmax", "dx"},
    "relu": {"x", "dout", "out", "mask", "dx"},
    "linear": {"x", "w", "b", "dout", "out", "dx", "dw", "db"},
    "batchnorm": {"x", "gamma", "beta", "dout", "mean", "var", "std", "x_hat", "out", "running_mean", "running_var",
                  "dx_hat", "dvar", "dmean", "dx", "dgamma", "dbeta"},
    "dropout": {"x", "dout", "mask", "out", "dx"},
    "flatten": {"x", "dout", "out", "dx"},
}


def batch(n: int = 2) -> list:
    return [[[[((i * 7 + r * 3 + c) % 11) / 5 - 1 for c in range(8)] for r in range(8)]] for i in range(n)]


def body(**over) -> dict:
    out = {"model": EXAMPLE_MODEL, "x": batch(), "labels": [3, 7], "mode": "train",
           "optimizer": {"name": "adam", "hyperparams": {"lr": 0.01}}, "seed": 0}
    out.update(over)
    return out


def test_the_answer_has_every_layer_with_the_ops_arrays(client):
    r = client.post(URL, json=body())
    assert r.status_code == 200, r.text
    answer = r.json()
    assert set(answer) == {"layers", "loss", "data_loss", "l2_penalty", "l1_penalty", "probs", "grads", "reg_grads",
                           "update"}
    paths = [layer["path"] for layer in answer["layers"]]
    assert paths == ["0", "1", "2", "3", "4", "4.0", "4.1", "5", "6", "7"]  # pre-order: the block, then its layers
    for layer in answer["layers"]:
        assert set(layer) == {"path", "type", "out_shape", "forward", "backward"}
        if layer["type"] == "residual":
            assert {"x", "fx", "out"} <= set(layer["forward"]) and {"dout", "dx"} <= set(layer["backward"])
            continue
        arrays = set(layer["forward"]) | set(layer["backward"])
        assert TABLE[layer["type"]] <= arrays, (layer["type"], TABLE[layer["type"]] - arrays)
    assert answer["layers"][0]["out_shape"] == [2, 4, 8, 8] and answer["layers"][-1]["out_shape"] == [2, 10]
    assert set(answer["grads"]) == {"0.w", "0.b", "1.gamma", "1.beta", "4.0.w", "4.0.b", "7.w", "7.b"}
    assert math.isfinite(answer["loss"]) and len(answer["probs"]) == 2
    upd = answer["update"]
    assert upd["t"] == 1 and set(upd["state"]) == {"m", "v", "m_hat", "v_hat"}
    assert {"1.running_mean", "1.running_var", "0.w"} <= set(upd["params"])


def test_the_notes_example_by_hand(client):
    r = client.post(URL, json=network_api.EXAMPLE)
    assert r.status_code == 200, r.text
    a = r.json()
    # logits are the pooled maxima 5 and 1; label 1: L = log(1 + e⁴); SGD lr 0.1 on δK = σ(4)·window
    assert a["layers"][2]["forward"]["out"] == [[[[5.0]], [[1.0]]]]
    assert a["loss"] == pytest.approx(math.log(1 + math.exp(4)), rel=1e-12)
    s4 = 1 / (1 + math.exp(-4))
    assert a["grads"]["0.b"] == pytest.approx([s4, -s4], rel=1e-12)
    assert a["update"]["params"]["0.w"][0][0][0] == pytest.approx([1 - 0.3 * s4, -0.1 * s4, -1.0], rel=1e-12)


def test_missing_parameters_come_from_the_seed(client):
    a = client.post(URL, json=body(seed=5)).json()
    b = client.post(URL, json=body(seed=5)).json()
    c = client.post(URL, json=body(seed=6)).json()
    assert a["loss"] == b["loss"] and a["loss"] != c["loss"]
    given = client.post(URL, json=body(seed=6, params={"7.b": [0.0] * 10})).json()
    assert given["layers"][-1]["forward"]["b"] == [0.0] * 10


def test_without_an_optimizer_there_is_no_update(client):
    a = client.post(URL, json=body(optimizer=None, mode="eval")).json()
    assert a["update"] is None


@pytest.mark.parametrize("over, loc, words", [
    ({"model": {**EXAMPLE_MODEL, "layers": [{"type": "conv2d", "filters": 4, "kernel": 9}]}},
     ["body", "model", "layers", 0, "kernel"], ["between 1 and 7"]),
    ({"model": {**EXAMPLE_MODEL, "layers": [{"type": "convolution"}]}}, ["body", "model", "layers", 0, "type"],
     ["unknown layer type"]),
    ({"model": {**EXAMPLE_MODEL, "layers": [{"type": "conv2d", "filters": 4, "kernel": 3}, {"type": "linear",
                                                                                            "units": 10}]}},
     ["body", "model", "layers", 1], ["add a flatten layer"]),
    ({"model": {**EXAMPLE_MODEL, "layers": [{"type": "residual", "layers": [{"type": "conv2d", "filters": 4,
                                                                              "kernel": 3}]}]}},
     ["body", "model", "layers", 0], ["residual block must keep"]),
    ({"x": [[[[1.0] * 8] * 8]]}, ["body", "labels"], ["one label per row"]),
    ({"x": [[[[1.0] * 7] * 8]] * 2}, ["body", "x"], ["shape"]),
    ({"x": [[[["a"] * 8] * 8]] * 2}, ["body", "x"], ["numbers only"]),
    ({"labels": [3, 10]}, ["body", "labels"], ["out of range"]),
    ({"mode": "test"}, ["body", "mode"], ["train, eval"]),
    ({"optimizer": {"name": "lbfgs"}}, ["body", "optimizer", "name"], ["unknown optimizer"]),
    ({"optimizer": {"name": "adam", "hyperparams": {"beta1": 2}}}, ["body", "optimizer", "hyperparams", "beta1"],
     ["between"]),
    ({"params": {"9.w": [1.0]}}, ["body", "params", "9.w"], ["no parameter"]),
    ({"params": {"7.b": [0.0] * 3}}, ["body", "params", "7.b"], ["shape"]),
    ({"seed": -1}, ["body", "seed"], ["between"]),
])
def test_bad_input_answers_422_naming_the_field(client, over, loc, words):
    item = assert_error(client.post(URL, json=body(**over)), 422, loc, *words)
    assert item["type"] == "value_error"


def test_unknown_top_level_keys_are_refused(client):
    r = client.post(URL, json={**body(), "extra": 1})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "extra"]


def test_the_settings_array_limit_applies_to_x():
    app = create_app(Settings(max_elements=100))
    with TestClient(app, raise_server_exceptions=False) as c:
        assert_error(c.post(URL, json=body()), 422, ["body", "x"], "128 numbers", "limit is 100")


def _limited(**limits) -> TestClient:
    return TestClient(create_app(Settings(**limits)), raise_server_exceptions=False)


def test_the_apis_limits_come_from_the_settings():
    with _limited(max_batch=1) as c:
        assert_error(c.post(URL, json=body()), 422, ["body", "x"], "2 examples", "limit is 1")
    with _limited(network_max_activation=200) as c:
        assert_error(c.post(URL, json=body()), 422, ["body", "model", "layers", 0], "256 numbers per example",
                     "limit is 200")
    with _limited(network_max_params=100) as c:
        assert_error(c.post(URL, json=body()), 422, ["body", "model"], "learnable numbers", "limit is 100")
    with _limited(trace_max_numbers=1000) as c:
        assert_error(c.post(URL, json=body()), 422, ["body", "x"], "the trace would hold", "limit is 1,000")
    with _limited(network_max_layers=2) as c:
        assert_error(c.post(URL, json=body()), 422, ["body", "model", "layers"], "layers", "limit is 2 per list")


def test_the_default_limits_are_the_readmes():
    """Issue 13: the trace API took batch 64 and 25 layers where the README says 4 and the builder 24."""
    x = body()["x"][:1] * 5
    assert_error(TestClient(create_app()).post(URL, json=body(x=x, labels=[0] * 5)), 422, ["body", "x"],
                 "5 examples", "limit is 4")


def test_the_route_is_in_the_openapi_schema_under_networks(client):
    schema = client.get("/openapi.json").json()
    op = schema["paths"][URL]["post"]
    assert op["tags"] == ["networks"] and "422" in op["responses"]
