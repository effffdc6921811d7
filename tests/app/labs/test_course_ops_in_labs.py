"""The new ops where the labs show them: the conv lab's backward names dx as a transposed convolution."""

from __future__ import annotations

import re

import numpy as np

from engine.registry import run_op


def test_the_conv_backward_shows_dx_as_the_transposed_convolution(client):
    # stride 2 over 6×6 with a 3×3 kernel leaves one row and column no window reaches: output_padding (1, 1)
    x = ",".join(str(v) for v in range(36))
    r = client.get("/conv", params={"v": "1", "x": f"1x1x6x6:{x}", "w": "1x1x3x3:1,0,-1,2,0,-2,1,0,-1", "b": "1:0",
                                    "stride": "2", "pad": "0", "dout": "ones", "tab": "backward"})
    assert r.status_code == 200, r.text
    text = re.sub(r"\s+", " ", r.text)
    assert "conv_transpose2d(dout, w, stride=2, pad=0, output_padding=(1, 1))" in text
    assert "✓ The same dx is the <em>transposed convolution</em>" in text and "largest difference 0" in text
    assert 'href="/conventions#im2col"' in text
    conv = run_op("conv2d", {"x": np.arange(36.0).reshape(1, 1, 6, 6), "w": np.ones((1, 1, 3, 3)), "b": [0.0]},
                  {"stride": 2})
    assert (int(conv["dropped_rows"]), int(conv["dropped_cols"])) == (1, 1)


def test_the_softmax_lab_shows_the_svm_loss_beside_cross_entropy(client):
    r = client.get("/softmax", params={"v": "1", "logits": "2x3:3,-2,-100,1,2.5,0.2", "labels": "2:0,2",
                                       "temperature": "1"})
    assert r.status_code == 200, r.text
    text = re.sub(r"\s+", " ", r.text)
    want = float(run_op("svm_loss", {"logits": [[3, -2, -100], [1, 2.5, 0.2]], "labels": [0, 2]})["loss"])
    assert want == 2.55
    assert 'id="svm-h"' in text and "L = 2.55" in text and "2 margins still violated" in text
    assert 'href="#svm"' in text


def test_the_norm_lab_shows_group_norm_beside_layer_norm(client):
    from app.web.labs.norm.groupnorm import groupings

    assert groupings(2) == [2] and groupings(6) == [2, 6] and groupings(3) == [3]
    r = client.get("/norm/preset/images", follow_redirects=False)
    link = r.headers["location"].replace("tab=bn", "tab=ln")
    page = client.get(link if "tab=ln" in link else link + "&tab=ln")
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", page.text)
    assert 'id="gn-h"' in text and "G = 2 (instance norm)" in text
    x = np.array([1, 2, 3, 4, 0, 0, 2, 2, 5, 6, 7, 8, -2, -2, 4, 4], float).reshape(2, 2, 2, 2)
    mean = run_op("groupnorm", {"x": x}, {"groups": 2})["mean"]
    assert mean.tolist() == [[2.5, 1.0], [6.5, 1.0]]
    features = client.get("/norm", params={"v": "1", "tab": "ln"}, follow_redirects=True)
    assert "has no grouping strictly between 1 and 3" in re.sub(r"\s+", " ", features.text)


def test_the_pool_lab_shows_sigmoid_tanh_and_leaky_relu_on_relus_x(client):
    r = client.get("/pool", params={"v": "1", "x": "1x1x2x2:-2,0,1,3", "pool": "max", "size": "2", "stride": "2",
                                    "dout": "ones"})
    assert r.status_code == 200, r.text
    text = re.sub(r"\s+", " ", r.text)
    assert 'id="acts-h"' in text and 'href="#activations"' in text
    for title in ("<h3>Sigmoid</h3>", "<h3>Tanh</h3>", "<h3>Leaky ReLU</h3>"):
        assert title in text
    slope = run_op("sigmoid", {"x": [[-2.0, 0.0], [1.0, 3.0]]})["local_grad"]
    assert slope[0, 1] == 0.25 and ">0.25<" in text  # σ'(0) = 1/4, in the sigmoid's slope grid
    assert ">-0.02<" in text  # leaky ReLU at x = −2: 0.01·(−2)
