"""A model's loss with L2/L1 weight penalties and the SVM loss; the new layers inside a network."""

import numpy as np
import pytest

from engine.network.model import model_to_json, parse_model
from engine.network.params import init_params
from engine.network.penalty import penalize, penalized
from engine.network.trace import backward, forward, numeric_check_network, trace, train_step
from tests.engine.conftest import raises_field

MLP = {"input_shape": [4], "layers": [{"type": "linear", "units": 5}, {"type": "relu"}, {"type": "linear", "units": 3}]}
CNN = {"input_shape": [2, 6, 6], "loss": "svm_loss", "layers": [
    {"type": "conv2d", "filters": 4, "kernel": 3, "pad": 1}, {"type": "groupnorm", "groups": 2},
    {"type": "leaky_relu", "slope": 0.1}, {"type": "maxpool2d", "size": 2}, {"type": "tanh"},
    {"type": "residual", "layers": [{"type": "conv2d", "filters": 4, "kernel": 1}, {"type": "sigmoid"}]},
    {"type": "flatten"}, {"type": "linear", "units": 3}]}


def _batch(spec, n, seed):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, *spec["input_shape"])), rng.integers(0, 3, size=n)


def test_the_penalty_by_hand():
    model = parse_model({**MLP, "reg": 0.5, "l1": 0.25})
    params = init_params(model, 1)
    assert penalized(model) == ["0.w", "2.w"]  # weights only: no biases
    p = penalize(model, params)
    w0, w2 = params["0.w"], params["2.w"]
    assert p.l2 == pytest.approx(0.5 * 0.5 * (np.sum(w0**2) + np.sum(w2**2)), rel=1e-14)
    assert p.l1 == pytest.approx(0.25 * (np.sum(np.abs(w0)) + np.sum(np.abs(w2))), rel=1e-14)
    np.testing.assert_allclose(p.grads["2.w"], 0.5 * w2 + 0.25 * np.sign(w2), rtol=1e-15)
    empty = penalize(parse_model(MLP), params)
    assert (empty.l2, empty.l1, empty.grads) == (0.0, 0.0, {})


@pytest.mark.parametrize("reg, l1", [(0.0, 0.0), (0.7, 0.0), (0.0, 0.3), (1.5, 0.2)])
def test_loss_and_gradients_carry_the_penalty(reg, l1):
    spec = {**MLP, "reg": reg, "l1": l1}
    model = parse_model(spec)
    params = init_params(model, 2)
    x, labels = _batch(spec, 3, 2)
    fwd = forward(model, params, x, labels)
    plain = forward(parse_model(MLP), params, x, labels)
    assert fwd.data_loss == plain.loss
    assert fwd.loss == pytest.approx(plain.loss + fwd.penalty.l2 + fwd.penalty.l1, rel=1e-15)
    grads, plain_grads = backward(fwd).grads, backward(plain).grads
    for name in grads:
        extra = fwd.penalty.grads.get(name, 0.0)
        np.testing.assert_allclose(grads[name], plain_grads[name] + extra, rtol=1e-15, atol=1e-15)
    report = numeric_check_network(spec, params, x, labels)
    assert report.worst < 1e-7, report


def test_the_trace_answers_each_term():
    spec = {**MLP, "reg": 0.4, "l1": 0.1}
    x, labels = _batch(spec, 2, 3)
    out = trace(spec, None, x, labels, optimizer={"name": "sgd", "hyperparams": {"lr": 0.1}})
    assert out["loss"] == pytest.approx(out["data_loss"] + out["l2_penalty"] + out["l1_penalty"], rel=1e-15)
    assert sorted(out["reg_grads"]) == ["0.w", "2.w"]
    layer = out["layers"][-1]
    np.testing.assert_allclose(out["grads"]["2.w"], layer["backward"]["dw"] + out["reg_grads"]["2.w"], rtol=1e-15)
    w = init_params(parse_model(spec), 0)["2.w"]
    np.testing.assert_allclose(out["update"]["params"]["2.w"], w - 0.1 * out["grads"]["2.w"], rtol=1e-15)


def test_weight_decay_shrinks_the_weights_it_is_told_to():
    spec = {**MLP, "reg": 5.0}
    model = parse_model(spec)
    params = init_params(model, 4)
    x, labels = _batch(spec, 4, 4)
    new, _, loss, _ = train_step(model, params, None, x, labels, "sgd", {"lr": 0.05})
    shrunk = train_step(parse_model(MLP), params, None, x, labels, "sgd", {"lr": 0.05})[0]
    np.testing.assert_allclose(new["0.w"], shrunk["0.w"] - 0.05 * 5.0 * params["0.w"], rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(new["0.b"], shrunk["0.b"])  # biases are not penalized


def test_new_layers_and_the_svm_loss_in_a_network():
    model = parse_model({**CNN, "reg": 0.2, "l1": 0.05})
    params = init_params(model, 5)
    assert params["1.gamma"].shape == (4,) and params["1.beta"].shape == (4,)
    x, labels = _batch(CNN, 3, 5)
    fwd = forward(model, params, x, labels)
    assert fwd.probs is None and fwd.data_loss >= 0
    report = numeric_check_network(model, params, x, labels)
    assert report.worst < 1e-7, report
    out = trace(model, params, x, labels)
    assert [layer["type"] for layer in out["layers"]][:3] == ["conv2d", "groupnorm", "leaky_relu"]
    assert "local_grad" in out["layers"][2]["forward"] and "dgamma" in out["layers"][1]["backward"]


def test_the_model_json_round_trips_and_is_checked():
    spec = {**CNN, "reg": 0.2, "l1": 0.05}
    assert parse_model(model_to_json(parse_model(spec))) == parse_model(spec)
    assert model_to_json(parse_model(MLP))["reg"] == 0.0
    raises_field("model.reg", parse_model, {**MLP, "reg": -1})
    raises_field("model.l1", parse_model, {**MLP, "l1": "a"})
    raises_field("model.loss", parse_model, {**MLP, "loss": "hinge"})
    bad = {**CNN, "layers": [{"type": "groupnorm", "groups": 3}, *CNN["layers"]]}
    raises_field("model.layers[0].groups", parse_model, bad, match="must divide the 2 channels")
    raises_field("model.layers[0].slope", parse_model, {**MLP, "layers": [{"type": "leaky_relu", "slope": 2}]})
    raises_field("model.layers[0].p", parse_model, {**MLP, "layers": [{"type": "tanh", "p": 1}]})
