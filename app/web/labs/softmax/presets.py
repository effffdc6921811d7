"""The softmax lab's presets: the notes' worked example, a batch, big logits, random-with-seed.

Each preset is only an input state; every number the page then shows is computed. The
notes' printed numbers (:data:`NOTES_PRINTED`) are kept here only to be shown *beside*
the engine's, so the page can point out where the notes slipped.
"""

from __future__ import annotations

import numpy as np

from app.web.kit.presets import Preset
from app.web.labs.softmax.state import SoftmaxState

NOTES_LOGITS = (3.0, -2.0, -100.0)
# 001, "Soft max function": what the notes print for x = [3, −2, −100] (text, as printed).
NOTES_PRINTED = {"denominator": "20.22", "p": ("0.99", "0.0066", "1.88 × 10⁻⁴⁵")}


def _state(logits, labels, temperature: float = 1.0) -> SoftmaxState:
    return SoftmaxState(np.array(logits, dtype=np.float64), np.array(labels, dtype=np.int64), temperature)


def _notes(_: int) -> SoftmaxState:
    return _state([NOTES_LOGITS], [0])


def _batch(_: int) -> SoftmaxState:
    # one confident and right, one confident and wrong, one undecided: the loss terms differ a lot
    return _state([[2.0, 1.0, 0.1, -1.0], [0.5, 2.5, -1.0, 0.0], [0.0, 0.0, 0.0, 0.0]], [0, 3, 2])


def _big(_: int) -> SoftmaxState:
    # row 0 overflows exp (inf/inf), row 1 underflows every term (0/0), row 2 underflows only the label's
    return _state([[1000.0, 999.0, 990.0], [-1000.0, -1001.0, -1010.0], [0.0, 5.0, -800.0]], [0, 1, 2])


def _coin(_: int) -> SoftmaxState:
    return _state([[0.0, 0.0]], [0])


def _temperature(_: int) -> SoftmaxState:
    return _state([[2.0, 1.0, 0.1, -1.0]], [0], 5.0)


def _random(seed: int) -> SoftmaxState:
    """Logits with one decimal (they read well on a projector and in a link), labels drawn too."""
    rng = np.random.default_rng(seed)
    logits = np.round(rng.normal(scale=2.0, size=(2, 5)), 1)
    return _state(logits, rng.integers(0, 5, size=2))


PRESETS: dict[str, Preset] = {p.key: p for p in (
    Preset("notes", "Notes [3, −2, −100]",
           "Notes 001: softmax of [3, −2, −100]. The notes print 0.0066 and 1.88 × 10⁻⁴⁵; the correct values are "
           "0.006693 and 1.84 × 10⁻⁴⁵.", _notes),
    Preset("batch", "Batch of 3",
           "Three samples, four classes: confident and right, confident and wrong, undecided. dlogits = (p − y)/N.",
           _batch),
    Preset("big", "Big logits (overflow)",
           "Logits of ±1000: the textbook formula overflows (inf/inf = nan) or underflows (0/0 = nan); subtracting "
           "the row maximum first does not.", _big),
    Preset("coin", "Two equal logits", "[0, 0]: p = [0.5, 0.5] and the loss is ln 2 = 0.6931.", _coin),
    Preset("hot", "Temperature 5", "The batch's first row at T = 5: a flatter distribution, gradients scaled by 1/T.",
           _temperature),
    Preset("random", "Random", "Two samples, five classes, logits with one decimal and labels drawn from the seed.",
           _random),
)}
DEFAULT = "notes"
