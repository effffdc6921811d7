"""im2col's geometry: the index maps, padding, and col2im as im2col's adjoint."""

import itertools

import numpy as np
import pytest

from engine.ops.im2col import (
    col2im,
    col_to_window,
    conv_output_size,
    im2col,
    offset_to_row,
    pad_input,
    row_to_offset,
    window_to_col,
)
from tests.engine.ops.conv_cases import MANY_CASES, case_id, make_arrays


def test_x_col_entries_by_index_maps():
    """Every entry of x_col is x_padded at the window/offset its row and column name."""
    case = (2, 2, 6, 5, 1, 3, 2, 2, 1)
    a, params = make_arrays(case)
    s, p = params["stride"], params["pad"]
    x_padded = pad_input(a["x"], p)
    x_col = im2col(x_padded, 3, 2, s)
    N, C, OH, OW = 2, 2, conv_output_size(6, 3, s, p), conv_output_size(5, 2, s, p)
    assert x_col.shape == (C * 3 * 2, N * OH * OW)
    for r, j in itertools.product(range(x_col.shape[0]), range(x_col.shape[1])):
        c, kh, kw = row_to_offset(r, C, 3, 2)
        n, oh, ow = col_to_window(j, N, OH, OW)
        assert offset_to_row(c, kh, kw, 3, 2) == r and window_to_col(n, oh, ow, OH, OW) == j
        assert r == (c * 3 + kh) * 2 + kw and j == (n * OH + oh) * OW + ow
        assert x_col[r, j] == x_padded[n, c, oh * s + kh, ow * s + kw]


def test_index_maps_reject_out_of_range():
    with pytest.raises(IndexError):
        col_to_window(12, 1, 3, 4)
    with pytest.raises(IndexError):
        row_to_offset(-1, 2, 2, 2)


def test_pad_input():
    x = np.arange(6.0).reshape(1, 1, 2, 3)
    assert pad_input(x, 0) is x
    xp = pad_input(x, 1)
    assert xp.shape == (1, 1, 4, 5)
    np.testing.assert_array_equal(xp[0, 0], [[0, 0, 0, 0, 0], [0, 0, 1, 2, 0], [0, 3, 4, 5, 0], [0, 0, 0, 0, 0]])


@pytest.mark.parametrize("case", MANY_CASES[:20], ids=[case_id(c) for c in MANY_CASES[:20]])
def test_col2im_is_the_adjoint_of_im2col(case):
    """<im2col(x), y> == <x, col2im(y)> for random x, y: col2im is im2col transposed."""
    N, C, H, W, F, KH, KW, s, p = case
    rng = np.random.default_rng(5)
    xp = rng.normal(size=(N, C, H + 2 * p, W + 2 * p))
    x_col = im2col(xp, KH, KW, s)
    y = rng.normal(size=x_col.shape)
    lhs = np.sum(x_col * y)
    rhs = np.sum(xp * col2im(y, xp.shape, KH, KW, s))
    assert lhs == pytest.approx(rhs, rel=1e-12, abs=1e-12)


def test_col2im_counts_window_overlaps():
    """col2im of all ones = how many windows cover each pixel (0 where rows are dropped)."""
    xp_shape = (1, 1, 6, 6)
    counts = col2im(np.ones((9, 4)), xp_shape, 3, 3, 2)  # OH = OW = 2, last row/col dropped
    one_d = np.array([1, 1, 2, 1, 1, 0])
    np.testing.assert_array_equal(counts[0, 0], np.outer(one_d, one_d))
