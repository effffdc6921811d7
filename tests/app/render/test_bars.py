"""THE probability bar chart (app/web/render/bars.py): each bar's height is its p on a 140 px axis, its x a
slot of the plot's width in percent, the marked one marked, and the chart never narrower than its values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.web.render import bars as B


def test_a_bar_is_as_tall_as_its_probability_and_stands_on_the_axis():
    chart = B.probability_bars(np.array([0.25, 0.75]), 1, "c")
    low, high = chart["bars"]
    assert (low["h"], high["h"]) == (35.0, 105.0)  # p · 140 px
    assert low["y"] + low["h"] == high["y"] + high["h"] == chart["base"] == B.TOP + B.PLOT_H
    assert [t["y"] for t in chart["y_ticks"]] == [162.0, 127.0, 92.0, 57.0, 22.0]  # 0, 0.25, …, 1 on the same axis


def test_the_bars_share_the_width_in_equal_slots():
    chart = B.probability_bars(np.full(4, 0.25), 0, "c")
    assert [b["x"] for b in chart["bars"]] == [3.125, 28.125, 53.125, 78.125]  # 25 % slots, the bar 3/4 of one
    assert [b["w"] for b in chart["bars"]] == [18.75] * 4
    assert [b["mid"] for b in chart["bars"]] == [12.5, 37.5, 62.5, 87.5]


def test_only_the_marked_bar_is_marked_and_coloured():
    chart = B.probability_bars(np.array([0.1, 0.2, 0.7]), 2, "c", mark_word="label")
    assert [b["marked"] for b in chart["bars"]] == [False, False, True]
    assert [b["fill"] for b in chart["bars"]] == [B.BAR, B.BAR, B.BAR_MARKED]
    assert chart["mark_word"] == "label"


def test_the_values_are_the_one_number_formatters_and_set_the_minimum_width():
    short = B.probability_bars(np.array([0.5, 0.5]), 0, "c")
    assert [b["text"] for b in short["bars"]] == ["0.5", "0.5"]
    assert short["min_width"] == 2 * B.SLOT_MIN and not short["tight"]  # short values: the narrowest slots
    few = B.probability_bars(np.array([0.0004008, 0.9995992]), 0, "c")
    assert [b["text"] for b in few["bars"]] == ["0.0004008", "0.9996"]
    assert not few["tight"] and few["min_width"] == 2 * (math.ceil(9 * B.VALUE_CHAR) + 4)  # two fit at 12 px
    many = B.probability_bars(np.r_[0.0004008, np.full(9, 0.9995992 / 9)], 0, "c")
    assert many["tight"]  # ten of 9 characters: set smaller, each slot as wide as the widest value at that size
    assert many["min_width"] == 10 * (math.ceil(9 * B.TIGHT_CHAR) + 4) < many["min_width_present"]
    assert many["min_width_present"] == 10 * (math.ceil(9 * B.VALUE_CHAR) + 4)  # at 12 px in presenter mode


@pytest.mark.parametrize("p", [math.nan, math.inf, -0.5, 1.5])
def test_what_is_not_a_probability_is_drawn_inside_the_axis_with_its_own_text(p):
    chart = B.probability_bars(np.array([p, 0.5]), 1, "c")
    bar = chart["bars"][0]
    assert 0 <= bar["h"] <= B.PLOT_H and bar["y"] >= B.TOP
    assert bar["text"] == {"nan": "nan", "inf": "inf", "-0.5": "-0.5", "1.5": "1.5"}[str(p)]


def test_without_values_written_the_bars_need_only_room_for_their_ticks():
    chart = B.probability_bars(np.full(10, 0.1), 3, "c", values=False)
    assert not chart["show_values"] and chart["min_width"] == 10 * B.SLOT_BARE
