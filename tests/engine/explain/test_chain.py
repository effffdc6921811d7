"""The chain from the loss to a parameter element: each hop's followed upstream cell is the next hop's cell
(same value), the first hop sums to the parameter's gradient, and the chain reaches the loss — through
batch norm's intermediates, residual skips and branches, pooling and dropout."""

import numpy as np
import pytest

from engine.explain.chain import gradient_chain
from engine.network import trace as network
from engine.network.model import parse_model
from engine.records import OpInputError
from tests.engine.network.models import EXAMPLE, FLAT, GRAD_MODELS, RELU, batch, conv, lin

MODELS = {"example": EXAMPLE, **GRAD_MODELS}
BN = {"type": "batchnorm"}
RESNET_BLOCK = {"input_shape": [1, 8, 8], "layers": [  # the network lab's conv5_block3 miniature
    conv(8, 3, 1, 1), BN, RELU, {"type": "maxpool2d", "size": 2},
    {"type": "residual", "layers": [conv(2, 1), BN, RELU, conv(2, 3, 1, 1), BN, RELU, conv(8, 1), BN]},
    RELU, {"type": "avgpool2d", "size": 4}, FLAT, lin(10)]}


def _run(model_json, seed=0):
    model = parse_model(model_json)
    x, labels = batch(model_json, 2, seed)
    return model, network.trace(model, None, x, labels, "train", None, seed), labels


@pytest.mark.parametrize("name", list(MODELS))
def test_every_parameter_element_chains_to_the_loss(name):
    model, tr, labels = _run(MODELS[name])
    rng = np.random.default_rng(1)
    for param, grad in tr["grads"].items():
        for index in [tuple(int(i) for i in np.unravel_index(rng.integers(grad.size), grad.shape)),
                      tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(grad)), grad.shape))]:
            chain = gradient_chain(model, tr, labels, param, index)
            first = chain.hops[0].terms
            assert np.isclose(first.value + chain.penalty, grad[index], rtol=1e-12, atol=1e-15), (name, param, index)
            for hop, nxt in zip(chain.hops, chain.hops[1:], strict=False):
                assert hop.followed is not None
                assert np.isclose(hop.followed.upstream.value, nxt.terms.value, rtol=1e-12, atol=1e-15), (
                    name, param, index, hop.path, hop.terms.label, nxt.path, nxt.terms.label)
            if grad[index] != 0 or chain.end == "loss":
                assert chain.end == "loss", (name, param, index, chain.end)
                assert chain.hops[-1].path == "loss" and chain.hops[-1].terms.array == "dlogits"


def test_the_resnet_block_gamma_reaches_the_loss_through_the_skip_or_the_branch():
    model, tr, labels = _run(RESNET_BLOCK, seed=3)
    grad = tr["grads"]["4.7.gamma"]
    c = int(np.argmax(np.abs(grad)))
    chain = gradient_chain(model, tr, labels, "4.7.gamma", (c,))
    paths = [hop.path for hop in chain.hops]
    assert paths[0] == "4.7" and paths[-1] == "loss" and "8" in paths  # the last linear layer on the way
    assert chain.end == "loss"


def test_bad_picks_are_named():
    model, tr, labels = _run(EXAMPLE)
    for param, index in (("9.w", (0,)), ("0.q", (0,)), ("0.w", (9, 0, 0, 0)), ("0.w", (0,))):
        with pytest.raises(OpInputError) as info:
            gradient_chain(model, tr, labels, param, index)
        assert info.value.field == "chain"
