"""Batch norm: gradients, the staged and compact backward, running statistics through the registry, errors.

(Layer norm: test_layernorm.py; the running statistics over a sequence of batches: tests/engine/explain.)
"""

import numpy as np
import pytest

from engine.ops.batchnorm import BATCHNORM_ARRAYS, batchnorm_backward, batchnorm_forward
from engine.ops.layernorm import LAYERNORM_ARRAYS, layernorm_backward, layernorm_forward
from engine.records import OpInputError
from engine.registry import get_spec, op_provenance, op_steps, run_op
from tests.engine.conftest import assert_gradcheck

AXES = {2: (0,), 4: (0, 2, 3)}


def bn_inputs(shape, seed, running=True):
    """Well-scaled inputs: x ~ N(0, 1); dout, γ of size 0.5–1.5 with random signs; running var in [0.5, 2]."""
    rng = np.random.default_rng(seed)
    c = shape[1]
    inputs = {"x": rng.normal(size=shape), "gamma": rng.uniform(0.5, 1.5, c) * rng.choice([-1, 1], c),
              "beta": rng.normal(size=c), "dout": rng.uniform(0.5, 1.5, shape) * rng.choice([-1, 1], shape)}
    if running:
        inputs["running_mean"] = rng.normal(size=c)
        inputs["running_var"] = rng.uniform(0.5, 2.0, c)
    return inputs


def bc(v, ndim):
    return v.reshape((1, -1) + (1,) * (ndim - 2))


# --------------------------------------------------------------------------- gradient checks

# n ≥ 4 values per feature/channel in train mode. dx is dout·γ/σ with its projection on 1 and x̂
# removed, so only n − 2 directions survive: with n = 2 the true dx is ~ε-sized (see
# test_notes_norm.py) and with n = 3 it is often ~1e-3, where central differences (round-off
# ~1e-10) cannot resolve it to 1e-7 relative. n = 2 is checked below with a large ε instead.
TRAIN_SHAPES = [(4, 2), (4, 3), (5, 1), (7, 4), (2, 2, 2, 2), (3, 1, 2, 3), (2, 3, 3, 3), (1, 2, 3, 3)]
EVAL_SHAPES = [(1, 3), (2, 3), (4, 2), (1, 2, 2, 2), (2, 3, 2, 2), (3, 1, 1, 2)]


@pytest.mark.parametrize("convention", ["pytorch", "cs231n"])
@pytest.mark.parametrize("shape", TRAIN_SHAPES, ids=lambda s: "x" + "x".join(map(str, s)))
def test_batchnorm_gradcheck_train(shape, convention):
    seed = 10 * len(TRAIN_SHAPES) + TRAIN_SHAPES.index(shape)
    report = assert_gradcheck("batchnorm", bn_inputs(shape, seed), {"mode": "train", "convention": convention},
                              case=f"train {shape} {convention} seed {seed}")
    assert set(report.per_input) == {"x", "gamma", "beta"}


@pytest.mark.parametrize("convention", ["pytorch", "cs231n"])
@pytest.mark.parametrize("shape", EVAL_SHAPES, ids=lambda s: "x" + "x".join(map(str, s)))
def test_batchnorm_gradcheck_eval(shape, convention):
    seed = 100 + EVAL_SHAPES.index(shape)
    report = assert_gradcheck("batchnorm", bn_inputs(shape, seed), {"mode": "eval", "convention": convention},
                              case=f"eval {shape} {convention} seed {seed}")
    assert set(report.per_input) == {"x", "gamma", "beta"}


@pytest.mark.parametrize("eps", [0.5, 1.0])
def test_batchnorm_gradcheck_two_samples_large_eps(eps):
    assert_gradcheck("batchnorm", bn_inputs((2, 3), 7), {"eps": eps}, case=f"N=2 eps={eps}")


def test_batchnorm_gradcheck_default_gamma_beta_dout():
    rng = np.random.default_rng(3)
    assert_gradcheck("batchnorm", {"x": rng.normal(size=(4, 2)), "dout": rng.normal(size=(4, 2))},
                     case="defaults gamma=1 beta=0")


