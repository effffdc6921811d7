"""Max and average pooling: gradients, fast vs naive, the tie rule, overlapping windows, errors."""

import numpy as np
import pytest

from engine.ops import pool
from engine.records import OpInputError
from engine.registry import get_spec, op_provenance, op_steps, prepare, run_op
from tests.engine.conftest import assert_gradcheck

# (size, stride, N, C, H, W): hand-picked to cover every regime, then seeded random ones.
HAND_CASES = [
    (1, 1, 1, 1, 3, 3),  # 1×1 windows: identity
    (2, 2, 2, 2, 4, 4),  # the usual non-overlapping 2×2
    (2, 1, 1, 2, 5, 4),  # overlapping
    (3, 1, 2, 1, 5, 6),  # overlapping, more
    (3, 2, 1, 2, 8, 7),  # overlapping, one row dropped
    (2, 3, 1, 1, 7, 8),  # stride > size: gaps between windows
    (4, 3, 3, 1, 8, 8),  # overlapping, batch 3, one row/col dropped
    (4, 1, 1, 1, 4, 6),  # window as tall as the input
    (3, 3, 2, 2, 8, 6),  # two rows dropped
]


def _random_cases(count, seed=1234):
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(count):
        size, stride = int(rng.integers(1, 5)), int(rng.integers(1, 4))
        h, w = int(rng.integers(max(3, size), 9)), int(rng.integers(max(3, size), 9))
        cases.append((size, stride, int(rng.integers(1, 4)), int(rng.integers(1, 3)), h, w))
    return cases


CASES = HAND_CASES + _random_cases(6)


def _case_id(case):
    size, stride, n, c, h, w = case
    return f"k{size}s{stride}-n{n}c{c}-{h}x{w}"


def _distinct_input(shape, seed):
    """Every value distinct and at least ~0.01 apart, so a 1e-6 nudge never changes a max (no ties)."""
    rng = np.random.default_rng(seed)
    total = int(np.prod(shape))
    return ((rng.permutation(total) - total / 2) * (4.0 / total)).reshape(shape)


def _call(case, seed):
    size, stride, n, c, h, w = case
    x = _distinct_input((n, c, h, w), seed)
    oh, ow = (h - size) // stride + 1, (w - size) // stride + 1
    # Positive upstream gradients: where windows overlap, dx adds several of them, and with mixed
    # signs a sum can cancel to ~1e-4, where central-difference rounding (~1e-11) alone breaks 1e-7
    # relative error. Distinct magnitudes still catch any wrong routing or scaling.
    dout = np.random.default_rng(seed + 1).uniform(0.5, 1.5, size=(n, c, oh, ow))
    return x, dout, {"size": size, "stride": stride}


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_maxpool_gradcheck(case):
    x, dout, params = _call(case, seed=sum(case))
    assert_gradcheck("maxpool2d", {"x": x, "dout": dout}, params, case=_case_id(case))


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_avgpool_gradcheck(case):
    x, dout, params = _call(case, seed=sum(case) + 7)
    assert_gradcheck("avgpool2d", {"x": x, "dout": dout}, params, case=_case_id(case))


