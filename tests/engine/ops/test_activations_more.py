"""Sigmoid, tanh and leaky ReLU: gradients over random shapes and slopes, stability, records, provenance."""

import numpy as np
import pytest

from engine.ops.activations import leaky_relu_forward, sigmoid_forward, tanh_forward
from engine.registry import op_provenance, op_steps, run_op
from tests.engine.conftest import assert_gradcheck, raises_field

SHAPES = [(7,), (3, 5), (2, 3, 4), (2, 2, 3, 3)]
OPS = ["sigmoid", "tanh", "leaky_relu"]


def _away_from_zero(shape, seed, scale=2.0):
    """|x| ≥ 0.1: leaky ReLU's kink at 0 is never straddled by a central difference."""
    rng = np.random.default_rng(seed)
    return rng.choice([-1.0, 1.0], size=shape) * (0.1 + scale * np.abs(rng.normal(size=shape)))


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("seed", range(6))
def test_gradcheck_random_shapes_and_slopes(name, seed):
    rng = np.random.default_rng(seed)
    shape = SHAPES[seed % len(SHAPES)]
    x = _away_from_zero(shape, seed)
    params = {"slope": float(rng.uniform(0, 1))} if name == "leaky_relu" else {}
    assert_gradcheck(name, {"x": x, "dout": rng.normal(size=shape)}, params, case=f"seed {seed} shape {shape}")


@pytest.mark.parametrize("name", OPS)
def test_defaults_and_formulas(name):
    x = np.array([[-3.0, -0.5, 0.0, 0.5, 3.0]])
    a = run_op(name, {"x": x})
    np.testing.assert_array_equal(a["dout"], np.ones_like(x))
    if name == "sigmoid":
        want = 1 / (1 + np.exp(-x))
        np.testing.assert_allclose(a["out"], want, rtol=1e-15)
        np.testing.assert_allclose(a["local_grad"], want * (1 - want), rtol=1e-15)
    elif name == "tanh":
        np.testing.assert_allclose(a["out"], np.tanh(x), rtol=1e-15)
        np.testing.assert_allclose(a["local_grad"], 1 - np.tanh(x) ** 2, rtol=1e-15)
    else:  # slope 0.01 by default (PyTorch's negative_slope)
        np.testing.assert_array_equal(a["out"], np.where(x > 0, x, 0.01 * x))
        np.testing.assert_array_equal(a["local_grad"], np.where(x > 0, 1.0, 0.01))
        np.testing.assert_array_equal(a["mask"], (x > 0).astype(float))
        assert not np.signbit(a["out"][a["out"] == 0]).any()  # no −0 for a student to puzzle over
    np.testing.assert_array_equal(a["dx"], a["local_grad"])


def test_sigmoid_and_tanh_are_stable_at_extremes():
    x = np.array([-1000.0, -40.0, 40.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # no overflow, no invalid value
        s, cs = sigmoid_forward(x)
        t, ct = tanh_forward(x)
    np.testing.assert_array_equal(s, [0.0, np.exp(-40.0) / (1 + np.exp(-40.0)), 1 / (1 + np.exp(-40.0)), 1.0])
    np.testing.assert_array_equal(t, [-1.0, -1.0, 1.0, 1.0])
    assert np.all(np.isfinite(cs.local_grad)) and np.all(np.isfinite(ct.local_grad))


@pytest.mark.parametrize("name", OPS)
def test_float32_and_no_mutation(name):
    x = _away_from_zero((2, 3), 4)
    before = x.copy()
    a = run_op(name, {"x": x}, dtype="float32")
    np.testing.assert_array_equal(x, before)
    assert all(a[k].dtype == np.float32 for k in ("out", "local_grad", "dx"))


def test_leaky_relu_slope_is_checked():
    raises_field("params.slope", run_op, "leaky_relu", {"x": [1.0]}, {"slope": -0.1})
    raises_field("params.slope", run_op, "leaky_relu", {"x": [1.0]}, {"slope": 1.5})
    raises_field("params.slope", leaky_relu_forward, np.ones(2), 2.0)
    raises_field("inputs.dout", run_op, "sigmoid", {"x": [1.0, 2.0], "dout": [1.0]})


@pytest.mark.parametrize("name", OPS)
def test_steps_are_the_arrays_and_provenance_is_elementwise(name):
    x = [[-2.0, 1.0], [0.5, -0.25]]
    params = {"slope": 0.2} if name == "leaky_relu" else {}
    steps = op_steps(name, {"x": x}, params)
    assert [s.phase for s in steps] == ["forward", "forward", "backward"]
    arrays = run_op(name, {"x": x}, params)
    for step in steps:
        for key, value in step.arrays.items():
            np.testing.assert_array_equal(value, arrays[key], err_msg=f"{name} {step.name} {key}")
    assert op_provenance(name, {"x": x}, params, "out", (1, 0)) == {"x": [(1, 0)]}
    assert op_provenance(name, {"x": x}, params, "dx", (0, 1)) == {"dout": [(0, 1)], "local_grad": [(0, 1)]}
    if name == "leaky_relu":
        assert "0.2" in steps[0].latex
