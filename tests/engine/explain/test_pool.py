"""The pooling lab's extras agree with the ops: windows, routes (= the ops' provenance), ties, kinks."""

from __future__ import annotations

import numpy as np
import pytest

from engine.explain.pool import (
    bmatrix,
    check_away_from_kinks,
    consumers,
    kinks,
    pool_window,
    route_counts,
    route_sources,
    routes,
    routing_step,
    tie_counts,
)
from engine.gradcheck import check_op
from engine.records import OpInputError
from engine.registry import op_provenance, prepare, run_op

NOTES_4X4 = np.array([[2, 1, -11, 0], [0, 10, -15, -16], [23, 100, 2, 3], [-23, 0, 7, 20]], float)[None, None]
OVERLAP = np.array([[1, 2, 3, 0], [4, 9, 5, 1], [0, 6, 2, 3], [1, 0, 2, 4]], float)[None, None]
TIES = np.array([[5, 5, 1, 2], [3, 5, 0, 2], [7, 1, 4, 4], [0, 7, 4, 4]], float)[None, None]


def run(op, x, size, stride, dout=None):
    inputs = {"x": x} if dout is None else {"x": x, "dout": dout}
    return run_op(op, inputs, {"size": size, "stride": stride})


def test_notes_4x4_first_window_term_by_term():
    result = run("maxpool2d", NOTES_4X4, 2, 2)
    win = pool_window("maxpool2d", result, 2, 2, (0, 0, 0, 0))
    # window {2, 1, 0, 10}: 10 at window cell (1, 1) = x[0, 0, 1, 1], flat index 1·4 + 1 = 5
    assert win.out == 10 and win.winner == (1, 1) and win.winner_x == (0, 0, 1, 1) and win.argmax == 5
    assert win.tied == ((1, 1),)
    assert r"\max(2, 1, 0, 10) = 10" in win.latex and r"1\cdot 4 + 1 = 5" in win.latex
    assert win.rows == (0, 1) and win.cols == (0, 1)
    # the second window {−11, 0, −15, −16}: its maximum is 0
    win = pool_window("maxpool2d", result, 2, 2, (0, 0, 0, 1))
    assert win.out == 0 and win.winner_x == (0, 0, 0, 3)
    assert r"\max(-11, 0, -15, -16) = 0" in win.latex


def test_average_window_writes_the_mean():
    result = run("avgpool2d", NOTES_4X4, 2, 2)
    win = pool_window("avgpool2d", result, 2, 2, (0, 0, 1, 1))
    assert win.out == 8  # (2 + 3 + 7 + 20)/4
    assert r"\frac{2 + 3 + 7 + 20}{2^2} = 8" in win.latex
    assert win.winner is None and win.tied == ()


def test_a_window_outside_the_output_is_an_error():
    result = run("maxpool2d", NOTES_4X4, 2, 2)
    with pytest.raises(OpInputError):
        pool_window("maxpool2d", result, 2, 2, (0, 0, 2, 0))
    with pytest.raises(OpInputError):
        pool_window("relu", result, 2, 2, (0, 0, 0, 0))


def test_overlapping_windows_add_their_dout_in_one_cell():
    dout = np.arange(1, 10, dtype=float).reshape(1, 1, 3, 3)
    result = run("maxpool2d", OVERLAP, 2, 1, dout)
    found = {r.dx_index: r for r in routes("maxpool2d", result, 2, 1, (0, 0))}
    # the 9 at (1, 1) wins windows (0, 0), (0, 1), (1, 0), (1, 1): dout 1 + 2 + 4 + 5 = 12
    r = found[(0, 0, 1, 1)]
    assert r.sources == ((0, 0, 0, 0), (0, 0, 0, 1), (0, 0, 1, 0), (0, 0, 1, 1))
    assert r.dx == 12
    assert r.text == "dx[0,0,1,1] = dout[0,0,0,0] + dout[0,0,0,1] + dout[0,0,1,0] + dout[0,0,1,1] = 1 + 2 + 4 + 5 = 12"
    # the 5 at (1, 2) wins windows (0, 2) = {3, 0, 5, 1} and (1, 2) = {5, 1, 2, 3}: dout 3 + 6
    assert found[(0, 0, 1, 2)].text == "dx[0,0,1,2] = dout[0,0,0,2] + dout[0,0,1,2] = 3 + 6 = 9"
    # the 6 at (2, 1) wins window (2, 0) = {0, 6, 1, 0} alone: 7 (window (2, 1) = {6, 2, 0, 2} also → 7 + 8)
    assert found[(0, 0, 2, 1)].text == "dx[0,0,2,1] = dout[0,0,2,0] + dout[0,0,2,1] = 7 + 8 = 15"
    assert (0, 0, 0, 0) not in found  # never a maximum: no gradient


