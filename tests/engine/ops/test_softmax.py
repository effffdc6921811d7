"""Softmax cross-entropy: gradients, stability, the fused and Jacobian routes, temperature, errors."""

import math

import numpy as np
import pytest

from engine.ops.softmax import (
    softmax,
    softmax_cross_entropy_backward,
    softmax_cross_entropy_forward,
    softmax_jacobian,
    softmax_naive,
)
from engine.records import OpInputError
from engine.registry import get_spec, op_provenance, op_steps, prepare, run_op
from tests.engine.conftest import assert_gradcheck


def _cases(count, seed=2024):
    rng = np.random.default_rng(seed)
    return [(int(rng.integers(1, 5)), int(rng.integers(2, 6)), float(rng.choice([1.0, 0.5, 2.5])))
            for _ in range(count)]


CASES = [(1, 2, 1.0), (3, 4, 1.0), (2, 3, 0.5), (4, 5, 2.5)] + _cases(4)


def _call(n, k, seed):
    rng = np.random.default_rng(seed)
    # Logits ~ N(0, 1) with few classes keep every p ≳ 0.01, so no dlogits entry is so small that
    # central-difference rounding (~1e-10 absolute) dominates it.
    return rng.normal(size=(n, k)), rng.integers(0, k, size=n)


@pytest.mark.parametrize("case", CASES, ids=lambda c: "n{}-k{}-T{}".format(*c))
def test_gradcheck(case):
    n, k, t = case
    logits, labels = _call(n, k, n * 10 + k)
    report = assert_gradcheck("softmax_cross_entropy", {"logits": logits, "labels": labels}, {"temperature": t},
                              case=f"N={n} K={k} T={t}")
    assert set(report.per_input) == {"logits"}  # labels are not differentiable


