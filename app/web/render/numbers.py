"""THE number formatting of the pages: every number the app writes as text is one of these named formats.

- ``cell_text``: a heatmap cell or a value beside a figure, 4 significant digits (``0.1235``, ``1.5e-7``, ``inf``)
- ``link_text``: a link or an input's value, the shortest text that reads back the same float (``2``, ``0.1``);
  ``link_texts``: the same for every value of an array at once
- ``exact_text``: a tooltip's full precision, Python's repr (``0.30000000000000004``, ``2.0``)
- ``prose_text``: a number in a sentence, up to 4 decimals, a true minus, ``—`` when missing (``−0.5``)
- ``power_text``: ``cell_text`` for prose, its exponent written out (``1.84 × 10⁻⁴⁵``)
- ``tex_number``: a number for KaTeX, the engine's one formatter (:mod:`engine.tex`)

The page scripts format streamed numbers with ``Lens.formatNumber`` (static/js/lens.js), which
writes ``cell_text``'s text.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np

from engine.tex import tex_number

__all__ = ["cell_text", "exact_text", "link_text", "link_texts", "power_text", "prose_text", "tex_number"]

SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


@lru_cache(maxsize=8192)  # pages repeat values (0, 1, a colour scale's ends): a cached text costs ~0.1 µs
def cell_text(value: float) -> str:
    """Short text for a cell: up to 4 significant digits, no ``-0``, exponents without padding
    (``1.5e-7``, ``2e10``); ``inf``, ``-inf``, ``nan`` as Python writes them."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(float(value))
    text = f"{value:.4g}"
    return text.replace("e-0", "e-").replace("e+0", "e").replace("e+", "e")


def link_text(value: float) -> str:
    """Shortest text that reads back to the same float64 (``2`` not ``2.0``): links and input values."""
    value = float(value)
    if value == 0:
        return "0"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def link_texts(values: Any) -> list[str]:
    """:func:`link_text` of every value of an array, row-major, in one go (a 28×28 plane's 784 numbers in a link or
    an image's hidden field): Python's repr of each float, its ``.0`` dropped where :func:`link_text` drops it (a
    whole number below 1e15, at most 15 digits, which repr writes as ``123.0``; ``-0.0``, which reads back as 0)."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    if flat.size >= 64:  # an image's values repeat (a digit's 0s, one-decimal presets): each distinct one written once
        distinct, inverse = np.unique(flat, return_inverse=True)  # (0.0 and -0.0 are one: both write "0")
        if 2 * distinct.size <= flat.size:
            return list(map(_link_texts(distinct.tolist()).__getitem__, inverse.ravel().tolist()))
    return _link_texts(flat.tolist())


def _link_texts(values: list[float]) -> list[str]:
    texts = [t[:-2] if t[-2:] == ".0" and len(t.lstrip("-")) <= 17 else t for t in map(repr, values)]
    return [t if t != "-0" else "0" for t in texts]


def exact_text(value: float) -> str:
    """Every digit of a float64 (``2.0``, ``0.30000000000000004``): what a tooltip adds to a rounded cell."""
    return repr(float(value))


def prose_text(value: Any, digits: int = 4) -> str:
    """A number as a person reads it: no trailing zeros, a true minus sign, ``—`` for a missing value."""
    if value is None:
        return "—"
    value = float(value)
    if not math.isfinite(value):
        return "—"
    if value == 0 or abs(value) >= 10**-digits:
        text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
    else:
        text = f"{value:.3g}"
    if text in ("-0", ""):
        text = "0"
    return text.replace("-", "\u2212")


def power_text(value: float) -> str:
    """``cell_text`` for prose: ``1.84 × 10⁻⁴⁵`` rather than ``1.84e-45``."""
    text = cell_text(float(value))
    if "e" in text and "inf" not in text:
        mantissa, exponent = text.split("e")
        return f"{mantissa} × 10{str(int(exponent)).translate(SUPERSCRIPT)}"
    return text