def test_notes_routing_2x2():
    result = run("maxpool2d", np.array([[[[1, 3], [2, 4]]]], float), 2, 2, np.array([[[[10.0]]]]))
    assert [r.text for r in routes("maxpool2d", result, 2, 2, (0, 0))] == ["dx[0,0,1,1] = dout[0,0,0,0] = 10"]


def test_average_routes_divide_by_k_squared():
    result = run("avgpool2d", OVERLAP, 2, 1)
    found = {r.dx_index: r for r in routes("avgpool2d", result, 2, 1, (0, 0))}
    assert found[(0, 0, 1, 1)].text == ("dx[0,0,1,1] = (dout[0,0,0,0] + dout[0,0,0,1] + dout[0,0,1,0] + "
                                        "dout[0,0,1,1]) / 4 = (1 + 1 + 1 + 1) / 4 = 1")
    assert found[(0, 0, 0, 0)].text == "dx[0,0,0,0] = dout[0,0,0,0] / 4 = 1 / 4 = 0.25"


def test_negative_numbers_read_with_a_true_minus():
    result = run("maxpool2d", NOTES_4X4, 2, 1, -np.ones((1, 1, 3, 3)))
    texts = [r.text for r in routes("maxpool2d", result, 2, 1, (0, 0))]
    # the 100 at (2, 1) wins the four windows around it
    assert ("dx[0,0,2,1] = dout[0,0,1,0] + dout[0,0,1,1] + dout[0,0,2,0] + dout[0,0,2,1] = "
            "(−1) + (−1) + (−1) + (−1) = −4") in texts


CASES = [("maxpool2d", (1, 1, 5, 5), 2, 1), ("maxpool2d", (2, 3, 7, 6), 3, 2), ("maxpool2d", (1, 2, 6, 6), 2, 3),
         ("avgpool2d", (1, 1, 5, 5), 2, 1), ("avgpool2d", (2, 2, 7, 6), 3, 2), ("maxpool2d", (1, 1, 9, 9), 4, 1),
         ("avgpool2d", (1, 1, 4, 4), 1, 1)]


@pytest.mark.parametrize("op,shape,size,stride", CASES, ids=[f"{c[0]}-{c[1]}-k{c[2]}-s{c[3]}" for c in CASES])
def test_routes_are_the_ops_provenance_and_sum_to_dx(op, shape, size, stride):
    rng = np.random.default_rng(sum(shape) + size * 10 + stride)
    x = np.round(rng.standard_normal(shape), 1)
    params = {"size": size, "stride": stride}
    result = run_op(op, {"x": x}, params)
    dout = rng.standard_normal(result["out"].shape)
    result = run_op(op, {"x": x, "dout": dout}, params)
    for n in range(shape[0]):
        for c in range(shape[1]):
            found = {r.dx_index: r for r in routes(op, result, size, stride, (n, c))}
            for h in range(shape[2]):
                for w in range(shape[3]):
                    prov = sorted(op_provenance(op, {"x": x, "dout": dout}, params, "dx", (n, c, h, w))["dout"])
                    r = found.get((n, c, h, w))
                    assert sorted(r.sources if r else []) == prov, (op, n, c, h, w)
                    if r:
                        assert sum(r.values) / r.share == pytest.approx(result["dx"][n, c, h, w], abs=1e-12)
                        assert r.dx == result["dx"][n, c, h, w]
                    else:
                        assert result["dx"][n, c, h, w] == 0


@pytest.mark.parametrize("op,shape,size,stride", CASES, ids=[f"{c[0]}-{c[1]}-k{c[2]}-s{c[3]}" for c in CASES])
def test_route_counts_count_what_route_sources_list(op, shape, size, stride):
    rng = np.random.default_rng(sum(shape) + size)
    x = np.round(rng.standard_normal(shape), 0)  # whole numbers: ties, so windows share their winner
    result = run_op(op, {"x": x}, {"size": size, "stride": stride})
    listed = [route_sources(op, result, size, stride, (n, c)) for n in range(shape[0]) for c in range(shape[1])]
    expected = (sum(map(len, listed)), sum(len(s) > 1 for plane in listed for s in plane.values()))
    assert route_counts(op, result, size, stride) == expected
    assert expected[0] > 0 and (expected[1] > 0) == (stride < size)