def test_small_example_by_hand():
    logits = [[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]]
    labels = [2, 0]
    arrays = run_op("softmax_cross_entropy", {"logits": logits, "labels": labels})
    s = math.exp(1) + math.exp(2) + math.exp(3)
    p0 = [math.exp(1) / s, math.exp(2) / s, math.exp(3) / s]
    np.testing.assert_allclose(arrays["probs"], [p0, [1 / 3, 1 / 3, 1 / 3]], rtol=1e-14)
    loss = (-math.log(p0[2]) - math.log(1 / 3)) / 2
    np.testing.assert_allclose(arrays["loss"], loss, rtol=1e-14)
    assert arrays["loss"].shape == ()
    np.testing.assert_allclose(arrays["nll"], [-math.log(p0[2]), math.log(3)], rtol=1e-14)
    np.testing.assert_array_equal(arrays["onehot"], [[0, 0, 1], [1, 0, 0]])
    # dlogits = (p − y)/N with N = 2
    expected = np.array([[p0[0], p0[1], p0[2] - 1], [1 / 3 - 1, 1 / 3, 1 / 3]]) / 2
    np.testing.assert_allclose(arrays["dlogits"], expected, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(arrays["dlogits_via_jacobian"], expected, rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(arrays["sum_exp"], [s / math.exp(3), 3.0], rtol=1e-14)  # after the shift


@pytest.mark.parametrize("seed", range(6))
def test_dlogits_is_p_minus_y_over_n_and_the_jacobian_route_agrees(seed):
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(1, 6)), int(rng.integers(2, 8))
    logits = rng.normal(size=(n, k)) * (1 + 4 * seed)  # up to ±~60: p down to ~1e-20, still representable
    labels = rng.integers(0, k, size=n)
    t = [1.0, 0.3, 4.0][seed % 3]
    a = run_op("softmax_cross_entropy", {"logits": logits, "labels": labels}, {"temperature": t})
    onehot = np.eye(k)[labels]
    np.testing.assert_allclose(a["dlogits"], (a["probs"] - onehot) / (n * t), rtol=1e-15, atol=0)
    np.testing.assert_allclose(a["dlogits_via_jacobian"], a["dlogits"], rtol=1e-9, atol=1e-15)
    np.testing.assert_array_equal(a["dprobs_defined"], np.ones(n))
    # dprobs = −onehot/(N·p), nonzero only at the label
    np.testing.assert_allclose(a["dprobs"], np.where(onehot > 0, -1.0 / (n * a["probs"]), 0.0), rtol=1e-15)


def test_jacobian_matches_finite_differences_of_softmax():
    rng = np.random.default_rng(11)
    z = rng.normal(size=5)
    h = 1e-6
    numeric = np.empty((5, 5))
    for j in range(5):
        e = np.zeros(5)
        e[j] = h
        numeric[:, j] = (softmax(z + e) - softmax(z - e)) / (2 * h)  # column j: dp/dz_j
    np.testing.assert_allclose(softmax_jacobian(softmax(z)), numeric, atol=1e-9)
    a = run_op("softmax_cross_entropy", {"logits": z[None, :], "labels": [3]})
    np.testing.assert_allclose(a["jacobian"][0], softmax_jacobian(a["probs"][0]), rtol=1e-15)
    np.testing.assert_allclose(a["jacobian"][0].sum(axis=0), 0, atol=1e-16)  # Σ_i dp_i/dz_j = 0
    np.testing.assert_allclose(a["jacobian"][0], a["jacobian"][0].T)


def test_stable_where_the_naive_formula_overflows():
    logits = np.array([[1000.0, 0.0, -1000.0], [-1000.0, -1001.0, -1002.0]])
    p = softmax(logits)
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p[0], [1.0, 0.0, 0.0])
    e = math.exp(-1) + math.exp(-2) + 1
    np.testing.assert_allclose(p[1], [1 / e, math.exp(-1) / e, math.exp(-2) / e], rtol=1e-14)
    naive = softmax_naive(logits)
    assert np.isnan(naive[0, 0])  # e^1000 = inf, inf/inf = nan
    assert np.all(np.isnan(naive[1]))  # e^−1000 = 0, 0/0 = nan
    np.testing.assert_allclose(softmax_naive([1.0, 2.0, 3.0]), softmax(np.array([1.0, 2.0, 3.0])), rtol=1e-15)
    # and through the op: finite loss and gradients
    a = run_op("softmax_cross_entropy", {"logits": logits, "labels": [2, 0]})
    assert np.isfinite(a["loss"]) and np.all(np.isfinite(a["dlogits"]))
    np.testing.assert_allclose(a["loss"], (2000.0 - math.log(1 / e)) / 2, rtol=1e-14)


def test_softmax_is_shift_invariant_rowwise():
    z = np.random.default_rng(1).normal(size=(3, 4))
    np.testing.assert_allclose(softmax(z), softmax(z + np.array([[5.0], [-300.0], [0.1]])), rtol=1e-13)
    np.testing.assert_allclose(softmax(z).sum(axis=1), 1.0, rtol=1e-15)


def test_label_probability_that_underflows_keeps_the_fused_route_exact():
    # p(label) = e^−800/(1 + e^−800) underflows to 0: the loss is still 800 (log-softmax, not log p),
    # the fused gradient is exact, and the Jacobian route cannot represent dL/dp = −1/p: left at 0.
    a = run_op("softmax_cross_entropy", {"logits": [[0.0, -800.0], [0.0, 1.0]], "labels": [1, 1]})
    assert a["probs"][0, 1] == 0.0
    np.testing.assert_allclose(a["nll"], [800.0, math.log(1 + math.exp(-1))], rtol=1e-14)
    np.testing.assert_allclose(a["dlogits"][0], [0.5, -0.5])
    np.testing.assert_array_equal(a["dprobs_defined"], [0.0, 1.0])
    np.testing.assert_array_equal(a["dprobs"][0], [0.0, 0.0])
    np.testing.assert_array_equal(a["dlogits_via_jacobian"][0], [0.0, 0.0])
    np.testing.assert_allclose(a["dlogits_via_jacobian"][1], a["dlogits"][1], rtol=1e-12)


