"""Where PyTorch and the lecture notes differ: one vocabulary for the two sides.

Four parameters choose between them. The API values are fixed by the contract (docs/CONVENTIONS.md) and differ
per parameter — ``cs231n``, ``inside``, ``ema``, ``keep`` all mean "the notes" — so code and labels ask this table
which value is whose instead of spelling those words. PyTorch's side is every default.
"""

from __future__ import annotations

PYTORCH, NOTES = "pytorch", "notes"
SIDES = (PYTORCH, NOTES)
SIDE_LABELS = {PYTORCH: "PyTorch", NOTES: "the notes"}

# parameter -> {side: the parameter's value on that side}
CHOICES: dict[str, dict[str, str]] = {
    "convention": {PYTORCH: "pytorch", NOTES: "cs231n"},  # batch norm's running statistics
    "eps_placement": {PYTORCH: "outside", NOTES: "inside"},  # Adam's ε: √v̂ + ε or √(v̂ + ε)
    "form": {PYTORCH: "pytorch", NOTES: "ema"},  # momentum: v ← μv + g or μv + (1 − μ)g
    "p_means": {PYTORCH: "drop", NOTES: "keep"},  # dropout's p: probability of dropping or of keeping
}


def values(param: str) -> tuple[str, str]:
    """The parameter's two values, PyTorch's (the default) first."""
    return CHOICES[param][PYTORCH], CHOICES[param][NOTES]


def value(param: str, side: str) -> str:
    return CHOICES[param][side]


def side(param: str, val: str) -> str:
    """Whose convention ``val`` is: ``"pytorch"`` or ``"notes"``."""
    return next(s for s, v in CHOICES[param].items() if v == val)


def label(param: str, val: str) -> str:
    """How a page names the side ``val`` is on: "PyTorch" or "the notes"."""
    return SIDE_LABELS[side(param, val)]
