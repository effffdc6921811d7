"""The training step (the ops' lean pass and one update) against the traced forward and backward."""

import numpy as np
import pytest

from engine.network.model import parse_model
from engine.network.params import init_params
from engine.network.trace import backward, forward, train_step
from engine.optim import rules as optim
from tests.engine.network.models import EXAMPLE, FLAT, GRAD_MODELS, RELU, batch, conv, lin

LEAN_MODELS = {
    **GRAD_MODELS,
    "example": EXAMPLE,
    "strided-conv-drops-rows-overlapping-avgpool": {"input_shape": [2, 8, 7], "layers": [
        conv(3, 3, 2, 0), {"type": "batchnorm", "momentum": 0.3}, RELU,
        {"type": "avgpool2d", "size": 2, "stride": 1}, {"type": "maxpool2d", "size": 2, "stride": 1}, FLAT, lin(4)]},
}


@pytest.mark.parametrize("name", list(LEAN_MODELS))
def test_train_step_gives_the_traced_gradients_and_update(name):
    spec = LEAN_MODELS[name]
    m = parse_model(spec)
    x, labels = batch(spec, 4, 2)
    params = init_params(m, 2)
    fwd = forward(m, params, x, labels, "train", seed=9)
    bwd = backward(fwd)
    new, state, loss, grads = train_step(m, params, None, x, labels, "momentum", {"lr": 0.1}, seed=9)
    assert loss == pytest.approx(fwd.loss, rel=1e-13)
    assert list(grads) == list(bwd.grads)
    for k in grads:
        np.testing.assert_allclose(grads[k], bwd.grads[k], rtol=1e-10, atol=1e-14, err_msg=f"{name} {k}")
    # (momentum, not Adam: Adam's g/(|g| + ε) would blow up the ~1e-17 rounding noise of a bias that sits
    # right before batchnorm, whose exact gradient is 0, into steps that differ by ~lr·1e-9)
    learnable = {k: params[k] for k in grads}
    want, _, _ = optim.optimizer_step("momentum", learnable, bwd.grads, optim.init_state("momentum", learnable),
                                      {"lr": 0.1})
    for k in want:
        np.testing.assert_allclose(new[k], want[k], rtol=1e-12, atol=1e-15, err_msg=f"{name} {k}")
    for k in fwd.buffers:
        np.testing.assert_allclose(new[k], fwd.buffers[k], rtol=1e-12, err_msg=f"{name} {k}")
    assert state.t == 1


def test_train_step_routes_maxpool_ties_to_the_first_maximum_like_the_op():
    # conv w = [1, 0] copies channel 0 (integers: many ties) while channel 1 decides dw[0, 1]
    spec = {"input_shape": [2, 4, 4], "layers": [conv(1, 1), {"type": "maxpool2d", "size": 2, "stride": 1}, FLAT,
                                                 lin(2)]}
    m = parse_model(spec)
    rng = np.random.default_rng(0)
    x = np.stack([rng.integers(0, 2, size=(3, 4, 4)).astype(float), rng.normal(size=(3, 4, 4))], axis=1)
    params = {**init_params(m, 0), "0.w": np.array([[[[1.0]], [[0.0]]]]), "0.b": np.zeros(1)}
    labels = [0, 1, 1]
    want = backward(forward(m, params, x, labels)).grads
    _, _, _, got = train_step(m, params, None, x, labels, "sgd", seed=0)
    np.testing.assert_allclose(got["0.w"], want["0.w"], rtol=1e-12)
    # the case is real: many windows hold a tie
    windows = forward(m, params, x, labels).layers["1"].cache.windows
    flat = windows.reshape(*windows.shape[:4], 4)
    assert ((flat == flat.max(axis=-1, keepdims=True)).sum(axis=-1) > 1).sum() >= 5


def test_train_step_lowers_the_loss_of_the_benchmark_cnn():
    spec = {"input_shape": [1, 8, 8], "layers": [conv(8, 3, 1, 1), RELU, {"type": "maxpool2d", "size": 2}, FLAT,
                                                 lin(10)]}
    x, labels = batch(spec, 32, 0)
    params, state = init_params(parse_model(spec), 0), None
    losses = []
    for step in range(30):
        params, state, loss, _ = train_step(spec, params, state, x, labels, "adam", {"lr": 0.01}, seed=step)
        losses.append(loss)
    assert state.t == 30
    assert losses[-1] < 0.5 * losses[0], losses


def test_train_step_float32_keeps_float32():
    spec = GRAD_MODELS["conv-relu-maxpool-flatten-linear"]
    x, labels = batch(spec, 2, 0)
    params = {k: v.astype(np.float32) for k, v in init_params(parse_model(spec), 0).items()}
    new, _, _, grads = train_step(spec, params, None, x.astype(np.float32), labels, "sgd")
    assert all(v.dtype == np.float32 for v in (*new.values(), *grads.values()))


@pytest.mark.parametrize("name", list(LEAN_MODELS))
def test_backward_without_its_layer_records_gives_the_same_gradients(name):
    """backward(keep_layers=False), a training step's: no LayerBackward records, the same bits otherwise."""
    spec = LEAN_MODELS[name]
    m = parse_model(spec)
    x, labels = batch(spec, 4, 2)
    fwd = forward(m, init_params(m, 2), x, labels, "train", seed=9, lean=True)
    full, lean = backward(fwd), backward(fwd, keep_layers=False)
    assert full.layers and lean.layers == {}
    assert list(lean.grads) == list(full.grads)
    for k in full.grads:
        assert lean.grads[k].tobytes() == full.grads[k].tobytes(), k
    assert (lean.dx is None and full.dx is None) or lean.dx.tobytes() == full.dx.tobytes()
