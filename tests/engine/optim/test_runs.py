"""engine.optim_lab: runs kept step by step, streamed paths, gradient sequences, plugged formulas,
provenance, surface grids and the surface gradient check. Expected numbers are worked by hand."""

from __future__ import annotations

import itertools
import math
import threading
from dataclasses import replace

import numpy as np
import pytest

from engine.optim import runs as optim_lab
from engine.optim import surfaces
from engine.optim.rules import run_optimizer
from engine.optim.surfaces import trajectory
from engine.records import OpInputError

NOTES_PARAMS = {"w1": 0.5, "w2": 0.3, "b0": 0.2, "b1": -0.1, "conv1": 0.8}
NOTES_GRADS = {"w1": 0.02, "w2": 0.01, "b0": 0.01, "b1": -0.03, "conv1": 0.05}
NOTES_FORM = {"lr": 0.01, "beta1": 0.9, "beta2": 0.995, "eps": 1e-7, "eps_placement": "inside",
              "bias_correction": False}
ALL = [("sgd", {"lr": 0.1}), ("momentum", {"lr": 0.1, "form": "pytorch"}), ("momentum", {"lr": 0.1, "form": "ema"}),
       ("rmsprop", {"lr": 0.01}), ("adam", {"lr": 0.01}), ("adam", {"lr": 0.01, "weight_decay": 0.1}),
       ("adamw", {"lr": 0.01, "weight_decay": 0.1}), ("adam", NOTES_FORM)]


def _ids(case):
    name, hp = case
    return name + "-" + "-".join(f"{k}{v}" for k, v in hp.items())


@pytest.mark.parametrize("case", ALL, ids=[_ids(c) for c in ALL])
def test_run_steps_agrees_with_run_optimizer(case):
    name, hp = case
    rng = np.random.default_rng(3)
    seq = [{k: float(v) for k, v in zip(NOTES_PARAMS, rng.standard_normal(5), strict=True)} for _ in range(6)]
    steps = optim_lab.run_steps(name, NOTES_PARAMS, hp, grads_seq=seq)
    api = run_optimizer(name, NOTES_PARAMS, seq, hp)
    assert [s.t for s in steps] == [1, 2, 3, 4, 5, 6]
    for s, a in zip(steps, api, strict=True):
        for k in NOTES_PARAMS:
            assert float(s.new_params[k]) == float(a["params"][k]), (case, s.t, k)
            for slot, arrays in a["state"].items():
                got = s.record.slots[slot][k] if slot in s.record.slots else getattr(s.record, slot)[k]
                assert float(got) == float(arrays[k]), (case, s.t, slot, k)
    # each step starts where the previous one ended
    for prev, nxt in itertools.pairwise(steps):
        assert {k: float(v) for k, v in nxt.params.items()} == {k: float(v) for k, v in prev.new_params.items()}


def test_table_is_steps_by_parameters_in_order():
    steps = optim_lab.run_steps("adam", NOTES_PARAMS, NOTES_FORM, grads_seq=[NOTES_GRADS, NOTES_GRADS])
    tab = optim_lab.table(steps)
    assert set(tab) == {"g", "theta", "update", "effective_step", "m", "v", "m_hat", "v_hat", "denom"}
    assert all(a.shape == (2, 5) for a in tab.values())
    # step 1 of the notes: m = 0.1·g, v = 0.005·g², columns in the order w1, w2, b0, b1, conv1
    np.testing.assert_allclose(tab["m"][0], [0.002, 0.001, 0.001, -0.003, 0.005], rtol=1e-12)
    np.testing.assert_allclose(tab["v"][0], [2e-6, 5e-7, 5e-7, 4.5e-6, 1.25e-5], rtol=1e-12)
    # step 2 with the same gradients: m = 0.9·0.1·g + 0.1·g = 0.19·g
    np.testing.assert_allclose(tab["m"][1], 0.19 * np.array(list(NOTES_GRADS.values())), rtol=1e-12)
    sgd = optim_lab.table(optim_lab.run_steps("sgd", {"a": 1.0}, {"lr": 0.5}, grads_seq=[{"a": 2.0}]))
    assert set(sgd) == {"g", "theta", "update", "effective_step"}
    assert sgd["theta"][0, 0] == 0.0 and sgd["update"][0, 0] == -1.0


