"""The normalization lab's state: links and forms, strict and lossless."""

from __future__ import annotations

import numpy as np
import pytest

from app.settings import Settings
from app.web.kit.fields import FieldError
from app.web.labs.norm.presets import PRESETS
from app.web.labs.norm.state import NormState, from_form, from_link, relayout

SETTINGS = Settings()


@pytest.mark.parametrize("key", sorted(PRESETS))
def test_every_preset_round_trips_through_its_link(key):
    state = PRESETS[key].make(5)
    again = from_link(state.to_query(), SETTINGS)
    assert again.to_query() == state.to_query()
    np.testing.assert_array_equal(again.x, state.x)
    np.testing.assert_array_equal(again.dout(), state.dout())


def test_a_short_link_fills_the_defaults():
    state = from_link("v=1&x=2x2:1,2,3,4", SETTINGS)
    assert state.tab == "bn" and state.mode == "train" and state.momentum is None
    np.testing.assert_array_equal(state.gamma, [1, 1])
    np.testing.assert_array_equal(state.running_var, [1, 1])
    assert state.dout_mode == "ones" and state.p == 0.25 and state.p_means == "drop"


def test_momentum_empty_means_the_conventions_default():
    state = from_link("v=1&x=2x2:1,2,3,4&momentum=0.3", SETTINGS)
    assert state.momentum == 0.3 and state.bn_params()["momentum"] == 0.3
    assert "momentum" not in from_link("v=1&x=2x2:1,2,3,4", SETTINGS).bn_params()


def test_the_p_convention_decides_its_range():
    assert from_link("v=1&x=1x1:1&p=1&p_means=keep", SETTINGS).p == 1
    with pytest.raises(FieldError) as err:
        from_link("v=1&x=1x1:1&p=1", SETTINGS)
    assert err.value.field == "p"


def test_relayout_spreads_features_and_takes_them_back():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    images = relayout(x, (2, 2, 2, 3))
    np.testing.assert_array_equal(images[1, 0], np.full((2, 3), 3.0))
    np.testing.assert_array_equal(relayout(images, (2, 2)), x)
    np.testing.assert_array_equal(relayout(x, (3, 1)), [[1], [3], [0]])


def test_from_form_collects_every_problem():
    form = {"layout": ["nd"], "N": ["2"], "D": ["2"], "x_shape": ["2x2"], "x": ["1", "x", "3", ""],
            "c_shape": ["2"], "gamma": ["1", "1"], "beta": ["0", "0"], "running_mean": ["0", "0"],
            "running_var": ["1", "-3"], "eps": ["-1"], "tab": ["bn"]}
    state, errors = from_form(form, SETTINGS)
    assert state is None
    assert {e.field for e in errors} == {"x[0, 1]", "x[1, 1]", "running_var[1]", "eps"}


def test_ln_gamma_spreads_over_the_plane():
    state = NormState(np.zeros((1, 2, 2, 2)), np.array([2.0, 3.0]), np.zeros(2), np.zeros(2), np.ones(2))
    gamma, _ = state.ln_gamma_beta()
    assert gamma.shape == (2, 2, 2) and gamma[1, 1, 0] == 3.0
