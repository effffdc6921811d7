"""The network lab's engine side: builder shapes with partial results, seeded runs and replay, run
reports, divergence diagnosis, the traced step with the run's optimizer state, the gradient check."""

import math

import numpy as np
import pytest

from engine.network import runs as nl
from engine.network import trace as network
from engine.network.params import init_params
from engine.ops import activations
from engine.optim import rules as optim
from engine.records import OpInputError


def conv(filters, kernel, pad=0):
    return {"type": "conv2d", "filters": filters, "kernel": kernel, "pad": pad}


RELU, FLAT, BN = {"type": "relu"}, {"type": "flatten"}, {"type": "batchnorm"}
POOL = {"type": "maxpool2d", "size": 2}

# notes 004's loop: conv → ReLU → max-pool → loss; two edge kernels on a 4×4 input
NOTES = {"input_shape": [1, 4, 4], "layers": [conv(2, 3), RELU, POOL, FLAT]}
X = np.array([[3, 1, 0, 2], [2, 0, 1, 3], [1, 2, 0, 1], [0, 3, 2, 1]], dtype=float)[None, None]
W = np.array([[[[1, 0, -1]] * 3], [[[1, 1, 1], [0, 0, 0], [-1, -1, -1]]]], dtype=float)
SMALL = {"input_shape": [1, 8, 8], "layers": [conv(4, 3), RELU, POOL, FLAT, {"type": "linear", "units": 10}]}


def notes_spec(optimizer="sgd", **hp):
    model = nl.parse_structure(NOTES)
    return nl.make_spec(model, optimizer, hp or {"lr": 0.1}, 0, "typed", x=X, labels=[1],
                        init={"0.w": W, "0.b": np.zeros(2)})


def test_notes_training_step_by_hand():
    st = nl.step_trace(notes_spec(), nl.start(notes_spec()))
    layers = {entry["path"]: entry for entry in st.trace["layers"]}
    # vertical edge: (3+2+1) − (0+1+0) = 5, (1+0+2) − (2+3+1) = −3, ...; horizontal: (3+1+0) − (1+2+0) = 1, ...
    out = layers["0"]["forward"]["out"][0]
    assert out[0].tolist() == [[5, -3], [0, 0]] and out[1].tolist() == [[1, 0], [-2, -2]]
    assert layers["2"]["forward"]["out"].ravel().tolist() == [5, 1]  # the pooled maxima are the logits
    assert st.trace["loss"] == pytest.approx(math.log(1 + math.exp(4)), rel=1e-12)  # −log softmax(5, 1)[1]
    s4 = 1 / (1 + math.exp(-4))  # p0 = σ(4); dlogits = p − onehot(1) = (σ(4), −σ(4))
    window = X[0, 0, :3, :3]  # both maxima sit at (0, 0): the gradient reaches the top-left window only
    grads = st.trace["grads"]
    np.testing.assert_allclose(grads["0.w"][0, 0], s4 * window, rtol=1e-12)
    np.testing.assert_allclose(grads["0.w"][1, 0], -s4 * window, rtol=1e-12)
    np.testing.assert_allclose(grads["0.b"], [s4, -s4], rtol=1e-12)
    # gradient descent on the kernel: K ← K − 0.1·δK
    np.testing.assert_allclose(st.new_params["0.w"][0, 0, 0, 0], 1 - 0.1 * s4 * 3, rtol=1e-12)
    np.testing.assert_allclose(st.new_params["0.b"], [-0.1 * s4, 0.1 * s4], rtol=1e-12)


def test_a_broken_stack_keeps_the_shapes_before_the_layer_that_breaks():
    model = nl.parse_structure({"input_shape": [1, 8, 8], "layers": [conv(4, 3), RELU, {"type": "linear", "units": 5},
                                                                       FLAT]})
    rep = nl.shape_report(model)
    assert not rep.ok and rep.error.field == "model.layers[2]"
    assert "add a flatten layer" in rep.error.message
    assert list(rep.infos) == ["0", "1"] and rep.infos["1"].out_shape == (4, 6, 6)
    assert nl.error_path(rep.error) == "2"
    assert nl.error_path(OpInputError("model.layers[4].layers[0].kernel", "")) == "4.0"
    assert nl.error_path(OpInputError("model.loss", "")) is None


def test_a_residual_block_that_changes_the_shape_is_refused_at_the_block():
    model = nl.parse_structure({"input_shape": [1, 8, 8], "layers": [
        conv(4, 3), {"type": "residual", "layers": [conv(4, 3)]}, FLAT, {"type": "linear", "units": 10}]})
    rep = nl.shape_report(model)
    assert rep.error.field == "model.layers[1]" and "4×6×6" in rep.error.message and "4×4×4" in rep.error.message
    assert "1.0" in rep.infos and "1" not in rep.infos


def test_settings_are_still_validated_strictly():
    with pytest.raises(OpInputError) as err:
        nl.parse_structure({"input_shape": [1, 8, 8], "layers": [conv(4, 9)]})
    assert err.value.field == "model.layers[0].kernel"