@pytest.mark.parametrize("op,shape,size,stride", CASES, ids=[f"{c[0]}-{c[1]}-k{c[2]}-s{c[3]}" for c in CASES])
def test_consumers_run_the_provenance_backwards(op, shape, size, stride):
    rng = np.random.default_rng(7)
    x = np.round(rng.standard_normal(shape), 1)
    params = {"size": size, "stride": stride}
    result = run_op(op, {"x": x}, params)
    for idx in np.ndindex(result["out"].shape):
        window = op_provenance(op, {"x": x}, params, "out", idx)["x"]
        for cell in window:
            assert idx in consumers(op, result, size, stride, "x", cell)["out"]
        for target in consumers(op, result, size, stride, "dout", idx)["dx"]:
            assert idx in op_provenance(op, {"x": x}, params, "dx", target)["dout"]
    with pytest.raises(OpInputError):
        consumers(op, result, size, stride, "x", (0, 0, shape[2], 0))
    with pytest.raises(OpInputError):
        consumers(op, result, size, stride, "out", (0, 0, 0, 0))


def test_ties_go_to_the_first_maximum_in_row_major_order():
    result = run("maxpool2d", TIES, 2, 2)
    np.testing.assert_array_equal(tie_counts(result)[0, 0], [[3, 2], [2, 4]])
    # {5, 5, 3, 5} → (0, 0); {1, 2, 0, 2} → (0, 1) = x[0, 3]; {7, 1, 0, 7} → (0, 0); {4, 4, 4, 4} → (0, 0)
    np.testing.assert_array_equal(result["window_argmax"][0, 0], [[0, 1], [0, 0]])
    win = pool_window("maxpool2d", result, 2, 2, (0, 0, 0, 0))
    assert win.tied == ((0, 0), (0, 1), (1, 1)) and win.winner == (0, 0)


def test_kinks_mark_tied_maxima_and_relu_zeros():
    result = run("maxpool2d", TIES, 2, 2)
    expected = np.array([[1, 1, 0, 1], [0, 1, 0, 1], [1, 0, 1, 1], [0, 1, 1, 1]], bool)
    np.testing.assert_array_equal(kinks("maxpool2d", result, 2, 2, 1e-6)[0, 0], expected)
    assert not kinks("maxpool2d", run("maxpool2d", NOTES_4X4, 2, 2), 2, 2, 1e-6).any()
    assert not kinks("avgpool2d", run("avgpool2d", TIES, 2, 2), 2, 2, 1e-6).any()
    relu = run_op("relu", {"x": np.array([[-5.0, 4.0], [0.0, 2.0]])})
    np.testing.assert_array_equal(kinks("relu", relu, 0, 0, 1e-6), [[False, False], [True, False]])
    # a near-tie (closer than h) is a kink too: moving one cell by h changes the winner
    near = run("maxpool2d", np.array([[[[1.0, 1.0 + 1e-7], [0, 0]]]]), 2, 2)
    np.testing.assert_array_equal(kinks("maxpool2d", near, 2, 2, 1e-6)[0, 0], [[True, True], [False, False]])


def test_a_gradient_check_across_a_tie_misleads_and_away_from_it_agrees():
    params = {"size": 2, "stride": 2}
    assert check_op("maxpool2d", {"x": TIES}, params, h=1e-3).worst > 0.1  # not differentiable at a tie
    op, arrays, clean = prepare("maxpool2d", {"x": TIES}, params)
    result = op.run(arrays, clean)
    skip = kinks("maxpool2d", result, 2, 2, 1e-3)
    report = check_away_from_kinks("maxpool2d", arrays, clean, skip, h=1e-3)
    assert report is not None and report.worst < 1e-9 and report.checked == int((~skip).sum()) == 5
    everything = check_away_from_kinks("maxpool2d", arrays, clean, np.ones(TIES.shape, bool), h=1e-3)
    assert everything is None


