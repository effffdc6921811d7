"""conv2d with per-axis stride and pad and with dilation: naive loops, full convolution, gradients,
provenance; an int and the pair (int, int) give identical answers."""

import numpy as np
import pytest

from engine.ops.conv import conv2d_backward, conv2d_forward, conv2d_forward_naive
from engine.ops.im2col import conv_output_size
from engine.registry import op_steps, run_op
from tests.engine.conftest import assert_gradcheck, raises_field
from tests.engine.ops.perturb import assert_provenance_moves


def draw(seed):
    rng = np.random.default_rng(seed)
    while True:
        n, c, f = (int(v) for v in rng.integers(1, 3, size=3))
        h, w = (int(v) for v in rng.integers(3, 9, size=2))
        kh, kw = (int(v) for v in rng.integers(1, 4, size=2))
        (sh, sw), (ph, pw), (dh, dw) = rng.integers(1, 4, 2), rng.integers(0, 3, 2), rng.integers(1, 3, 2)
        if conv_output_size(h, kh, sh, ph, dh) < 1 or conv_output_size(w, kw, sw, pw, dw) < 1:
            continue
        params = {"stride": [int(sh), int(sw)], "pad": [int(ph), int(pw)], "dilation": [int(dh), int(dw)]}
        oh, ow = conv_output_size(h, kh, sh, ph, dh), conv_output_size(w, kw, sw, pw, dw)
        return params, {"x": rng.normal(size=(n, c, h, w)), "w": rng.normal(size=(f, c, kh, kw)),
                        "b": rng.normal(size=f), "dout": rng.normal(size=(n, f, oh, ow))}


CASES = [draw(seed) for seed in range(40)]


@pytest.mark.parametrize("case", CASES, ids=lambda c: str(c[0]).replace(" ", ""))
def test_im2col_matches_the_naive_loops_and_the_full_convolution(case):
    params, a = case
    s, p, d = params["stride"], params["pad"], params["dilation"]
    fast, cache = conv2d_forward(a["x"], a["w"], a["b"], s, p, dilation=d, keep_product=True)
    slow, naive = conv2d_forward_naive(a["x"], a["w"], a["b"], s, p, dilation=d, keep_product=True)
    np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(cache.x_col, naive.x_col)
    np.testing.assert_allclose(conv2d_backward(a["dout"], cache).dx, conv2d_backward(a["dout"], naive).dx, atol=1e-12)
    arrays = run_op("conv2d", a, params)
    np.testing.assert_allclose(arrays["dx_full_conv"], arrays["dx"], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CASES[:16], ids=lambda c: str(c[0]).replace(" ", ""))
def test_gradcheck(case):
    params, a = case
    assert_gradcheck("conv2d", a, params, case=str(params), h=1e-3)


@pytest.mark.parametrize("seed", range(4))
def test_an_int_is_the_pair_of_it(seed):
    rng = np.random.default_rng(seed)
    a = {"x": rng.normal(size=(2, 2, 6, 7)), "w": rng.normal(size=(3, 2, 3, 2)), "b": rng.normal(size=3)}
    s, p, d = int(rng.integers(1, 3)), int(rng.integers(0, 2)), int(rng.integers(1, 3))
    one = run_op("conv2d", a, {"stride": s, "pad": p, "dilation": d})
    two = run_op("conv2d", a, {"stride": [s, s], "pad": [p, p], "dilation": [d, d]})
    for name in one:
        np.testing.assert_array_equal(one[name], two[name], err_msg=name)


def test_d2l_shapes_with_per_axis_params():
    """d2l 7.3 (padding-and-strides): an 8×8 input; the output-shape formula, then its examples."""
    x = np.zeros((1, 1, 8, 8))

    def shape(kernel, **params):
        return run_op("conv2d", {"x": x, "w": np.zeros((1, 1, *kernel)), "b": [0.0]}, params)["out"].shape[2:]

    assert shape((3, 3), pad=1) == (8, 8)
    assert shape((5, 3), pad=[2, 1]) == (8, 8)
    assert shape((3, 3), pad=1, stride=2) == (4, 4)
    assert shape((3, 5), pad=[0, 1], stride=[3, 4]) == (2, 2)


def test_dilation_spreads_the_taps():
    x = np.arange(25.0).reshape(1, 1, 5, 5)
    a = run_op("conv2d", {"x": x, "w": np.ones((1, 1, 2, 2)), "b": [0.0]}, {"dilation": 2})
    # taps at (0, 0), (0, 2), (2, 0), (2, 2): 0 + 2 + 10 + 12 = 24
    assert a["out"].shape == (1, 1, 3, 3) and a["out"][0, 0, 0, 0] == 24.0
    assert a["w_rot"].shape == (1, 1, 3, 3)  # the spread-out kernel, rotated


@pytest.mark.parametrize("seed", range(3))
def test_provenance_names_what_moves_each_cell(seed):
    params, a = CASES[seed * 5]
    rng = np.random.default_rng(seed)
    out = run_op("conv2d", a, params)
    # (out, w) is left out: provenance pairs every tap with its x_padded cell, padded zeros included
    for array, wrt in (("out", "x"), ("dx", "dout"), ("dx", "w"), ("dw", "x"), ("dw", "dout"),
                       ("dx_full_conv", "dout")):
        index = tuple(int(rng.integers(0, s)) for s in out[array].shape)
        assert_provenance_moves("conv2d", a, params, array, index, wrt)


def test_errors_name_the_field():
    a = {"x": np.ones((1, 1, 4, 4)), "w": np.ones((1, 1, 2, 2)), "b": np.ones(1)}
    raises_field("params.dilation", run_op, "conv2d", a, {"dilation": 0})
    raises_field("params.pad", run_op, "conv2d", a, {"pad": [1]})
    raises_field("inputs.w", run_op, "conv2d", a, {"dilation": 4}, match="kernel height KH = 4·(2 − 1) + 1 = 5")


def test_steps_say_the_axes():
    a = {"x": np.ones((1, 1, 5, 5)), "w": np.ones((1, 1, 2, 2)), "b": [0.0]}
    latex = " ".join(s.latex for s in op_steps("conv2d", a, {"stride": [2, 1], "pad": [1, 0], "dilation": 2}))
    assert "s = (2, 1)" in latex and "p = (1, 0)" in latex and "d = 2" in latex
    plain = " ".join(s.latex for s in op_steps("conv2d", a, {"stride": 1}))
    assert "d =" not in plain
