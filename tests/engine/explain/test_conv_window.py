"""The sliding-window terms agree with the im2col forward pass at every position."""

import numpy as np
import pytest

from engine.explain.conv import window_terms
from engine.ops.conv import conv2d_forward
from engine.records import OpInputError


@pytest.mark.parametrize("seed,stride,pad", [(0, 1, 0), (1, 2, 1), (2, 3, 2), (3, 1, 1)])
def test_every_window_sums_to_out(seed, stride, pad):
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal((2, 2, 6, 5)), rng.standard_normal((3, 2, 3, 2)), rng.standard_normal(3)
    out, cache = conv2d_forward(x, w, b, stride, pad)
    for n, f, oh, ow in np.ndindex(out.shape):
        t = window_terms(cache.x_padded, w, b, stride, n, f, oh, ow)
        assert t.out == pytest.approx(out[n, f, oh, ow], rel=1e-12, abs=1e-12), (seed, n, f, oh, ow)
        np.testing.assert_array_equal(t.products, t.x_window * w[f])


def test_notes_002_first_window_latex_has_the_numbers():
    x = np.array([[1, 2, 4], [3, 2, 1], [5, 2, 1]], float)[None, None]
    w = np.array([[1, -1], [2, 1]], float)[None, None]
    t = window_terms(x, w, np.zeros(1), 1, 0, 0, 1, 0)  # the notes' window 3: 3·1 + 2·(−1) + 5·2 + 2·1 = 13
    assert t.out == 13
    assert r"3\cdot1 + 2\cdot(-1) + 5\cdot2 + 2\cdot1" in t.latex


def test_outside_the_output_is_an_error():
    with pytest.raises(OpInputError):
        window_terms(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 2, 2)), np.zeros(1), 1, 0, 0, 2, 0)
