"""One field of a lab's link or form: the error that names it, and the strict parsers both ways in use.

A link (:mod:`app.web.kit.link`) and a form (:mod:`app.web.kit.form`) are validated as strictly as
each other: every problem is a :class:`FieldError` naming the field (``stride``, ``x[0, 1, 2, 3]``,
``hyperparams.beta1``) and what is wrong with it; nothing is clamped.
"""

from __future__ import annotations

import math
import re

# A number as the pages write one: ASCII digits, an optional sign, decimal point and exponent (the typographic
# minus − reads as -). float() alone would also take "1_000", "١" or "９" and spaces around the number.
NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:inf|infinity|nan)", re.ASCII | re.IGNORECASE)
SIZE = re.compile(r"\d+", re.ASCII)  # a size in a shape like 1x2x5x5


class FieldError(ValueError):
    """A field of a link or a form that does not parse or is out of range: names the field and the problem."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class MissingField(FieldError):
    """A field a link must hold and does not: the page opens the default example's value for it instead
    (:func:`app.web.kit.link.read_filled`)."""

    def __init__(self, field: str, detail: str = ""):
        super().__init__(field, f"is missing from the link{detail}")


def not_ascii_decimal(text: str) -> str:
    """Why ``text`` is not written the way numbers are here (ASCII digits, no separators)."""
    if "_" in text:
        return f"{text!r} is not a number: write it without separators (1000, not 1_000)"
    if any(ch.isdigit() and not ch.isascii() for ch in text):
        return f"{text!r} is not a number: write it with the digits 0-9"
    return f"{text!r} is not a number"


def parse_number(field: str, text: str) -> float:
    """A finite float written in ASCII decimal (``-1.5``, ``2e-3``; the typographic minus − reads as -)."""
    text = text.strip()
    if not text:
        raise FieldError(field, "is empty; type a number")
    ascii_text = text.replace("−", "-")
    if NUMBER.fullmatch(ascii_text) is None:
        raise FieldError(field, not_ascii_decimal(text))
    value = float(ascii_text)
    if not math.isfinite(value):
        raise FieldError(field, f"{text!r} is not a finite number")
    return value


def parse_int(field: str, text: str, lo: int, hi: int, bound: str = "") -> int:
    """A whole number in lo..hi (``2.0`` reads as 2); ``bound`` says what sets ``hi`` (a setting, and why)."""
    value = parse_number(field, text)
    if not value.is_integer():
        raise FieldError(field, f"must be a whole number, got {text.strip()}")
    if not lo <= value <= hi:
        why = f" ({hi}: {bound})" if bound else ""
        raise FieldError(field, f"must be between {lo} and {hi}, got {int(value)}{why}")
    return int(value)


def setting_bound(name: str, why: str) -> str:
    """What bounds a field: a limit of app/settings.py, and why it is there."""
    return f"Settings.{name} in app/settings.py — {why}"


def parse_shape(field: str, text: str, ndim: int | None, max_cells: int) -> tuple[int, ...]:
    """A shape like ``1x2x5x5``: ``ndim`` sizes (1 to 4 when None), each at least 1, holding at most
    ``max_cells`` numbers in all."""
    parts = text.split("x")
    if not all(SIZE.fullmatch(part) for part in parts):
        raise FieldError(field, f"is not a shape: {text!r} (sizes in the digits 0-9 joined by x, e.g. 1x1x3x3)")
    shape = tuple(int(part) for part in parts)
    if min(shape) < 1 or (len(shape) != ndim if ndim else len(shape) > 4):
        raise FieldError(field, f"is not a shape{f' of {ndim} sizes' if ndim else ''}: {text!r}")
    if math.prod(shape) > max_cells:
        raise FieldError(field, f"shape {text} holds {math.prod(shape):,} numbers; the limit is {max_cells:,}")
    return shape


def parse_choice(field: str, text: str, choices: tuple[str, ...]) -> str:
    """One of ``choices``, as typed."""
    if text not in choices:
        raise FieldError(field, f"must be one of {', '.join(choices)}; got {text!r}")
    return text


def parse_index(text: str) -> tuple[int, ...]:
    """A cell's index as a page posts it, ``"0,1,2,3"`` (ValueError when it is not one)."""
    return tuple(int(i) for i in text.split(","))


def check_elements(field: str, shape: tuple[int, ...], settings) -> None:
    """Raise a FieldError naming ``field`` when an array of ``shape`` holds more than ``settings.max_elements``
    numbers (each size may be within its own limit while the whole is not: 4×4×32×32 is 16,384)."""
    count = math.prod(int(d) for d in shape)
    if count > settings.max_elements:
        dims = " × ".join(str(int(d)) for d in shape)
        raise FieldError(field, f"would hold {dims} = {count} numbers; the lab holds at most "
                                f"{settings.max_elements} in one array (Settings.max_elements): make a size smaller")
