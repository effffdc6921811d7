"""The network lab's presets: the lecture notes' networks, each only a state (every number shown is computed).

1. ``notes``: notes 004's convnet training algorithm — conv → ReLU → max-pool → loss on one
   example, then gradient descent on the kernel. A 4×4 input, a vertical- and a
   horizontal-edge kernel, so every number can be worked by hand: the pooled outputs are
   the two logits.
2. ``lenet``: a small LeNet-like net (conv → ReLU → pool → conv → ReLU → linear) on the 8×8 digits.
3. ``resnet``: a miniature of ResNet-50's conv5_block3 (notes 000): a bottleneck block — 1×1
   conv-BN-ReLU, 3×3 conv-BN-ReLU, 1×1 conv-BN, + identity, ReLU — trained with Adam on the
   digits, opening on the gradient of its last batch norm (``conv5_block3_3_bn``: layer 4.7)
   and that parameter's Adam update, 50 steps into training (so m and v carry history).
"""

from __future__ import annotations

import numpy as np

from app.web.kit.presets import Preset
from app.web.labs.network.state import NetworkState
from engine.network.runs import parse_structure
from engine.optim import rules as optim


def _conv(filters: int, kernel: int, pad: int = 0) -> dict:
    layer = {"type": "conv2d", "filters": filters, "kernel": kernel}
    if pad:
        layer["pad"] = pad
    return layer


RELU, FLAT, BN = {"type": "relu"}, {"type": "flatten"}, {"type": "batchnorm"}
POOL2 = {"type": "maxpool2d", "size": 2}

NOTES_MODEL = {"input_shape": [1, 4, 4], "layers": [_conv(2, 3), RELU, POOL2, FLAT]}
NOTES_X = np.array([[3, 1, 0, 2], [2, 0, 1, 3], [1, 2, 0, 1], [0, 3, 2, 1]], dtype=float)
NOTES_W = np.array([[[[1, 0, -1]] * 3], [[[1, 1, 1], [0, 0, 0], [-1, -1, -1]]]], dtype=float)  # (2, 1, 3, 3)

LENET_MODEL = {"input_shape": [1, 8, 8], "layers": [
    _conv(6, 3), RELU, POOL2, _conv(12, 2), RELU, FLAT, {"type": "linear", "units": 10}]}

RESNET_MODEL = {"input_shape": [1, 8, 8], "layers": [
    _conv(8, 3, 1), BN, RELU, POOL2,
    {"type": "residual", "layers": [_conv(2, 1), BN, RELU, _conv(2, 3, 1), BN, RELU, _conv(8, 1), BN]},
    RELU, {"type": "avgpool2d", "size": 4}, FLAT, {"type": "linear", "units": 10}]}
# leaky ReLU and group norm in a small convnet, trained on the multiclass SVM loss with an L2 penalty
COURSE_MODEL = {"input_shape": [1, 8, 8], "layers": [
    _conv(4, 3, 1), {"type": "groupnorm", "groups": 2}, {"type": "leaky_relu", "slope": 0.1}, POOL2, FLAT,
    {"type": "linear", "units": 10}], "loss": "svm_loss", "reg": 0.01}
# the Keras names of ResNet-50's conv5_block3 for the block's layers (shown next to the miniature's)
RESNET_NAMES = {"4": "conv5_block3 (add)", "4.0": "conv5_block3_1_conv", "4.1": "conv5_block3_1_bn",
                "4.2": "conv5_block3_1_relu", "4.3": "conv5_block3_2_conv", "4.4": "conv5_block3_2_bn",
                "4.5": "conv5_block3_2_relu", "4.6": "conv5_block3_3_conv", "4.7": "conv5_block3_3_bn",
                "5": "conv5_block3_out", "6": "avg_pool", "8": "predictions"}


def _hp(name: str, **given) -> dict:
    return optim.clean_hyperparams(name, given)


def notes(_: int) -> NetworkState:
    return NetworkState(parse_structure(NOTES_MODEL), data="typed", x=NOTES_X[None, None], labels=np.array([1.0]),
                        init={"0.w": NOTES_W, "0.b": np.zeros(2)}, seed=0, optimizer="sgd",
                        hyperparams=_hp("sgd", lr=0.1), op="f:0", until=100)


def lenet(seed: int) -> NetworkState:
    return NetworkState(parse_structure(LENET_MODEL), data="digits", batch=32, seed=seed, optimizer="adam",
                        hyperparams=_hp("adam", lr=0.01), op="f:0", until=600)


def resnet(seed: int) -> NetworkState:
    return NetworkState(parse_structure(RESNET_MODEL), data="digits", batch=32, seed=seed, optimizer="adam",
                        hyperparams=_hp("adam", lr=0.03), step=50, op="b:4.7", until=1000)


def course(seed: int) -> NetworkState:
    return NetworkState(parse_structure(COURSE_MODEL), data="digits", batch=16, seed=seed, optimizer="adam",
                        hyperparams=_hp("adam", lr=0.01), op="f:1", until=600)


PRESETS: dict[str, Preset] = {p.key: p for p in (
    Preset("notes", "Notes: conv → ReLU → max-pool → loss",
           "Notes 004's training algorithm: one 4×4 example, two edge kernels, the pooled values are the logits; "
           "gradient descent (SGD) on the kernel.", notes),
    Preset("lenet", "LeNet-like on the digits",
           "A small LeNet-like network trained with Adam on the 8×8 handwritten digits.", lenet),
    Preset("resnet", "ResNet bottleneck (conv5_block3) + Adam",
           "Notes 000: a miniature of ResNet-50's conv5_block3 — 1×1 conv-BN-ReLU, 3×3 conv-BN-ReLU, 1×1 conv-BN, "
           "+ identity, ReLU — trained with Adam; opens on the gradient of conv5_block3_3_bn and its Adam update.",
           resnet),
    Preset("svm-groupnorm", "Group norm, leaky ReLU, SVM loss + L2",
           "cs231n's pieces in one convnet: group norm (2 groups of 2 channels), a leaky ReLU (slope 0.1), and the "
           "multiclass SVM (hinge) loss with an L2 weight penalty ½·reg·Σw², reg = 0.01.", course),
)}
DEFAULT = "lenet"
