"""The one number→TeX formatter: every formula "with the numbers plugged in" writes its numbers here
(and its plain-text twin, for the few explanations written as text rather than TeX).

``tex_number(v, digits, parens=...)``: ``digits`` significant digits (a formula's terms use the
4 of a heatmap cell, its results 6, batch norm's 7 so that √(1 + ε) = 1.000005 shows), an
exponent typeset as ``2.5 \\times 10^{-4}`` (``10^{-8}`` when the mantissa is 1), ``\\infty`` and
``\\text{NaN}`` for what is not a number, never ``-0``; ``parens=True`` puts a negative number in
parentheses, as a term of a sum or a factor of a product.

It sits at the bottom of the engine and imports nothing: the ops' step records, the optimizers'
formulas and engine.explain's terms all write through it.
"""

from __future__ import annotations

from functools import lru_cache


def tex_number(value: float, digits: int = 6, *, parens: bool = False) -> str:
    """A number for KaTeX: ``0.002``, ``-0.013``, ``5 \\times 10^{-7}``, ``10^{-8}``, ``\\infty``."""
    return _tex(float(value), digits, parens)


@lru_cache(maxsize=8192)  # a page's formulas repeat their numbers (a sum's terms, its result beside a cell)
def _tex(v: float, digits: int, parens: bool) -> str:
    if v != v:
        return r"\text{NaN}"
    if v - v != 0:
        text = r"\infty" if v > 0 else r"-\infty"
    else:
        text = f"{v + 0.0:.{digits}g}"  # + 0.0: -0.0 becomes 0.0
        if "e" in text:
            mantissa, exponent = text.split("e")
            power = f"10^{{{int(exponent)}}}"
            text = {"1": power, "-1": f"-{power}"}.get(mantissa, f"{mantissa} \\times {power}")
    return f"({text})" if parens and text.startswith("-") else text


def plain_number(value: float, digits: int = 6, *, parens: bool = False) -> str:
    """The same number as plain text (an explanation in a sentence): ``0.002``, ``(-1.5)``, ``1e-07``, ``inf``."""
    text = f"{float(value) + 0.0:.{digits}g}"
    return f"({text})" if parens and text.startswith("-") else text
