"""Dropout: seeded masks, both readings of p, the scale, eval identity, gradients, errors."""

import numpy as np
import pytest

from engine.ops.dropout import DROPOUT_ARRAYS, dropout_backward, dropout_expectation, dropout_forward
from engine.records import OpInputError
from engine.registry import get_spec, op_provenance, op_steps, run_op
from tests.engine.conftest import assert_gradcheck

SHAPES = [(7,), (3, 4), (2, 3, 4), (2, 2, 3, 3)]


def shape_id(s):
    return "x" + "x".join(map(str, s))


@pytest.mark.parametrize("p_means,p", [("drop", 0.3), ("drop", 0.0), ("drop", 0.9), ("keep", 0.7), ("keep", 1.0),
                                       ("keep", 0.05)])
@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
def test_mask_is_the_seeded_uniform_draw(shape, p_means, p):
    rng = np.random.default_rng(1)
    x = rng.normal(size=shape)
    a = run_op("dropout", {"x": x}, {"p": p, "seed": 42, "p_means": p_means})
    u = np.random.default_rng(42).random(shape)
    kept = u >= p if p_means == "drop" else u < p
    np.testing.assert_array_equal(a["mask"], kept.astype(float))
    scale = 1 / (1 - p) if p_means == "drop" else 1 / p
    assert a["scale"].shape == () and float(a["scale"]) == pytest.approx(scale, rel=1e-15)
    np.testing.assert_allclose(a["out"], np.where(kept, x * scale, 0.0), rtol=1e-15)
    np.testing.assert_allclose(a["dx"], np.where(kept, scale, 0.0), rtol=1e-15)  # dout defaults to ones


def test_same_seed_same_mask_other_seed_other_mask():
    x = np.ones((8, 8))
    m1 = run_op("dropout", {"x": x}, {"seed": 5})["mask"]
    m2 = run_op("dropout", {"x": x}, {"seed": 5})["mask"]
    m3 = run_op("dropout", {"x": x}, {"seed": 6})["mask"]
    np.testing.assert_array_equal(m1, m2)
    assert not np.array_equal(m1, m3)
    # the mask depends on the seed and the shape only, not on x's values
    m4 = run_op("dropout", {"x": -3 * x}, {"seed": 5})["mask"]
    np.testing.assert_array_equal(m1, m4)


def test_drop_and_keep_with_complementary_p():
    """drop p and keep 1 − p keep the SAME fraction but not the same elements (u ≥ p vs u < 1 − p)."""
    x = np.ones((50, 50))
    drop = run_op("dropout", {"x": x}, {"p": 0.25, "seed": 3, "p_means": "drop"})
    keep = run_op("dropout", {"x": x}, {"p": 0.75, "seed": 3, "p_means": "keep"})
    assert float(drop["scale"]) == pytest.approx(float(keep["scale"])) == pytest.approx(4 / 3)
    assert abs(drop["mask"].mean() - 0.75) < 0.03 and abs(keep["mask"].mean() - 0.75) < 0.03
    assert not np.array_equal(drop["mask"], keep["mask"])


@pytest.mark.parametrize("p_means,p", [("drop", 0.2), ("drop", 0.6), ("keep", 0.2), ("keep", 0.9)])
def test_fraction_kept(p_means, p):
    mask = run_op("dropout", {"x": np.ones((100, 100))}, {"p": p, "seed": 9, "p_means": p_means})["mask"]
    want = 1 - p if p_means == "drop" else p
    # 10 000 Bernoulli draws: the standard deviation of the fraction is ≤ 0.005
    assert abs(mask.mean() - want) < 0.02


@pytest.mark.parametrize("p_means,p", [("drop", 0.5), ("drop", 0.2), ("keep", 0.8), ("keep", 0.3)])
def test_expectation_is_preserved(p_means, p):
    x = np.array([[1.0, -2.0, 0.5], [3.0, 0.0, -0.25]])
    draws = 4000
    mean = dropout_expectation(x, p, draws=draws, seed=0, p_means=p_means)
    keep = 1 - p if p_means == "drop" else p
    # each draw is x/keep with probability keep, else 0: variance x²·(1 − keep)/keep
    sigma = np.abs(x) * np.sqrt((1 - keep) / keep / draws)
    assert np.all(np.abs(mean - x) <= 5 * sigma + 1e-12), (mean, x, sigma)
    # and without the scale the mean would be keep·x, which is far away
    assert np.all(np.abs(mean - keep * x)[x != 0] > 5 * sigma[x != 0])


def test_expectation_is_the_mean_of_the_seeded_outputs():
    x = np.arange(6.0).reshape(2, 3)
    outs = [dropout_forward(x, 0.4, seed=10 + k)[0] for k in range(5)]
    np.testing.assert_allclose(dropout_expectation(x, 0.4, draws=5, seed=10), np.mean(outs, axis=0), rtol=1e-15)
    with pytest.raises(OpInputError) as err:
        dropout_expectation(x, 0.4, draws=0)
    assert err.value.field == "draws"


