"""The registry, over every registered op: one path, strict validation, no mutation, float32 kept."""

from __future__ import annotations

import numpy as np
import pytest

from engine.records import OpInputError
from engine.registry import OPS, prepare, run_op

CONVENTIONS_ARRAYS = {  # CONVENTIONS.md's op table: each op answers at least these
    "conv2d": "x_padded x_col w_row out dw db dx_col dx",
    "maxpool2d": "out argmax dx",
    "avgpool2d": "out dx",
    "relu": "out mask dx",
    "linear": "out dx dw db",
    "softmax_cross_entropy": "probs loss dlogits",
    "batchnorm": "mean var std x_hat out running_mean running_var dx_hat dvar dmean dx dgamma dbeta",
    "layernorm": "mean var x_hat out dx dgamma dbeta",
    "dropout": "mask out dx",
    "sigmoid": "out local_grad dx",
    "tanh": "out local_grad dx",
    "leaky_relu": "out mask local_grad dx",
    "svm_loss": "margins loss dlogits",
    "groupnorm": "mean var x_hat out dx dgamma dbeta",
    "conv_transpose2d": "out dx dw db",
}


def test_every_op_of_the_conventions_is_registered():
    assert set(CONVENTIONS_ARRAYS) <= set(OPS)


@pytest.mark.parametrize("name", sorted(OPS))
def test_example_answers_its_arrays_and_leaves_inputs_alone(name):
    inputs, params = OPS[name].example(np.random.default_rng(0))
    before = {k: np.array(v, copy=True) for k, v in inputs.items()}
    arrays = run_op(name, inputs, params)
    for k, v in before.items():
        np.testing.assert_array_equal(np.asarray(inputs[k]), v, err_msg=f"{name} mutated {k}")
    missing = set(CONVENTIONS_ARRAYS.get(name, "").split()) - set(arrays)
    assert not missing, f"{name} lacks {missing}"
    for spec in OPS[name].inputs:
        if spec.grad and spec.name in inputs:
            assert arrays["d" + spec.name].shape == np.shape(inputs[spec.name]), (name, spec.name)


@pytest.mark.parametrize("name", sorted(OPS))
def test_float32_stays_float32(name):
    inputs, params = OPS[name].example(np.random.default_rng(1))
    arrays = run_op(name, inputs, params, dtype="float32")
    grads = [k for k in arrays if k.startswith("d") and np.asarray(arrays[k]).dtype.kind == "f"]
    assert grads and all(np.asarray(arrays[k]).dtype == np.float32 for k in grads), name


@pytest.mark.parametrize("bad,field", [
    ({"params": {"nope": 1}}, "params.nope"),
    ({"inputs": {"z": [1.0]}}, "inputs.z"),
    ({"params": {"stride": 1.5}}, "params.stride"),
    ({"params": {"stride": True}}, "params.stride"),
    ({"params": {"stride": 99}}, "params.stride"),
    ({"inputs": {"x": [[[[1.0, "a"]]]]}}, "inputs.x"),
    ({"inputs": {"x": [[[[1.0, 2.0], [3.0]]]]}}, "inputs.x"),
    ({"inputs": {"x": [[[[1.0, float("nan")]]]]}}, "inputs.x"),
    ({"inputs": {"x": [1.0, 2.0]}}, "inputs.x"),
])
def test_bad_calls_name_the_field(bad, field):
    inputs = {"x": np.ones((1, 1, 3, 3)), "w": np.ones((1, 1, 2, 2)), "b": np.zeros(1), **bad.get("inputs", {})}
    with pytest.raises(OpInputError) as err:
        prepare("conv2d", inputs, bad.get("params"))
    assert err.value.field == field


def test_huge_labels_are_refused_before_any_cast():
    with pytest.raises(OpInputError) as err:
        prepare("softmax_cross_entropy", {"logits": [[0.0, 1.0]], "labels": [1e308]})
    assert err.value.field == "inputs.labels" and "too large" in err.value.message


def test_max_elements_is_a_limit_not_a_clamp():
    with pytest.raises(OpInputError) as err:
        prepare("relu", {"x": np.ones(10)}, max_elements=9)
    assert "limit is 9" in err.value.message


def test_unknown_op():
    with pytest.raises(OpInputError) as err:
        run_op("conv3d", {})
    assert err.value.field == "op" and "conv2d" in err.value.message