def test_forward_and_backward_order_of_a_residual_block():
    model = nl.parse_structure({"input_shape": [2, 4, 4], "layers": [
        conv(2, 1), {"type": "residual", "layers": [conv(2, 1), RELU]}, FLAT]})
    assert nl.forward_order(model) == ["0", "1.0", "1.1", "1", "2"]
    assert nl.backward_order(model) == ["2", "1.1", "1.0", "1", "0"]


def test_replay_is_bit_for_bit_and_a_checkpoint_changes_nothing():
    spec = nl.make_spec(nl.parse_structure(SMALL), "adam", {"lr": 0.01}, 3, "digits", batch=16)
    straight = nl.replay(spec, 30)
    via = nl.replay(spec, 30, start_from=nl.replay(spec, 12))
    assert straight.t == via.t == 30 and straight.state.t == 30
    for name in straight.params:
        assert np.array_equal(straight.params[name], via.params[name]), name
    for slot in straight.state.slots:
        for name in straight.state.slots[slot]:
            assert np.array_equal(straight.state.slots[slot][name], via.state.slots[slot][name])
    other = nl.replay(nl.make_spec(nl.parse_structure(SMALL), "adam", {"lr": 0.01}, 4, "digits", batch=16), 30)
    assert not np.array_equal(other.params["0.w"], straight.params["0.w"])


def test_run_reports_each_layers_gradient_norm_and_update_ratio():
    spec = notes_spec()
    at, rep = nl.run_steps(spec, nl.start(spec), 3)
    assert rep.steps == [1, 2, 3] and len(rep.loss) == 3 and rep.divergence is None
    assert rep.loss[0] == pytest.approx(math.log(1 + math.exp(4)))
    s4 = 1 / (1 + math.exp(-4))
    window = X[0, 0, :3, :3]
    # step 1: ‖∇‖ over w and b of layer 0: σ(4)·sqrt(2·‖window‖² + 2)
    assert rep.grad_norm["0"][0] == pytest.approx(s4 * math.sqrt(2 * np.sum(window**2) + 2), rel=1e-12)
    # SGD moves by lr·‖∇‖; ‖θ‖ = ‖W‖ = sqrt(6 + 6) (b = 0)
    assert rep.update_ratio["0"][0] == pytest.approx(0.1 * rep.grad_norm["0"][0] / math.sqrt(12), rel=1e-12)
    assert at.t == 3


def test_divergence_stops_the_run_and_says_where_it_started():
    model = nl.parse_structure({"input_shape": [1, 8, 8], "layers": [
        FLAT, {"type": "linear", "units": 32}, {"type": "linear", "units": 10}]})
    spec = nl.make_spec(model, "sgd", {"lr": 10.0}, 0, "digits", batch=32)
    at, rep = nl.run_steps(spec, nl.start(spec), 300)
    d = rep.divergence
    assert d is not None and at.t == d.step < 300
    assert all(np.isfinite(v).all() for v in at.params.values())  # the last finite checkpoint
    assert d.phase == "forward" and d.field.startswith("model.layers[")
    assert f"step {d.step + 1}" in d.message and "linear" in d.message and "non-finite" in d.message
    with pytest.raises(OpInputError) as err:
        nl.replay(spec, 300)
    assert err.value.field == "step" and "diverges" in err.value.message


def test_the_traced_step_uses_the_runs_optimizer_state():
    spec = nl.make_spec(nl.parse_structure(SMALL), "adam", {"lr": 0.01}, 0, "digits", batch=8)
    at = nl.replay(spec, 5)
    st = nl.step_trace(spec, at)
    assert st.update.t == 6
    g = st.trace["grads"]["4.b"]
    m_prev = at.state.slots["m"]["4.b"]
    np.testing.assert_allclose(st.update.slots["m"]["4.b"], 0.9 * m_prev + 0.1 * g, rtol=1e-12)
    np.testing.assert_allclose(st.update.m_hat["4.b"], st.update.slots["m"]["4.b"] / (1 - 0.9**6), rtol=1e-12)
    # the traced update is the one the lean path makes for this step
    nxt = nl.replay(spec, 6, start_from=at)
    np.testing.assert_allclose(st.new_params["0.w"], nxt.params["0.w"], rtol=1e-10, atol=1e-14)


def test_evaluate_and_score_in_eval_mode():
    model = nl.parse_structure(SMALL)
    spec = nl.make_spec(model, "adam", {"lr": 0.01}, 0)
    s = nl.score(spec, nl.start(spec))
    assert 0 <= s.test_accuracy <= 1 and 0 <= s.train_accuracy <= 1 and math.isfinite(s.test_loss)
    x = np.random.default_rng(0).normal(size=(1100, 1, 8, 8))  # more than one engine batch
    loss, acc = nl.evaluate(model, init_params(model, 0), x, np.zeros(1100, np.int64))
    assert math.isfinite(loss) and 0 <= acc <= 1


