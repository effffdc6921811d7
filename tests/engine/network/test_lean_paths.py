"""The lean keywords (what training loops, the gradient check and the benchmark use) give exactly the full
paths' numbers."""

from __future__ import annotations

import numpy as np
import pytest

from engine.ops.batchnorm import batchnorm_backward, batchnorm_forward
from engine.ops.conv import conv2d_backward, conv2d_forward
from engine.ops.pool import maxpool2d_backward, maxpool2d_forward
from engine.ops.softmax import softmax_cross_entropy_backward, softmax_cross_entropy_forward
from engine.records import OpInputError
from engine.registry import OPS, prepare, run_op


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("size,stride", [(2, 2), (3, 2), (2, 1)])
def test_maxpool_without_windows_matches(dtype, size, stride):
    rng = np.random.default_rng(size * 10 + stride)
    x = rng.integers(-3, 4, (2, 3, 7, 6)).astype(dtype)  # small integers: many ties
    full_out, full = maxpool2d_forward(x, size, stride)
    lean_out, lean = maxpool2d_forward(x, size, stride, keep_windows=False)
    np.testing.assert_array_equal(lean_out, full_out)
    np.testing.assert_array_equal(lean.argmax, full.argmax)
    dout = rng.standard_normal(full_out.shape).astype(dtype)
    np.testing.assert_array_equal(maxpool2d_backward(dout, lean).dx, maxpool2d_backward(dout, full).dx)
    assert lean_out.dtype == dtype


@pytest.mark.parametrize("shape", [(5, 3), (4, 2, 3, 3)])
@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("convention", ["pytorch", "cs231n"])
def test_batchnorm_lean_matches_staged(shape, mode, convention):
    rng = np.random.default_rng(len(shape))
    C = shape[1]
    x, dout = rng.standard_normal(shape), rng.standard_normal(shape)
    gamma, beta = rng.standard_normal(C), rng.standard_normal(C)
    rm, rv = rng.standard_normal(C), rng.uniform(0.5, 2, C)
    x_before = x.copy()
    out, cache = batchnorm_forward(x, gamma, beta, rm, rv, mode=mode, convention=convention)
    lean_out, lean = batchnorm_forward(x, gamma, beta, rm, rv, mode=mode, convention=convention, staged=False)
    np.testing.assert_allclose(lean_out, out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(lean.running_mean, cache.running_mean, rtol=1e-12)
    np.testing.assert_allclose(lean.running_var, cache.running_var, rtol=1e-12)
    full_g, lean_g = batchnorm_backward(dout, cache), batchnorm_backward(dout, lean, staged=False)
    for name in ("dx", "dgamma", "dbeta"):
        np.testing.assert_allclose(getattr(lean_g, name), getattr(full_g, name), rtol=1e-9, atol=1e-12, err_msg=name)
    np.testing.assert_array_equal(x, x_before)
    with pytest.raises(ValueError):
        batchnorm_backward(dout, lean, staged=True)  # the lean forward kept nothing to stage from


def test_softmax_backward_without_jacobian_matches():
    rng = np.random.default_rng(3)
    logits, labels = rng.standard_normal((6, 5)) * 4, rng.integers(0, 5, 6)
    loss, cache = softmax_cross_entropy_forward(logits, labels)
    full = softmax_cross_entropy_backward(cache)
    lean = softmax_cross_entropy_backward(cache, jacobian=False)
    np.testing.assert_array_equal(lean.dlogits, full.dlogits)
    np.testing.assert_allclose(full.dlogits_via_jacobian, full.dlogits, atol=1e-15)


def test_logits_that_overflow_when_scaled_are_refused():
    with pytest.raises(OpInputError) as err:
        run_op("softmax_cross_entropy", {"logits": [[1e308, 0.0]], "labels": [0]}, {"temperature": 0.05})
    assert err.value.field == "inputs.logits" and "overflows" in err.value.message


def test_conv_backward_without_dx_matches():
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    out, cache = conv2d_forward(x, w, b, 2, 1)
    dout = rng.standard_normal(out.shape)
    full, lean = conv2d_backward(dout, cache), conv2d_backward(dout, cache, need_dx=False)
    np.testing.assert_array_equal(lean.dw, full.dw)
    np.testing.assert_array_equal(lean.db, full.db)
    assert lean.dx is None and lean.dx_col is None


@pytest.mark.parametrize("name", sorted(OPS))
def test_run_without_extras_answers_the_same_numbers(name):
    """extras=False (the gradient check's run) leaves out exactly the display-only arrays, nothing else changes."""
    spec, arrays, params = prepare(name, *OPS[name].example(np.random.default_rng(6)))
    full, lean = spec.run(arrays, params), spec.run(arrays, params, extras=False)
    assert set(full) - set(lean) == set(spec.extras)
    for key, value in lean.items():
        np.testing.assert_array_equal(value, full[key], err_msg=f"{name}.{key}")
