"""Group norm: gradients over random shapes and groups; instance norm (G = C) and G = 1 by other routes."""

import numpy as np
import pytest

from engine.registry import op_provenance, op_steps, run_op
from tests.engine.conftest import assert_gradcheck, raises_field

CASES = [((2, 4, 3, 3), 2), ((3, 6, 2, 2), 3), ((2, 3, 2, 4), 3), ((2, 4, 1, 1), 1), ((4, 6), 2), ((1, 2, 5, 5), 1)]


def _inputs(shape, seed):
    rng = np.random.default_rng(seed)
    c = shape[1]
    return {"x": rng.normal(size=shape) * 3 + 1, "gamma": rng.uniform(0.5, 1.5, c), "beta": rng.normal(size=c),
            "dout": rng.normal(size=shape)}


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{'x'.join(map(str, c[0]))}-G{c[1]}")
def test_gradcheck(case):
    shape, groups = case
    assert_gradcheck("groupnorm", _inputs(shape, sum(shape)), {"groups": groups}, case=str(case))


@pytest.mark.parametrize("seed", range(6))
def test_gradcheck_random(seed):
    rng = np.random.default_rng(100 + seed)
    per, groups = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    shape = (int(rng.integers(1, 4)), per * groups, int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    eps = float(rng.choice([1e-5, 1e-3, 0.1]))
    assert_gradcheck("groupnorm", _inputs(shape, seed), {"groups": groups, "eps": eps}, case=f"{shape} G{groups}",
                     h=1e-4)


def test_instance_norm_is_groups_equal_to_channels():
    a = _inputs((2, 3, 4, 5), 7)
    out = run_op("groupnorm", a, {"groups": 3})["out"]
    x = a["x"]
    mean, var = x.mean(axis=(2, 3), keepdims=True), x.var(axis=(2, 3), keepdims=True)
    want = a["gamma"][None, :, None, None] * (x - mean) / np.sqrt(var + 1e-5) + a["beta"][None, :, None, None]
    np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12)


def test_one_group_is_layer_norm_with_per_channel_scale():
    a = _inputs((2, 3, 2, 2), 8)
    g = run_op("groupnorm", a, {"groups": 1})
    gamma = np.broadcast_to(a["gamma"][:, None, None], (3, 2, 2)).copy()
    beta = np.broadcast_to(a["beta"][:, None, None], (3, 2, 2)).copy()
    ln = run_op("layernorm", {"x": a["x"], "gamma": gamma, "beta": beta, "dout": a["dout"]})
    for name in ("out", "x_hat", "dx"):
        np.testing.assert_allclose(g[name], ln[name], rtol=1e-12, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(g["dgamma"], ln["dgamma"].sum(axis=(1, 2)), rtol=1e-12)
    np.testing.assert_allclose(g["mean"][:, 0], ln["mean"], rtol=1e-12)


def test_statistics_shapes_and_defaults():
    a = run_op("groupnorm", {"x": np.arange(16.0).reshape(1, 4, 2, 2)}, {"groups": 2})
    np.testing.assert_allclose(a["mean"], [[3.5, 11.5]])
    np.testing.assert_allclose(a["var"], [[5.25, 5.25]])
    np.testing.assert_array_equal(a["gamma"], np.ones(4))
    assert a["dx_hat"].shape == (1, 4, 2, 2) and a["dvar"].shape == (1, 2)


def test_errors_name_the_field():
    x = np.ones((2, 4, 2, 2))
    raises_field("params.groups", run_op, "groupnorm", {"x": x}, {"groups": 3}, match="1, 2, 4")
    raises_field("params.groups", run_op, "groupnorm", {"x": x}, {"groups": 8})
    raises_field("inputs.gamma", run_op, "groupnorm", {"x": x, "gamma": np.ones(3)}, {"groups": 2})
    raises_field("inputs.dout", run_op, "groupnorm", {"x": x, "dout": np.ones((2, 4))}, {"groups": 2})


def test_steps_and_provenance():
    a = _inputs((1, 4, 2, 1), 3)
    arrays = run_op("groupnorm", a, {"groups": 2})
    for step in op_steps("groupnorm", a, {"groups": 2}):
        for key, value in step.arrays.items():
            np.testing.assert_array_equal(value, arrays[key], err_msg=f"{step.name} {key}")
    found = op_provenance("groupnorm", a, {"groups": 2}, "out", (0, 3, 1, 0))
    assert found["x"] == [(0, 2, 0, 0), (0, 2, 1, 0), (0, 3, 0, 0), (0, 3, 1, 0)]
    assert found["gamma"] == [(3,)] and found["beta"] == [(3,)]
    assert op_provenance("groupnorm", a, {"groups": 2}, "mean", (0, 0))["x"] == [(0, 0, 0, 0), (0, 0, 1, 0),
                                                                                 (0, 1, 0, 0), (0, 1, 1, 0)]
