"""The lecture notes' batch norm, layer norm and dropout, as named regression tests.

002 (batch norm train/test code, the staged backward code, layer norm as batch norm of the
transpose, dropout with a keep probability), 003 (backprop through batch norm on a
two-sample batch) and 000 (batch norm backward in a ResNet layer). Numbers are derived by
hand here; the notes' code is copied only as an oracle for its semantics.
"""

import math

import numpy as np
import pytest

from engine.ops.batchnorm import batchnorm_backward, batchnorm_forward
from engine.ops.dropout import dropout_expectation
from engine.registry import run_op

EPS = 1e-5


# --------------------------------------------------------------------------- 003: two samples


def test_notes_two_sample_batchnorm_by_hand():
    """003's slides: dL/dμ and dL/dx₁ for m = 2, with numbers.

    Feature 0: x = (1, 3) → μ = 2, σ² = ((−1)² + 1²)/2 = 1, σ = √(1 + ε), x̂ = (−1, 1)/σ.
    Feature 1: x = (10, 4) → μ = 7, σ² = (9 + 9)/2 = 9, σ = √(9 + ε), x̂ = (3, −3)/σ.
    """
    x = np.array([[1.0, 10.0], [3.0, 4.0]])
    gamma, beta = np.array([2.0, 0.5]), np.array([0.5, -1.0])
    dout = np.array([[0.3, 1.0], [-1.2, 2.0]])
    a = run_op("batchnorm", {"x": x, "gamma": gamma, "beta": beta, "dout": dout}, {"eps": EPS})

    s0, s1 = math.sqrt(1 + EPS), math.sqrt(9 + EPS)
    np.testing.assert_allclose(a["mean"], [2.0, 7.0], rtol=1e-15)
    np.testing.assert_allclose(a["var"], [1.0, 9.0], rtol=1e-15)
    np.testing.assert_allclose(a["x_hat"], [[-1 / s0, 3 / s1], [1 / s0, -3 / s1]], rtol=1e-14)
    # x̂ is ±1/√(1 + ε/σ²) whatever x is: the output barely depends on x
    np.testing.assert_allclose(np.abs(a["x_hat"]), [[1 / math.sqrt(1 + EPS), 1 / math.sqrt(1 + EPS / 9)]] * 2,
                               rtol=1e-14)
    np.testing.assert_allclose(a["out"], [[0.5 - 2 / s0, -1 + 1.5 / s1], [0.5 + 2 / s0, -1 - 1.5 / s1]], rtol=1e-14)

    # ∂L/∂x̂ᵢ = ∂L/∂yᵢ·γ
    np.testing.assert_allclose(a["dx_hat"], [[0.6, 0.5], [-2.4, 1.0]], rtol=1e-15)
    # ∂L/∂σ² = Σ ∂L/∂x̂ᵢ·(xᵢ − μ)·(−½)(σ² + ε)^(−3/2)
    #   feature 0: (0.6·(−1) + (−2.4)·1)·(−½)/s0³ = 1.5/s0³
    #   feature 1: (0.5·3 + 1.0·(−3))·(−½)/s1³ = 0.75/s1³
    np.testing.assert_allclose(a["dvar"], [1.5 / s0**3, 0.75 / s1**3], rtol=1e-13)
    # ∂L/∂μ = Σ ∂L/∂x̂ᵢ·(−1/σ) + ∂L/∂σ²·(−2(x₁ − μ) − 2(x₂ − μ))/2, and the last factor is 0
    np.testing.assert_allclose(a["dmean"], [1.8 / s0, -1.5 / s1], rtol=1e-13)
    # ∂L/∂x₁ = ∂L/∂x̂₁/σ + ∂L/∂σ²·2(x₁ − μ)/2 + ∂L/∂μ/2
    #   feature 0: 0.6/s0 − 1.5/s0³ + 0.9/s0 = 1.5(s0² − 1)/s0³ = 1.5ε/s0³
    #   feature 1: 0.5/s1 + 3·0.75/s1³ − 0.75/s1 = −0.25(s1² − 9)/s1³ = −0.25ε/s1³
    want_dx = np.array([[1.5 * EPS / s0**3, -0.25 * EPS / s1**3], [-1.5 * EPS / s0**3, 0.25 * EPS / s1**3]])
    # the staged sum cancels terms of size ~1 down to ~1e-5, so compare with an absolute tolerance
    np.testing.assert_allclose(a["dx"], want_dx, rtol=1e-6, atol=1e-15)
    np.testing.assert_allclose(a["dx_compact"], want_dx, rtol=1e-6, atol=1e-15)
    assert np.abs(a["dx"]).max() < 2e-5  # while |dL/dy| is up to 2
    # the gradient goes to γ and β instead: dγ = Σ dout·x̂, dβ = Σ dout
    np.testing.assert_allclose(a["dgamma"], [(-0.3 - 1.2) / s0, (3.0 - 6.0) / s1], rtol=1e-14)
    np.testing.assert_allclose(a["dbeta"], [-0.9, 3.0], rtol=1e-15)


