"""cs231n's convolution, pooling, batch-norm and dropout checks through the public JSON API (./sources.py)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.app.published.sources import CS231N, linspace, op, printed, rel_error

# ---------------------------------------------------------------- assignment2/ConvolutionalNetworks.ipynb


def test_conv_forward_naive(client):
    """assignment2/ConvolutionalNetworks.ipynb, "Testing conv_forward_naive": x (2, 3, 4, 4), w (3, 3, 4, 4),
    stride 2, pad 1; "difference should be around e-8"."""
    x, w = linspace(-0.1, 0.5, (2, 3, 4, 4)), linspace(-0.2, 0.3, (3, 3, 4, 4))
    b = np.linspace(-0.1, 0.2, num=3)
    out = op(client, "conv2d", {"x": x.tolist(), "w": w.tolist(), "b": b.tolist()}, {"stride": 2, "pad": 1})["out"]
    correct_out = np.array([[[[-0.08759809, -0.10987781], [-0.18387192, -0.2109216]],
                             [[0.21027089, 0.21661097], [0.22847626, 0.23004637]],
                             [[0.50813986, 0.54309974], [0.64082444, 0.67101435]]],
                            [[[-0.98053589, -1.03143541], [-1.19128892, -1.24695841]],
                             [[0.69108355, 0.66880383], [0.59480972, 0.56776003]],
                             [[2.36270298, 2.36904306], [2.38090835, 2.38247847]]]])
    assert rel_error(out, correct_out) < 1e-7, CS231N


def test_max_pool_forward_naive(client):
    """assignment2/ConvolutionalNetworks.ipynb, "Testing max_pool_forward_naive function": 2×2 windows, stride 2;
    "difference should be on the order of e-8"."""
    x = linspace(-0.3, 0.4, (2, 3, 4, 4))
    out = op(client, "maxpool2d", {"x": x.tolist()}, {"size": 2, "stride": 2})["out"]
    correct_out = np.array([[[[-0.26315789, -0.24842105], [-0.20421053, -0.18947368]],
                             [[-0.14526316, -0.13052632], [-0.08631579, -0.07157895]],
                             [[-0.02736842, -0.01263158], [0.03157895, 0.04631579]]],
                            [[[0.09052632, 0.10526316], [0.14947368, 0.16421053]],
                             [[0.20842105, 0.22315789], [0.26736842, 0.28210526]],
                             [[0.32631579, 0.34105263], [0.38526316, 0.4]]]])
    assert rel_error(out, correct_out) < 1e-7, CS231N


def _stats(a, axes):
    return a.mean(axis=axes), a.std(axis=axes)


def test_spatial_batchnorm_train(client):
    """assignment2/ConvolutionalNetworks.ipynb, spatial batch normalization (training-time): x (2, 3, 4, 5)
    from seed 231; the printed means and stds after normalization, plain and with γ = (3, 4, 5), β = (6, 7, 8)."""
    np.random.seed(231)
    x = 4 * np.random.randn(2, 3, 4, 5) + 10
    printed(x.mean(axis=(0, 2, 3)), [9.33463814, 8.90909116, 9.11056338])  # the input is the notebook's
    a = op(client, "batchnorm", {"x": x.tolist()}, {"mode": "train"})
    mean, std = _stats(a["out"], (0, 2, 3))
    printed(mean, [6.18949336e-16, 5.99520433e-16, -1.22124533e-16])
    printed(std, [0.99999962, 0.99999951, 0.9999996])
    a = op(client, "batchnorm", {"x": x.tolist(), "gamma": [3, 4, 5], "beta": [6, 7, 8]}, {"mode": "train"})
    mean, std = _stats(a["out"], (0, 2, 3))
    printed(mean, [6.0, 7.0, 8.0])
    printed(std, [2.99999885, 3.99999804, 4.99999798])


def _warm_up(client, batches, gamma, beta, params):
    """cs231n's bn_param dict across calls: the running statistics each answer gives go into the next call."""
    running = {"running_mean": np.zeros_like(gamma).tolist(), "running_var": np.zeros_like(gamma).tolist()}
    for x in batches:
        a = op(client, "batchnorm", {"x": x.tolist(), "gamma": gamma.tolist(), "beta": beta.tolist(), **running},
               {**params, "mode": "train"})
        running = {"running_mean": a["running_mean"].tolist(), "running_var": a["running_var"].tolist()}
    return running


def test_spatial_batchnorm_test_time(client):
    """assignment2/ConvolutionalNetworks.ipynb, spatial batch normalization (test-time): 50 training passes on
    seeded (10, 4, 11, 12) batches warm the running statistics (cs231n's: running = 0.9·running + 0.1·batch,
    biased variance, starting at 0 — the "cs231n" convention), then one eval pass; its printed means and stds."""
    np.random.seed(231)
    gamma, beta = np.ones(4), np.zeros(4)
    batches = [2.3 * np.random.randn(10, 4, 11, 12) + 13 for _ in range(50)]
    running = _warm_up(client, batches, gamma, beta, {"convention": "cs231n"})
    x = 2.3 * np.random.randn(10, 4, 11, 12) + 13
    a = op(client, "batchnorm", {"x": x.tolist(), "gamma": gamma.tolist(), "beta": beta.tolist(), **running},
           {"mode": "eval", "convention": "cs231n"})
    mean, std = _stats(a["out"], (0, 2, 3))
    printed(mean, [-0.08034406, 0.07562881, 0.05716371, 0.04378383])
    printed(std, [0.96718744, 1.0299714, 1.02887624, 1.00585577])


