"""Layer norm: gradients, forward values, the staged and compact backward, errors, steps, provenance."""

import numpy as np
import pytest

from engine.ops.layernorm import layernorm_backward, layernorm_forward
from engine.records import OpInputError
from engine.registry import op_provenance, op_steps, run_op
from tests.engine.conftest import assert_gradcheck

LN_SHAPES = [(1, 4), (3, 5), (2, 3), (2, 2, 2, 2), (1, 3, 2, 2), (3, 1, 2, 3)]


@pytest.mark.parametrize("shape", LN_SHAPES, ids=lambda s: "x" + "x".join(map(str, s)))
def test_layernorm_gradcheck(shape):
    rng = np.random.default_rng(200 + LN_SHAPES.index(shape))
    inputs = {"x": rng.normal(size=shape), "gamma": rng.uniform(0.5, 1.5, shape[1:]),
              "beta": rng.normal(size=shape[1:]), "dout": rng.normal(size=shape)}
    report = assert_gradcheck("layernorm", inputs, case=f"{shape}")
    assert set(report.per_input) == {"x", "gamma", "beta"}


def test_layernorm_forward_matches_numpy():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 2, 2, 3)) * 4 + 1
    gamma, beta = rng.normal(size=(2, 2, 3)), rng.normal(size=(2, 2, 3))
    a = run_op("layernorm", {"x": x, "gamma": gamma, "beta": beta}, {"eps": 1e-4})
    mean, var = x.mean(axis=(1, 2, 3)), x.var(axis=(1, 2, 3))
    assert a["mean"].shape == a["var"].shape == (3,)
    np.testing.assert_allclose(a["mean"], mean, rtol=1e-12)
    np.testing.assert_allclose(a["var"], var, rtol=1e-12)
    x_hat = (x - mean[:, None, None, None]) / np.sqrt(var + 1e-4)[:, None, None, None]
    np.testing.assert_allclose(a["x_hat"], x_hat, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(a["out"], gamma * x_hat + beta, rtol=1e-12, atol=1e-14)
    # a sample's normalisation does not depend on the rest of the batch
    one = run_op("layernorm", {"x": x[1:2], "gamma": gamma, "beta": beta}, {"eps": 1e-4})
    np.testing.assert_allclose(one["out"][0], a["out"][1], rtol=1e-14)


def test_layernorm_backward_matches_batchnorm_identity_terms():
    rng = np.random.default_rng(6)
    x, dout = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    gamma, beta = rng.normal(size=5), rng.normal(size=5)
    out, cache = layernorm_forward(x, gamma, beta)
    g = layernorm_backward(dout, cache)
    np.testing.assert_allclose(g.dbeta, dout.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(g.dgamma, (dout * cache.x_hat).sum(axis=0), rtol=1e-12)
    # the gradient of a normalisation sums to zero along the normalised axis
    np.testing.assert_allclose(g.dx.sum(axis=1), 0, atol=1e-13)


@pytest.mark.parametrize("shape", [(3, 4), (1, 6), (2, 2, 3, 3)])
def test_layernorm_staged_equals_compact(shape):
    rng = np.random.default_rng(sum(shape))
    inputs = {"x": rng.normal(size=shape), "gamma": rng.normal(size=shape[1:]), "dout": rng.normal(size=shape)}
    a = run_op("layernorm", inputs)
    np.testing.assert_allclose(a["dx"], a["dx_compact"], rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize("change,field,message", [
    ({"gamma": np.ones(4)}, "inputs.gamma", "must have shape [3] (one per feature), got [4]"),
    ({"beta": np.ones((3, 1, 1))}, "inputs.beta", "must have shape [3]"),
    ({"dout": np.ones((3, 3))}, "inputs.dout", "must have the shape of out [2, 3]"),
    ({"x": np.zeros(3)}, "inputs.x", "must have 2 or 4 dimensions"),
], ids=["gamma", "beta", "dout", "x_1d"])
def test_layernorm_bad_inputs(change, field, message):
    with pytest.raises(OpInputError) as err:
        run_op("layernorm", {"x": np.zeros((2, 3)), "gamma": np.ones(3)} | change)
    assert err.value.field == field
    assert message in err.value.message


def test_layernorm_steps():
    x = np.random.default_rng(26).normal(size=(2, 3))
    steps = op_steps("layernorm", {"x": x})
    a = run_op("layernorm", {"x": x})
    assert [s.name for s in steps] == ["mean", "var", "std", "x_hat", "out", "dbeta", "dgamma", "dx_hat",
                                       "dvar", "dmean", "dx", "dx_compact"]
    for s in steps:
        for name, value in s.arrays.items():
            np.testing.assert_array_equal(value, a[name], err_msg=f"{s.name}.{name}")


def test_layernorm_provenance():
    x = np.zeros((2, 3))
    row1 = [(1, 0), (1, 1), (1, 2)]
    assert op_provenance("layernorm", {"x": x}, {}, "out", (1, 2)) == {"x": row1, "gamma": [(2,)], "beta": [(2,)]}
    assert op_provenance("layernorm", {"x": x}, {}, "mean", (1,)) == {"x": row1}
    assert op_provenance("layernorm", {"x": x}, {}, "dx", (1, 0)) == {"dout": row1, "x": row1,
                                                                      "gamma": [(0,), (1,), (2,)]}
    assert op_provenance("layernorm", {"x": x}, {}, "dbeta", (2,)) == {"dout": [(0, 2), (1, 2)]}
