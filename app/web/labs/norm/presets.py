"""The normalization lab's presets: the notes' examples, a tiny batch to work by hand, and random-with-seed.

Each preset is only an input state; every number the page then shows is computed.
"""

from __future__ import annotations

import numpy as np

from app.web.kit.presets import Preset
from app.web.labs.norm.state import NormState


def _vectors(c: int) -> dict:
    return {"gamma": np.ones(c), "beta": np.zeros(c), "running_mean": np.zeros(c), "running_var": np.ones(c)}


def _two_sample(_: int) -> NormState:
    """003's two-sample batch. Features 0 and 1: the samples are 2 and 6 apart, so x̂ = ±1/√(1 + ε/σ²) ≈ ±1
    and dx is of order ε. Feature 2: the samples nearly coincide (σ² = 1e-6 < ε), and dx is not small."""
    x = np.array([[1.0, 10.0, 0.5], [3.0, 4.0, 0.502]])
    dout = np.array([[0.3, 1.0, 1.0], [-1.2, 2.0, -0.5]])
    return NormState(x, np.array([2.0, 0.5, 1.0]), np.array([0.5, -1.0, 0.0]), np.zeros(3), np.ones(3),
                     dout_mode="typed", dout_typed=dout)


def _notes_002(_: int) -> NormState:
    """002 gives code, not numbers: its conventions on a small batch."""
    x = np.array([[1.0, 2.0, -1.0], [3.0, 0.0, 0.0], [5.0, 4.0, 1.0], [7.0, 2.0, 4.0]])
    dout = np.array([[1.0, -1.0, 0.5], [0.0, 2.0, -0.5], [-1.0, 1.0, 1.0], [2.0, 0.0, -1.0]])
    return NormState(x, np.array([1.0, 2.0, 0.5]), np.array([0.0, 1.0, -1.0]), np.zeros(3), np.ones(3),
                     convention="cs231n", dout_mode="typed", dout_typed=dout, p=0.8, p_means="keep")


def _tiny(_: int) -> NormState:
    """Three samples of one feature: μ = 2, σ² = 8/3, x̂ = (0, 2, 4 − 2)/√(8/3 + ε)."""
    return NormState(np.array([[0.0], [2.0], [4.0]]), **_vectors(1), dout_mode="typed",
                     dout_typed=np.array([[1.0], [0.0], [0.0]]))


def _images(_: int) -> NormState:
    """Two images, two channels of 2×2: each channel's statistics pool N·H·W = 8 values."""
    x = np.array([[[[1, 2], [3, 4]], [[0, 0], [2, 2]]],
                  [[[5, 6], [7, 8]], [[-2, -2], [4, 4]]]], dtype=float)
    return NormState(x, np.array([1.0, 0.5]), np.array([0.0, 1.0]), np.zeros(2), np.ones(2),
                     dout_mode="random", dout_seed=1)


def _random(seed: int) -> NormState:
    """Values with one decimal, drawn from the seed; dout random from the same seed."""
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(2.0, 1.5, (4, 3)), 1)
    gamma = np.round(rng.uniform(0.5, 1.5, 3), 1)
    beta = np.round(rng.standard_normal(3), 1)
    return NormState(x, gamma, beta, np.zeros(3), np.ones(3), dout_mode="random", dout_seed=seed,
                     seq_seed=seed, drop_seed=seed)


def _random_images(seed: int) -> NormState:
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(1.0, 1.0, (2, 2, 3, 3)), 1)
    return NormState(x, np.ones(2), np.zeros(2), np.zeros(2), np.ones(2), dout_mode="random", dout_seed=seed,
                     seq_seed=seed, drop_seed=seed)


PRESETS: dict[str, Preset] = {p.key: p for p in (
    Preset("two-sample", "Two samples (notes 003)",
           "Notes 003: backprop through batch norm on a two-sample batch. With two samples x̂ = ±1/√(1 + ε/σ²), "
           "so dL/dx is of order ε whatever dL/dy is — unless the samples nearly coincide (feature 2).", _two_sample),
    Preset("notes-002", "Notes 002 conventions",
           "Notes 002 gives code, not numbers: its running averages (momentum 0.9 on the old value, biased "
           "variance) and its dropout (p = keep probability, divide by p) on a small 4×3 batch.", _notes_002),
    Preset("tiny", "3 × 1 by hand",
           "One feature, three samples 0, 2, 4: μ = 2, σ² = 8/3, x̂ = ±√(3/2) ≈ ±1.225 and 0.", _tiny),
    Preset("images", "Images 2×2×2×2",
           "Batch norm on (N, C, H, W): one μ and σ² per channel, over N·H·W = 8 values.", _images),
    Preset("random", "Random (N, D)", "Random features with one decimal, drawn from the seed.", _random),
    Preset("random-images", "Random (N, C, H, W)", "Random images with one decimal, drawn from the seed.",
           _random_images),
)}
DEFAULT = "two-sample"
