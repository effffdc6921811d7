"""The one number→TeX formatter of the engine's formulas."""

import math

from engine.tex import plain_number, tex_number


def test_significant_digits_and_exponents():
    assert tex_number(0.002) == "0.002" and tex_number(-0.0130000001) == "-0.013"
    assert tex_number(5e-7) == r"5 \times 10^{-7}" and tex_number(1e-8) == "10^{-8}" and tex_number(-1e-8) == "-10^{-8}"
    assert tex_number(1.499978e-5, 7) == r"1.499978 \times 10^{-5}" and tex_number(1 / 3, 4) == "0.3333"
    assert tex_number(2.5e12, 4) == r"2.5 \times 10^{12}"


def test_not_numbers_and_signed_zero():
    assert (tex_number(math.inf), tex_number(-math.inf), tex_number(math.nan)) == (r"\infty", r"-\infty", r"\text{NaN}")
    assert tex_number(-0.0) == "0" and tex_number(-0.0, parens=True) == "0"


def test_parentheses_around_negative_terms():
    assert tex_number(-2.5, 4, parens=True) == "(-2.5)" and tex_number(2.5, 4, parens=True) == "2.5"
    assert tex_number(-1e-9, parens=True) == "(-10^{-9})" and tex_number(-math.inf, parens=True) == r"(-\infty)"


def test_plain_text_twin():
    assert plain_number(-2.5, 4, parens=True) == "(-2.5)" and plain_number(-0.0) == "0"
    assert plain_number(1e-7) == "1e-07"
    assert plain_number(1 / 3, 4) == "0.3333" and plain_number(float("inf")) == "inf"
