"""Reading a lab's form and a link's fields: strict, every problem collected and named, nothing clamped."""

from __future__ import annotations

import numpy as np
import pytest

from app.web.kit.fields import FieldError, parse_choice, parse_index, parse_int, parse_number
from app.web.kit.form import choice_field, collect, first, grid_cells, int_field, number_cells, resize, shape_field
from app.web.kit.link import split_query


def test_parsers_name_the_field_and_the_problem():
    assert parse_number("x", " −1.5 ") == -1.5
    assert parse_int("k", "2.0", 1, 3) == 2
    assert parse_choice("mode", "eval", ("train", "eval")) == "eval"
    assert parse_index("0,1,2") == (0, 1, 2)
    for call, field, words in [(lambda: parse_number("x", ""), "x", "is empty"),
                               (lambda: parse_number("x", "inf"), "x", "not a finite number"),
                               (lambda: parse_int("k", "1.5", 1, 3), "k", "must be a whole number, got 1.5"),
                               (lambda: parse_int("k", "4", 1, 3), "k", "must be between 1 and 3, got 4"),
                               (lambda: parse_choice("mode", "x", ("a", "b")), "mode", "must be one of a, b; got 'x'")]:
        with pytest.raises(FieldError) as err:
            call()
        assert err.value.field == field and words in err.value.message, err.value
    with pytest.raises(ValueError):
        parse_index("")


def test_form_fields_collect_every_problem_and_fall_back():
    form = {"k": ["9"], "mode": ["nope"], "n": ["2", "7"]}
    errors: list[FieldError] = []
    assert first(form, "n") == "2" and first(form, "missing", "d") == "d"
    assert int_field(form, "k", 1, 3, errors) == 1  # lo when bad
    assert int_field(form, "absent", 0, 5, errors, default="4") == 4
    assert choice_field(form, "mode", ("a", "b"), errors, "a") == "a"
    assert collect(errors, parse_number, "z", "oops", fallback=-1) == -1
    assert [e.field for e in errors] == ["k", "mode", "z"]


def test_grid_cells_are_read_row_major_and_each_bad_cell_is_named():
    errors: list[FieldError] = []
    form = {"x": ["1", "2", "3", "4", "5", "6"], "y": ["1", "b", "3", ""], "z": ["1"]}
    np.testing.assert_array_equal(grid_cells(form, "x", (2, 3), errors), [[1, 2, 3], [4, 5, 6]])
    assert errors == []
    grid_cells(form, "y", (2, 2), errors)
    assert [e.field for e in errors] == ["y[0, 1]", "y[1, 1]"]
    grid = grid_cells(form, "z", (2, 2), errors)
    assert grid.shape == (2, 2) and errors[-1].field == "z" and "expected 4 cells for shape [2, 2], got 1" in \
        errors[-1].message
    negative = grid_cells({"c": ["-1"]}, "c", (1,), errors, parse=lambda label, text: abs(parse_number(label, text)))
    assert negative.tolist() == [1.0]


def test_number_cells_take_their_labels_and_are_none_when_absent():
    errors: list[FieldError] = []
    assert number_cells({}, "theta0", ["θ0[a]"], errors) is None and errors == []
    assert number_cells({"theta0": ["1", "2"]}, "theta0", ["θ0[a]"], errors) is None
    assert errors[-1].message == "expected 1 cells, got 2"
    number_cells({"g": ["1", "x"]}, "g", ["g[t=1, a]", "g[t=1, b]"], errors)
    assert errors[-1].field == "g[t=1, b]"


@pytest.mark.parametrize("text,ndim,shape", [("1x2x3x4", None, (1, 2, 3, 4)), ("2x3", 2, (2, 3)), ("2x3", 4, None),
                                             ("", None, None), ("0x2", None, None), ("1x1x1x1x1", None, None),
                                             ("99999999999999999999", None, None), ("1x4097", 2, None),
                                             ("٢x3", 2, None), ("1_0x3", 2, None)])
def test_shape_fields(text, ndim, shape):
    errors: list[FieldError] = []
    assert shape_field({"x_shape": [text]}, "x_shape", errors, ndim=ndim, max_cells=4096) == shape
    assert bool(errors) == (shape is None)


def test_resize_keeps_what_fits():
    values = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(resize(values, (3, 2), fill=-1), [[0, 1], [3, 4], [-1, -1]])
    np.testing.assert_array_equal(resize(values, (4,), fill=7), [7, 7, 7, 7])  # other axes: nothing fits


def test_split_query_keeps_the_link_as_it_came():
    link, own = split_query("v=1&z=abc-_&from=3&speed=10", ("from", "speed"))
    assert link == "v=1&z=abc-_" and own == {"from": "3", "speed": "10"}
    with pytest.raises(FieldError) as err:
        split_query("v=1&from=1&from=2", ("from",))
    assert err.value.field == "from"
