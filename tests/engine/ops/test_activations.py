"""ReLU: gradients on 1- to 4-d inputs, the x == 0 rule, dtype, no mutation, errors."""

import numpy as np
import pytest

from engine.ops.activations import relu_backward, relu_forward
from engine.records import OpInputError
from engine.registry import get_spec, op_provenance, op_steps, prepare, run_op
from tests.engine.conftest import assert_gradcheck

SHAPES = [(7,), (3, 5), (2, 3, 4), (2, 2, 3, 3), (1, 3, 5, 2)]


def _away_from_zero(shape, seed):
    """Values with |x| ≥ 0.1: ReLU has a kink at 0 that a central difference would straddle."""
    rng = np.random.default_rng(seed)
    return rng.choice([-1.0, 1.0], size=shape) * (0.1 + np.abs(rng.normal(size=shape)))


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_relu_gradcheck(shape):
    seed = len(shape) * 10 + sum(shape)
    x = _away_from_zero(shape, seed)
    assert (x > 0).any() and (x < 0).any()
    dout = np.random.default_rng(seed + 1).normal(size=shape)
    assert_gradcheck("relu", {"x": x, "dout": dout}, case=f"shape {shape}")


def test_relu_by_hand_and_zero_gets_no_gradient():
    x = [[-2.0, 0.0, 3.0], [0.5, -0.0, -1e-12]]
    dout = [[10.0, 20.0, 30.0], [-40.0, 50.0, 60.0]]
    arrays = run_op("relu", {"x": x, "dout": dout})
    np.testing.assert_array_equal(arrays["out"], [[0, 0, 3], [0.5, 0, 0]])
    np.testing.assert_array_equal(arrays["mask"], [[0, 0, 1], [1, 0, 0]])
    np.testing.assert_array_equal(arrays["dx"], [[0, 0, 30], [-40, 0, 0]])
    # No "−0" for a student to puzzle over: zeros are +0 in out and dx.
    assert not np.signbit(arrays["out"]).any()
    assert not np.signbit(arrays["dx"][arrays["mask"] == 0]).any()


def test_missing_dout_is_ones():
    arrays = run_op("relu", {"x": [1.0, -1.0, 2.0]})
    np.testing.assert_array_equal(arrays["dout"], [1, 1, 1])
    np.testing.assert_array_equal(arrays["dx"], [1, 0, 1])


def test_float32_stays_float32():
    x = _away_from_zero((2, 3, 4), 0)
    arrays = run_op("relu", {"x": x}, dtype="float32")
    for name in ("x", "dout", "out", "mask", "dx"):
        assert arrays[name].dtype == np.float32, name
    out, cache = relu_forward(x.astype(np.float32))
    assert out.dtype == cache.mask.dtype == np.float32
    assert relu_backward(np.ones((2, 3, 4), np.float32), cache).dx.dtype == np.float32


def test_no_input_is_mutated_and_nothing_aliases():
    x = _away_from_zero((3, 4), 1)
    spec, arrays, params = prepare("relu", {"x": x, "dout": np.ones((3, 4)) * 2})
    before = {k: v.copy() for k, v in arrays.items()}
    result = spec.run(arrays, params)
    for name in ("out", "mask", "dx"):
        result[name][...] = 7.0
    for name, value in before.items():
        np.testing.assert_array_equal(arrays[name], value, err_msg=name)


def test_the_cache_does_not_depend_on_x_afterwards():
    x = np.array([-1.0, 2.0])
    _, cache = relu_forward(x)
    x[:] = [5.0, -5.0]
    np.testing.assert_array_equal(cache.mask, [0.0, 1.0])
    np.testing.assert_array_equal(relu_backward(np.array([3.0, 4.0]), cache).dx, [0, 4])


@pytest.mark.parametrize(
    "inputs, field",
    [
        ({"x": [1.0, 2.0], "dout": [1.0]}, "inputs.dout"),
        ({"x": [[1.0, 2.0]], "dout": [1.0, 2.0]}, "inputs.dout"),
        ({"x": np.zeros((1, 1, 1, 1, 2))}, "inputs.x"),
        ({"x": [1.0, float("nan")]}, "inputs.x"),
    ],
    ids=["dout-length", "dout-ndim", "x-5d", "x-nan"],
)
def test_errors_name_the_field(inputs, field):
    with pytest.raises(OpInputError) as info:
        run_op("relu", inputs)
    assert info.value.field == field


def test_backward_checks_dout_shape():
    _, cache = relu_forward(np.ones((2, 2)))
    with pytest.raises(OpInputError) as info:
        relu_backward(np.ones(4), cache)
    assert info.value.field == "inputs.dout"


def test_steps_and_provenance():
    x = [[-5.0, 4.0], [0.0, 2.0]]
    steps = op_steps("relu", {"x": x})
    assert [(s.phase, s.name) for s in steps] == [("forward", "mask"), ("forward", "relu"), ("backward", "dx")]
    np.testing.assert_array_equal(steps[2].arrays["dx"], run_op("relu", {"x": x})["dx"])
    assert op_provenance("relu", {"x": x}, None, "out", (1, 0)) == {"x": [(1, 0)]}
    assert op_provenance("relu", {"x": x}, None, "dx", (0, 1)) == {"dout": [(0, 1)], "mask": [(0, 1)]}
    with pytest.raises(OpInputError) as info:
        op_provenance("relu", {"x": x}, None, "out", (2, 0))
    assert info.value.field == "index"


def test_example_runs():
    inputs, params = get_spec("relu").example(np.random.default_rng(0))
    assert set(get_spec("relu").arrays) <= set(run_op("relu", inputs, params))
