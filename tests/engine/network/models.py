"""Models and batches the whole-network tests share."""

import numpy as np

from engine.network.model import infer_shapes, parse_model


def conv(filters, kernel, stride=1, pad=0):
    return {"type": "conv2d", "filters": filters, "kernel": kernel, "stride": stride, "pad": pad}


RELU, FLAT = {"type": "relu"}, {"type": "flatten"}


def lin(units):
    return {"type": "linear", "units": units}


# CONVENTIONS.md's example model, verbatim
EXAMPLE = {
    "input_shape": [1, 8, 8],
    "layers": [
        {"type": "conv2d", "filters": 4, "kernel": 3, "stride": 1, "pad": 1},
        {"type": "batchnorm", "eps": 1e-5, "momentum": 0.1, "convention": "pytorch"},
        {"type": "relu"},
        {"type": "maxpool2d", "size": 2, "stride": 2},
        {"type": "residual", "layers": [{"type": "conv2d", "filters": 4, "kernel": 1}, {"type": "relu"}]},
        {"type": "dropout", "p": 0.25},
        {"type": "flatten"},
        {"type": "linear", "units": 10},
    ],
    "loss": "softmax_cross_entropy",
}


def batch(model, n, seed):
    rng = np.random.default_rng(seed)
    m = parse_model(model)
    k = infer_shapes(m)[-1].out_shape[0]
    return rng.normal(size=(n, *m.input_shape)), rng.integers(0, k, n)


GRAD_MODELS = {
    "conv-relu-maxpool-flatten-linear": {"input_shape": [2, 6, 6], "layers": [
        conv(3, 3, 1, 1), RELU, {"type": "maxpool2d", "size": 2}, FLAT, lin(3)]},
    "conv-batchnorm-relu-avgpool-flatten-linear": {"input_shape": [2, 5, 5], "layers": [
        conv(3, 3, 2, 1), {"type": "batchnorm"}, RELU, {"type": "avgpool2d", "size": 2, "stride": 1}, FLAT, lin(3)]},
    "conv-residual(conv1x1-relu)-flatten-linear": {"input_shape": [2, 4, 4], "layers": [
        conv(2, 3, 1, 1), {"type": "residual", "layers": [conv(2, 1), RELU]}, FLAT, lin(3)]},
    "nested-residual-dropout-overlapping-maxpool": {"input_shape": [2, 5, 5], "layers": [
        {"type": "residual", "layers": [conv(2, 3, 1, 1), {"type": "residual", "layers": [conv(2, 1), RELU]}]},
        {"type": "maxpool2d", "size": 3, "stride": 2}, {"type": "dropout", "p": 0.3}, FLAT, lin(3)]},
    "features-linear-batchnorm-relu-dropout-linear": {"input_shape": [5], "layers": [
        lin(4), {"type": "batchnorm", "convention": "cs231n"}, RELU, {"type": "dropout", "p": 0.2}, lin(3)]},
}
