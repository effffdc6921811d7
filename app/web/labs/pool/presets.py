"""The pooling lab's presets: the worked examples of the lecture notes, overlaps, ties, random-with-seed.

Each preset is only an input state; every number the page then shows is computed.
"""

from __future__ import annotations

import numpy as np

from app.web.kit.images import cifar_sized, digit_28
from app.web.kit.presets import Preset
from app.web.labs.pool.state import PoolState


def _plane(rows) -> np.ndarray:
    return np.array(rows, dtype=np.float64)[None, None]


def _notes_4x4(_: int) -> PoolState:
    return PoolState(_plane([[2, 1, -11, 0], [0, 10, -15, -16], [23, 100, 2, 3], [-23, 0, 7, 20]]), "max", 2, 2)


def _notes_routing(_: int) -> PoolState:
    return PoolState(_plane([[1, 3], [2, 4]]), "max", 2, 2, dout_mode="typed", dout_typed=_plane([[10]]),
                     relu_dout_typed=np.ones((1, 1, 2, 2)))


def _overlap(_: int) -> PoolState:
    # 9 is the maximum of all four 2×2 windows around it: their four dout cells add up in dx[0, 0, 1, 1]
    x = _plane([[1, 2, 3, 0], [4, 9, 5, 1], [0, 6, 2, 3], [1, 0, 2, 4]])
    dout = _plane([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    return PoolState(x, "max", 2, 1, dout_mode="typed", dout_typed=dout, relu_dout_typed=np.ones(x.shape))


def _ties(_: int) -> PoolState:
    # every window has equal maxima: the first in row-major window order wins (and ReLU meets x = 0)
    return PoolState(_plane([[5, 5, 1, 2], [3, 5, 0, 2], [7, 1, 4, 4], [0, 7, 4, 4]]), "max", 2, 2)


def _relu_notes(_: int) -> PoolState:
    x = _plane([[-5, 4], [0, 2]])
    return PoolState(x, "max", 2, 2, dout_mode="typed", dout_typed=_plane([[1]]),
                     relu_dout_typed=_plane([[1, 3], [2, 4]]))


def _random(seed: int) -> PoolState:
    """Values with one decimal so they read well on a projector and in a link (ties can happen: the badge says so)."""
    rng = np.random.default_rng(seed)
    x = np.round(2 * rng.standard_normal((1, 2, 6, 6)), 1)
    return PoolState(x, "max", 3, 2, dout_mode="random", dout_seed=seed)


def _mnist(seed: int) -> PoolState:
    x, _ = digit_28(seed)
    return PoolState(x[None, None], "max", 2, 2)


def _cifar(seed: int) -> PoolState:
    return PoolState(cifar_sized(seed), "max", 2, 2, dout_mode="random", dout_seed=seed)


PRESETS: dict[str, Preset] = {p.key: p for p in (
    Preset("notes-4x4", "4×4 max pool (notes)", "Notes 001: a 4×4 image, 2×2 windows, stride 2 → [[10, 0], [100, 20]].",
           _notes_4x4),
    Preset("notes-routing", "2×2 routing (notes)", "Notes 001: x = [[1, 3], [2, 4]] pools to 4; dout = 10 is routed to "
           "the 4: dx = [[0, 0], [0, 10]].", _notes_routing),
    Preset("overlap", "Overlapping windows", "2×2 windows with stride 1: the 9 wins four windows, so four dout cells "
           "add up in one dx cell.", _overlap),
    Preset("ties", "Ties", "Every window holds equal maxima: the first one in row-major window order wins, as in "
           "PyTorch, and only it gets the gradient.", _ties),
    Preset("relu-notes", "ReLU 2×2 (notes)", "Notes 004: x = [[−5, 4], [0, 2]] → y = [[0, 4], [0, 2]]; dy = [[1, 3], "
           "[2, 4]] → dx = [[0, 3], [0, 4]] (x = 0 passes no gradient).", _relu_notes),
    Preset("random", "Random", "Random inputs with one decimal drawn from the seed; 3×3 windows, stride 2 (they "
           "overlap); dout random from the same seed.", _random),
    Preset("mnist", "MNIST-sized digit", "A handwritten digit at MNIST's size, 1×1×28×28 (one of the 8×8 digits "
           "scaled to 20×20 and centred, as MNIST lays a digit out; the seed picks which), max-pooled 2×2, stride 2, "
           "to 14×14 as LeNet does. Large planes are images: click a pixel to read or edit it.", _mnist),
    Preset("cifar", "CIFAR-sized", "A seeded 1×3×32×32 image (CIFAR-10's size: smooth colour fields and noise, not "
           "a photo) max-pooled 2×2, stride 2, to 16×16; dout random from the same seed.", _cifar),
)}
DEFAULT = "notes-4x4"