def test_gradient_sequences_constant_and_noisy():
    const = optim_lab.gradient_sequence("constant", [0.5, -1.0], 3)
    np.testing.assert_array_equal(const, [[0.5, -1.0]] * 3)
    noisy = optim_lab.gradient_sequence("noisy", [0.5, -1.0], 4, sigma=0.1, seed=7)
    again = optim_lab.gradient_sequence("noisy", [0.5, -1.0], 4, sigma=0.1, seed=7)
    longer = optim_lab.gradient_sequence("noisy", [0.5, -1.0], 9, sigma=0.1, seed=7)
    np.testing.assert_array_equal(noisy, again)
    np.testing.assert_array_equal(noisy, longer[:4])  # step t's draw does not depend on how many follow
    assert np.all(np.round(noisy, 4) == noisy)
    assert not np.array_equal(noisy, optim_lab.gradient_sequence("noisy", [0.5, -1.0], 4, sigma=0.1, seed=8))
    np.testing.assert_array_equal(optim_lab.gradient_sequence("noisy", [0.5, -1.0], 2, sigma=0.0), [[0.5, -1.0]] * 2)
    with pytest.raises(OpInputError) as err:
        optim_lab.gradient_sequence("noisy", [1.0], 2, sigma=-1.0)
    assert err.value.field == "sigma"


def test_surface_gradients_follow_the_path():
    """g_t = ∇f(θ_{t−1}): the table's run is the surface trajectory itself."""
    grad = optim_lab.surface_gradient("rosenbrock")
    steps = optim_lab.run_steps("adam", {"x": -1.2, "y": 1.0}, {"lr": 0.05}, grad_fn=grad, steps=30)
    tr = trajectory("rosenbrock", "adam", [-1.2, 1.0], {"lr": 0.05}, 30)
    got = np.array([[float(s.new_params["x"]), float(s.new_params["y"])] for s in steps])
    np.testing.assert_array_equal(got, tr.points[1:])
    # at the start (−1.2, 1): ∂f/∂x = −2(1 − x) − 400x(y − x²) = −4.4 − 400·(−1.2)·(−0.44) = −215.6;
    # ∂f/∂y = 200(y − x²) = −88
    assert float(steps[0].grads["x"]) == pytest.approx(-215.6, rel=1e-12)
    assert float(steps[0].grads["y"]) == pytest.approx(-88.0, rel=1e-12)


@pytest.mark.parametrize("surface,name,hp,steps", [
    ("rosenbrock", "adam", {"lr": 0.05}, 300), ("ill_conditioned", "sgd", {"lr": 0.075}, 100),
    ("rosenbrock", "sgd", {"lr": 0.01}, 50), ("saddle", "momentum", {"lr": 0.05}, 120),
    ("himmelblau", "rmsprop", {"lr": 0.05}, 80), ("beale", "adamw", {"lr": 0.05}, 80)])
def test_path_steps_are_the_trajectory(surface, name, hp, steps):
    tr = trajectory(surface, name, None, hp, steps)
    path = list(itertools.islice(optim_lab.path_steps(surface, name, None, hp), steps))
    points = [p for p in path if p.point is not None]
    np.testing.assert_array_equal(np.array([p.point for p in points]).reshape(-1, 2), tr.points[1:])
    np.testing.assert_array_equal([p.loss for p in points], tr.losses[1:])
    assert [p.t for p in points] == list(range(1, len(points) + 1))
    if tr.diverged:  # sgd with lr 0.01 on Rosenbrock overflows at update 6: one last record says so
        assert path[-1].point is None and path[-1].t == tr.diverged_at and path[-1].reason == tr.reason
        assert len(path) == tr.diverged_at


def test_path_steps_resume_in_another_thread():
    """A stream fast-forwards a path in a worker thread and continues it on the event loop."""
    it = optim_lab.path_steps("rosenbrock", "adam", None, {"lr": 0.05})
    worker = threading.Thread(target=lambda: list(itertools.islice(it, 10)))
    worker.start()
    worker.join()
    assert next(it).t == 11
    it.close()