@pytest.mark.parametrize("p_means", ["drop", "keep"])
@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
def test_eval_is_identity(shape, p_means):
    rng = np.random.default_rng(2)
    x, dout = rng.normal(size=shape), rng.normal(size=shape)
    a = run_op("dropout", {"x": x, "dout": dout}, {"p": 0.5, "mode": "eval", "p_means": p_means})
    np.testing.assert_array_equal(a["out"], x)
    np.testing.assert_array_equal(a["dx"], dout)
    np.testing.assert_array_equal(a["mask"], 1)
    assert float(a["scale"]) == 1.0


@pytest.mark.parametrize("p_means,p", [("drop", 0.5), ("keep", 0.6)])
@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
def test_gradcheck(shape, mode, p_means, p):
    rng = np.random.default_rng(len(shape))
    inputs = {"x": rng.normal(size=shape), "dout": rng.uniform(0.5, 1.5, shape) * rng.choice([-1, 1], shape)}
    report = assert_gradcheck("dropout", inputs, {"p": p, "mode": mode, "seed": 11, "p_means": p_means},
                              case=f"{shape} {mode} {p_means} p={p}")
    assert set(report.per_input) == {"x"}


def test_gradient_is_mask_times_scale_times_dout():
    rng = np.random.default_rng(4)
    x, dout = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    out, cache = dropout_forward(x, 0.35, seed=8)
    g = dropout_backward(dout, cache)
    np.testing.assert_allclose(g.dx, dout * cache.mask * cache.scale, rtol=1e-15)
    assert 0 < cache.mask.sum() < cache.mask.size  # some kept, some dropped
    assert np.all(g.dx[cache.mask == 0] == 0) and not np.any(np.signbit(out[cache.mask == 0]))


def test_example_runs_and_gradchecks():
    inputs, params = get_spec("dropout").example(np.random.default_rng(0))
    assert_gradcheck("dropout", inputs, params, case="example")


# --------------------------------------------------------------------------- p validation, errors


@pytest.mark.parametrize("p_means,p,ok", [
    ("drop", 0.0, True), ("drop", 0.95, True), ("drop", 1.0, False),
    ("keep", 1.0, True), ("keep", 0.01, True), ("keep", 0.0, False),
])
def test_p_range_per_convention(p_means, p, ok):
    params = {"p": p, "p_means": p_means}
    if ok:
        run_op("dropout", {"x": [1.0, 2.0]}, params)
        return
    with pytest.raises(OpInputError) as err:
        run_op("dropout", {"x": [1.0, 2.0]}, params)
    assert err.value.field == "params.p"
    word = "dropping" if p_means == "drop" else "keeping"
    assert word in err.value.message and "infinite" in err.value.message


def test_p_identity_edges():
    x = np.array([1.0, -2.0, 3.0])
    np.testing.assert_array_equal(run_op("dropout", {"x": x}, {"p": 0.0})["out"], x)
    np.testing.assert_array_equal(run_op("dropout", {"x": x}, {"p": 1.0, "p_means": "keep"})["out"], x)


