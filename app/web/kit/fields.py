"""One field of a lab's link or form: the error that names it, and the strict parsers both ways in use.

A link (:mod:`app.web.kit.link`) and a form (:mod:`app.web.kit.form`) are validated as strictly as
each other: every problem is a :class:`FieldError` naming the field (``stride``, ``x[0, 1, 2, 3]``,
``hyperparams.beta1``) and what is wrong with it; nothing is clamped.
"""

from __future__ import annotations

import math


class FieldError(ValueError):
    """A field of a link or a form that does not parse or is out of range: names the field and the problem."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def parse_number(field: str, text: str) -> float:
    """A finite float (the typographic minus − reads as -)."""
    text = text.strip()
    if not text:
        raise FieldError(field, "is empty; type a number")
    try:
        value = float(text.replace("−", "-"))
    except ValueError:
        raise FieldError(field, f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise FieldError(field, f"{text!r} is not a finite number")
    return value


def parse_int(field: str, text: str, lo: int, hi: int) -> int:
    """A whole number in lo..hi (``2.0`` reads as 2)."""
    value = parse_number(field, text)
    if not value.is_integer():
        raise FieldError(field, f"must be a whole number, got {text.strip()}")
    if not lo <= value <= hi:
        raise FieldError(field, f"must be between {lo} and {hi}, got {int(value)}")
    return int(value)


def parse_choice(field: str, text: str, choices: tuple[str, ...]) -> str:
    """One of ``choices``, as typed."""
    if text not in choices:
        raise FieldError(field, f"must be one of {', '.join(choices)}; got {text!r}")
    return text


def parse_index(text: str) -> tuple[int, ...]:
    """A cell's index as a page posts it, ``"0,1,2,3"`` (ValueError when it is not one)."""
    return tuple(int(i) for i in text.split(","))
