"""THE number formatting: each named format, and the JS formatter's twin (tests/browser/test_lens_js.py)."""

import math

import pytest

from app.web.render.numbers import cell_text, exact_text, link_text, power_text, prose_text

# (value, cell text): the same table drives Lens.formatNumber's test in the browser
CELL_CASES = [(0.0, "0"), (-0.0, "0"), (1.0, "1"), (-2.5, "-2.5"), (1 / 3, "0.3333"), (123456.0, "1.235e5"),
              (0.0001234, "0.0001234"), (1.5e-7, "1.5e-7"), (-1.5e-10, "-1.5e-10"), (1e10, "1e10"),
              (12.5, "12.5"), (0.1 + 0.2, "0.3"), (9999.5, "1e4"), (math.inf, "inf"), (-math.inf, "-inf"),
              (math.nan, "nan")]


@pytest.mark.parametrize(("value", "text"), CELL_CASES)
def test_cell_text(value, text):
    assert cell_text(value) == text


def test_link_text_reads_back_exactly():
    for v in (2.0, 0.1, 1e-05, -3.25, 1 / 3, 1e20):
        assert float(link_text(v)) == v
    assert (link_text(2.0), link_text(-0.0), link_text(1e20)) == ("2", "0", "1e+20")


def test_exact_prose_and_power_text():
    assert exact_text(2) == "2.0" and exact_text(0.1 + 0.2) == "0.30000000000000004"
    assert (prose_text(-0.5), prose_text(None), prose_text(math.inf)) == ("−0.5", "—", "—")
    assert prose_text(0.00001) == "1e−05"
    assert prose_text(709.782712893384, 2) == "709.78"
    assert (power_text(1.84e-45), power_text(0.5), power_text(math.inf)) == ("1.84 × 10⁻⁴⁵", "0.5", "inf")