def test_snapshot_shows_the_first_conv_filters_and_its_relu_maps():
    model = nl.parse_structure(SMALL)
    params = init_params(model, 0)
    snap = nl.snapshot(model, params, np.ones((1, 8, 8)))
    assert snap.conv_path == "0" and snap.maps_path == "1"
    np.testing.assert_array_equal(snap.filters, params["0.w"][:, 0])
    assert snap.maps.shape == (4, 6, 6) and snap.maps.min() >= 0


def test_gradient_check_passes_for_a_bias_batch_norm_removes():
    # conv → batchnorm: the conv bias has exactly zero gradient; the floor keeps rounding noise from failing it
    model = nl.parse_structure({"input_shape": [1, 6, 6], "layers": [conv(3, 3), BN, RELU, FLAT,
                                                                      {"type": "linear", "units": 4}]})
    params = init_params(model, 1)
    x = np.random.default_rng(1).normal(size=(5, 1, 6, 6))
    rep = nl.check_gradients(model, params, x, np.array([0, 1, 2, 3, 0]), seed=0, sample=6, check_x=True)
    assert rep.worst < 1e-6, rep
    assert set(rep.per_input) == {"0.w", "0.b", "1.gamma", "1.beta", "4.w", "4.b", "x"}


def test_a_wrong_backward_fails_the_check(monkeypatch):
    model = nl.parse_structure(NOTES)
    params = {"0.w": W, "0.b": np.zeros(2)}
    good = nl.check_gradients(model, params, X + 0.1, np.array([1]), seed=0, sample=20, check_x=True)
    assert good.worst < 1e-6

    def doubled(dout, cache):  # a relu backward that is off by a factor of 2
        return activations.ReluGrads(dx=2 * activations.relu_backward(dout, cache).dx)

    monkeypatch.setitem(network._BACKWARD, "relu", doubled)
    bad = nl.check_gradients(model, params, X + 0.1, np.array([1]), seed=0, sample=20, check_x=True)
    assert bad.worst > 0.1 and bad.where.startswith(("d0.", "dx"))


def test_make_spec_refuses_data_the_model_cannot_take():
    with pytest.raises(OpInputError) as err:
        nl.make_spec(nl.parse_structure(NOTES), "sgd", {"lr": 0.1}, 0, "digits")
    assert err.value.field == "model.input_shape"
    with pytest.raises(OpInputError) as err:
        nl.make_spec(nl.parse_structure(NOTES), "sgd", {"lr": 0.1}, 0, "typed", x=X, labels=[2])
    assert err.value.field == "labels"
    with pytest.raises(OpInputError) as err:
        nl.make_spec(nl.parse_structure(SMALL), "nope", {}, 0)
    assert err.value.field == "optimizer"


def test_step_seeds_differ_by_step_and_seed():
    seeds = {nl.step_seed(s, t) for s in range(3) for t in range(50)}
    assert len(seeds) == 150 and all(0 <= v < 2**31 for v in seeds)


def test_optimizer_state_starts_from_zero():
    spec = notes_spec("adam", lr=0.01)
    st = nl.step_trace(spec, nl.start(spec))
    assert st.update.t == 1 and isinstance(st.state, optim.OptimizerState) and st.state.t == 0


def test_the_lean_eval_forward_gives_the_traced_paths_numbers():

    model = nl.parse_structure({"input_shape": [2, 6, 6], "layers": [
        conv(3, 3, pad=1), BN, RELU, {"type": "dropout", "p": 0.5}, POOL,
        {"type": "residual", "layers": [conv(3, 1), BN, RELU]}, {"type": "avgpool2d", "size": 3}, FLAT,
        {"type": "linear", "units": 5}, BN]})
    params = init_params(model, 2)
    rng = np.random.default_rng(2)
    for name in params:  # running statistics that are not the defaults
        if name.endswith("running_mean"):
            params[name] = rng.normal(size=params[name].shape)
        if name.endswith("running_var"):
            params[name] = rng.uniform(0.5, 2.0, size=params[name].shape)
    x = rng.normal(size=(7, 2, 6, 6))
    traced = network.forward(model, params, x, np.zeros(7, np.int64), "eval", 0)
    np.testing.assert_allclose(network.eval_logits(model, params, x), traced.logits, rtol=1e-12, atol=1e-12)
    loss, acc = nl.evaluate(model, params, x, np.arange(7) % 5)
    assert loss == pytest.approx(network.forward(model, params, x, np.arange(7) % 5, "eval", 0).loss, rel=1e-12)


def test_gradient_history_lets_an_optimizer_redo_the_runs_updates_from_zero_state():
    spec = nl.make_spec(nl.parse_structure(SMALL), "adam", {"lr": 0.01}, 1, "digits", batch=8)
    theta0, grads = nl.gradient_history(spec, 4, "4.w", 8)
    assert theta0.shape == (8,) and grads.shape == (4, 8)
    steps = optim.run_optimizer("adam", {"p": theta0}, [{"p": g} for g in grads], {"lr": 0.01})
    after = nl.replay(spec, 4).params["4.w"].ravel()[:8]
    np.testing.assert_allclose(steps[-1]["params"]["p"], after, rtol=1e-12, atol=1e-15)