def test_plugged_formulas_of_the_notes_step():
    """Notes 001, w2, in the notes' form: m = 0.9·0 + 0.1·0.01 = 0.001; v = 0.995·0 + 0.005·0.01² = 5·10⁻⁷;
    θ = 0.3 − 0.01·0.001/√(5·10⁻⁷ + 10⁻⁷) = 0.3 − 10⁻⁵/0.000774597 = 0.287090."""
    step = optim_lab.run_steps("adam", NOTES_PARAMS, NOTES_FORM, grads_seq=[NOTES_GRADS])[0]
    lines = {st.name: line for st, line in optim_lab.plugged_step(step, "w2")}
    assert list(lines) == ["m", "v", "m_hat", "v_hat", "update"]
    assert lines["m"] == r"m_{1} = 0.9 \cdot 0 + 0.1 \cdot 0.01 = 0.001"
    assert lines["v"] == r"v_{1} = 0.995 \cdot 0 + 0.005 \cdot 0.01^2 = 5 \times 10^{-7}"
    assert lines["m_hat"] == r"\hat m_{1} = m_{1} = 0.001"
    assert r"\sqrt{5 \times 10^{-7} + 10^{-7}}" in lines["update"]
    assert lines["update"].endswith("= 0.28709")
    # PyTorch's form at t = 1: m̂ = 0.001/(1 − 0.9) = 0.01
    torch = optim_lab.run_steps("adam", NOTES_PARAMS, {**NOTES_FORM, "eps_placement": "outside",
                                                       "bias_correction": True}, grads_seq=[NOTES_GRADS])[0]
    lines = {st.name: line for st, line in optim_lab.plugged_step(torch, "w2")}
    assert lines["m_hat"] == r"\hat m_{1} = \frac{0.001}{1 - 0.9^{1}} = \frac{0.001}{0.1} = 0.01"
    assert r"\sqrt{0.0001} + 10^{-7}" in lines["update"]


@pytest.mark.parametrize("case", ALL, ids=[_ids(c) for c in ALL])
def test_every_sub_step_gets_a_plugged_formula(case):
    name, hp = case
    steps = optim_lab.run_steps(name, NOTES_PARAMS, hp, grads_seq=[NOTES_GRADS, NOTES_GRADS])
    for st, line in optim_lab.plugged_step(steps[1], "b1"):
        assert line.count("=") >= 2, (case, st.name, line)
        assert "_{2}" in line or st.name == "decay", (case, st.name, line)


def test_provenance_follows_the_formulas():
    prov = optim_lab.provenance
    adam = {"lr": 0.01}
    assert prov("adam", adam, "m", 1, 2) == {"g": [(1, 2)]}
    assert prov("adam", adam, "m", 3, 2) == {"m": [(2, 2)], "g": [(3, 2)]}
    assert prov("adam", {"weight_decay": 0.1}, "m", 3, 2) == {"m": [(2, 2)], "g_wd": [(3, 2)]}
    assert prov("adam", adam, "m_hat", 3, 0) == {"m": [(3, 0)]}
    assert prov("adam", adam, "denom", 3, 0) == {"v_hat": [(3, 0)]}
    assert prov("adam", adam, "update", 3, 0) == {"m_hat": [(3, 0)], "effective_step": [(3, 0)]}
    assert prov("adamw", adam, "update", 3, 0) == {"p_decayed": [(3, 0)], "m_hat": [(3, 0)],
                                                   "effective_step": [(3, 0)]}
    assert prov("adam", adam, "theta", 1, 4) == {"theta0": [(0, 4)], "update": [(1, 4)]}
    assert prov("adam", adam, "theta", 2, 4) == {"theta": [(1, 4)], "update": [(2, 4)]}
    assert prov("momentum", {}, "update", 2, 1) == {"v": [(2, 1)], "effective_step": [(2, 1)]}
    assert prov("sgd", {}, "effective_step", 2, 1) == {}
    assert prov("adam", adam, "g", 2, 1) == {"g_in": [(1, 1)]}
    assert prov("adam", adam, "g", 2, 1, "noisy") == {}
    # ∇f at θ_{t−1} depends on both coordinates
    assert prov("adam", adam, "g", 1, 0, "surface", 2) == {"theta0": [(0, 0), (0, 1)]}
    assert prov("adam", adam, "g", 3, 1, "surface", 2) == {"theta": [(2, 0), (2, 1)]}
    with pytest.raises(OpInputError):
        prov("sgd", {}, "m_hat", 1, 0)
    with pytest.raises(OpInputError):
        prov("adam", adam, "g_wd", 1, 0)  # no L2 term without weight decay
    assert optim_lab.table_quantities("adamw") == {"g", "theta", "update", "effective_step", "m", "v", "m_hat",
                                                   "v_hat", "denom", "p_decayed"}
    with pytest.raises(OpInputError):
        prov("adam", adam, "m", 0, 0)


