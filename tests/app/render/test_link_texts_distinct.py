"""link_texts writes each distinct value of a large array once (issue 12): the texts are the ones link_text gives
value by value, for repeated, random and special values alike."""

from __future__ import annotations

import numpy as np
import pytest

from app.web.render.numbers import link_text, link_texts

R = np.random.default_rng(0)
CASES = {
    "one decimal": R.normal(size=(32, 32)).round(1),
    "random": R.normal(size=(28, 28)),
    "digit": R.integers(0, 256, (28, 28)) / 255,
    "zeros and minus zeros": np.array([0.0, -0.0] * 50),
    "special": np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1e300, 1e15, 123456789012345.0, 1e16, -5.0, 2.5] * 10),
    "whole numbers": R.integers(-3, 3, (3, 8, 8)).astype(float),
    "large wholes": np.arange(100.0) * 1e14,
    "small": np.array([0.1, 0.2, 0.3]),
}


@pytest.mark.parametrize("name", CASES)
def test_every_text_is_link_text_of_its_value(name):
    values = CASES[name]
    assert link_texts(values) == [link_text(v) for v in values.ravel()]