def test_temperature_scales_logits_and_gradient():
    logits, labels, t = np.array([[2.0, -1.0, 0.5]]), [1], 2.0
    a = run_op("softmax_cross_entropy", {"logits": logits, "labels": labels}, {"temperature": t})
    z = logits[0] / t
    p = np.exp(z) / np.exp(z).sum()
    np.testing.assert_allclose(a["scaled"], [z])
    np.testing.assert_allclose(a["probs"], [p], rtol=1e-14)
    np.testing.assert_allclose(a["loss"], -math.log(p[1]), rtol=1e-14)
    np.testing.assert_allclose(a["dlogits"], [(p - [0, 1, 0]) / t], rtol=1e-14)


def test_backward_dloss_scales_both_routes():
    _, cache = softmax_cross_entropy_forward(np.array([[0.3, -0.2, 1.0]]), np.array([0]))
    one, three = softmax_cross_entropy_backward(cache), softmax_cross_entropy_backward(cache, dloss=3.0)
    np.testing.assert_allclose(three.dlogits, 3 * one.dlogits, rtol=1e-15)
    np.testing.assert_allclose(three.dlogits_via_jacobian, 3 * one.dlogits_via_jacobian, rtol=1e-14)
    np.testing.assert_allclose(three.dlogits_via_jacobian, three.dlogits, rtol=1e-12)


def test_forward_accepts_float_labels_from_the_gradient_checker():
    loss_f, _ = softmax_cross_entropy_forward(np.array([[1.0, 2.0]]), np.array([1.0]))
    loss_i, cache = softmax_cross_entropy_forward(np.array([[1.0, 2.0]]), np.array([1]))
    assert loss_f == loss_i and cache.labels.dtype == np.int64


@pytest.mark.parametrize(
    "inputs, params, field, words",
    [
        ({"logits": [[1.0, 2.0, 3.0]], "labels": [3]}, {}, "inputs.labels", "label 3 at position 0 is out of range"),
        ({"logits": [[1.0, 2.0], [0.0, 0.0]], "labels": [0, -1]}, {}, "inputs.labels", "between 0 and 1"),
        ({"logits": [[1.0, 2.0], [0.0, 0.0]], "labels": [0]}, {}, "inputs.labels", "has 1 labels but logits has 2"),
        ({"logits": [[1.0, 2.0]], "labels": [0.5]}, {}, "inputs.labels", "whole numbers"),
        ({"logits": [[1.0, 2.0]], "labels": [[0]]}, {}, "inputs.labels", "dimensions"),
        ({"logits": [1.0, 2.0], "labels": [0]}, {}, "inputs.logits", "dimensions"),
        ({"logits": [[1.0, 2.0]], "labels": [0]}, {"temperature": 0.0}, "params.temperature", "between"),
        ({"logits": [[1.0, 2.0]], "labels": [0]}, {"temperature": 25}, "params.temperature", "between"),
        ({"logits": [[1.0, 2.0]], "labels": [0], "dout": [1.0]}, {}, "inputs.dout", "no input"),
    ],
    ids=["label-too-big", "label-negative", "length", "label-fraction", "labels-2d", "logits-1d", "T-0", "T-25",
         "dout"],
)
def test_errors_name_the_field(inputs, params, field, words):
    with pytest.raises(OpInputError) as info:
        run_op("softmax_cross_entropy", inputs, params)
    assert info.value.field == field
    assert words in info.value.message


def test_direct_forward_checks_labels():
    with pytest.raises(OpInputError) as info:
        softmax_cross_entropy_forward(np.zeros((2, 3)), np.array([0, 5]))
    assert info.value.field == "inputs.labels" and "position 1" in info.value.message
    with pytest.raises(OpInputError) as info:
        softmax_cross_entropy_forward(np.zeros((2, 3)), np.array([0, 1, 2]))
    assert info.value.field == "inputs.labels"


