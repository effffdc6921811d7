"""Plotly-schema figures: the gradient-check scatter and the tiled filter image."""

import json

import numpy as np

from app.web.render.figures import gradcheck_scatter, tile


def test_gradcheck_scatter_puts_every_checked_element_on_y_equals_x():
    analytic = {"dx": np.array([[1.0, -2.0]]), "dw": np.array([3.0])}
    numeric = {"dx": np.array([[1.0000001, -2.0]]), "dw": np.array([3.0])}
    fig = gradcheck_scatter(analytic, numeric)
    line, dx, dw = fig["data"]
    assert line["x"] == line["y"] and line["x"][0] < -2.0 < 3.0 < line["x"][1]
    assert dx["x"] == [1.0000001, -2.0] and dx["y"] == [1.0, -2.0] and dw["name"] == "dw"
    json.dumps(fig)  # plain data: it goes into a data-figure attribute


def test_tile_lays_planes_side_by_side_with_gaps_bottom_up():
    image = tile(np.arange(8.0).reshape(2, 2, 2))
    assert image == [[2.0, 3.0, None, 6.0, 7.0], [0.0, 1.0, None, 4.0, 5.0]]
