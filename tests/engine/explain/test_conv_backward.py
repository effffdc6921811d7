"""The conv backward steppers: every dx cell's full-convolution window sums to col2im's dx, its
col2im adds sum to it too; every dw cell's taps ⊙ dout sum to dw, as does dout_row·x_colᵀ."""

import math

import numpy as np
import pytest

from engine.explain.conv_backward import db_sums, dw_window, dx_window, lines_tex
from engine.records import OpInputError
from engine.registry import get_spec, prepare
from engine.tex import tex_number

CASES = [  # x shape, w shape, stride, pad, dilation
    ((1, 1, 5, 5), (1, 1, 3, 3), 1, 0, 1),
    ((2, 2, 6, 5), (3, 2, 3, 2), 2, 1, 1),
    ((1, 2, 7, 6), (2, 2, 2, 3), (3, 2), (2, 1), 1),
    ((1, 1, 7, 7), (2, 1, 3, 2), 1, 1, (2, 2)),
    ((2, 1, 5, 8), (1, 1, 2, 2), (2, 3), 0, (1, 2)),
]


def _run(case, seed=0):
    x_shape, w_shape, stride, pad, dilation = case
    rng = np.random.default_rng(seed)
    params = {"stride": stride, "pad": pad, "dilation": dilation}
    inputs = {"x": rng.normal(size=x_shape), "w": rng.normal(size=w_shape), "b": rng.normal(size=w_shape[0])}
    spec, arrays, clean = prepare("conv2d", inputs, params)
    out_shape = spec.run(arrays, clean, extras=False)["out"].shape
    inputs["dout"] = rng.normal(size=out_shape)
    spec, arrays, clean = prepare("conv2d", inputs, params)
    return spec.run(arrays, clean), clean


@pytest.mark.parametrize("case", CASES, ids=[str(c) for c in CASES])
def test_every_dx_cell_both_ways(case):
    result, params = _run(case)
    for n, c, h, w in np.ndindex(result["dx"].shape):
        win = dx_window(result, params, n, c, h, w)
        assert win.agree, (case, (n, c, h, w), win.total, win.value)
        np.testing.assert_array_equal(win.products, win.window * win.kernel)
        assert math.isclose(math.fsum(a.value for a in win.adds), win.value, rel_tol=1e-9, abs_tol=1e-12)
        for a in win.adds:
            assert a.value == result["dx_col"][a.r, a.j]


@pytest.mark.parametrize("case", CASES, ids=[str(c) for c in CASES])
def test_every_dw_cell_both_ways(case):
    result, params = _run(case, seed=1)
    for f, c, kh, kw in np.ndindex(result["dw"].shape):
        win = dw_window(result, params, f, c, kh, kw)
        assert win.agree, (case, (f, c, kh, kw), win.total, win.value)
        assert math.isclose(float(np.sum(win.products)), win.value, rel_tol=1e-9, abs_tol=1e-12)
        assert np.allclose(result["dout_row"][f] @ result["x_col"][win.r], win.value)


def test_notes_edge_filter_dx_cells():
    """The issue's student: why is dx = [[1, 1, 0, −1, −1], [2, 2, 0, −2, −2], …]? dx[1,1] is 2 by both routes."""
    x = np.arange(1.0, 26.0).reshape(1, 1, 5, 5)
    w = np.array([[[[1.0, 0.0, -1.0]] * 3]])
    spec, arrays, params = prepare("conv2d", {"x": x, "w": w, "b": [0.0]}, {"stride": 1, "pad": 0})
    result = spec.run(arrays, params)
    win = dx_window(result, params, 0, 0, 1, 1)
    assert win.value == win.total == 2.0 and win.nonzero == 2
    assert win.window.shape == (1, 3, 3) and win.top == 1 and win.left == 1
    adds = r"dX_{\text{col}}[4,0] + dX_{\text{col}}[3,1] + dX_{\text{col}}[1,3] + dX_{\text{col}}[0,4]"
    assert adds in win.col2im_latex
    np.testing.assert_array_equal(result["dx"][0, 0, :2], [[1, 1, 0, -1, -1], [2, 2, 0, -2, -2]])
    assert db_sums(result, params) == [r"\text{db}[0] = " + " + ".join(["1"] * 9) + " = 9"]


def test_outside_is_named():
    result, params = _run(CASES[0])
    with pytest.raises(OpInputError):
        dx_window(result, params, 0, 0, 5, 0)
    with pytest.raises(OpInputError):
        dw_window(result, params, 1, 0, 0, 0)
    assert get_spec("conv2d")


def test_db_sums_write_the_douts_of_each_filter_and_end_in_db():
    result, params = _run(CASES[1])
    lines = db_sums(result, params)
    assert len(lines) == result["db"].shape[0]
    for f, line in enumerate(lines):
        assert line.rstrip().endswith(tex_number(float(result["db"][f]), 6) + r" \end{aligned}") or \
            line.endswith(" = " + tex_number(float(result["db"][f]), 6))
        assert math.isclose(float(np.sum(result["dout"][:, f])), float(result["db"][f]), rel_tol=1e-12)


def test_a_long_form_of_the_sum_gets_a_line_of_its_own():
    """lines_tex's ``via``: the row-times-column form is written on the first line, the terms' lines under it, so
    that a long form does not push them off a narrow screen; a sum of one line stays one line."""
    long = lines_tex("L", [f"a_{k}" for k in range(7)], "R", per_line=3, via=r"u\cdot v")
    assert long == r"\begin{aligned} L &= u\cdot v \\ &= a_0 + a_1 + a_2 \\ &\quad + a_3 + a_4 + a_5 \\ &\quad + a_6" \
                   r" \\ &= R \end{aligned}"
    assert lines_tex("L", ["a", "b"], "R", via="u") == "L = u = a + b = R"
    assert lines_tex("L", ["a", "b"], "R") == "L = a + b = R"
