"""The JSON API takes course-sized inputs (Settings.api_max_*), the pages keep theirs; new params travel."""

from __future__ import annotations

import numpy as np

from app.settings import Settings
from tests.app.conftest import assert_error
from tests.app.published.sources import op


def test_a_cifar_sized_convolution_both_routes_of_dx(client):
    """2×3×32×32 images, ten 3×3 filters, stride 1, pad 1 (cs231n's conv checks' size): dx by col2im and by
    the full convolution agree."""
    rng = np.random.default_rng(0)
    a = op(client, "conv2d", {"x": rng.normal(size=(2, 3, 32, 32)).tolist(),
                              "w": rng.normal(size=(10, 3, 3, 3)).tolist(), "b": rng.normal(size=10).tolist(),
                              "dout": rng.normal(size=(2, 10, 32, 32)).tolist()}, {"stride": 1, "pad": 1})
    assert a["out"].shape == (2, 10, 32, 32)
    np.testing.assert_allclose(a["dx"], a["dx_full_conv"], rtol=1e-12, atol=1e-12)


def test_batch_norm_on_200_by_500_and_an_affine_layer_on_cifar_features(client):
    rng = np.random.default_rng(1)
    a = op(client, "batchnorm", {"x": (5 * rng.normal(size=(200, 500)) + 12).tolist()}, {"mode": "train"})
    np.testing.assert_allclose(a["out"].mean(axis=0), 0, atol=1e-12)
    b = op(client, "linear", {"x": rng.normal(size=(10, 3, 32, 32)).tolist(), "w": rng.normal(size=(3072, 10)).tolist(),
                              "b": np.zeros(10).tolist()})
    assert b["out"].shape == (10, 10) and b["dx"].shape == (10, 3, 32, 32)


def test_limits_follow_the_api_settings(app, client):
    from app.settings import get_settings
    app.dependency_overrides[get_settings] = lambda: Settings(api_max_features=100)
    body = {"inputs": {"x": np.zeros((2, 101)).tolist(), "w": np.zeros((101, 2)).tolist(), "b": [0.0, 0.0]}}
    assert_error(client.post("/api/v1/ops/linear", json=body), 422, ["body", "inputs", "x"], "features D = 101",
                 "limit of 100")


def test_pair_params_are_answered_as_pairs(client):
    body = {"inputs": {"x": np.zeros((1, 1, 5, 6)).tolist(), "w": np.zeros((1, 1, 2, 3)).tolist(), "b": [0.0]},
            "params": {"stride": [2, 1], "pad": [1, 0], "dilation": [1, 2]}}
    r = client.post("/api/v1/ops/conv2d", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["params"] == {"stride": [2, 1], "pad": [1, 0], "dilation": [1, 2]}
    assert np.asarray(r.json()["arrays"]["out"]).shape == (1, 1, 3, 2)


def test_every_new_op_answers_through_the_api(client):
    x = [[-1.0, 0.5], [2.0, -3.0]]
    assert op(client, "sigmoid", {"x": x})["out"][0, 1] == 1 / (1 + np.exp(-0.5))
    assert op(client, "tanh", {"x": x})["dx"][1, 0] == 1 - np.tanh(2.0) ** 2
    assert op(client, "leaky_relu", {"x": x}, {"slope": 0.2})["out"][1, 1] == -0.6000000000000001
    assert float(op(client, "svm_loss", {"logits": x, "labels": [0, 1]})["loss"]) == (2.5 + 6.0) / 2
    g = op(client, "groupnorm", {"x": np.arange(8.0).reshape(1, 4, 2, 1).tolist()}, {"groups": 2})
    assert g["mean"].tolist() == [[1.5, 5.5]]
    t = op(client, "conv_transpose2d", {"x": [[[[1.0]]]], "w": [[[[1.0, 2.0], [3.0, 4.0]]]], "b": [0.0]},
           {"stride": 2})
    assert t["out"].tolist() == [[[[1.0, 2.0], [3.0, 4.0]]]]
    r = client.post("/api/v1/ops/dropout", json={"inputs": {"x": x, "mask": [[1, 2], [0, 1]]}})
    assert_error(r, 422, ["body", "inputs", "mask"], "0 (dropped) and 1 (kept)")
