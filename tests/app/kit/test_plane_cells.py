"""A posted plane is read once by its text (app.web.kit.plane): read again from the memo, each answer is an array of
its own, and a text that is not plain numbers is still read number by number and each bad one named."""

from __future__ import annotations

import numpy as np

from app.web.kit.plane import plane_cells


def read(*texts: str) -> tuple[np.ndarray, list]:
    errors: list = []
    return plane_cells({"x_plane": list(texts)}, "x", (1, len(texts), 2, 2), errors), errors


def test_a_plane_read_again_is_the_same_numbers_in_an_array_of_its_own():
    first, errors = read("1 2 3 4", "0.5 -1 1e-3 7")
    assert not errors
    first[0, 0, 0, 0] = 99.0  # what a caller does with its answer is not the next one's
    again, errors = read("1 2 3 4", "0.5 -1 1e-3 7")
    assert not errors
    np.testing.assert_array_equal(again, [[[[1, 2], [3, 4]], [[0.5, -1], [1e-3, 7]]]])
    assert again.flags.writeable


def test_a_bad_number_is_named_though_its_neighbours_were_read_before():
    read("1 2 3 4")
    out, errors = read("1 2 3 4", "1 2 x 4")
    assert [e.field for e in errors] == ["x[0, 1, 1, 0]"]
    np.testing.assert_array_equal(out[0, 0], [[1, 2], [3, 4]])
