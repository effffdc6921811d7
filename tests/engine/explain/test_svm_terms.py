"""svm_loss's dlogits as terms (engine.explain.terms.softmax.svm_terms): every element is the sum of its terms over
random cases, and the gradient chain of a network trained on the SVM loss ends at the loss through them."""

from __future__ import annotations

import numpy as np

from engine.explain.chain import gradient_chain
from engine.explain.terms import op_terms
from engine.network import trace as network
from engine.network.model import parse_model
from tests.engine.network.models import FLAT, RELU, batch, conv, lin


def test_every_svm_dlogits_element_is_the_sum_of_its_terms():
    rng = np.random.default_rng(7)
    for case in range(40):
        n_rows, k = int(rng.integers(1, 6)), int(rng.integers(2, 7))
        logits = np.round(rng.normal(size=(n_rows, k)) * 2, 1)  # ties and exact zero margins happen
        labels = rng.integers(0, k, size=n_rows)
        for n in range(n_rows):
            for j in range(k):
                found = op_terms("svm_loss", {"logits": logits, "labels": labels}, {}, "dlogits", (n, j))
                assert abs(found.total - found.value) <= 1e-15, (case, n, j, found)
                assert len(found.terms) == (k - 1 if j == labels[n] else 1), (case, n, j)


def test_the_chain_of_a_network_on_the_svm_loss_ends_at_the_loss():
    model_json = {"input_shape": [1, 4, 4], "layers": [conv(2, 3), RELU, FLAT, lin(3)], "loss": "svm_loss",
                  "reg": 0.1}
    model = parse_model(model_json)
    x, labels = batch(model_json, 3, 0)
    tr = network.trace(model, None, x, labels, "train", None, 0)
    grad = tr["grads"]["3.w"]
    index = tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(grad)), grad.shape))
    chain = gradient_chain(model, tr, labels, "3.w", index)
    assert chain.end == "loss" and chain.hops[-1].terms.op == "svm_loss"
    assert np.isclose(chain.hops[0].terms.value + chain.penalty, grad[index], rtol=1e-12)
    last = chain.hops[-2]
    assert np.isclose(last.followed.upstream.value, chain.hops[-1].terms.value, rtol=1e-12, atol=1e-15)