@pytest.mark.parametrize("seed", range(5))
def test_notes_two_sample_dx_is_nearly_zero_whatever_dout(seed):
    """With m = 2, dxᵢ = γ(dᵢ − dⱼ)·ε / (2σ(σ² + ε)) exactly: of order ε, not of order dout.

    (From the compact formula: 2dᵢ − (dᵢ + dⱼ) − x̂ᵢ·Σ d·x̂ = (dᵢ − dⱼ)(1 − x̂ᵢ²), and
    x̂ᵢ² = σ²/(σ² + ε).) As ε → 0 the output ±γ + β no longer depends on x at all. The two
    samples are kept 1–3 apart (σ² ≥ 0.25): when they nearly coincide, σ² is itself of order ε
    and the gradient is no longer small.
    """
    rng = np.random.default_rng(seed)
    x0 = rng.normal(size=4)
    x = np.stack([x0, x0 + rng.uniform(1, 3, size=4) * rng.choice([-1, 1], size=4)])
    gamma = rng.normal(size=4)
    dout = rng.normal(scale=10.0, size=(2, 4))
    _, cache = batchnorm_forward(x, gamma, np.zeros(4), eps=EPS)
    g = batchnorm_backward(dout, cache)
    var = (x[0] - x[1]) ** 2 / 4
    want0 = gamma * (dout[0] - dout[1]) * EPS / (2 * np.sqrt(var + EPS) * (var + EPS))
    np.testing.assert_allclose(g.dx[0], want0, rtol=1e-5, atol=1e-14)
    np.testing.assert_allclose(g.dx[1], -want0, rtol=1e-5, atol=1e-14)
    # |dx| ≤ |γ|·2·max|dout|·ε/(2σ³) ≤ 8e-5·|γ|·max|dout| for σ² ≥ 0.25: tiny next to dout
    assert np.all(np.abs(g.dx) <= 1e-4 * np.abs(dout).max() * np.abs(gamma).max())
    # but with a big ε the same batch does pass a gradient (why the gradcheck uses ε = 0.5 there)
    _, big = batchnorm_forward(x, gamma, np.zeros(4), eps=0.5)
    assert np.abs(batchnorm_backward(dout, big).dx).max() > 1e3 * np.abs(g.dx).max()


# --------------------------------------------------------------------------- 002: batch norm code


def notes_batchnorm_forward(x, gamma, beta, running_mean, running_var, eps, momentum, mode):
    """002's code, verbatim apart from line joins (mode "test" is the engine's "eval")."""
    if mode == "train":
        mean = x.mean(axis=0)  # (D, )
        var = x.var(axis=0)  # (D, )
        x_hat = (x - mean) / np.sqrt(var + eps)  # zero mean and one unit
        out = x_hat * gamma + beta  # the target scale and shift
        running_mean = momentum * running_mean + (1 - momentum) * mean
        running_var = momentum * running_var + (1 - momentum) * var
    elif mode == "test":
        x_hat = (x - running_mean) / np.sqrt(running_var + eps)
        out = x_hat * gamma + beta
    return out, x_hat, running_mean, running_var


def notes_batchnorm_backward(dout, x, gamma, mean, var, x_hat, eps):
    """002's staged backward code, verbatim apart from line joins."""
    m = x.shape[0]
    dhat = dout * gamma
    dvar = (dhat * (x - mean) * (-0.5) * ((var + eps) ** (-1.5))).sum(axis=0)
    dmean = (dhat * -((var + eps) ** (-0.5)) + dvar * -2 * (x - mean) / m).sum(axis=0)
    dx = dhat / ((var + eps) ** 0.5) + dvar * 2 * (x - mean) / m + dmean / m
    dgamma = (dout * x_hat).sum(axis=0)
    dbeta = dout.sum(axis=0)
    return dhat, dvar, dmean, dx, dgamma, dbeta