# ---------------------------------------------------------------- assignment2/BatchNormalization.ipynb


def _two_layer_activations(n=200):
    np.random.seed(231)
    x = np.random.randn(n, 50)
    w1, w2 = np.random.randn(50, 60), np.random.randn(60, 3)
    return np.maximum(0, x.dot(w1)).dot(w2)


def test_batchnorm_train(client):
    """assignment2/BatchNormalization.ipynb, "Check the training-time forward pass": the activations of a
    seeded two-layer net on 200 samples; printed means and stds after batch norm."""
    a = _two_layer_activations()
    printed(a.mean(axis=0), [-2.3814598, -13.18038246, 1.91780462])  # the input is the notebook's
    printed(a.std(axis=0), [27.18502186, 34.21455511, 37.68611762])
    out = op(client, "batchnorm", {"x": a.tolist()}, {"mode": "train"})["out"]
    printed(out.mean(axis=0), [2.22044605e-17, 8.38218384e-17, 4.46864767e-17])
    printed(out.std(axis=0), [0.99999999, 1.0, 1.0])
    out = op(client, "batchnorm", {"x": a.tolist(), "gamma": [1.0, 2.0, 3.0], "beta": [11.0, 12.0, 13.0]},
             {"mode": "train"})["out"]
    printed(out.mean(axis=0), [11.0, 12.0, 13.0])
    printed(out.std(axis=0), [0.99999999, 1.99999999, 2.99999999])


def test_batchnorm_test_time(client):
    """assignment2/BatchNormalization.ipynb, "Check the test-time forward pass": 50 training passes warm the
    running statistics (cs231n's convention, from 0), then a test-time pass; its printed means and stds."""
    np.random.seed(231)
    w1, w2 = np.random.randn(50, 60), np.random.randn(60, 3)
    batches = [np.maximum(0, np.random.randn(200, 50).dot(w1)).dot(w2) for _ in range(50)]
    running = _warm_up(client, batches, np.ones(3), np.zeros(3), {"convention": "cs231n"})
    a = np.maximum(0, np.random.randn(200, 50).dot(w1)).dot(w2)
    out = op(client, "batchnorm", {"x": a.tolist(), **running}, {"mode": "eval", "convention": "cs231n"})["out"]
    printed(out.mean(axis=0), [-0.03927354, -0.04349152, -0.10452688])
    printed(out.std(axis=0), [1.01531428, 1.01238373, 0.97819988])


# ---------------------------------------------------------------- assignment2/Dropout.ipynb


@pytest.fixture(scope="module")
def dropout_inputs():
    """x = randn(500, 500) + 10 from seed 231, then one rand(500, 500) per p as the notebook's
    dropout_forward draws them: mask = rand < p (cs231n's p keeps), passed as the given mask."""
    np.random.seed(231)
    x = np.random.randn(500, 500) + 10
    return x, {p: (np.random.rand(500, 500) < p).astype(int) for p in (0.25, 0.4, 0.7)}


@pytest.mark.parametrize("p, train_mean, zeros", [(0.25, 10.014059116977283, 0.749784),
                                                  (0.4, 9.977917658761159, 0.600796),
                                                  (0.7, 9.987811912159426, 0.30074)])
def test_dropout_train_time_with_the_notebooks_masks(client, dropout_inputs, p, train_mean, zeros):
    """assignment2/Dropout.ipynb, "Running tests with p = ...": the mean of the train-time output and the fraction
    set to zero, printed to full precision (mean of the input: 10.000207878477502)."""
    x, masks = dropout_inputs
    assert x.mean() == pytest.approx(10.000207878477502, rel=1e-15)
    train = op(client, "dropout", {"x": x.tolist(), "mask": masks[p].tolist()}, {"p": p, "p_means": "keep"})
    assert train["out"].mean() == pytest.approx(train_mean, rel=1e-13), CS231N
    assert (train["out"] == 0).mean() == zeros, CS231N


def test_dropout_test_time(client, dropout_inputs):
    """assignment2/Dropout.ipynb: "Mean of test-time output: 10.000207878477502", no value set to zero (any p)."""
    x, _ = dropout_inputs
    test = op(client, "dropout", {"x": x.tolist()}, {"p": 0.25, "p_means": "keep", "mode": "eval"})
    assert test["out"].mean() == pytest.approx(10.000207878477502, rel=1e-15), CS231N
    assert (test["out"] == 0).mean() == 0.0
