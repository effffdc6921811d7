"""Transposed convolution: it IS conv2d's dx (and its dw) on random geometries; gradients; provenance."""

import numpy as np
import pytest

from engine.ops.conv_transpose import output_size
from engine.registry import op_steps, run_op
from tests.engine.conftest import assert_gradcheck, raises_field
from tests.engine.ops.perturb import assert_provenance_moves


def draw(seed):
    """A random conv2d geometry (stride, pad, dilation as pairs) whose output is at least 1×1, and its arrays."""
    rng = np.random.default_rng(seed)
    while True:
        n, c, f = (int(v) for v in rng.integers(1, 4, size=3))
        h, w = (int(v) for v in rng.integers(3, 9, size=2))
        kh, kw = (int(v) for v in rng.integers(1, 4, size=2))
        params = {"stride": [int(v) for v in rng.integers(1, 4, size=2)],
                  "pad": [int(v) for v in rng.integers(0, 3, size=2)],
                  "dilation": [int(v) for v in rng.integers(1, 3, size=2)]}
        x = rng.normal(size=(n, c, h, w))
        try:
            probe = run_op("conv2d", {"x": x, "w": rng.normal(size=(f, c, kh, kw)), "b": np.zeros(f)}, params)
        except ValueError:
            continue
        return params, {"x": x, "w": rng.normal(size=(f, c, kh, kw)), "b": rng.normal(size=f),
                        "dout": rng.normal(size=probe["out"].shape)}


@pytest.mark.parametrize("seed", range(40))
def test_transposed_convolution_of_dout_is_conv2d_dx(seed):
    params, a = draw(seed)
    conv = run_op("conv2d", a, params)
    c = a["x"].shape[1]
    output_padding = [int(conv["dropped_rows"]), int(conv["dropped_cols"])]
    t = run_op("conv_transpose2d", {"x": a["dout"], "w": a["w"], "b": np.zeros(c), "dout": a["x"]},
               {**params, "output_padding": output_padding})
    np.testing.assert_allclose(t["out"], conv["dx"], rtol=1e-13, atol=1e-13, err_msg=str(params))
    # and its own dw, with conv's x as the upstream gradient, is conv's dw: the two are adjoint
    np.testing.assert_allclose(t["dw"], conv["dw"], rtol=1e-13, atol=1e-13, err_msg=str(params))


@pytest.mark.parametrize("seed", range(12))
def test_gradcheck(seed):
    params, a = draw(200 + seed)
    rng = np.random.default_rng(seed)
    c = a["x"].shape[1]
    t = run_op("conv_transpose2d", {"x": a["dout"], "w": a["w"], "b": np.zeros(c)}, params | {"output_padding": 0})
    inputs = {"x": a["dout"], "w": a["w"], "b": rng.normal(size=c), "dout": rng.normal(size=t["out"].shape)}
    assert_gradcheck("conv_transpose2d", inputs, {**params, "output_padding": 0}, case=str(params), h=1e-4)


def test_output_size_is_pytorchs():
    # PyTorch: H_out = (H − 1)·stride − 2·pad + dilation·(K − 1) + output_padding + 1
    assert output_size(3, 3, 2, 1, 1) == 6
    a = run_op("conv_transpose2d", {"x": np.ones((1, 1, 3, 4)), "w": np.ones((1, 2, 3, 3)), "b": np.zeros(2)},
               {"stride": [2, 1], "pad": [1, 0], "output_padding": [1, 0]})
    assert a["out"].shape == (1, 2, 6, 6)


def test_a_one_pixel_input_stamps_the_kernel():
    w = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    a = run_op("conv_transpose2d", {"x": [[[[2.0]]]], "w": w, "b": [0.5]})
    np.testing.assert_array_equal(a["out"][0, 0], 2 * w[0, 0] + 0.5)


def test_errors_name_the_field():
    x, w, b = np.ones((1, 2, 3, 3)), np.ones((2, 1, 2, 2)), np.zeros(1)
    raises_field("params.output_padding", run_op, "conv_transpose2d", {"x": x, "w": w, "b": b},
                 {"stride": 2, "output_padding": 2})
    raises_field("inputs.w", run_op, "conv_transpose2d", {"x": x, "w": np.ones((3, 1, 2, 2)), "b": b})
    raises_field("inputs.b", run_op, "conv_transpose2d", {"x": x, "w": w, "b": np.zeros(2)})
    raises_field("params.pad", run_op, "conv_transpose2d", {"x": np.ones((1, 2, 1, 1)), "w": w, "b": b}, {"pad": 1})
    raises_field("inputs.dout", run_op, "conv_transpose2d", {"x": x, "w": w, "b": b, "dout": np.ones((1, 1, 3, 3))})


@pytest.mark.parametrize("seed", range(3))
def test_provenance_names_what_moves_each_cell(seed):
    params, a = draw(300 + seed)
    params = {**params, "output_padding": 0}
    inputs = {"x": a["dout"], "w": a["w"], "b": np.ones(a["x"].shape[1])}
    t = run_op("conv_transpose2d", inputs, params)
    rng = np.random.default_rng(seed)
    inputs["dout"] = rng.normal(size=t["out"].shape)
    for array, wrt in (("out", "x"), ("out", "w"), ("dx", "dout"), ("dw", "dout"), ("dw", "x")):
        index = tuple(int(rng.integers(0, s)) for s in t[array].shape)
        assert_provenance_moves("conv_transpose2d", inputs, params, array, index, wrt)


def test_steps_are_the_arrays():
    inputs = {"x": np.ones((1, 1, 2, 2)), "w": np.ones((1, 1, 3, 3)), "b": [0.0]}
    params = {"stride": 2, "pad": 1, "output_padding": 1}
    arrays = run_op("conv_transpose2d", inputs, params)
    steps = op_steps("conv_transpose2d", inputs, params)
    assert [s.name for s in steps] == ["x_row", "matmul", "col2im", "crop_bias", "im2col", "dx", "dw", "db"]
    for step in steps:
        for key, value in step.arrays.items():
            np.testing.assert_array_equal(value, arrays[key], err_msg=f"{step.name} {key}")
