"""The network lab's export (app/web/labs/network/export.py): GET /network/export/arrays.json of a link answers the
traced step's arrays — every layer's forward and backward arrays under its path, the batch, the loss and
probabilities, each parameter's gradient and value before and after the update — and a bad link is the page's
named 422. (numpy.py and torch.py: tests/app/labs/test_network_export_scripts.py.)"""

from __future__ import annotations

import numpy as np

from tests.app import replay


def _arrays(client, query: str):
    r = replay.get(client, "/network/export/arrays.json?" + query)
    assert r.status_code != 503, "the replay never finished"
    return r


def test_the_network_exports_its_traced_step(client):
    query = client.get("/network", follow_redirects=False).headers["location"].partition("?")[2]
    r = _arrays(client, query)
    assert r.status_code == 200, r.text[:300]
    a = {k: np.asarray(v, dtype=float) for k, v in r.json().items()}
    assert {"x", "labels", "probs", "loss", "0.out", "0.backward.dx"} <= set(a)
    grads = [k for k in a if k.startswith("grad.")]
    assert grads and all(f"param.{k[5:]}" in a and f"param_after.{k[5:]}" in a for k in grads)
    labels = a["labels"].astype(int)
    n = np.arange(len(labels))
    assert float(a["loss"]) >= float(np.mean(-np.log(a["probs"][n, labels]))) - 1e-12  # CE (+ any penalty ≥ 0)
    assert np.allclose(a["probs"].sum(axis=1), 1.0)
    first = next(k for k in grads if k.endswith(".w"))
    assert a[f"param_after.{first[5:]}"].shape == a[f"param.{first[5:]}"].shape == a[first].shape
    assert client.get("/network/export/numpy.py?" + query).status_code == 200  # the step as a NumPy script


def test_a_bad_network_link_is_a_named_422(client):
    r = client.get("/network/export/arrays.json?v=1&z=damaged!")
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][0] == "query"