def test_notes_batchnorm_train_code_is_the_cs231n_convention():
    """002: momentum 0.9, r ← m·r + (1 − m)·batch, biased variance, over three batches."""
    rng = np.random.default_rng(0)
    gamma, beta = np.array([1.5, -0.5, 2.0]), np.array([0.1, 0.2, -0.3])
    rm, rv = np.zeros(3), np.ones(3)
    for _ in range(3):
        x = rng.normal(1.0, 2.0, size=(5, 3))
        want_out, want_x_hat, want_rm, want_rv = notes_batchnorm_forward(x, gamma, beta, rm, rv, EPS, 0.9, "train")
        a = run_op("batchnorm", {"x": x, "gamma": gamma, "beta": beta, "running_mean": rm, "running_var": rv},
                   {"convention": "cs231n"})  # momentum omitted: the convention's 0.9
        assert float(a["momentum"]) == 0.9
        np.testing.assert_allclose(a["out"], want_out, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(a["x_hat"], want_x_hat, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(a["running_mean"], want_rm, rtol=1e-13)
        np.testing.assert_allclose(a["running_var"], want_rv, rtol=1e-13)
        rm, rv = a["running_mean"], a["running_var"]
    # PyTorch's convention gives different running statistics for the same batches
    p = run_op("batchnorm", {"x": x, "gamma": gamma, "beta": beta})
    assert not np.allclose(p["running_var"], notes_batchnorm_forward(x, gamma, beta, np.zeros(3), np.ones(3),
                                                                     EPS, 0.9, "train")[3])


def test_notes_batchnorm_test_code_is_eval_mode():
    rng = np.random.default_rng(1)
    x, gamma, beta = rng.normal(size=(4, 3)), rng.normal(size=3), rng.normal(size=3)
    rm, rv = rng.normal(size=3), rng.uniform(0.5, 2, size=3)
    want_out, want_x_hat, _, _ = notes_batchnorm_forward(x, gamma, beta, rm, rv, EPS, 0.9, "test")
    a = run_op("batchnorm", {"x": x, "gamma": gamma, "beta": beta, "running_mean": rm, "running_var": rv},
               {"mode": "eval", "convention": "cs231n"})
    np.testing.assert_allclose(a["out"], want_out, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(a["x_hat"], want_x_hat, rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(a["running_mean"], rm)
    np.testing.assert_array_equal(a["running_var"], rv)


@pytest.mark.parametrize("n", [3, 8])
def test_notes_batchnorm_backward_code(n):
    """002's staged backward: dhat, dvar, dmean, dx, dgamma, dbeta, array for array."""
    rng = np.random.default_rng(n)
    x, dout = rng.normal(size=(n, 4)), rng.normal(size=(n, 4))
    gamma, beta = rng.normal(size=4), rng.normal(size=4)
    a = run_op("batchnorm", {"x": x, "gamma": gamma, "beta": beta, "dout": dout})
    want = notes_batchnorm_backward(dout, x, gamma, a["mean"], a["var"], a["x_hat"], EPS)
    for name, value in zip(("dx_hat", "dvar", "dmean", "dx", "dgamma", "dbeta"), want, strict=True):
        np.testing.assert_allclose(a[name], value, rtol=1e-12, atol=1e-14, err_msg=name)
    np.testing.assert_allclose(a["dx_compact"], want[3], rtol=1e-9, atol=1e-13)


def test_notes_layernorm_is_batchnorm_of_the_transpose():
    """002: "if we apply batch normalization to the transpose of matrix A, that is layer normalization"
    (with γ = 1, β = 0; batch norm's γ, β would be per sample, layer norm's are per feature)."""
    rng = np.random.default_rng(2)
    x, dout = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    ln = run_op("layernorm", {"x": x, "dout": dout})
    bn = run_op("batchnorm", {"x": x.T, "dout": dout.T})
    np.testing.assert_allclose(ln["x_hat"], bn["x_hat"].T, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(ln["mean"], bn["mean"], rtol=1e-13)
    np.testing.assert_allclose(ln["var"], bn["var"], rtol=1e-13)
    np.testing.assert_allclose(ln["dx"], bn["dx"].T, rtol=1e-10, atol=1e-14)
    # and layer norm has no running statistics: the test-time output is computed the same way
    assert "running_mean" not in ln


# --------------------------------------------------------------------------- 002: dropout code


def notes_dropout_forward(x, p, mode, u):
    """002's dropout code with np.random.rand(*x.shape) replaced by the given draws ``u``."""
    mask = None
    if mode == "train":
        mask = (u < p) / p
        out = mask * x
    elif mode == "test":
        out = x
    return out.astype(x.dtype, copy=False), mask


@pytest.mark.parametrize("p", [0.5, 0.8, 0.25])
def test_notes_dropout_keep_probability(p):
    """002 keeps a value with probability p and divides by p: the engine's p_means="keep".

    The notes seed the legacy global generator (np.random.seed, np.random.rand); the engine
    draws from np.random.default_rng(seed), so the same seed gives other masks but the same rule.
    The notes' mask already holds 1/p; the engine keeps the 0/1 mask and the scale apart.
    """
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 6))
    a = run_op("dropout", {"x": x}, {"p": p, "seed": 17, "p_means": "keep"})
    u = np.random.default_rng(17).random(x.shape)
    want_out, want_mask = notes_dropout_forward(x, p, "train", u)
    np.testing.assert_allclose(a["mask"] * a["scale"], want_mask, rtol=1e-15)
    np.testing.assert_allclose(a["out"], want_out, rtol=1e-15)
    # the notes' p = 0.8 keeps 80 % of the values; PyTorch's p = 0.8 would drop 80 %
    many = run_op("dropout", {"x": np.ones((100, 100))}, {"p": p, "seed": 4, "p_means": "keep"})["mask"]
    assert abs(many.mean() - p) < 0.02
    ev = run_op("dropout", {"x": x}, {"p": p, "mode": "eval", "p_means": "keep"})
    np.testing.assert_array_equal(ev["out"], notes_dropout_forward(x, p, "test", u)[0])


def test_notes_dropout_divide_keeps_the_expectation():
    """002: "To ensure the expected value remains the same after the dropout, we divide each value by p"."""
    x = np.array([2.0, -1.0, 0.5])
    mean = dropout_expectation(x, 0.5, draws=4000, seed=1, p_means="keep")
    # each draw is 2x or 0: standard deviation of the mean |x|/√4000 ≈ 0.016·|x|
    np.testing.assert_allclose(mean, x, rtol=0.08)


# --------------------------------------------------------------------------- 000: BN in a ResNet


def resnet_note_batch_norm_backward(x, gamma, beta, mu, var, error_signal, epsilon=1e-5):
    """000's batch_norm_backward, verbatim."""
    N = x.shape[0]
    x_hat = (x - mu) / np.sqrt(var + epsilon)
    dgamma = np.sum(error_signal * x_hat, axis=0)
    dbeta = np.sum(error_signal, axis=0)
    dx_hat = error_signal * gamma
    dvar = np.sum(dx_hat * (x - mu) * -0.5 * (var + epsilon) ** (-1.5), axis=0)
    dmu = np.sum(dx_hat * (-1 / np.sqrt(var + epsilon)), axis=0) + dvar * np.sum(-2 * (x - mu), axis=0) / N
    dx = dx_hat / np.sqrt(var + epsilon) + dvar * 2 * (x - mu) / N + dmu / N
    return dx, dgamma, dbeta


def test_notes_resnet_bn_backward_over_n_h_w():
    """000's BN backward is right for a conv layer once its "batch" axis holds all N·H·W positions.

    000's usage example averages an NHWC tensor over axis 0 only (μ of shape (10, 10, 16)):
    per-position statistics, not a conv layer's batch norm, which shares μ and σ² per channel
    over N, H and W (CONVENTIONS.md). Flattening NCHW to (N·H·W, C) makes the two agree.
    """
    rng = np.random.default_rng(5)
    n, c, h, w = 3, 4, 2, 3
    x, dout = rng.normal(size=(n, c, h, w)), rng.normal(size=(n, c, h, w))
    gamma, beta = rng.normal(size=c), rng.normal(size=c)
    a = run_op("batchnorm", {"x": x, "gamma": gamma, "beta": beta, "dout": dout})

    flat = x.transpose(0, 2, 3, 1).reshape(-1, c)  # (N·H·W, C), channels last
    dflat = dout.transpose(0, 2, 3, 1).reshape(-1, c)
    mu, var = flat.mean(axis=0), flat.var(axis=0)
    dx, dgamma, dbeta = resnet_note_batch_norm_backward(flat, gamma, beta, mu, var, dflat)
    np.testing.assert_allclose(a["mean"], mu, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(a["dgamma"], dgamma, rtol=1e-12)
    np.testing.assert_allclose(a["dbeta"], dbeta, rtol=1e-12)
    np.testing.assert_allclose(a["dx"], dx.reshape(n, h, w, c).transpose(0, 3, 1, 2), rtol=1e-10, atol=1e-13)

    # the example's axis-0-only statistics are a different layer: one μ per (h, w, c), not per c
    nhwc = x.transpose(0, 2, 3, 1)
    assert nhwc.mean(axis=0).shape == (h, w, c) and a["mean"].shape == (c,)
    assert not np.allclose(nhwc.mean(axis=0), a["mean"])