def test_surface_grid_is_f_on_the_plotted_range():
    grid = optim_lab.surface_grid("rosenbrock", 9)
    assert grid.x[0] == -2.0 and grid.x[-1] == 2.0 and grid.y[0] == -1.0 and grid.y[-1] == 3.0
    assert grid.f.shape == (9, 9)
    # steps of 0.5; rows follow y: f[j, i] = f(x_i, y_j); at (1, 1) (i = 6, j = 4) Rosenbrock is 0
    assert grid.f[4, 6] == 0.0
    assert grid.f[4, 5] == pytest.approx((1 - 0.5) ** 2 + 100 * (1 - 0.25) ** 2)
    assert grid.f[0, 0] == pytest.approx((1 + 2) ** 2 + 100 * (-1 - 4) ** 2)
    np.testing.assert_allclose(grid.level, np.log1p(grid.f - grid.f.min()))
    assert grid.level.min() == 0.0


@pytest.mark.parametrize("surface", list(surfaces.SURFACES))
def test_surface_gradients_pass_the_check(surface):
    grid = optim_lab.surface_grid(surface, 9)
    X, Y = np.meshgrid(grid.x, grid.y)
    pts = np.concatenate([np.stack([X.ravel(), Y.ravel()], 1), np.array(surfaces.SURFACES[surface].minima or [[0, 0]])])
    report = optim_lab.check_surface_gradient(surface, pts)
    assert report.ok(), (surface, report.worst, report.where)
    assert report.checked == len(pts)


def test_a_wrong_surface_gradient_fails_the_check(monkeypatch):
    surf = surfaces.SURFACES["ill_conditioned"]
    monkeypatch.setitem(surfaces.SURFACES, "ill_conditioned", replace(surf, grad=lambda p: 1.01 * surf.grad(p)))
    report = optim_lab.check_surface_gradient("ill_conditioned", [[2.0, 1.0]])
    assert not report.ok()
    # analytic (2.02, 25.25) against numeric (2, 25): |25.25 − 25|/50.25
    assert report.worst == pytest.approx(0.25 / 50.25, rel=1e-6)


def test_nothing_passed_in_is_modified():
    params = {k: np.array(v) for k, v in NOTES_PARAMS.items()}
    grads = [{k: np.array(v) for k, v in NOTES_GRADS.items()}]
    before = ({k: v.copy() for k, v in params.items()}, {k: v.copy() for k, v in grads[0].items()})
    optim_lab.run_steps("adamw", params, {"weight_decay": 0.1}, grads_seq=grads)
    assert all(np.array_equal(params[k], before[0][k]) for k in params)
    assert all(np.array_equal(grads[0][k], before[1][k]) for k in grads[0])
    start = np.array([-1.2, 1.0])
    list(itertools.islice(optim_lab.path_steps("rosenbrock", "adam", start, {"lr": 0.05}), 5))
    assert start.tolist() == [-1.2, 1.0]


def test_difference_and_magnitude():
    d = optim_lab.difference({"update": np.array([1.0, -2.0]), "m": np.array([1.0])}, {"update": np.array([0.5, 1.0])})
    assert list(d) == ["update"] and d["update"].tolist() == [0.5, -3.0]
    assert optim_lab.magnitude(np.array([-0.5, 2.0])).tolist() == [0.5, 2.0]


def test_bad_inputs_name_their_field():
    with pytest.raises(OpInputError) as err:
        optim_lab.run_steps("adam", {"w": 1.0}, {"beta1": 1.5}, grads_seq=[{"w": 1.0}])
    assert err.value.field == "hyperparams.beta1"
    with pytest.raises(OpInputError) as err:
        list(optim_lab.path_steps("saddle", "sgd", [math.inf, 0.0]))
    assert err.value.field == "start"
    with pytest.raises(OpInputError):
        optim_lab.run_steps("sgd", {"w": 1.0}, {}, grads_seq=[{"w": 1.0}], grad_fn=lambda p: p)
