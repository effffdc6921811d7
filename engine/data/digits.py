"""The 8×8 handwritten digits (1,797 images), read with NumPy from the copy in engine/data/.

- :func:`load`: every image as integer pixels 0–16, shape (1797, 8, 8), and its label 0–9.
- :func:`split`: a seeded, stratified train/test split (each class split in the same
  proportion), with the images normalised for a network: x = (pixels/16 − μ)/σ, μ and σ the
  mean and standard deviation of the TRAINING pixels/16 (one number each, so a drawn digit
  is normalised the same way: :meth:`Split.normalise`).
- :func:`batch_positions`: which training examples step t of a seeded training run uses:
  epochs of a fresh permutation each, batches of B in order, the last partial batch dropped,
  so any step can be found without replaying the ones before it.

The data file is scikit-learn's ``digits.csv.gz`` (BSD-3; UCI ML hand-written digits, CC BY
4.0): see engine/data/README.md.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from engine.records import OpInputError

DATA_FILE = Path(__file__).resolve().parent / "digits.csv.gz"
COUNT, SIDE, CLASSES, PIXEL_MAX = 1797, 8, 10, 16
TEST_FRACTION = 0.2
_PERMUTATION_STREAM = 0xBA7C  # batch order draws from its own stream of the seed


@dataclass(frozen=True)
class Digits:
    pixels: np.ndarray  # (1797, 8, 8) int64, 0–16 (read-only)
    labels: np.ndarray  # (1797,) int64, 0–9 (read-only)


@dataclass(frozen=True)
class Split:
    seed: int
    train_index: np.ndarray  # indices into load() of the training images, sorted
    test_index: np.ndarray  # indices of the test images, sorted
    mean: float  # μ of the training pixels/16
    std: float  # σ of the training pixels/16
    x_train: np.ndarray  # (n_train, 1, 8, 8) float64, normalised (read-only)
    y_train: np.ndarray  # (n_train,) int64
    x_test: np.ndarray  # (n_test, 1, 8, 8) float64, normalised
    y_test: np.ndarray  # (n_test,)

    def normalise(self, pixels: np.ndarray) -> np.ndarray:
        """Pixels 0–16 of any shape as the network sees them: (pixels/16 − μ)/σ, float64."""
        return (np.asarray(pixels, np.float64) / PIXEL_MAX - self.mean) / self.std


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr.setflags(write=False)
    return arr


@lru_cache(maxsize=1)
def load() -> Digits:
    """All 1,797 images and labels (cached; the arrays are read-only)."""
    with gzip.open(DATA_FILE, "rt", encoding="ascii") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    if table.shape != (COUNT, SIDE * SIDE + 1):
        raise RuntimeError(f"{DATA_FILE} holds a table of shape {table.shape}, not ({COUNT}, {SIDE * SIDE + 1})")
    pixels = table[:, :-1].reshape(COUNT, SIDE, SIDE)
    return Digits(_frozen(np.ascontiguousarray(pixels)), _frozen(np.ascontiguousarray(table[:, -1])))


def _check_seed(seed: int, field: str = "seed") -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
        raise OpInputError(field, f"must be a whole number from 0 to 2^63 − 1, got {seed!r}")
    return int(seed)


@lru_cache(maxsize=8)
def split(seed: int = 0, test_fraction: float = TEST_FRACTION) -> Split:
    """A stratified train/test split drawn from ``seed``: round(fraction·count) of each class to test."""
    seed = _check_seed(seed)
    if not 0 < test_fraction < 1:
        raise OpInputError("test_fraction", f"must be between 0 and 1 (exclusive), got {test_fraction!r}")
    data = load()
    rng = np.random.default_rng([seed, 0x5B11])
    test: list[np.ndarray] = []
    for k in range(CLASSES):
        members = np.flatnonzero(data.labels == k)
        take = int(round(test_fraction * members.size))
        test.append(rng.permutation(members)[:take])
    test_index = np.sort(np.concatenate(test))
    train_index = np.setdiff1d(np.arange(COUNT), test_index)
    scaled = data.pixels[train_index] / PIXEL_MAX
    mean, std = float(scaled.mean()), float(scaled.std())

    def prepare(index: np.ndarray) -> np.ndarray:
        return _frozen(((data.pixels[index] / PIXEL_MAX - mean) / std)[:, None, :, :])

    return Split(seed, _frozen(train_index), _frozen(test_index), mean, std, prepare(train_index),
                 _frozen(data.labels[train_index].copy()), prepare(test_index),
                 _frozen(data.labels[test_index].copy()))


def steps_per_epoch(n_train: int, batch: int) -> int:
    if not 1 <= batch <= n_train:
        raise OpInputError("batch", f"must be between 1 and the {n_train} training images, got {batch}")
    return n_train // batch


@lru_cache(maxsize=64)
def _epoch_permutation(n_train: int, seed: int, epoch: int) -> np.ndarray:
    return _frozen(np.random.default_rng([seed, _PERMUTATION_STREAM, epoch]).permutation(n_train))


def batch_positions(n_train: int, batch: int, seed: int, step: int) -> np.ndarray:
    """Positions in the training set of the ``batch`` examples that step ``step`` (0-based) trains on."""
    seed = _check_seed(seed)
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
        raise OpInputError("step", f"must be a whole number ≥ 0, got {step!r}")
    per_epoch = steps_per_epoch(n_train, batch)
    epoch, within = divmod(int(step), per_epoch)
    return _epoch_permutation(n_train, seed, epoch)[within * batch:(within + 1) * batch]
