"""The transposed view: C·vec(x) + b = out and Cᵀ·vec(dout) = dx for every sample, over random cases."""

import numpy as np
import pytest

from engine.explain.transposed import conv_matrix
from engine.registry import get_spec, prepare


@pytest.mark.parametrize("seed", range(12))
def test_c_is_the_convolution_and_its_transpose_the_backward(seed):
    rng = np.random.default_rng(seed)
    N, C, F = (int(v) for v in rng.integers(1, 3, size=3))
    KH, KW = (int(v) for v in rng.integers(1, 4, size=2))
    stride = [int(v) for v in rng.integers(1, 3, size=2)]
    pad = [int(v) for v in rng.integers(0, 2, size=2)]
    dilation = [int(v) for v in rng.integers(1, 3, size=2)]
    H, W = dilation[0] * (KH - 1) + 1 + int(rng.integers(0, 4)), dilation[1] * (KW - 1) + 1 + int(rng.integers(0, 4))
    params = {"stride": stride, "pad": pad, "dilation": dilation}
    inputs = {"x": rng.normal(size=(N, C, H, W)), "w": rng.normal(size=(F, C, KH, KW)), "b": rng.normal(size=F)}
    spec, arrays, clean = prepare("conv2d", inputs, params)
    inputs["dout"] = rng.normal(size=spec.run(arrays, clean, extras=False)["out"].shape)
    spec, arrays, clean = prepare("conv2d", inputs, params)
    result = get_spec("conv2d").run(arrays, clean, extras=False)
    m = conv_matrix(arrays["w"], arrays["x"].shape, stride, pad, dilation)
    OH, OW = result["out"].shape[2:]
    assert m.C.shape == (F * OH * OW, C * H * W)
    for n in range(N):
        out = m.C @ arrays["x"][n].ravel() + np.repeat(arrays["b"], OH * OW)
        np.testing.assert_allclose(out, result["out"][n].ravel(), rtol=1e-12, atol=1e-12, err_msg=str(params))
        dx = m.C.T @ arrays["dout"][n].ravel()
        np.testing.assert_allclose(dx, result["dx"][n].ravel(), rtol=1e-12, atol=1e-12, err_msg=str(params))


def test_labels_and_positions():
    w = np.arange(1.0, 5.0).reshape(1, 1, 2, 2)
    m = conv_matrix(w, (1, 1, 3, 3))
    assert m.C.shape == (4, 9) and m.row_labels[1] == "out[0,0,1]" and m.col_labels[4] == "x[0,1,1]"
    np.testing.assert_array_equal(m.C[0], [1, 2, 0, 3, 4, 0, 0, 0, 0])  # window (0, 0) reads x[0:2, 0:2]
    assert m.row_of(0, 1, 1) == 3 and m.col_of(0, 2, 2) == 8