def test_relu_check_away_from_zero():
    x = np.array([[[[-5.0, 4.0], [0.0, 2.0]]]])
    op, arrays, clean = prepare("relu", {"x": x, "dout": np.array([[[[1.0, 3.0], [2.0, 4.0]]]])})
    skip = kinks("relu", op.run(arrays, clean), 0, 0, 1e-3)
    report = check_away_from_kinks("relu", arrays, clean, skip, h=1e-3, max_per_input=2, seed=1)
    assert report is not None and report.worst < 1e-9 and report.checked == 2 and report.total == 4


def test_bmatrix():
    assert bmatrix(np.array([[10.0, 0.0], [100.0, -2.5]])) == r"\begin{bmatrix}10 & 0 \\ 100 & -2.5\end{bmatrix}"
    assert bmatrix(np.array([[1 / 3]])) == r"\begin{bmatrix}0.3333\end{bmatrix}"


@pytest.mark.parametrize("op", ["maxpool2d", "avgpool2d"])
def test_nothing_here_modifies_the_ops_arrays(op):
    result = run(op, TIES, 2, 1, np.arange(9, dtype=float).reshape(1, 1, 3, 3))
    before = {k: np.array(v, copy=True) for k, v in result.items()}
    pool_window(op, result, 2, 1, (0, 0, 1, 1))
    routes(op, result, 2, 1, (0, 0))
    consumers(op, result, 2, 1, "dout", (0, 0, 1, 1))
    kinks(op, result, 2, 1, 1e-3)
    if op == "maxpool2d":
        tie_counts(result)
    for name, value in before.items():
        np.testing.assert_array_equal(result[name], value, err_msg=name)


@pytest.mark.parametrize("op,size,stride", [("maxpool2d", 2, 2), ("maxpool2d", 3, 1), ("maxpool2d", 2, 1),
                                            ("avgpool2d", 2, 1), ("avgpool2d", 3, 2)])
def test_routing_one_upstream_value_at_a_time_ends_in_dx(op, size, stride):
    rng = np.random.default_rng(7)
    x = rng.integers(-2, 3, size=(1, 2, 6, 5)).astype(float)  # small integers: ties and shared maxima
    spec, arrays, params = prepare(op, {"x": x}, {"size": size, "stride": stride})
    out_shape = spec.run(arrays, params)["out"].shape
    spec, arrays, params = prepare(op, {"x": x, "dout": rng.normal(size=out_shape)}, {"size": size, "stride": stride})
    result = spec.run(arrays, params)
    for c in range(2):
        previous = np.zeros(x.shape[2:])
        for oh, ow in np.ndindex(out_shape[2:]):
            step = routing_step(op, result, size, stride, (0, c, oh, ow))
            np.testing.assert_allclose(step.before, previous, atol=1e-12)
            assert step.routed == oh * out_shape[3] + ow + 1
            assert len(step.targets) == (1 if op == "maxpool2d" else size * size)
            previous = step.after
        assert step.complete
        np.testing.assert_allclose(previous, result["dx"][0, c], atol=1e-12)


@pytest.mark.parametrize("op,shape,size,stride", CASES, ids=[f"{c[0]}-{c[1]}-k{c[2]}-s{c[3]}" for c in CASES])
def test_routes_are_listed_row_major_and_a_limit_lists_their_first(op, shape, size, stride):
    """The dx cells in row-major order, each cell's sources row-major too (ties: windows sharing a winner), and
    ``limit`` lists the first of the same list: the lab shows the first 48 of a CIFAR plane's."""
    rng = np.random.default_rng(sum(shape) + stride)
    x = np.round(rng.standard_normal(shape), 0)  # whole numbers: ties
    result = run_op(op, {"x": x}, {"size": size, "stride": stride})
    for n in range(shape[0]):
        for c in range(shape[1]):
            listed = routes(op, result, size, stride, (n, c))
            cells = [r.dx_index for r in listed]
            assert cells == sorted(cells) and len(set(cells)) == len(cells)
            assert all(list(r.sources) == sorted(r.sources) for r in listed)
            for limit in (1, 3, len(listed)):
                assert [r.text for r in routes(op, result, size, stride, (n, c), limit)] == \
                    [r.text for r in listed[:limit]]
            assert list(route_sources(op, result, size, stride, (n, c)).items()) == \
                [(r.dx_index, list(r.sources)) for r in listed]
