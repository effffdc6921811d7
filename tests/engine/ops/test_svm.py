"""The multiclass SVM loss: cs231n's loops as an oracle, gradients away from the hinge, records, provenance."""

import numpy as np
import pytest

from engine.registry import op_provenance, op_steps, run_op
from tests.engine.conftest import assert_gradcheck, raises_field


def svm_loss_loops(x, y, delta=1.0):
    """cs231n's svm_loss_naive, written out: (loss, dx)."""
    n, k = x.shape
    loss, dx = 0.0, np.zeros_like(x)
    for i in range(n):
        for j in range(k):
            if j == y[i]:
                continue
            margin = x[i, j] - x[i, y[i]] + delta
            if margin > 0:
                loss += margin
                dx[i, j] += 1
                dx[i, y[i]] -= 1
    return loss / n, dx / n


def _off_the_hinge(rng, n, k, delta):
    """Logits whose margins all stay ≥ 0.01 away from 0 (the hinge's kink)."""
    while True:
        x = rng.normal(size=(n, k)) * 2
        y = rng.integers(0, k, size=n)
        m = x - x[np.arange(n), y][:, None] + delta
        m[np.arange(n), y] = 1.0
        if np.abs(m).min() > 0.01:
            return x, y


@pytest.mark.parametrize("seed", range(8))
def test_matches_the_loops_and_gradcheck(seed):
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(1, 6)), int(rng.integers(2, 7))
    delta = [1.0, 0.5, 2.0, 0.0][seed % 4]
    x, y = _off_the_hinge(rng, n, k, delta)
    a = run_op("svm_loss", {"logits": x, "labels": y}, {"margin": delta})
    loss, dx = svm_loss_loops(x, y, delta)
    assert float(a["loss"]) == pytest.approx(loss, rel=1e-14, abs=1e-15)
    np.testing.assert_allclose(a["dlogits"], dx, rtol=1e-14, atol=1e-15)
    assert_gradcheck("svm_loss", {"logits": x, "labels": y}, {"margin": delta}, case=f"seed {seed}")


def test_by_hand():
    # the notes' three-class example: scores 3.2 5.1 −1.7 for a cat (label 0)
    a = run_op("svm_loss", {"logits": [[3.2, 5.1, -1.7]], "labels": [0]})
    np.testing.assert_allclose(a["margins"], [[0.0, 2.9, 0.0]], atol=1e-15)
    assert float(a["loss"]) == pytest.approx(2.9)
    np.testing.assert_array_equal(a["positive"], [[0, 1, 0]])
    np.testing.assert_array_equal(a["num_positive"], [1])
    np.testing.assert_allclose(a["dlogits"], [[-1.0, 1.0, 0.0]])


def test_a_margin_of_exactly_zero_is_not_a_violation():
    a = run_op("svm_loss", {"logits": [[1.0, 0.0]], "labels": [0]})  # 0 − 1 + 1 = 0
    np.testing.assert_array_equal(a["positive"], [[0, 0]])
    np.testing.assert_array_equal(a["dlogits"], [[0, 0]])


def test_errors_name_the_field():
    raises_field("inputs.labels", run_op, "svm_loss", {"logits": [[1.0, 2.0]], "labels": [2]})
    raises_field("inputs.labels", run_op, "svm_loss", {"logits": [[1.0, 2.0]], "labels": [0, 1]})
    raises_field("inputs.logits", run_op, "svm_loss", {"logits": [[1.0], [2.0]], "labels": [0, 0]})
    raises_field("params.margin", run_op, "svm_loss", {"logits": [[1.0, 2.0]], "labels": [0]}, {"margin": -1})


def test_steps_and_provenance():
    inputs = {"logits": [[1.0, 2.5, 0.2], [0.1, -1.0, 3.0]], "labels": [0, 2]}
    arrays = run_op("svm_loss", inputs)
    steps = op_steps("svm_loss", inputs)
    assert [s.name for s in steps] == ["correct", "margins", "mean", "positive", "dlogits"]
    for step in steps:
        for key, value in step.arrays.items():
            np.testing.assert_array_equal(value, arrays[key], err_msg=f"{step.name} {key}")
    assert op_provenance("svm_loss", inputs, None, "margins", (0, 1)) == {"logits": [(0, 0), (0, 1)], "labels": [(0,)]}
    assert op_provenance("svm_loss", inputs, None, "dlogits", (1, 2)) == {"num_positive": [(1,)], "labels": [(1,)]}
    assert op_provenance("svm_loss", inputs, None, "dlogits", (0, 1)) == {"positive": [(0, 1)], "labels": [(0,)]}
    assert len(op_provenance("svm_loss", inputs, None, "loss", ())["margins"]) == 6