@pytest.mark.parametrize("seed", range(3))
def test_examples_run_and_gradcheck(seed):
    rng = np.random.default_rng(seed)
    for name in ("batchnorm", "layernorm"):
        inputs, params = get_spec(name).example(rng)
        # the examples are rounded random draws, not hand-scaled: some dx entries land near 1e-3, so
        # use h = 1e-5 (near the optimal central-difference step ε_machine^(1/3)·scale), which lowers
        # the round-off noise tenfold; the tolerance stays 1e-7
        assert_gradcheck(name, inputs, params, case=f"example seed {seed}", h=1e-5)


# --------------------------------------------------------------------------- forward values


@pytest.mark.parametrize("shape", [(5, 3), (2, 3, 4, 2)])
def test_batchnorm_train_forward_matches_numpy(shape):
    inputs = bn_inputs(shape, 1)
    a = run_op("batchnorm", inputs, {"eps": 1e-3})
    x, nd = inputs["x"], len(shape)
    mean = x.mean(axis=AXES[nd])
    var = x.var(axis=AXES[nd])  # biased
    assert a["mean"].shape == a["var"].shape == a["std"].shape == (shape[1],)
    np.testing.assert_allclose(a["mean"], mean, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(a["var"], var, rtol=1e-12)
    np.testing.assert_allclose(a["std"], np.sqrt(var + 1e-3), rtol=1e-12)
    x_hat = (x - bc(mean, nd)) / bc(np.sqrt(var + 1e-3), nd)
    np.testing.assert_allclose(a["x_hat"], x_hat, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(a["out"], bc(inputs["gamma"], nd) * x_hat + bc(inputs["beta"], nd),
                               rtol=1e-12, atol=1e-14)
    # each channel of x̂ has mean 0 and (biased) variance var/(var + ε)
    np.testing.assert_allclose(a["x_hat"].mean(axis=AXES[nd]), 0, atol=1e-14)
    np.testing.assert_allclose(a["x_hat"].var(axis=AXES[nd]), var / (var + 1e-3), rtol=1e-12)


@pytest.mark.parametrize("convention", ["pytorch", "cs231n"])
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 2, 2)])
def test_batchnorm_eval_uses_and_keeps_running_stats(shape, convention):
    inputs = bn_inputs(shape, 2)
    rm, rv = inputs["running_mean"], inputs["running_var"]
    a = run_op("batchnorm", inputs, {"mode": "eval", "convention": convention, "momentum": 0.3})
    nd = len(shape)
    np.testing.assert_array_equal(a["running_mean"], rm)
    np.testing.assert_array_equal(a["running_var"], rv)
    np.testing.assert_array_equal(a["running_mean_before"], rm)
    np.testing.assert_array_equal(a["mean"], rm)
    np.testing.assert_array_equal(a["var"], rv)
    std = np.sqrt(rv + 1e-5)
    np.testing.assert_allclose(a["out"], bc(inputs["gamma"], nd) * (inputs["x"] - bc(rm, nd)) / bc(std, nd)
                               + bc(inputs["beta"], nd), rtol=1e-12, atol=1e-14)
    dx = inputs["dout"] * bc(inputs["gamma"] / std, nd)
    np.testing.assert_allclose(a["dx"], dx, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(a["dx_compact"], dx, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(a["dvar"], 0)
    np.testing.assert_array_equal(a["dmean"], 0)


def test_batchnorm_eval_differs_from_train():
    inputs = bn_inputs((6, 2), 4)
    train = run_op("batchnorm", inputs, {"mode": "train"})
    ev = run_op("batchnorm", inputs, {"mode": "eval"})
    assert not np.allclose(train["out"], ev["out"])
    assert not np.allclose(train["running_mean"], inputs["running_mean"])


# --------------------------------------------------------------------------- staged == compact


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("shape", [(2, 3), (4, 1), (9, 5), (2, 2, 3, 3), (3, 4, 1, 2)])
def test_batchnorm_staged_equals_compact(shape, seed):
    inputs = bn_inputs(shape, 300 + seed)
    eps = [1e-5, 1e-3, 0.1, 1e-8, 1.0, 1e-12][seed]
    a = run_op("batchnorm", inputs, {"eps": eps})
    scale = np.abs(a["dx"]).max() + np.abs(inputs["dout"]).max()
    np.testing.assert_allclose(a["dx"], a["dx_compact"], rtol=1e-9, atol=1e-12 * scale)
    # shifting a channel of x changes nothing, so dx sums to zero over each channel; scaling it
    # changes only the ε term, so Σ dx·x̂ = γ·dγ·ε/(σ·(σ² + ε)) (zero when ε → 0)
    axes = AXES[len(shape)]
    np.testing.assert_allclose(a["dx"].sum(axis=axes), 0, atol=1e-13 * scale * a["x"].size)
    np.testing.assert_allclose((a["dx"] * a["x_hat"]).sum(axis=axes),
                               a["gamma"] * a["dgamma"] * eps / (a["std"] * (a["var"] + eps)),
                               rtol=1e-6, atol=1e-12 * scale * a["x"].size)


def test_batchnorm_staged_terms_by_hand():
    """dvar and dmean as the notes define them, written out elementwise for one feature."""
    x = np.array([[0.5], [2.0], [-1.0], [3.5]])
    dout = np.array([[1.0], [-2.0], [0.5], [0.25]])
    gamma, eps = np.array([1.5]), 1e-5
    _, cache = batchnorm_forward(x, gamma, np.zeros(1), eps=eps)
    g = batchnorm_backward(dout, cache)
    xs, ds, m = x[:, 0], dout[:, 0], 4
    mu = sum(xs) / m  # 1.25
    var = sum((xi - mu) ** 2 for xi in xs) / m  # 2.8125
    assert mu == 1.25 and var == 2.8125
    dxh = [di * 1.5 for di in ds]
    dvar = sum(dxh[i] * (xs[i] - mu) * -0.5 * (var + eps) ** -1.5 for i in range(m))
    dmean = sum(-dxh[i] / (var + eps) ** 0.5 for i in range(m)) + dvar * sum(-2 * (xi - mu) for xi in xs) / m
    dx = [dxh[i] / (var + eps) ** 0.5 + dvar * 2 * (xs[i] - mu) / m + dmean / m for i in range(m)]
    np.testing.assert_allclose(g.dx_hat[:, 0], dxh, rtol=1e-15)
    np.testing.assert_allclose(g.dvar, [dvar], rtol=1e-13)
    np.testing.assert_allclose(g.dmean, [dmean], rtol=1e-13)
    np.testing.assert_allclose(g.dx[:, 0], dx, rtol=1e-12)
    np.testing.assert_allclose(g.dx_compact[:, 0], dx, rtol=1e-10)


# --------------------------------------------------------------------------- one value per channel


@pytest.mark.parametrize("shape", [(1, 3), (1, 2, 1, 1)])
def test_pytorch_train_with_one_value_per_channel_raises(shape):
    with pytest.raises(OpInputError) as err:
        run_op("batchnorm", {"x": np.ones(shape)}, {"mode": "train", "convention": "pytorch"})
    assert err.value.field == "inputs.x"
    assert "unbiased variance" in err.value.message and "n − 1 = 0" in err.value.message
    with pytest.raises(OpInputError):
        batchnorm_forward(np.ones(shape), np.ones(shape[1]), np.zeros(shape[1]))


def test_one_value_per_channel_allowed_in_cs231n_train_and_in_eval():
    x = np.array([[1.0, -2.0, 3.0]])
    c = run_op("batchnorm", {"x": x, "beta": [0.1, 0.2, 0.3], "dout": [[1.0, 2.0, 3.0]]}, {"convention": "cs231n"})
    np.testing.assert_array_equal(c["x_hat"], 0)  # a value minus its own mean
    np.testing.assert_array_equal(c["out"], [[0.1, 0.2, 0.3]])
    np.testing.assert_array_equal(c["dx"], 0)
    np.testing.assert_allclose(c["running_mean"], 0.1 * x[0])
    e = run_op("batchnorm", {"x": x}, {"mode": "eval"})
    np.testing.assert_allclose(e["out"], x / np.sqrt(1 + 1e-5))


# --------------------------------------------------------------------------- errors


def _bn_ok():
    return {"x": np.zeros((2, 3, 2, 2)), "gamma": np.ones(3), "beta": np.zeros(3)}


BAD_BN = [
    ("gamma_len", {"gamma": np.ones(4)}, {}, "inputs.gamma",
     "inputs.gamma: must have shape [3] (one per channel), got [4]"),
    ("beta_len", {"beta": np.ones(2)}, {}, "inputs.beta", "must have shape [3] (one per channel), got [2]"),
    ("gamma_2d", {"gamma": np.ones((3, 1))}, {}, "inputs.gamma", "must have 1 dimensions"),
    ("running_mean_len", {"running_mean": np.zeros(5)}, {}, "inputs.running_mean", "got [5]"),
    ("running_var_len", {"running_var": np.ones(1)}, {}, "inputs.running_var", "got [1]"),
    ("running_var_negative", {"running_var": [1.0, -0.5, 1.0]}, {"mode": "eval"}, "inputs.running_var",
     "must be ≥ 0; element [1] is -0.5"),
    ("dout_shape", {"dout": np.ones((2, 3, 2, 1))}, {}, "inputs.dout", "must have the shape of out [2, 3, 2, 2]"),
    ("x_3d", {"x": np.zeros((2, 3, 4))}, {}, "inputs.x", "must have 2 or 4 dimensions"),
    ("x_nan", {"x": np.full((2, 3, 2, 2), np.nan)}, {}, "inputs.x", "must be finite"),
    ("eps_zero", {}, {"eps": 0.0}, "params.eps", "between"),
    ("momentum_big", {}, {"momentum": 1.5}, "params.momentum", "between 0 and 1"),
    ("mode_test", {}, {"mode": "test"}, "params.mode", "train, eval"),
    ("convention", {}, {"convention": "keras"}, "params.convention", "pytorch, cs231n"),
    ("unknown_param", {}, {"stride": 1}, "params.stride", "no parameter"),
]


@pytest.mark.parametrize("case", BAD_BN, ids=[c[0] for c in BAD_BN])
def test_batchnorm_bad_inputs(case):
    _, change, params, field, message = case
    with pytest.raises(OpInputError) as err:
        run_op("batchnorm", _bn_ok() | change, params)
    assert err.value.field == field
    assert message in str(err.value)


def test_batchnorm_feature_message_for_2d():
    with pytest.raises(OpInputError) as err:
        run_op("batchnorm", {"x": np.zeros((4, 3)), "gamma": np.ones(2)})
    assert str(err.value) == "inputs.gamma: must have shape [3] (one per feature), got [2]"


def test_direct_calls_validate_too():
    with pytest.raises(OpInputError) as err:
        batchnorm_forward(np.zeros((4, 3)), np.ones(4), np.zeros(3))
    assert err.value.field == "inputs.gamma"
    with pytest.raises(OpInputError) as err:
        batchnorm_forward(np.zeros((4, 3)), np.ones(3), np.zeros(3), convention="tf")
    assert err.value.field == "params.convention"
    _, cache = batchnorm_forward(np.arange(6.0).reshape(3, 2), np.ones(2), np.zeros(2))
    with pytest.raises(OpInputError) as err:
        batchnorm_backward(np.ones((2, 3)), cache)
    assert err.value.field == "inputs.dout"
    with pytest.raises(OpInputError) as err:
        layernorm_forward(np.zeros((2, 3, 2, 2)), np.ones(3), np.zeros(3))
    assert str(err.value) == "inputs.gamma: must have shape [3, 2, 2] (the shape of one sample, C×H×W), got [3]"


# --------------------------------------------------------------------------- dtype, purity, names


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_float32_preserved(mode):
    inputs = bn_inputs((3, 2, 2, 2), 20)
    a = run_op("batchnorm", inputs, {"mode": mode}, dtype="float32")
    for name, value in a.items():
        assert value.dtype == np.float32, name
    ref = run_op("batchnorm", inputs, {"mode": mode})
    np.testing.assert_allclose(a["dx"], ref["dx"], rtol=1e-3, atol=1e-5)
    ln = run_op("layernorm", {"x": inputs["x"]}, dtype="float32")
    assert all(v.dtype == np.float32 for v in ln.values())
    out, cache = batchnorm_forward(inputs["x"].astype(np.float32), np.ones(2, np.float32), np.zeros(2, np.float32))
    assert out.dtype == cache.running_var.dtype == np.float32
    assert batchnorm_backward(np.ones_like(out), cache).dx_compact.dtype == np.float32


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_no_input_mutated_and_cache_does_not_alias(mode):
    inputs = bn_inputs((4, 3), 21)
    before = {k: v.copy() for k, v in inputs.items()}
    run_op("batchnorm", inputs, {"mode": mode})
    out, cache = batchnorm_forward(inputs["x"], inputs["gamma"], inputs["beta"], inputs["running_mean"],
                                   inputs["running_var"], mode=mode)
    batchnorm_backward(inputs["dout"], cache)
    for k in inputs:
        np.testing.assert_array_equal(inputs[k], before[k], err_msg=k)
    inputs["x"][0, 0] = 99.0
    inputs["running_mean"][0] = 99.0
    assert cache.x[0, 0] == before["x"][0, 0]
    assert cache.running_mean_before[0] == before["running_mean"][0]
    assert cache.running_mean[0] != 99.0

    ln = {"x": before["x"].copy(), "gamma": before["gamma"].copy(), "beta": before["beta"].copy()}
    _, lc = layernorm_forward(ln["x"], ln["gamma"], ln["beta"])
    layernorm_backward(before["dout"], lc)
    for k in ln:
        np.testing.assert_array_equal(ln[k], before[k])


@pytest.mark.parametrize("params", [{"mode": "train"}, {"mode": "eval"}, {"convention": "cs231n"}])
def test_run_returns_exactly_the_named_arrays(params):
    a = run_op("batchnorm", bn_inputs((2, 3, 2, 2), 22), params)
    assert tuple(a) == BATCHNORM_ARRAYS == get_spec("batchnorm").arrays
    table = "mean var std x_hat out running_mean running_var dx_hat dvar dmean dx dgamma dbeta".split()
    assert set(table) <= set(a)
    assert a["x_hat"].shape == a["dx"].shape == (2, 3, 2, 2)
    assert a["dgamma"].shape == a["dvar"].shape == (3,)
    assert a["momentum"].shape == ()
    ln = run_op("layernorm", {"x": np.arange(12.0).reshape(2, 6)})
    assert tuple(ln) == LAYERNORM_ARRAYS == get_spec("layernorm").arrays


# --------------------------------------------------------------------------- steps


def test_batchnorm_steps_train():
    inputs = bn_inputs((3, 2, 2, 2), 23)
    steps = op_steps("batchnorm", inputs, {"convention": "cs231n"})
    a = run_op("batchnorm", inputs, {"convention": "cs231n"})
    assert [s.name for s in steps] == ["mean", "var", "std", "x_hat", "out", "running",
                                       "dbeta", "dgamma", "dx_hat", "dvar", "dmean", "dx", "dx_compact"]
    assert [s.phase for s in steps] == ["forward"] * 6 + ["backward"] * 7
    for s in steps:
        assert s.latex and s.title and s.arrays
        assert "None" not in s.latex
        for name, value in s.arrays.items():
            if name in a:
                np.testing.assert_array_equal(value, a[name], err_msg=f"{s.name}.{name}")
    running = steps[5]
    assert "m = 0.9" in running.latex and "(1 - m)" in running.latex
    assert "n = N \\cdot H \\cdot W = 3 \\cdot 2 \\cdot 2 = 12" in steps[0].latex
    assert "10^{-5}" in steps[2].latex
    steps[0].arrays["x"][0, 0, 0, 0] = 123.0  # step arrays are copies
    assert op_steps("batchnorm", inputs, {"convention": "cs231n"})[0].arrays["x"][0, 0, 0, 0] != 123.0


def test_batchnorm_steps_pytorch_running_shows_unbiased_variance():
    inputs = bn_inputs((4, 2), 24)
    running = op_steps("batchnorm", inputs)[5]
    assert running.name == "running" and "m = 0.1" in running.latex and "\\frac{n}{n - 1}" in running.latex
    np.testing.assert_allclose(running.arrays["var_unbiased"], inputs["x"].var(axis=0, ddof=1), rtol=1e-12)


def test_batchnorm_steps_eval():
    steps = op_steps("batchnorm", bn_inputs((4, 2), 25), {"mode": "eval"})
    assert [s.name for s in steps] == ["stats", "std", "x_hat", "out", "running",
                                       "dbeta", "dgamma", "dx_hat", "stats_constant", "dx", "dx_compact"]
    np.testing.assert_array_equal(steps[0].arrays["mean"], steps[0].arrays["running_mean_before"])


# --------------------------------------------------------------------------- provenance


def test_batchnorm_provenance_train_4d():
    inputs = bn_inputs((2, 3, 2, 2), 27)
    column1 = [(n, 1, h, w) for n in range(2) for h in range(2) for w in range(2)]
    got = op_provenance("batchnorm", inputs, {}, "out", (1, 1, 0, 1))
    assert got == {"x": column1, "gamma": [(1,)], "beta": [(1,)]}
    assert op_provenance("batchnorm", inputs, {}, "mean", (1,)) == {"x": column1}
    assert op_provenance("batchnorm", inputs, {}, "dx", (0, 1, 1, 1)) == {"dout": column1, "x": column1,
                                                                          "gamma": [(1,)]}
    assert op_provenance("batchnorm", inputs, {}, "dbeta", (2,)) == {
        "dout": [(n, 2, h, w) for n in range(2) for h in range(2) for w in range(2)]}
    assert op_provenance("batchnorm", inputs, {}, "dx_hat", (0, 2, 1, 0)) == {"dout": [(0, 2, 1, 0)],
                                                                              "gamma": [(2,)]}
    assert op_provenance("batchnorm", inputs, {}, "running_var", (0,)) == {
        "running_var_before": [(0,)], "x": [(n, 0, h, w) for n in range(2) for h in range(2) for w in range(2)]}
    assert op_provenance("batchnorm", inputs, {}, "x", (0, 0, 0, 0)) == {}


def test_batchnorm_provenance_eval_2d():
    inputs = bn_inputs((3, 2), 28)
    p = {"mode": "eval"}
    assert op_provenance("batchnorm", inputs, p, "out", (2, 1)) == {
        "x": [(2, 1)], "running_mean_before": [(1,)], "running_var_before": [(1,)], "gamma": [(1,)], "beta": [(1,)]}
    assert op_provenance("batchnorm", inputs, p, "dx", (0, 0)) == {
        "dout": [(0, 0)], "gamma": [(0,)], "running_var_before": [(0,)]}
    assert op_provenance("batchnorm", inputs, p, "dvar", (0,)) == {}
    assert op_provenance("batchnorm", inputs, p, "running_mean", (1,)) == {"running_mean_before": [(1,)]}


def test_provenance_agrees_with_perturbation():
    """Every element that provenance omits really has no influence (checked by perturbing it)."""
    inputs = bn_inputs((3, 2, 1, 2), 29)
    base = run_op("batchnorm", inputs)
    for target, index in [("out", (1, 0, 0, 1)), ("dx", (2, 1, 0, 0))]:
        prov = op_provenance("batchnorm", inputs, {}, target, index)
        for src in ("x", "dout", "gamma", "beta"):
            listed = set(prov.get(src, []))
            for idx in np.ndindex(inputs[src].shape):
                bumped = {k: v.copy() for k, v in inputs.items()}
                bumped[src][idx] += 0.5
                moved = run_op("batchnorm", bumped)[target][index] != base[target][index]
                assert moved == (idx in listed), f"{target}{index} vs {src}{idx}"


@pytest.mark.parametrize("op,array,index,field", [
    ("batchnorm", "nope", (0,), "array"),
    ("batchnorm", "out", (0, 0), "index"),
    ("batchnorm", "out", (9, 0, 0, 0), "index"),
    ("layernorm", "dx", (0, 5), "index"),
])
def test_provenance_errors(op, array, index, field):
    inputs = {"x": np.zeros((2, 3, 1, 1))} if op == "batchnorm" else {"x": np.zeros((2, 3))}
    with pytest.raises(OpInputError) as err:
        op_provenance(op, inputs, {}, array, index)
    assert err.value.field == field
