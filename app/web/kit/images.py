"""Real-sized images for the conv and pool labs' presets: an MNIST-sized digit and a CIFAR-sized random image.

There is no MNIST sample in the project (nothing is downloaded). :func:`digit_28` lays one of the 8×8
handwritten digits (engine/data/digits.py, scikit-learn's copy of the UCI set) out as MNIST lays a digit out:
scaled to 20×20 (bilinear), centred in a 28×28 field of zeros, pixels 0–1 to two decimals. It is an 8×8 digit
in MNIST's geometry, not an MNIST sample, and the presets say so.
"""

from __future__ import annotations

import numpy as np

from engine.data import digits

MNIST_SIDE, MNIST_BOX = 28, 20  # MNIST: a digit scaled into a 20×20 box, centred in 28×28
CIFAR_SHAPE = (1, 3, 32, 32)


def _bilinear(image: np.ndarray, side: int) -> np.ndarray:
    """``image`` (h, w) resampled to (side, side) by bilinear interpolation (pixel centres aligned)."""
    h, w = image.shape
    rows = (np.arange(side) + 0.5) * h / side - 0.5
    cols = (np.arange(side) + 0.5) * w / side - 0.5
    across = np.array([np.interp(cols, np.arange(w), row) for row in image])  # (h, side)
    return np.array([np.interp(rows, np.arange(h), across[:, j]) for j in range(side)]).T


def digit_28(seed: int) -> tuple[np.ndarray, int]:
    """(a (28, 28) digit with pixels 0–1 to two decimals, its label): the 8×8 digit number ``seed`` (mod 1,797)."""
    data = digits.load()
    index = seed % len(data.labels)
    box = _bilinear(data.pixels[index].astype(np.float64) / digits.PIXEL_MAX, MNIST_BOX)
    field = np.zeros((MNIST_SIDE, MNIST_SIDE))
    at = (MNIST_SIDE - MNIST_BOX) // 2
    field[at:at + MNIST_BOX, at:at + MNIST_BOX] = np.clip(box, 0.0, 1.0)
    return np.round(field, 2), int(data.labels[index])


def cifar_sized(seed: int) -> np.ndarray:
    """A (1, 3, 32, 32) image of smooth seeded colour fields with noise, one decimal: CIFAR's size, not a photo."""
    rng = np.random.default_rng([seed, 0xC1FA])
    yy, xx = np.mgrid[0:32, 0:32] / 31.0
    planes = []
    for _ in range(3):
        a, b, c = rng.uniform(-1.5, 1.5, 3)
        planes.append(a * xx + b * yy + c * np.sin(3 * (xx + yy)) + 0.3 * rng.standard_normal((32, 32)))
    return np.round(np.array(planes)[None], 1)