BAD = [
    ("p_negative", {}, {"p": -0.1}, "params.p", "between 0 and 1"),
    ("p_big", {}, {"p": 1.5}, "params.p", "between 0 and 1"),
    ("mode", {}, {"mode": "test"}, "params.mode", "train, eval"),
    ("p_means", {}, {"p_means": "zero"}, "params.p_means", "drop, keep"),
    ("seed_negative", {}, {"seed": -1}, "params.seed", "between"),
    ("seed_fraction", {}, {"seed": 1.5}, "params.seed", "whole number"),
    ("dout_shape", {"dout": np.ones((3, 2))}, {}, "inputs.dout", "must have the shape of out [2, 3], got [3, 2]"),
    ("x_5d", {"x": np.ones((1, 1, 1, 1, 2))}, {}, "inputs.x", "dimensions"),
    ("x_string", {"x": [["a", 1.0, 2.0]]}, {}, "inputs.x", "numbers only"),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_inputs(case):
    _, change, params, field, message = case
    with pytest.raises(OpInputError) as err:
        run_op("dropout", {"x": np.ones((2, 3))} | change, params)
    assert err.value.field == field
    assert message in err.value.message


def test_direct_calls_validate():
    with pytest.raises(OpInputError) as err:
        dropout_forward(np.ones(3), 1.0)
    assert err.value.field == "params.p"
    with pytest.raises(OpInputError) as err:
        dropout_forward(np.ones(3), 0.5, mode="test")
    assert err.value.field == "params.mode"
    _, cache = dropout_forward(np.ones(3), 0.5)
    with pytest.raises(OpInputError) as err:
        dropout_backward(np.ones(4), cache)
    assert err.value.field == "inputs.dout"


# --------------------------------------------------------------------------- dtype, purity, names


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_float32_preserved(mode):
    x = np.random.default_rng(5).normal(size=(3, 4))
    a = run_op("dropout", {"x": x}, {"p": 0.3, "mode": mode}, dtype="float32")
    assert all(v.dtype == np.float32 for v in a.values()), {k: v.dtype for k, v in a.items()}
    out, cache = dropout_forward(x.astype(np.float32), 0.3, mode)
    assert out.dtype == cache.mask.dtype == cache.scale.dtype == np.float32
    assert dropout_backward(np.ones((3, 4), np.float32), cache).dx.dtype == np.float32


def test_no_input_mutated():
    x, dout = np.arange(12.0).reshape(3, 4), np.full((3, 4), 2.0)
    xc, dc = x.copy(), dout.copy()
    run_op("dropout", {"x": x, "dout": dout}, {"p": 0.5})
    out, cache = dropout_forward(x, 0.5, seed=1)
    dropout_backward(dout, cache)
    np.testing.assert_array_equal(x, xc)
    np.testing.assert_array_equal(dout, dc)
    out[...] = 0.0  # the output is a new array, not a view of x
    np.testing.assert_array_equal(x, xc)


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_run_returns_exactly_the_named_arrays(mode):
    a = run_op("dropout", {"x": np.ones((2, 2))}, {"mode": mode})
    assert tuple(a) == DROPOUT_ARRAYS == get_spec("dropout").arrays
    assert {"mask", "out", "dx"} <= set(a)


# --------------------------------------------------------------------------- steps, provenance


@pytest.mark.parametrize("p_means", ["drop", "keep"])
def test_steps_train(p_means):
    x = np.random.default_rng(6).normal(size=(2, 3))
    steps = op_steps("dropout", {"x": x}, {"p": 0.4, "seed": 2, "p_means": p_means})
    a = run_op("dropout", {"x": x}, {"p": 0.4, "seed": 2, "p_means": p_means})
    assert [(s.phase, s.name) for s in steps] == [("forward", "mask"), ("forward", "scale"), ("forward", "out"),
                                                   ("backward", "dx")]
    assert ("\\ge p" if p_means == "drop" else "< p") in steps[0].latex
    assert ("1 - p" if p_means == "drop" else "\\frac{1}{p}") in steps[1].latex
    for s in steps:
        for name, value in s.arrays.items():
            np.testing.assert_array_equal(value, a[name], err_msg=f"{s.name}.{name}")


def test_steps_eval():
    steps = op_steps("dropout", {"x": np.ones(3)}, {"mode": "eval"})
    assert [s.name for s in steps] == ["out", "dx"]
    assert "identity" in steps[0].title


def test_provenance():
    x = np.ones((2, 3))
    assert op_provenance("dropout", {"x": x}, {}, "out", (1, 2)) == {"x": [(1, 2)], "mask": [(1, 2)], "scale": [()]}
    assert op_provenance("dropout", {"x": x}, {}, "dx", (0, 0)) == {"dout": [(0, 0)], "mask": [(0, 0)],
                                                                    "scale": [()]}
    assert op_provenance("dropout", {"x": x}, {}, "mask", (0, 1)) == {}
    with pytest.raises(OpInputError) as err:
        op_provenance("dropout", {"x": x}, {}, "out", (2, 0))
    assert err.value.field == "index"
    with pytest.raises(OpInputError) as err:
        op_provenance("dropout", {"x": x}, {}, "u", (0, 0))
    assert err.value.field == "array"


def test_a_given_mask_is_used_as_it_is():
    x = np.arange(1.0, 7.0).reshape(2, 3)
    mask = [[1, 0, 1], [0, 0, 1]]
    for p_means, p, scale in (("drop", 0.25, 1 / 0.75), ("keep", 0.25, 4.0)):
        a = run_op("dropout", {"x": x, "mask": mask, "dout": np.ones((2, 3))}, {"p": p, "p_means": p_means, "seed": 9})
        np.testing.assert_array_equal(a["mask"], mask)
        np.testing.assert_allclose(a["out"], x * np.array(mask) * scale, rtol=1e-15)
        np.testing.assert_allclose(a["dx"], np.array(mask) * scale, rtol=1e-15)
        assert float(a["mask_given"]) == 1.0
    steps = op_steps("dropout", {"x": x, "mask": mask}, {"p": 0.5})
    assert steps[0].title.startswith("The given mask")
    assert float(run_op("dropout", {"x": x}, {"p": 0.5})["mask_given"]) == 0.0
    assert_gradcheck("dropout", {"x": x, "mask": mask, "dout": np.arange(6.0).reshape(2, 3)}, {"p": 0.4})


@pytest.mark.parametrize("mask, params, words", [
    ([[1, 0, 2], [0, 0, 1]], {}, "element [0, 2] is 2"),
    ([[1, 0, 1 / 0.75], [0, 0, 1]], {}, "scale is applied separately"),
    ([1, 0, 1], {}, "shape of x"),
    ([[1, 0, 1], [0, 0, 1]], {"mode": "eval"}, "train mode only"),
])
def test_a_bad_mask_names_the_field(mask, params, words):
    with pytest.raises(OpInputError) as info:
        run_op("dropout", {"x": np.ones((2, 3)), "mask": mask}, {"p": 0.5, **params})
    assert info.value.field == "inputs.mask" and words in info.value.message
