"""The optimizer lab's presets: the notes' worked example, surfaces worth watching, random-with-seed.

Each preset is only an input state; every number the page then shows is computed. ``NOTES_PRINTED``
holds what the notes print for their example, so the page can point at the two numbers that slip.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from app.web.kit.presets import Preset
from app.web.labs.optim import starting
from app.web.labs.optim.state import OptimState, OptSpec
from engine.optim import surfaces

# Notes 001, "one Adam step on five parameters"
NOTES_NAMES = ("w1", "w2", "b0", "b1", "conv1")
NOTES_THETA = (0.5, 0.3, 0.2, -0.1, 0.8)
NOTES_GRADS = (0.02, 0.01, 0.01, -0.03, 0.05)
NOTES_HP = {"lr": 0.01, "beta1": 0.9, "beta2": 0.995, "eps": 1e-7}
NOTES_FORM = {"eps_placement": "inside", "bias_correction": False}  # its update line: m/√(v + ε), no m̂, v̂
PYTORCH_FORM = {"eps_placement": "outside", "bias_correction": True}
# What the notes print for that step: momentum (m) and velocity (v) per parameter. momentum_w2 = −0.004
# and velocity_w2 = 0.000008 slip (they need dw2 = −0.04); from dw2 = 0.01 they are 0.001 and 5e−7.
NOTES_PRINTED = {
    "m": {"w1": 0.002, "w2": -0.004, "b0": 0.001, "b1": -0.003, "conv1": 0.005},
    "v": {"w1": 0.000002, "w2": 0.000008, "b0": 0.0000005, "b1": 0.0000045, "conv1": 0.0000125},
}


# Hyperparameters that show each surface's point within a few hundred steps.
SURFACE_RUNS: dict[str, tuple[tuple[str, dict], ...]] = {
    "ill_conditioned": (("sgd", {"lr": 0.075}), ("momentum", {"lr": 0.02, "momentum": 0.9}),
                        ("rmsprop", {"lr": 0.05}), ("adam", {"lr": 0.3})),
    "rosenbrock": (("sgd", {"lr": 0.001}), ("momentum", {"lr": 0.001, "momentum": 0.9}),
                   ("rmsprop", {"lr": 0.01}), ("adam", {"lr": 0.05})),
    "saddle": (("sgd", {"lr": 0.02}), ("momentum", {"lr": 0.02, "momentum": 0.9}),
               ("rmsprop", {"lr": 0.02}), ("adam", {"lr": 0.02})),
    "himmelblau": (("sgd", {"lr": 0.01}), ("momentum", {"lr": 0.005, "momentum": 0.9}),
                   ("rmsprop", {"lr": 0.05}), ("adam", {"lr": 0.1})),
    "beale": (("sgd", {"lr": 0.001}), ("momentum", {"lr": 0.001, "momentum": 0.9}),
              ("rmsprop", {"lr": 0.01}), ("adam", {"lr": 0.05})),
}
SURFACE_STEPS = {"ill_conditioned": 150, "rosenbrock": 600, "saddle": 150, "himmelblau": 200, "beale": 500}


def _surface_part(state: OptimState, surface: str, runs: int = 4) -> OptimState:
    specs = tuple(OptSpec.make(name, hp) for name, hp in SURFACE_RUNS[surface][:runs])
    return replace(state, surface=surface, start=surfaces.SURFACES[surface].start, runs=specs,
                   path_steps=SURFACE_STEPS[surface], speed=60, t=0)


def _notes_in(form: dict) -> OptimState:
    state = OptimState(OptSpec.make("adam", {**NOTES_HP, **form}), NOTES_NAMES, np.array(NOTES_THETA),
                       gmode="typed", grads=np.array([NOTES_GRADS]), steps=1, k=1, j=1)
    return _surface_part(state, "ill_conditioned")


def _notes(_: int) -> OptimState:
    """The lab opens in PyTorch's form (as every lab does); the notes' form is the next preset."""
    return _notes_in(PYTORCH_FORM)


def _notes_form(_: int) -> OptimState:
    return _notes_in(NOTES_FORM)


def _notes_repeated(_: int) -> OptimState:
    state = OptimState(OptSpec.make("adam", {**NOTES_HP, **PYTORCH_FORM}), NOTES_NAMES, np.array(NOTES_THETA),
                       gmode="constant", gconst=np.array(NOTES_GRADS), steps=10, k=1, j=1)
    return _surface_part(state, "ill_conditioned")


def _momentum_noisy(seed: int) -> OptimState:
    state = OptimState(OptSpec.make("momentum", {"lr": 0.1, "momentum": 0.9, "form": "ema"}), ("w", "b"),
                       np.array([1.0, -0.5]), gmode="noisy", gconst=np.array([0.5, -0.2]), sigma=0.5, seed=seed,
                       steps=12, k=12, j=0)
    return _surface_part(state, "ill_conditioned")


def _cs231n_adam(_: int) -> OptimState:
    """cs231n's Adam test (assignment2, FullyConnectedNets): w, dw, m, v are linspaces over 4 × 5 numbers and the
    update starts at t = 5; Adam is elementwise, so the first row's five numbers are that test's first row."""
    def row(a: float, b: float) -> np.ndarray:
        return np.linspace(a, b, 20)[:5]

    start = starting.StartingState(5, {"m": row(0.6, 0.9), "v": row(0.7, 0.5)})
    state = OptimState(OptSpec.make("adam", {"lr": 1e-2}), tuple(f"w{i}" for i in range(5)), row(-0.4, 0.6),
                       gmode="typed", grads=row(-0.6, 0.4)[None, :], steps=1, k=1, j=0, starting=start)
    return _surface_part(state, "ill_conditioned")


def _random(seed: int) -> OptimState:
    """Values with two decimals so they read well on a projector and in a link."""
    rng = np.random.default_rng(seed)
    theta = np.round(rng.standard_normal(4), 2)
    grads = np.round(0.1 * rng.standard_normal((6, 4)), 2)
    state = OptimState(OptSpec.make("adam", {"lr": 0.01}), ("w1", "w2", "w3", "b"), theta, gmode="typed",
                       grads=grads, steps=6, k=1, j=0)
    return _surface_part(state, "ill_conditioned")


def _surface(surface: str) -> Callable[[int], OptimState]:
    def make(_: int) -> OptimState:
        return _surface_part(_notes(0), surface)
    return make


PRESETS: dict[str, Preset] = {p.key: p for p in (
    Preset("notes-001", "Notes 001: one Adam step", "Notes 001: five parameters, one Adam step in PyTorch's form "
           "(ε outside the root, bias correction on), next to the notes' form. The notes print momentum_w2 = −0.004 "
           "and velocity_w2 = 0.000008; from dw2 = 0.01 they are 0.001 and 5e−7.", _notes),
    Preset("notes-001-form", "… in the notes' form", "The same step in the notes' form: ε = 1e−7 inside the "
           "root, no bias correction (their update line m/√(v + ε)).", _notes_form),
    Preset("notes-001-steps", "Notes 001, ten steps", "The same five gradients for ten steps in PyTorch's form: "
           "bias correction makes the first updates lr-sized; without it they start small.", _notes_repeated),
    Preset("momentum-noisy", "Momentum on noisy gradients", "Notes 002's momentum (the moving-average form) "
           "smoothing a noisy gradient sequence drawn from the seed.", _momentum_noisy),
    Preset("cs231n-adam-t5", "cs231n: Adam from t = 5", "cs231n's Adam test (assignment 2, fully connected "
           "nets): Adam starts from t = 5 with given m and v, so this update runs with t = 6; the first five of its "
           "twenty numbers (expected_next_w begins −0.40094747, −0.34836187, …).", _cs231n_adam),
    Preset("random", "Random", "Random θ0 and six steps of gradients with two decimals, drawn from the seed.",
           _random),
    *(Preset(f"surface-{name}", surfaces.SURFACES[name].title.split(" (")[0], surfaces.SURFACES[name].doc,
             _surface(name), group="surface") for name in surfaces.SURFACES),
)}
DEFAULT = "notes-001"
