"""``link_texts`` (a whole array's link texts at once) writes exactly what ``link_text`` writes for each value: links
and image planes' hidden fields made either way are the same text, so every recorded link still opens."""

from __future__ import annotations

import numpy as np

from app.web.render.numbers import link_text, link_texts


def test_link_texts_is_link_text_of_every_value():
    rng = np.random.default_rng(0)
    powers = 10.0 ** np.arange(-20, 30)
    values = np.concatenate([
        rng.standard_normal(2000), np.round(rng.standard_normal(500) * 100), powers, -powers,
        np.round(rng.standard_normal(100) * 1e15), np.round(rng.standard_normal(100) * 1e16),
        [0.0, -0.0, 1e15 - 1, 1e15, -1e15, 999999999999999.0, -999999999999999.0, 123456789012345.0, 5e-324,
         1.7976931348623157e308, np.inf, -np.inf, np.nan, 0.1, -3.0, 2.5e-8]])
    assert link_texts(values) == [link_text(v) for v in values]


def test_link_texts_reads_any_shape_row_major():
    grid = np.array([[[1.0, -0.0], [0.5, 2e20]]])
    assert link_texts(grid) == ["1", "0", "0.5", "2e+20"]
    assert link_texts(np.float64(3.0)) == ["3"]


def test_a_link_array_reads_back_the_same_in_one_go_and_each_bad_number_is_still_named():
    from app.web.kit.fields import FieldError
    from app.web.kit.link import decode_array, encode_array

    x = np.round(np.random.default_rng(1).standard_normal((1, 2, 28, 28)), 4)
    x[0, 0, 0, 1], x[0, 1, 5, 5] = 1e300, -3.0
    assert np.array_equal(decode_array("x", encode_array(x), 4, (4, 4, 32, 32)), x)
    assert decode_array("x", "1x1x1x4:.5,5.,+1,-.5e-3", 4, (1, 1, 1, 4)).tolist() == [[[[0.5, 5.0, 1.0, -0.0005]]]]
    assert decode_array("x", "1x1x1x2:1, −2", 4, (1, 1, 1, 2)).tolist() == [[[[1.0, -2.0]]]]  # the strict reader's
    for text, message in (("1,abc", "not a number"), ("1,1e999", "not a finite number"), ("1,inf", "not a finite"),
                          ("1,", "is empty")):
        try:
            decode_array("x", "1x1x1x2:" + text, 4, (1, 1, 1, 2))
        except FieldError as exc:
            assert exc.field == "x[1]" and message in exc.message, (text, exc.field, exc.message)
        else:
            raise AssertionError(text)
