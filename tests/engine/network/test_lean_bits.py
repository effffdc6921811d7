"""Training steps on the lean path give the same bits as before the tiny CNN's speed-up (issue 12, target 6).

Twenty steps of Adam and of SGD with momentum, compared byte for byte — every parameter and buffer, every
optimizer slot, the loss and the gradients:

- without batch norm, against the record-keeping path (``forward`` + ``backward`` + ``optimizer_step``), which
  gives the lean path's bits exactly (batch norm's lean and staged formulas round differently);
- with batch norm (and dropout, a residual block, group norm, the SVM loss), against the lean path run with
  the ops' previous implementations put back (tests/engine/ops/previous.py).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.tiny_cnn import MODEL as TINY_CNN
from engine.network import params as network_params
from engine.network import trace as network
from engine.network.model import parse_model
from engine.network.params import init_params
from engine.ops import activations, dropout, pool, softmax, svm
from engine.optim import rules as optim
from tests.engine.network.models import EXAMPLE, FLAT, RELU, batch, conv, lin
from tests.engine.ops import previous

STEPS = 20
OPTIMIZERS = (("adam", {"lr": 1e-2}), ("momentum", {"lr": 0.05}))
# no batch norm: the traced path's bits are the lean path's
TRACED = {
    "tiny-cnn": TINY_CNN,
    "residual-dropout-overlapping-maxpool-avgpool": {"input_shape": [2, 7, 6], "layers": [
        conv(4, 3, 1, 1), {"type": "leaky_relu"},
        {"type": "residual", "layers": [conv(4, 1), RELU, {"type": "dropout", "p": 0.3}]},
        {"type": "maxpool2d", "size": 3, "stride": 2}, {"type": "avgpool2d", "size": 2, "stride": 1},
        {"type": "tanh"}, FLAT, lin(5)]},
}
NORMED = {
    "example": EXAMPLE,  # conv, batch norm, relu, max pool, residual block, dropout, linear
    "groupnorm-svm-overlapping-maxpool": {"input_shape": [3, 6, 6], "loss": "svm_loss", "layers": [
        conv(4, 3, 2, 1), {"type": "groupnorm", "groups": 2}, RELU, {"type": "maxpool2d", "size": 2, "stride": 1},
        {"type": "batchnorm", "convention": "cs231n"}, FLAT, lin(4)]},
}


def _bits(a: np.ndarray | float) -> tuple:
    a = np.asarray(a)
    return a.dtype.str, a.shape, a.tobytes()


def _assert_same_step(got: tuple, want: tuple, where: str) -> None:
    (params, state, loss, grads), (want_params, want_state, want_loss, want_grads) = got, want
    assert _bits(loss) == _bits(want_loss), where
    for name, mine, theirs in (("params", params, want_params), ("grads", grads, want_grads),
                               *((f"state.{s}", state.slots[s], want_state.slots[s]) for s in want_state.slots)):
        assert list(mine) == list(theirs), f"{where} {name}"
        for k in theirs:
            assert _bits(mine[k]) == _bits(theirs[k]), f"{where} {name}[{k}]"
    assert state.t == want_state.t


def _traced_step(model, params, state, x, labels, name, hp, seed):
    fwd = network.forward(model, params, x, labels, "train", seed)
    bwd = network.backward(fwd)
    learnable = {k: params[k] for k in bwd.grads}
    new, state, _ = optim.optimizer_step(name, learnable, bwd.grads, state or optim.init_state(name, learnable), hp)
    return {**params, **new, **fwd.buffers}, state, fwd.loss, bwd.grads


def _run(step, model, x, labels, name, hp, dtype):
    params, state = {k: v.astype(dtype) for k, v in init_params(model, 1).items()}, None
    steps = []
    for t in range(STEPS):
        params, state, loss, grads = step(model, params, state, x, labels, name, hp, seed=t)
        steps.append((params, state, loss, grads))
    return steps


@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=[o for o, _ in OPTIMIZERS])
@pytest.mark.parametrize("key", list(TRACED))
def test_lean_steps_are_the_traced_steps_bit_for_bit(key, optimizer):
    spec, (name, hp) = TRACED[key], optimizer
    model = parse_model(spec)
    x, labels = batch(spec, 32 if key == "tiny-cnn" else 6, 0)
    got = _run(network.train_step, model, x, labels, name, hp, np.float64)
    want = _run(_traced_step, model, x, labels, name, hp, np.float64)
    for t, (mine, theirs) in enumerate(zip(got, want, strict=True)):
        _assert_same_step(mine, theirs, f"{key} {name} step {t + 1}")
    assert got[-1][2] < got[0][2]  # it trains


@pytest.fixture
def previous_ops(monkeypatch: pytest.MonkeyPatch):
    """Puts the ops' previous implementations back, where the network reaches them, within a test."""

    def put_back() -> None:
        monkeypatch.setattr(pool, "maxpool2d_forward", previous.maxpool2d_forward)
        monkeypatch.setitem(network._BACKWARD, "maxpool2d", previous.maxpool2d_backward)
        for module in (activations, dropout):
            monkeypatch.setattr(module, "keep_or_zero", previous.keep_or_zero)
        monkeypatch.setattr(softmax, "softmax_cross_entropy_forward", previous.softmax_cross_entropy_forward)
        for module in (softmax, svm, network_params):
            monkeypatch.setattr(module, "clean_labels", previous.clean_labels)

    return put_back


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=[o for o, _ in OPTIMIZERS])
@pytest.mark.parametrize("key", [*NORMED, *TRACED])
def test_lean_steps_are_the_previous_ops_steps_bit_for_bit(key, optimizer, dtype, previous_ops):
    spec, (name, hp) = {**NORMED, **TRACED}[key], optimizer
    model = parse_model(spec)
    x, labels = batch(spec, 32 if key == "tiny-cnn" else 6, 0)
    x = x.astype(dtype)
    got = _run(network.train_step, model, x, labels, name, hp, dtype)
    previous_ops()
    want = _run(network.train_step, model, x, labels, name, hp, dtype)
    for t, (mine, theirs) in enumerate(zip(got, want, strict=True)):
        _assert_same_step(mine, theirs, f"{key} {name} {np.dtype(dtype).name} step {t + 1}")
    assert all(math.isfinite(step[2]) for step in got)
