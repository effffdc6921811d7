"""The gradient check's measure: floored at the rounding noise of each central difference, strict above it."""

from dataclasses import replace

import numpy as np
import pytest

from engine import registry
from engine.gradcheck import EPS, ROUNDING, TOL, Wrt, central_differences, check_op, compare, gradient_error


def test_the_noise_is_the_rounding_of_f_over_h():
    f = lambda v: float(np.sum(v * v)) + 1000.0  # noqa: E731 - |f| ≈ 1000 whatever v is
    d = central_differences(f, np.array([0.5, -2.0]), h=1e-3)
    np.testing.assert_allclose(d.grad, [1.0, -4.0], rtol=1e-6)
    np.testing.assert_allclose(d.noise, ROUNDING * EPS * 1000.0 / 1e-3, rtol=1e-2)
    assert central_differences(f, np.zeros(2), h=1e-3, scale=1e6).noise[0] > 100 * d.noise[0]


def test_an_exact_zero_gradient_is_not_failed_by_rounding():
    # the conv badge's case: a linear op, analytic 0, the central difference 1e-12 from rounding alone
    analytic, numeric, noise = np.array([0.0, 2.0]), np.array([1e-12, 2.0]), np.array([2e-11, 2e-11])
    assert gradient_error(analytic, numeric, noise).max() < TOL
    # the plain cs231n floor (1e-8) fails it: 1e-12 / 1e-8 = 1e-4
    assert gradient_error(analytic, numeric, np.zeros(2)).max() == pytest.approx(1e-4)


@pytest.mark.parametrize("off", [1e-5, 1e-3, 2.0, -1.0])
def test_a_wrong_gradient_still_fails_even_a_small_one(off):
    """A gradient of size 1e-4 (well below the floor noise/tol) off by 10 ppm or more still fails."""
    true, noise = np.array([1e-4, 3.0]), np.full(2, 2e-11)  # floor = noise/tol = 2e-4 > |1e-4|
    wrong = true * np.array([1 + off, 1.0])
    assert gradient_error(wrong, true, noise).max() > TOL


def test_check_op_passes_the_conv_badge_case_and_fails_a_planted_bug(monkeypatch):
    inputs = {"x": [[[[1, 2, 4], [3, 2, 1], [5, 2, 1]]]], "w": [[[[1, -1], [2, 1]]]], "b": [0.5]}
    params = {"stride": 1, "pad": 0}
    assert check_op("conv2d", inputs, params, h=1e-3, max_per_input=40).ok()
    spec = registry.get_spec("conv2d")
    run = spec.run

    def wrong(arrays, p, extras=True):  # dw off by one part in 10^5
        result = dict(run(arrays, p, extras=extras))
        result["dw"] = result["dw"] * (1 + 1e-5)
        return result

    monkeypatch.setitem(registry.OPS, "conv2d", replace(spec, run=wrong))
    report = check_op("conv2d", inputs, params, h=1e-3, max_per_input=40)
    assert not report.ok() and report.where.startswith("dw[")


def test_compare_samples_allowed_entries_with_the_seed():
    f = lambda v: float(np.sum(v ** 3))  # noqa: E731
    x = np.linspace(-1, 1, 10)
    rep = compare({"x": Wrt(f, x, 3 * x ** 2, allowed=np.arange(2, 8))}, h=1e-5, max_per_input=3, seed=4)
    assert rep.checked == 3 and rep.total == 10 and rep.ok()
    again = compare({"x": Wrt(f, x, 3 * x ** 2, allowed=np.arange(2, 8))}, h=1e-5, max_per_input=3, seed=4)
    np.testing.assert_array_equal(rep.numeric["dx"], again.numeric["dx"])