def _tie_heavy(case, seed):
    """Small integers: many ties inside windows, so the tie rule is exercised."""
    size, stride, n, c, h, w = case
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, size=(n, c, h, w)).astype(np.float64)
    oh, ow = (h - size) // stride + 1, (w - size) // stride + 1
    return x, rng.normal(size=(n, c, oh, ow))


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_maxpool_fast_matches_naive(case):
    size, stride = case[:2]
    for seed in (0, 1):
        x, dout = _tie_heavy(case, seed) if seed else _call(case, 3)[:2]
        out, cache = pool.maxpool2d_forward(x, size, stride)
        out_n, cache_n = pool.maxpool2d_forward_naive(x, size, stride)
        np.testing.assert_array_equal(out, out_n)
        np.testing.assert_array_equal(cache.argmax, cache_n.argmax)
        np.testing.assert_array_equal(cache.window_argmax, cache_n.window_argmax)
        np.testing.assert_array_equal(cache.windows, cache_n.windows)
        assert (cache.dropped_rows, cache.dropped_cols) == (cache_n.dropped_rows, cache_n.dropped_cols)
        dx = pool.maxpool2d_backward(dout, cache).dx
        np.testing.assert_allclose(dx, pool.maxpool2d_backward_naive(dout, cache_n).dx, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_avgpool_fast_matches_naive(case):
    size, stride = case[:2]
    x, dout, _ = _call(case, 5)
    out, cache = pool.avgpool2d_forward(x, size, stride)
    out_n, cache_n = pool.avgpool2d_forward_naive(x, size, stride)
    np.testing.assert_allclose(out, out_n, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(cache.windows, cache_n.windows)
    np.testing.assert_allclose(pool.avgpool2d_backward(dout, cache).dx,
                               pool.avgpool2d_backward_naive(dout, cache_n).dx, rtol=1e-12, atol=1e-14)


def test_argmax_is_the_flat_index_inside_the_plane():
    x = np.array([[[[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]]], dtype=float)  # 3×4, max at bottom-right
    arrays = run_op("maxpool2d", {"x": x}, {"size": 2, "stride": 1})
    # window (oh, ow) has its max at (oh + 1, ow + 1): flat (oh + 1)·4 + ow + 1
    np.testing.assert_array_equal(arrays["argmax"][0, 0], [[5, 6, 7], [9, 10, 11]])
    np.testing.assert_array_equal(arrays["window_argmax"][0, 0], np.full((2, 3), 3))  # bottom-right of each 2×2
    assert arrays["argmax"].dtype == np.int64


@pytest.mark.parametrize(
    "window, argmax",
    [
        ([[5, 5], [5, 5]], 0),  # all equal: the first cell
        ([[1, 7], [7, 2]], 1),  # row 0 comes before row 1
        ([[7, 0], [7, 0]], 0),
        ([[0, 0], [3, 3]], 2),  # first in row 1
    ],
)
def test_maxpool_ties_go_to_the_first_maximum_in_row_major_order(window, argmax):
    x = np.array([[window]], dtype=float)
    for forward in (pool.maxpool2d_forward, pool.maxpool2d_forward_naive):
        _, cache = forward(x, 2, 2)
        assert cache.argmax[0, 0, 0, 0] == argmax
    dx = run_op("maxpool2d", {"x": x, "dout": [[[[2.5]]]]}, {"size": 2})["dx"]
    expected = np.zeros(4)
    expected[argmax] = 2.5
    np.testing.assert_array_equal(dx.ravel(), expected)


def test_overlapping_windows_route_to_the_same_cell_and_add():
    # Every 2×2 window of this 3×3 input (stride 1) contains the centre 9: all four route there.
    x = [[[[1, 2, 3], [4, 9, 5], [6, 7, 8]]]]
    dout = [[[[1, 2], [3, 4]]]]
    arrays = run_op("maxpool2d", {"x": x, "dout": dout}, {"size": 2, "stride": 1})
    np.testing.assert_array_equal(arrays["out"][0, 0], [[9, 9], [9, 9]])
    np.testing.assert_array_equal(arrays["argmax"][0, 0], [[4, 4], [4, 4]])
    np.testing.assert_array_equal(arrays["dx"][0, 0], [[0, 0, 0], [0, 1 + 2 + 3 + 4, 0], [0, 0, 0]])


def test_overlapping_ties_across_windows_each_pick_their_own_first():
    # A plateau of equal values: each window's first cell in row-major order is its own top-left.
    x = np.full((1, 1, 3, 3), 2.0)
    arrays = run_op("maxpool2d", {"x": x, "dout": [[[[1, 10], [100, 1000]]]]}, {"size": 2, "stride": 1})
    np.testing.assert_array_equal(arrays["argmax"][0, 0], [[0, 1], [3, 4]])
    np.testing.assert_array_equal(arrays["dx"][0, 0], [[1, 10, 0], [100, 1000, 0], [0, 0, 0]])


def test_avgpool_overlap_by_hand():
    x = [[[[1, 2, 3], [4, 9, 5], [6, 7, 8]]]]
    dout = [[[[1, 2], [3, 4]]]]
    arrays = run_op("avgpool2d", {"x": x, "dout": dout}, {"size": 2, "stride": 1})
    np.testing.assert_allclose(arrays["out"][0, 0], [[16 / 4, 19 / 4], [26 / 4, 29 / 4]])
    expected = np.array([[1, 1 + 2, 2], [1 + 3, 1 + 2 + 3 + 4, 2 + 4], [3, 3 + 4, 4]]) / 4
    np.testing.assert_allclose(arrays["dx"][0, 0], expected)


@pytest.mark.parametrize("op", ["maxpool2d", "avgpool2d"])
def test_dropped_rows_and_cols_are_reported_and_get_no_gradient(op):
    x = _distinct_input((1, 2, 5, 7), 0)
    arrays = run_op(op, {"x": x}, {"size": 2, "stride": 2})  # OH = ⌊3/2⌋ + 1 = 2, OW = ⌊5/2⌋ + 1 = 3
    assert arrays["out"].shape == (1, 2, 2, 3)
    assert arrays["dropped_rows"].shape == () and int(arrays["dropped_rows"]) == 1
    assert int(arrays["dropped_cols"]) == 1
    assert not arrays["dx"][:, :, 4, :].any() and not arrays["dx"][:, :, :, 6].any()
    arrays = run_op(op, {"x": _distinct_input((1, 1, 8, 8), 1)}, {"size": 3, "stride": 3})  # covers 0..5
    assert (int(arrays["dropped_rows"]), int(arrays["dropped_cols"])) == (2, 2)


def test_stride_defaults_to_size():
    spec = get_spec("maxpool2d")
    assert {p.name: p.default for p in spec.params} == {"size": 2, "stride": None, "pad": 0}
    x = _distinct_input((1, 1, 6, 6), 2)
    implicit = run_op("maxpool2d", {"x": x}, {"size": 3})
    explicit = run_op("maxpool2d", {"x": x}, {"size": 3, "stride": 3})
    assert implicit["out"].shape == (1, 1, 2, 2)
    for name in ("out", "argmax", "dx"):
        np.testing.assert_array_equal(implicit[name], explicit[name])


@pytest.mark.parametrize("op", ["maxpool2d", "avgpool2d"])
def test_missing_dout_is_ones(op):
    x = _distinct_input((2, 1, 4, 4), 3)
    arrays = run_op(op, {"x": x}, {"size": 2})
    np.testing.assert_array_equal(arrays["dout"], np.ones((2, 1, 2, 2)))


@pytest.mark.parametrize("op", ["maxpool2d", "avgpool2d"])
@pytest.mark.parametrize(
    "inputs, params, field, words",
    [
        ({"x": np.zeros((1, 1, 2, 2))}, {"size": 3}, "params.size", "window 3×3 is larger than the input 2×2"),
        ({"x": np.zeros((1, 1, 2, 2))}, {"size": 3, "stride": 1}, "params.size", "⌊(2 − 3)/1⌋ + 1 = 0"),
        ({"x": np.zeros((1, 1, 5, 2))}, {"size": 3, "stride": 1}, "params.size", "output width would be"),
        ({"x": np.zeros((1, 1, 4, 4)), "dout": np.zeros((1, 1, 3, 3))}, {"size": 2}, "inputs.dout", "[1, 1, 2, 2]"),
        ({"x": np.zeros((1, 1, 4, 4))}, {"size": 9}, "params.size", "between 1 and 8"),
        ({"x": np.zeros((1, 1, 4, 4))}, {"size": 0}, "params.size", "between"),
        ({"x": np.zeros((1, 1, 4, 4))}, {"stride": 0}, "params.stride", "between"),
        ({"x": np.zeros((1, 1, 4, 4))}, {"size": 1.5}, "params.size", "whole number"),
        ({"x": np.zeros((1, 4, 4))}, {}, "inputs.x", "4 dimensions"),
    ],
    ids=["too-big", "formula", "width", "dout-shape", "size-9", "size-0", "stride-0", "size-frac", "x-3d"],
)
def test_errors_name_the_field(op, inputs, params, field, words):
    with pytest.raises(OpInputError) as info:
        run_op(op, inputs, params)
    assert info.value.field == field
    assert words in info.value.message


@pytest.mark.parametrize("forward", [pool.maxpool2d_forward, pool.avgpool2d_forward,
                                     pool.maxpool2d_forward_naive, pool.avgpool2d_forward_naive])
def test_direct_calls_check_too(forward):
    with pytest.raises(OpInputError) as info:
        forward(np.zeros((1, 1, 3, 3)), 4)
    assert info.value.field == "params.size"
    with pytest.raises(OpInputError) as info:
        forward(np.zeros((1, 1, 3, 3)), 2, 0)
    assert info.value.field == "params.stride"


@pytest.mark.parametrize("op", ["maxpool2d", "avgpool2d"])
def test_float32_stays_float32(op):
    x = _distinct_input((2, 2, 5, 5), 4)
    arrays = run_op(op, {"x": x}, {"size": 3, "stride": 2}, dtype="float32")
    for name in ("x", "dout", "windows", "out", "dx"):
        assert arrays[name].dtype == np.float32, name
    reference = run_op(op, {"x": x}, {"size": 3, "stride": 2})
    np.testing.assert_allclose(arrays["out"], reference["out"], rtol=1e-6)
    np.testing.assert_allclose(arrays["dx"], reference["dx"], rtol=1e-6)


@pytest.mark.parametrize("op", ["maxpool2d", "avgpool2d"])
def test_no_input_is_mutated(op):
    x = _distinct_input((2, 2, 5, 5), 5)
    spec, arrays, params = prepare(op, {"x": x, "dout": np.random.default_rng(0).normal(size=(2, 2, 4, 4))},
                                   {"size": 2, "stride": 1})
    before = {k: v.copy() for k, v in arrays.items()}
    result = spec.run(arrays, params)
    for name, value in before.items():
        np.testing.assert_array_equal(arrays[name], value, err_msg=name)
    # Writing into what the op returned never reaches its inputs (no aliasing).
    for name in ("windows", "out", "dx"):
        result[name][...] = 123.0
    for name, value in before.items():
        np.testing.assert_array_equal(arrays[name], value, err_msg=name)


def test_backward_reads_the_cache_only():
    # Backward after the input changed must still route to where the max was at forward time.
    x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    _, cache = pool.maxpool2d_forward(x, 2)
    x[0, 0, 0, 0] = 100.0
    np.testing.assert_array_equal(pool.maxpool2d_backward(np.ones((1, 1, 1, 1)), cache).dx[0, 0], [[0, 0], [0, 1]])


NOTES_X = [[[[2, 1, -11, 0], [0, 10, -15, -16], [23, 100, 2, 3], [-23, 0, 7, 20]]]]


def test_maxpool_provenance():
    found = op_provenance("maxpool2d", {"x": NOTES_X}, {"size": 2}, "out", (0, 0, 1, 1))
    assert found == {"x": [(0, 0, 2, 2), (0, 0, 2, 3), (0, 0, 3, 2), (0, 0, 3, 3)], "argmax": [(0, 0, 1, 1)]}
    assert op_provenance("maxpool2d", {"x": NOTES_X}, {"size": 2}, "dx", (0, 0, 2, 1)) == {
        "dout": [(0, 0, 1, 0)], "argmax": [(0, 0, 1, 0)]}
    assert op_provenance("maxpool2d", {"x": NOTES_X}, {"size": 2}, "dx", (0, 0, 0, 0)) == {"dout": [], "argmax": []}
    # Overlap: the centre of the 3×3 example receives all four dout cells.
    x = [[[[1, 2, 3], [4, 9, 5], [6, 7, 8]]]]
    found = op_provenance("maxpool2d", {"x": x}, {"size": 2, "stride": 1}, "dx", (0, 0, 1, 1))
    assert sorted(found["dout"]) == [(0, 0, 0, 0), (0, 0, 0, 1), (0, 0, 1, 0), (0, 0, 1, 1)]
    assert op_provenance("maxpool2d", {"x": x}, {"size": 2, "stride": 1}, "windows", (0, 0, 1, 0, 0, 1)) == {
        "x": [(0, 0, 1, 1)]}


@pytest.mark.parametrize("case", HAND_CASES[1:7], ids=_case_id)
def test_avgpool_dx_provenance_matches_the_windows(case):
    size, stride, n, c, h, w = case
    x, _, params = _call(case, 9)
    out_shape = run_op("avgpool2d", {"x": x}, params)["out"].shape
    covers = {}  # x cell -> dout cells whose window holds it, from the forward provenance
    for index in np.ndindex(out_shape):
        for cell in op_provenance("avgpool2d", {"x": x}, params, "out", index)["x"]:
            covers.setdefault(cell, set()).add(index)
    for cell in [(0, 0, 0, 0), (n - 1, c - 1, h - 1, w - 1), (0, 0, h // 2, w // 2), (0, 0, h - 1, 0)]:
        found = op_provenance("avgpool2d", {"x": x}, params, "dx", cell)["dout"]
        assert set(found) == covers.get(cell, set()), cell
        assert len(found) == len(set(found))


def test_provenance_rejects_unknown_arrays_and_indices():
    with pytest.raises(OpInputError) as info:
        op_provenance("maxpool2d", {"x": NOTES_X}, {}, "nope", (0,))
    assert info.value.field == "array"
    with pytest.raises(OpInputError) as info:
        op_provenance("avgpool2d", {"x": NOTES_X}, {}, "out", (0, 0, 2, 0))
    assert info.value.field == "index"


def test_steps_hold_the_numbers_the_op_returns():
    x = _distinct_input((1, 2, 5, 5), 6)
    params = {"size": 3, "stride": 2}
    arrays = run_op("maxpool2d", {"x": x}, params)
    steps = op_steps("maxpool2d", {"x": x}, params)
    assert [(s.phase, s.name) for s in steps] == [("forward", "windows"), ("forward", "max"), ("backward", "route")]
    np.testing.assert_array_equal(steps[1].arrays["out"], arrays["out"])
    np.testing.assert_array_equal(steps[1].arrays["argmax"], arrays["argmax"])
    np.testing.assert_array_equal(steps[2].arrays["dx"], arrays["dx"])
    assert r"\left\lfloor \frac{5 - 3}{2} \right\rfloor + 1 = 2" in steps[0].latex
    avg = op_steps("avgpool2d", {"x": x}, params)
    assert [s.name for s in avg] == ["windows", "mean", "spread"]
    np.testing.assert_array_equal(avg[2].arrays["dx"], run_op("avgpool2d", {"x": x}, params)["dx"])


@pytest.mark.parametrize("op", ["maxpool2d", "avgpool2d"])
def test_example_runs(op):
    inputs, params = get_spec(op).example(np.random.default_rng(0))
    arrays = run_op(op, inputs, params)
    assert set(get_spec(op).arrays) <= set(arrays)


def test_fast_backward_is_vectorized_enough():
    # Not a timing test: a large overlapping case must agree with a direct sum over the kernel offsets.
    rng = np.random.default_rng(7)
    x = rng.normal(size=(4, 3, 17, 19))
    out, cache = pool.maxpool2d_forward(x, 3, 2)
    dout = rng.normal(size=out.shape)
    dx = pool.maxpool2d_backward(dout, cache).dx
    expected = np.zeros_like(x)
    oh, ow = out.shape[2:]
    for kh in range(3):
        for kw in range(3):
            hit = cache.window_argmax == kh * 3 + kw
            expected[:, :, kh:kh + 2 * (oh - 1) + 1:2, kw:kw + 2 * (ow - 1) + 1:2] += np.where(hit, dout, 0)
    np.testing.assert_allclose(dx, expected, rtol=1e-12, atol=1e-14)
    assert np.isclose(dx.sum(), dout.sum())
