"""The convolution lab's presets: the worked examples of the lecture notes, and random-with-seed.

Each preset is only an input state; every number the page then shows is computed.
"""

from __future__ import annotations

import numpy as np

from app.web.kit.images import cifar_sized, digit_28
from app.web.kit.presets import Preset
from app.web.labs.conv.state import ConvState


def _identity(_: int) -> ConvState:
    return ConvState(np.eye(3)[None, None], np.eye(2)[None, None], np.zeros(1))


def _notes_7_3_13_6(_: int) -> ConvState:
    x = np.array([[1, 2, 4], [3, 2, 1], [5, 2, 1]], dtype=float)
    w = np.array([[1, -1], [2, 1]], dtype=float)
    return ConvState(x[None, None], w[None, None], np.zeros(1))


def _im2col_two_channels(_: int) -> ConvState:
    x = np.arange(1, 33, dtype=float).reshape(1, 2, 4, 4)
    w = np.array([[[1, 0], [0, -1]], [[1, -1], [1, 0]]], dtype=float)[None]
    return ConvState(x, w, np.zeros(1))


def _edge_5x5(_: int) -> ConvState:
    x = np.arange(1, 26, dtype=float).reshape(1, 1, 5, 5)
    w = np.array([[1, 0, -1]] * 3, dtype=float)[None, None]
    return ConvState(x, w, np.zeros(1))


def _random(seed: int) -> ConvState:
    """Values with one decimal so they read well on a projector and in a link."""
    rng = np.random.default_rng(seed)
    x = np.round(rng.standard_normal((1, 2, 5, 5)), 1)
    w = np.round(rng.standard_normal((2, 2, 3, 3)), 1)
    b = np.round(rng.standard_normal(2), 1)
    return ConvState(x, w, b, stride=1, pad=1, dout_mode="random", dout_seed=seed)


def _mnist(seed: int) -> ConvState:
    """A 28×28 digit under a vertical- and a horizontal-edge filter (padding 1: out is 28×28 too)."""
    x, _ = digit_28(seed)
    vertical = np.array([[1, 0, -1]] * 3, dtype=float)
    return ConvState(x[None, None], np.stack([vertical, vertical.T])[:, None], np.zeros(2), stride=1, pad=1)


def _cifar(seed: int) -> ConvState:
    """A seeded 3×32×32 image (CIFAR's size) under two random 3×3×3 filters, padding 1, random dout."""
    rng = np.random.default_rng(seed)
    w = np.round(rng.standard_normal((2, 3, 3, 3)), 1)
    b = np.round(rng.standard_normal(2), 1)
    return ConvState(cifar_sized(seed), w, b, stride=1, pad=1, dout_mode="random", dout_seed=seed)


PRESETS: dict[str, Preset] = {p.key: p for p in (
    Preset("edge", "5×5 edge filter", "Notes 001: a 5×5 input and a 3×3 vertical-edge filter; every output is −6. "
           "The notes print the filter's first row as [1, 0, +1]; the stated output needs [1, 0, −1].", _edge_5x5),
    Preset("identity", "3×3 ⊛ 2×2 identity",
           "Notes 001: the identity image and an identity kernel give [[2, 0], [0, 2]].", _identity),
    Preset("notes-7-3-13-6", "3×3 ⊛ 2×2 worked", "Notes 002: the worked example whose answer is [[7, 3], [13, 6]].",
           _notes_7_3_13_6),
    Preset("im2col", "2-channel 4×4 im2col", "Notes 001: two 4×4 channels (1…16, 17…32) and a 2×2 kernel; "
           "x_col's row 0 is 1 2 3 5 6 7 9 10 11. (The notes list a third 2×2 filter equal to the first; "
           "add a filter to try it.)", _im2col_two_channels),
    Preset("random", "Random", "Random inputs with one decimal, drawn from the seed; dout random from the same seed.",
           _random),
    Preset("mnist", "MNIST-sized digit", "A handwritten digit at MNIST's size, 1×1×28×28 (one of the 8×8 digits "
           "scaled to 20×20 and centred, as MNIST lays a digit out; the seed picks which), under a vertical- and a "
           "horizontal-edge filter. Large planes are images: click a pixel to read or edit it.", _mnist),
    Preset("cifar", "CIFAR-sized", "A seeded 1×3×32×32 image (CIFAR-10's size: smooth colour fields and noise, "
           "not a photo) under two random 3×3×3 filters with padding 1.", _cifar),
)}
DEFAULT = "edge"
