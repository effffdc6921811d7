"""The API's arrays written by orjson (app/api/v1/jsonarrays.py) are the JSON values the contract describes —
the same as ``json.dumps(to_json(...))`` — and the trace's packed arrays read back to the engine's numbers."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from app.api.v1.jsonarrays import encode, to_json
from engine.network import trace as network

RNG = np.random.default_rng(0)
VALUES = {
    "floats": RNG.normal(size=(2, 3, 4)),
    "non-finite": np.array([[1.5, np.nan], [np.inf, -np.inf]]),
    "float32": RNG.normal(size=(3, 2)).astype(np.float32),
    "transposed": np.arange(6.0).reshape(2, 3).T,
    "every other": np.arange(10.0)[::2],
    "ints": np.array([[1, 2], [3, 4]], dtype=np.int32),
    "mask": np.array([True, False, True]),
    "0-d": np.array(2.5),
    "scalar": np.float64(np.nan),
    "int scalar": np.int64(7),
    "empty": np.zeros((2, 0)),
    "nested": {"a": [np.arange(3), {"b": np.float32(0.1)}], "c": None, "d": "text", "e": float("inf")},
    "tiny and huge": np.array([1e-300, 1e300, -0.0, 5e-324, 1e-5, 1e16]),
}


@pytest.mark.parametrize("name", sorted(VALUES))
def test_orjson_writes_the_same_json_values_as_to_json(name):
    value = VALUES[name]
    assert json.loads(encode(value)) == json.loads(json.dumps(to_json(value))), name


def test_a_whole_trace_answer_encodes_the_same():
    model = {"input_shape": [1, 6, 6], "layers": [{"type": "conv2d", "filters": 2, "kernel": 3}, {"type": "relu"},
                                                  {"type": "flatten"}, {"type": "linear", "units": 3}],
             "loss": "softmax_cross_entropy"}
    answer = network.trace(model, None, RNG.normal(size=(2, 1, 6, 6)), [0, 2], "train",
                           {"name": "adam", "hyperparams": {"lr": 0.01}}, 0)
    assert json.loads(encode(answer)) == json.loads(json.dumps(to_json(answer)))


def unpack(packed: dict) -> np.ndarray:
    raw = base64.b64decode(packed["base64"])
    return np.frombuffer(raw, dtype="<" + np.dtype(packed["dtype"]).str[1:]).reshape(packed["shape"])


def test_packed_arrays_read_back_bit_for_bit():
    packed = json.loads(encode({k: VALUES[k] for k in ("floats", "non-finite", "float32", "transposed", "ints",
                                                        "mask", "0-d")}, "base64"))
    for name in ("floats", "non-finite", "float32", "transposed", "ints"):
        want = VALUES[name]
        got = unpack(packed[name])
        assert got.shape == want.shape and np.array_equal(got, want, equal_nan=True), name
        assert got.dtype.kind == want.dtype.kind
    assert packed["mask"]["dtype"] == "uint8" and unpack(packed["mask"]).tolist() == [1, 0, 1]
    assert packed["0-d"] == 2.5  # a 0-d value stays a bare number


def test_the_trace_answers_packed_arrays_when_asked(client):
    body = {"model": {"input_shape": [1, 4, 4], "layers": [{"type": "conv2d", "filters": 2, "kernel": 3},
                                                           {"type": "flatten"}, {"type": "linear", "units": 2}],
                      "loss": "softmax_cross_entropy"},
            "x": RNG.normal(size=(1, 1, 4, 4)).tolist(), "labels": [1]}
    lists = client.post("/api/v1/networks/trace", json=body).json()
    packed = client.post("/api/v1/networks/trace", json={**body, "arrays": "base64"}).json()
    assert lists["loss"] == packed["loss"]
    assert np.array_equal(unpack(packed["layers"][0]["forward"]["out"]), np.array(lists["layers"][0]["forward"]["out"]))
    assert np.array_equal(unpack(packed["grads"]["2.w"]), np.array(lists["grads"]["2.w"]))
    bad = client.post("/api/v1/networks/trace", json={**body, "arrays": "msgpack"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "arrays"]
