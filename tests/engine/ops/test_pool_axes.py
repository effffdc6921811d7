"""Pooling with padding, rectangular windows and per-axis strides: naive loops, gradients, provenance."""

import numpy as np
import pytest

from engine.ops import pool
from engine.registry import op_provenance, run_op
from tests.engine.conftest import assert_gradcheck, raises_field
from tests.engine.ops.perturb import assert_provenance_moves


def _distinct(shape, seed):
    rng = np.random.default_rng(seed)
    total = int(np.prod(shape))
    return ((rng.permutation(total) - total / 2) * (4.0 / total)).reshape(shape)


def draw(seed):
    rng = np.random.default_rng(seed)
    while True:
        kh, kw = (int(v) for v in rng.integers(1, 4, size=2))
        params = {"size": [kh, kw], "stride": [int(v) for v in rng.integers(1, 4, size=2)],
                  "pad": [int(rng.integers(0, kh // 2 + 1)), int(rng.integers(0, kw // 2 + 1))]}
        shape = (int(rng.integers(1, 3)), int(rng.integers(1, 3)), int(rng.integers(2, 7)), int(rng.integers(2, 7)))
        try:
            pool.check_pool(shape, params["size"], params["stride"], params["pad"])
        except ValueError:
            continue
        return params, _distinct(shape, seed)


CASES = [draw(seed) for seed in range(30)]


@pytest.mark.parametrize("case", CASES, ids=lambda c: str(c[0]).replace(" ", ""))
@pytest.mark.parametrize("op", ["maxpool2d", "avgpool2d"])
def test_fast_matches_naive(op, case):
    params, x = case
    fast_f, naive_f = getattr(pool, f"{op}_forward"), getattr(pool, f"{op}_forward_naive")
    fast_b, naive_b = getattr(pool, f"{op}_backward"), getattr(pool, f"{op}_backward_naive")
    out, c1 = fast_f(x, params["size"], params["stride"], params["pad"])
    ref, c2 = naive_f(x, params["size"], params["stride"], params["pad"])
    np.testing.assert_allclose(out, ref, rtol=1e-14, atol=1e-14)
    np.testing.assert_array_equal(c1.windows, c2.windows)
    dout = np.random.default_rng(1).normal(size=out.shape)
    np.testing.assert_allclose(fast_b(dout, c1).dx, naive_b(dout, c2).dx, rtol=1e-13, atol=1e-14)
    if op == "maxpool2d":
        np.testing.assert_array_equal(c1.argmax, c2.argmax)
        assert (0 <= c1.argmax).all() and (c1.argmax < x.shape[2] * x.shape[3]).all()  # never a padded cell


@pytest.mark.parametrize("case", CASES[:15], ids=lambda c: str(c[0]).replace(" ", ""))
@pytest.mark.parametrize("op", ["maxpool2d", "avgpool2d"])
def test_gradcheck(op, case):
    params, x = case
    out = run_op(op, {"x": x}, params)["out"]
    dout = np.random.default_rng(2).normal(size=out.shape)
    assert_gradcheck(op, {"x": x, "dout": dout}, params, case=str(params))


@pytest.mark.parametrize("op", ["maxpool2d", "avgpool2d"])
def test_an_int_is_the_pair_of_it_and_no_pad_is_pad_zero(op):
    x = _distinct((2, 2, 6, 5), 3)
    one = run_op(op, {"x": x}, {"size": 2, "stride": 1})
    two = run_op(op, {"x": x}, {"size": [2, 2], "stride": [1, 1], "pad": [0, 0]})
    for name in one:
        np.testing.assert_array_equal(one[name], two[name], err_msg=name)


def test_average_pooling_counts_the_padded_zeros():
    a = run_op("avgpool2d", {"x": np.ones((1, 1, 2, 2))}, {"size": 2, "stride": 1, "pad": 1})
    np.testing.assert_array_equal(a["out"][0, 0], [[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]])


def test_padding_is_at_most_half_the_window():
    raises_field("params.pad", run_op, "maxpool2d", {"x": np.ones((1, 1, 4, 4))}, {"size": 2, "pad": 2})
    raises_field("params.pad", run_op, "maxpool2d", {"x": np.ones((1, 1, 4, 4))}, {"size": [3, 2], "pad": [1, 2]})
    raises_field("params.size", run_op, "avgpool2d", {"x": np.ones((1, 1, 2, 2))}, {"size": [3, 1]})


@pytest.mark.parametrize("seed", range(3))
def test_average_provenance_names_what_moves_each_cell(seed):
    params, x = CASES[seed * 4]
    rng = np.random.default_rng(seed)
    out = run_op("avgpool2d", {"x": x}, params)
    dout = rng.normal(size=out["out"].shape)
    for array, wrt in (("out", "x"), ("dx", "dout")):
        index = tuple(int(rng.integers(0, s)) for s in out[array].shape)
        assert_provenance_moves("avgpool2d", {"x": x, "dout": dout}, params, array, index, wrt)


def test_max_provenance_routes_to_the_argmax():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    params = {"size": [2, 3], "stride": [2, 3], "pad": [0, 1]}
    a = run_op("maxpool2d", {"x": x}, params)
    np.testing.assert_array_equal(a["out"][0, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(a["argmax"][0, 0], [[5, 7], [13, 15]])  # arange: value = flat index
    assert op_provenance("maxpool2d", {"x": x}, params, "out", (0, 0, 0, 0))["x"] == [(0, 0, 0, 0), (0, 0, 0, 1),
                                                                                     (0, 0, 1, 0), (0, 0, 1, 1)]
    assert op_provenance("maxpool2d", {"x": x}, params, "dx", (0, 0, 1, 1))["dout"] == [(0, 0, 0, 0)]
