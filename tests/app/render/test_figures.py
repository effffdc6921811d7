"""Heatmap colours: centred on zero, colour-blind-safe ends, and inf/NaN drawn, never a crash."""

import numpy as np

from app.web.render import figures


def test_colours_are_centred_on_zero_and_saturate_at_vmax():
    bg, fg = figures.colours(np.array([[-2.0, 0.0, 2.0, 5.0]]), 2.0)
    assert bg[0, 1] == "rgb(247,247,247)"  # zero is white
    assert bg[0, 0] == "rgb(33,102,172)" and bg[0, 2] == bg[0, 3] == "rgb(191,91,23)"
    assert fg[0, 0] == "#fff" and fg[0, 1] == "#111"


def test_non_finite_values_get_a_colour_and_do_not_set_the_scale():
    values = np.array([[1.0, np.inf, -np.inf, np.nan]])
    assert figures.scale_max(values) == 1.0
    bg, _ = figures.colours(values, 1.0)
    assert bg[0, 1] == bg[0, 0] and bg[0, 2] == "rgb(33,102,172)" and bg[0, 3] == "rgb(60,60,60)"
    html = figures.grid(values, "p")["html"]
    assert ">inf<" in html and ">nan<" in html


def test_grid_cells_carry_their_full_index():
    g = figures.grid(np.arange(6.0).reshape(2, 3), "dx", prefix=(1, 2))
    assert 'data-idx="1,2,1,2"' in g["html"] and 'data-arr="dx"' in g["html"]