def test_float32_stays_float32():
    logits, labels = _call(3, 4, 0)
    a = run_op("softmax_cross_entropy", {"logits": logits, "labels": labels}, {"temperature": 0.5}, dtype="float32")
    for name in ("logits", "scaled", "shifted", "exp", "sum_exp", "probs", "log_probs", "onehot", "nll", "loss",
                 "dlogits", "dprobs", "jacobian", "dlogits_via_jacobian"):
        assert a[name].dtype == np.float32, name
    assert a["labels"].dtype == np.int64
    reference = run_op("softmax_cross_entropy", {"logits": logits, "labels": labels}, {"temperature": 0.5})
    np.testing.assert_allclose(a["dlogits"], reference["dlogits"], rtol=1e-5, atol=1e-7)


def test_no_input_is_mutated_and_nothing_aliases():
    logits, labels = _call(3, 4, 1)
    spec, arrays, params = prepare("softmax_cross_entropy", {"logits": logits, "labels": labels})
    before = {k: v.copy() for k, v in arrays.items()}
    result = spec.run(arrays, params)
    for name in set(result) - {"logits", "labels"}:
        result[name][...] = 0
    for name, value in before.items():
        np.testing.assert_array_equal(arrays[name], value, err_msg=name)
    # T = 1: scaled is a fresh array, not the caller's logits
    assert not np.shares_memory(result["scaled"], arrays["logits"])


def test_provenance():
    inputs = {"logits": [[1.0, 2.0, 3.0], [0.0, 0.0, 1.0]], "labels": [2, 1]}

    def prov(name, index):
        return op_provenance("softmax_cross_entropy", inputs, None, name, index)

    assert prov("probs", (1, 0)) == {"exp": [(1, 0)], "sum_exp": [(1,)], "logits": [(1, 0), (1, 1), (1, 2)]}
    assert prov("dlogits", (0, 2)) == {"probs": [(0, 2)], "onehot": [(0, 2)], "labels": [(0,)]}
    assert prov("loss", ()) == {"nll": [(0,), (1,)]}
    assert prov("nll", (1,)) == {"log_probs": [(1, 1)], "labels": [(1,)]}
    assert prov("jacobian", (0, 2, 1)) == {"probs": [(0, 1), (0, 2)]}
    assert prov("dlogits_via_jacobian", (1, 0)) == {
        "jacobian": [(1, 0, 0), (1, 1, 0), (1, 2, 0)], "dprobs": [(1, 0), (1, 1), (1, 2)]}
    assert prov("logits", (0, 0)) == {}
    with pytest.raises(OpInputError) as info:
        prov("loss", (0,))
    assert info.value.field == "index"


def test_steps_follow_the_math_in_order():
    inputs = {"logits": [[1.0, 2.0, 3.0]], "labels": [0]}
    steps = op_steps("softmax_cross_entropy", inputs, {"temperature": 2.0})
    assert [(s.phase, s.name) for s in steps] == [
        ("forward", "scale"), ("forward", "shift"), ("forward", "exp"), ("forward", "normalise"),
        ("forward", "log"), ("forward", "nll"), ("forward", "mean"), ("backward", "p_minus_y"),
        ("backward", "divide"), ("backward", "dprobs"), ("backward", "jacobian"), ("backward", "via_jacobian")]
    assert "T = 2" in steps[0].latex
    arrays = run_op("softmax_cross_entropy", inputs, {"temperature": 2.0})
    for step in steps:
        for name, value in step.arrays.items():
            np.testing.assert_array_equal(value, arrays[name], err_msg=f"{step.name}.{name}")


def test_spec_has_no_dout_and_the_loss_is_the_objective():
    spec = get_spec("softmax_cross_entropy")
    assert spec.objective == "loss"
    assert [i.name for i in spec.inputs] == ["logits", "labels"]
    assert spec.input("labels").integer and not spec.input("labels").grad
    inputs, params = spec.example(np.random.default_rng(0))
    assert set(spec.arrays) <= set(run_op("softmax_cross_entropy", inputs, params))
