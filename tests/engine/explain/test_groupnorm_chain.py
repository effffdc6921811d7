"""Group norm in the gradient chain: with its terms (engine.explain.terms.groupnorm) the chain from a conv weight
below a group norm and a leaky ReLU reaches the loss (it stopped at the group norm), each hop's value the one the
next hop starts from."""

from __future__ import annotations

import numpy as np
import pytest

from engine.explain.chain import gradient_chain
from engine.network import trace as network
from engine.network.model import parse_model
from tests.engine.network.models import FLAT, batch, conv, lin


@pytest.mark.parametrize("loss", ["softmax_cross_entropy", "svm_loss"])
def test_a_conv_weight_below_group_norm_chains_to_the_loss(loss):
    model_json = {"input_shape": [1, 4, 4], "layers": [conv(4, 3, 1, 1), {"type": "groupnorm", "groups": 2},
                                                       {"type": "leaky_relu", "slope": 0.1}, FLAT, lin(3)],
                  "loss": loss}
    model = parse_model(model_json)
    x, labels = batch(model_json, 2, 0)
    tr = network.trace(model, None, x, labels, "train", None, 0)
    for param in ("0.w", "1.gamma", "1.beta"):
        grad = tr["grads"][param]
        index = tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(grad)), grad.shape))
        chain = gradient_chain(model, tr, labels, param, index)
        assert chain.end == "loss", (param, chain.end)
        assert np.isclose(chain.hops[0].terms.value, grad[index], rtol=1e-12)
        assert "groupnorm" in [hop.op for hop in chain.hops] or param != "0.w"
        for hop, nxt in zip(chain.hops, chain.hops[1:], strict=False):
            assert np.isclose(hop.followed.upstream.value, nxt.terms.value, rtol=1e-12, atol=1e-15), (param, hop.path)
