"""Dive into Deep Learning's convolution and pooling examples through the public JSON API (./sources.py).

The inputs are the chapters' code (chapter_convolutional-neural-networks/*.md); the values are those
the chapters' text writes out, or — marked — the printed outputs of the rendered pages where the
source only has the code. All are whole numbers: they must come out exactly.
"""

from __future__ import annotations

import numpy as np

from tests.app.published.sources import D2L, op

X3 = [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]]  # the 3×3 input of conv-layer.md and pooling.md
K2 = [[0.0, 1.0], [2.0, 3.0]]


def conv(client, x, k, **params):
    x, k = np.asarray(x, float), np.asarray(k, float)
    if x.ndim == 2:
        x, k = x[None], k[None]  # one channel
    return op(client, "conv2d", {"x": [x.tolist()], "w": [k.tolist()], "b": [0.0]}, params)["out"][0, 0]


def pool(client, kind, x, **params):
    x = np.asarray(x, float)
    return op(client, kind, {"x": x.reshape(1, 1, *x.shape[-2:]).tolist()}, params)["out"][0, 0]


def test_cross_correlation(client):
    """conv-layer.md, "2D cross-correlation": 0×0+1×1+3×2+4×3=19, 25, 37, 43."""
    np.testing.assert_array_equal(conv(client, X3, K2), [[19, 25], [37, 43]], err_msg=D2L)


def test_edge_detection(client):
    """conv-layer.md, "Object Edge Detection in Images": a 6×8 image, white (1) but for black (0) columns 2–5,
    and K = [[1, −1]]: "we detect 1 for the edge from white to black and −1 for the edge from black to white.
    All other outputs take value 0"."""
    x = np.ones((6, 8))
    x[:, 2:6] = 0
    y = conv(client, x, [[1.0, -1.0]])
    want = np.zeros((6, 7))
    want[:, 1], want[:, 5] = 1, -1
    np.testing.assert_array_equal(y, want, err_msg=D2L)


def test_multiple_input_channels(client):
    """channels.md, two input channels: (1×1+2×2+4×3+5×4)+(0×0+1×1+3×2+4×3)=56, the first output element
    (the text writes out only that one)."""
    x = [X3, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]]
    k = [K2, [[1.0, 2.0], [3.0, 4.0]]]
    assert conv(client, x, k)[0, 0] == 56, D2L


def test_padding_and_strides(client):
    """padding-and-strides.md: the figure's 3×3 input padded by 1 with K = [[0, 1], [2, 3]] at stride 3 down and
    2 across — "0×0+0×1+1×2+2×3=8, 0×0+6×1+0×2+0×3=6" — and the output shapes of its 8×8 examples, from its
    formula ⌊(n − k + p + s)/s⌋ (p counting both sides): kernel 3, padding 1 → 8×8; kernel (5, 3), padding
    (2, 1) → 8×8; kernel 3, padding 1, stride 2 → 4×4; kernel (3, 5), padding (0, 1), stride (3, 4) → 2×2."""
    y = conv(client, X3, K2, pad=1, stride=[3, 2])
    assert y.shape == (2, 2) and y[0, 1] == 8 and y[1, 0] == 6, D2L
    x = np.zeros((8, 8))
    for k, params, shape in (((3, 3), {"pad": 1}, (8, 8)), ((5, 3), {"pad": [2, 1]}, (8, 8)),
                             ((3, 3), {"pad": 1, "stride": 2}, (4, 4)),
                             ((3, 5), {"pad": [0, 1], "stride": [3, 4]}, (2, 2))):
        assert conv(client, x, np.zeros(k), **params).shape == shape, (k, params, D2L)


def test_max_and_average_pooling(client):
    """pooling.md: max-pooling 2×2 gives max(0, 1, 3, 4)=4, 5, 7, 8 (the text); average pooling of the same
    input printed [[2., 3.], [5., 6.]] (rendered output, as a run of the chapter's code shows it:
    github.com/thirteen-bears/basic-AI-exercise)."""
    np.testing.assert_array_equal(pool(client, "maxpool2d", X3, size=2, stride=1), [[4, 5], [7, 8]], err_msg=D2L)
    np.testing.assert_array_equal(pool(client, "avgpool2d", X3, size=2, stride=1), [[2, 3], [5, 6]], err_msg=D2L)


def test_pooling_padding_and_stride(client):
    """pooling.md, "Padding and Stride" on X = arange(16) as 1×1×4×4: nn.MaxPool2d(3) (stride defaults to the
    window) printed [[10.]]; nn.MaxPool2d(3, padding=1, stride=2) printed [[5., 7.], [13., 15.]] (rendered
    outputs: d2l.smola.org/slides/pytorch/chapter_convolutional-neural-networks/pooling.html, the second; a run
    of the chapter's code, github.com/thirteen-bears/basic-AI-exercise, both)."""
    x = np.arange(16.0).reshape(4, 4)
    np.testing.assert_array_equal(pool(client, "maxpool2d", x, size=3), [[10]], err_msg=D2L)
    np.testing.assert_array_equal(pool(client, "maxpool2d", x, size=3, pad=1, stride=2), [[5, 7], [13, 15]],
                                  err_msg=D2L)
