"""engine.optim.surfaces: each surface's gradient against central differences, hand values, trajectories."""

import numpy as np
import pytest

from engine.gradcheck import numeric_gradient
from engine.optim.surfaces import SURFACES, trajectory
from tests.engine.conftest import raises_field


@pytest.mark.parametrize("surface", list(SURFACES))
def test_surface_gradient_matches_numeric(surface):
    surf = SURFACES[surface]
    rng = np.random.default_rng(3)
    (x0, x1), (y0, y1) = surf.x_range, surf.y_range
    points = [np.array(surf.start)] + [np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)]) for _ in range(5)]
    for point in points:
        numeric = numeric_gradient(lambda q: float(surf.f(q)), point)
        np.testing.assert_allclose(surf.grad(point), numeric, rtol=1e-6, atol=1e-5,
                                   err_msg=f"{surface} at {point.tolist()}")


@pytest.mark.parametrize("surface", list(SURFACES))
def test_surface_on_a_grid_and_minima(surface):
    surf = SURFACES[surface]
    xs, ys = np.meshgrid(np.linspace(*surf.x_range, 7), np.linspace(*surf.y_range, 5))
    grid = np.stack([xs, ys], axis=-1)
    assert surf.f(grid).shape == (5, 7)
    assert surf.grad(grid).shape == (5, 7, 2)
    np.testing.assert_allclose(surf.f(grid[2, 3]), surf.f(grid)[2, 3])
    for minimum in surf.minima:
        assert abs(float(surf.f(np.array(minimum)))) < 1e-8
        np.testing.assert_allclose(surf.grad(np.array(minimum)), [0.0, 0.0], atol=1e-4)


def test_hand_values_of_the_surfaces():
    x, y = 0.5, -1.5
    assert SURFACES["ill_conditioned"].f(np.array([x, y])) == pytest.approx(0.5 * (0.25 + 25 * 2.25))
    assert SURFACES["rosenbrock"].f(np.array([x, y])) == pytest.approx(0.25 + 100 * (-1.75) ** 2)
    assert SURFACES["saddle"].f(np.array([x, y])) == pytest.approx(0.25 - 2.25)
    assert SURFACES["himmelblau"].f(np.array([x, y])) == pytest.approx((0.25 - 1.5 - 11) ** 2 + (0.5 + 2.25 - 7) ** 2)
    beale = (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2
    assert SURFACES["beale"].f(np.array([x, y])) == pytest.approx(beale)


def test_sgd_trajectory_on_the_quadratic_descends():
    tr = trajectory("ill_conditioned", "sgd", hyperparams={"lr": 0.01}, steps=200)
    assert not tr.diverged and tr.diverged_at is None and tr.reason == ""
    assert tr.points.shape == (201, 2) and tr.losses.shape == (201,) and tr.grads.shape == (200, 2)
    np.testing.assert_array_equal(tr.points[0], SURFACES["ill_conditioned"].start)
    # the first update by hand: (−4.5, 1.5) − 0.01·(−4.5, 25·1.5)
    np.testing.assert_allclose(tr.points[1], [-4.5 + 0.045, 1.5 - 0.375], rtol=1e-12)
    assert np.all(np.diff(tr.losses) < 0), "plain SGD below 2/25 must lower the quadratic at every step"
    assert tr.losses[-1] < 0.01 * tr.losses[0]
    np.testing.assert_allclose(tr.losses, SURFACES["ill_conditioned"].f(tr.points))


def test_trajectory_records_divergence():
    tr = trajectory("rosenbrock", "sgd", hyperparams={"lr": 0.01}, steps=100)
    assert tr.diverged and tr.diverged_at is not None and "not finite" in tr.reason
    assert len(tr.points) == tr.diverged_at  # the start plus every finite update before it
    assert np.all(np.isfinite(tr.points)) and np.all(np.isfinite(tr.losses))
    # the quadratic diverges too above lr = 2/25: |1 − 25·lr| > 1 along y
    tr = trajectory("ill_conditioned", "sgd", hyperparams={"lr": 0.1}, steps=2000)
    assert np.all(np.diff(np.abs(tr.points[:, 1])) > 0)


def test_adam_reaches_a_minimum():
    tr = trajectory("himmelblau", "adam", hyperparams={"lr": 0.1}, steps=500)
    assert tr.losses[-1] < 1e-8
    tr = trajectory("ill_conditioned", "momentum", start=[3.0, -1.0], hyperparams={"lr": 0.01}, steps=300)
    assert tr.losses[-1] < 1e-3 * tr.losses[0]


def test_trajectory_validation():
    raises_field("surface", trajectory, "moon", "sgd")
    raises_field("optimizer", trajectory, "saddle", "newton")
    raises_field("start", trajectory, "saddle", "sgd", start=[1.0, 2.0, 3.0])
    raises_field("start", trajectory, "saddle", "sgd", start=[1.0, float("nan")])
    raises_field("steps", trajectory, "saddle", "sgd", steps=0)
    raises_field("steps", trajectory, "saddle", "sgd", steps=1.5)
    raises_field("hyperparams.lr", trajectory, "saddle", "sgd", hyperparams={"lr": 100.0})
