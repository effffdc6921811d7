"""conv2d: gradient checks, forward against the naive loops, the two dx routes, records, errors, steps.

(im2col's index maps: test_im2col.py; provenance: test_conv_provenance.py.)
"""

import itertools

import numpy as np
import pytest

import engine.ops.conv as conv_module
from engine.ops.conv import (
    ConvCache,
    ConvGrads,
    conv2d_backward,
    conv2d_dx_full_conv,
    conv2d_forward,
    conv2d_forward_naive,
    conv2d_full_conv,
    rotate_kernel,
)
from engine.ops.im2col import col2im, conv_output_size
from engine.records import OpInputError
from engine.registry import get_spec, op_steps, prepare, run_op
from tests.engine.conftest import assert_gradcheck
from tests.engine.ops.conv_cases import CORNERS, GRAD_CASES, MANY_CASES, case_id, make_arrays

SPEC = get_spec("conv2d")
INPUTS = ("x", "w", "b", "dout")


# ---------------------------------------------------------------------------------------------
# Gradient check
# ---------------------------------------------------------------------------------------------


# sum(out · dout) is linear in each of x, w and b (the others held fixed), so central differences
# have no truncation error at any step h: the only error is round-off, ≈ ε·Σ|terms|/h. With the
# default h = 1e-6 that round-off reaches ~1e-7 relative on the occasional small dx entry (a sum of
# a few products that nearly cancel), so these checks use h = 1e-3: same exactness, 1000× less
# round-off, and the 1e-7 tolerance stays strict. A wrong gradient is still off by O(1).
H_STEP = 1e-3


@pytest.mark.parametrize("case", GRAD_CASES, ids=[case_id(c) for c in GRAD_CASES])
def test_gradcheck(case):
    inputs, params = make_arrays(case, seed=sum(case))
    report = assert_gradcheck("conv2d", inputs, params, tol=1e-7, case=case_id(case), h=H_STEP)
    assert set(report.per_input) == {"x", "w", "b"}
    assert report.checked == report.total == sum(inputs[k].size for k in ("x", "w", "b"))


def test_gradcheck_default_dout_of_ones():
    inputs, params = make_arrays((2, 2, 5, 5, 2, 3, 3, 2, 1), seed=3)
    del inputs["dout"]
    assert_gradcheck("conv2d", inputs, params, case="dout defaults to ones", h=H_STEP)


def test_gradcheck_catches_a_wrong_gradient(monkeypatch):
    """The check can fail: a backward that forgets the overlaps of col2im is caught."""
    def col2im_overwrite(dx_col, padded_shape, kh, kw, stride, dilation=1):
        N, C, Hp, Wp = padded_shape
        OH, OW = conv_output_size(Hp, kh, stride, 0), conv_output_size(Wp, kw, stride, 0)
        col = dx_col.reshape(C, kh, kw, N, OH, OW)
        out = np.zeros(padded_shape)
        for i, j in itertools.product(range(kh), range(kw)):  # = instead of += : overlaps lost
            out.transpose(1, 0, 2, 3)[:, :, i:i + stride * OH:stride, j:j + stride * OW:stride] = col[:, i, j]
        return out

    monkeypatch.setattr(conv_module, "col2im", col2im_overwrite)
    inputs, params = make_arrays((1, 1, 4, 4, 1, 2, 2, 1, 0), seed=1)
    with pytest.raises(AssertionError, match="dx"):
        assert_gradcheck("conv2d", inputs, params, h=H_STEP)


# ---------------------------------------------------------------------------------------------
# Forward: im2col against the naive loops
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", MANY_CASES[:30], ids=[case_id(c) for c in MANY_CASES[:30]])
def test_forward_matches_naive(case):
    a, params = make_arrays(case, seed=7)
    s, p = params["stride"], params["pad"]
    out, cache = conv2d_forward(a["x"], a["w"], a["b"], s, p, keep_product=True)
    out_n, cache_n = conv2d_forward_naive(a["x"], a["w"], a["b"], s, p, keep_product=True)
    assert isinstance(cache, ConvCache) and isinstance(cache_n, ConvCache)
    N, C, H, W, F, KH, KW, _, _ = case
    OH, OW = conv_output_size(H, KH, s, p), conv_output_size(W, KW, s, p)
    assert out.shape == out_n.shape == (N, F, OH, OW)
    assert (cache.OH, cache.OW) == (cache_n.OH, cache_n.OW) == (OH, OW)
    np.testing.assert_allclose(out, out_n, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(cache.x_padded, cache_n.x_padded)
    np.testing.assert_array_equal(cache.x_col, cache_n.x_col)
    np.testing.assert_array_equal(cache.w_row, cache_n.w_row)
    np.testing.assert_allclose(cache.wx_row, cache_n.wx_row, rtol=1e-12, atol=1e-12)
    assert cache.out is out


def test_forward_without_keep_product_skips_the_copy():
    a, params = make_arrays(CORNERS[1])
    _, cache = conv2d_forward(a["x"], a["w"], a["b"], params["stride"], params["pad"])
    assert cache.wx_row is None


# ---------------------------------------------------------------------------------------------
# Backward: the records, the two dx routes
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", MANY_CASES, ids=[case_id(c) for c in MANY_CASES])
def test_col2im_dx_equals_full_conv_dx(case):
    a, params = make_arrays(case, seed=11)
    s, p = params["stride"], params["pad"]
    _, cache = conv2d_forward(a["x"], a["w"], a["b"], s, p)
    grads = conv2d_backward(a["dout"], cache)
    dx_full = conv2d_dx_full_conv(a["dout"], a["w"], a["x"].shape, s, p)
    assert dx_full.shape == grads.dx.shape == a["x"].shape
    np.testing.assert_allclose(grads.dx, dx_full, rtol=1e-10, atol=1e-12)


def test_backward_matches_loops():
    """dw, db, dx against the chain rule written out with loops over every window."""
    case = (2, 2, 5, 6, 3, 3, 2, 2, 1)
    a, params = make_arrays(case, seed=2)
    s, p = params["stride"], params["pad"]
    _, cache = conv2d_forward(a["x"], a["w"], a["b"], s, p)
    g = conv2d_backward(a["dout"], cache)
    assert isinstance(g, ConvGrads)
    xp = np.pad(a["x"], ((0, 0), (0, 0), (p, p), (p, p)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(a["w"])
    N, F, OH, OW = a["dout"].shape
    for n, f, oh, ow in itertools.product(range(N), range(F), range(OH), range(OW)):
        win = (n, slice(None), slice(oh * s, oh * s + 3), slice(ow * s, ow * s + 2))
        dw[f] += xp[win] * a["dout"][n, f, oh, ow]
        dxp[win] += a["w"][f] * a["dout"][n, f, oh, ow]
    np.testing.assert_allclose(g.dw, dw, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g.db, a["dout"].sum(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(g.dx_padded, dxp, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g.dx, dxp[:, :, p:-p, p:-p], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g.dout_row, a["dout"].transpose(1, 0, 2, 3).reshape(F, -1))
    np.testing.assert_allclose(g.dx_col, cache.w_row.T @ g.dout_row)


def test_backward_same_for_f_major_and_n_major_dout():
    """dout laid out like out (F-major, reshape is free) or plain C order gives the same grads."""
    a, params = make_arrays((2, 3, 6, 6, 4, 3, 3, 1, 1), seed=4)
    out, cache = conv2d_forward(a["x"], a["w"], a["b"], **params)
    dout_f_major = out * 0.0 + a["dout"]  # elementwise from out: keeps out's layout
    g1 = conv2d_backward(np.ascontiguousarray(a["dout"]), cache)
    g2 = conv2d_backward(dout_f_major, cache)
    for name in ("dout_row", "dw", "db", "dx_col", "dx_padded", "dx"):
        np.testing.assert_array_equal(getattr(g1, name), getattr(g2, name), err_msg=name)


@pytest.mark.parametrize("case,rows,cols", [
    ((1, 1, 6, 6, 1, 3, 3, 2, 0), 1, 1),  # (6 − 3) mod 2 = 1
    ((1, 1, 7, 5, 1, 3, 2, 3, 2), 2, 1),  # padded 11×9: (11 − 3) mod 3 = 2, (9 − 2) mod 3 = 1
    ((2, 2, 8, 8, 1, 2, 2, 3, 0), 0, 0),  # (8 − 2) mod 3 = 0
])
def test_dropped_rows_get_zero_gradient(case, rows, cols):
    N, C, H, W, F, KH, KW, s, p = case
    expect_rows = (H + 2 * p - KH) % s
    expect_cols = (W + 2 * p - KW) % s
    assert (expect_rows, expect_cols) == (rows, cols)
    a, params = make_arrays(case, seed=9)
    arrays = run_op("conv2d", a, params)
    assert arrays["dropped_rows"].shape == () and arrays["dropped_cols"].shape == ()
    assert int(arrays["dropped_rows"]) == expect_rows and int(arrays["dropped_cols"]) == expect_cols
    Hp, Wp = H + 2 * p, W + 2 * p
    for name in ("dx_padded",):
        if expect_rows:
            assert np.all(arrays[name][:, :, Hp - expect_rows:, :] == 0)
        if expect_cols:
            assert np.all(arrays[name][:, :, :, Wp - expect_cols:] == 0)
    np.testing.assert_allclose(arrays["dx"], arrays["dx_full_conv"], rtol=1e-10, atol=1e-12)
    # and the x values there do not reach out at all
    x2 = a["x"].copy()
    if expect_rows > p:
        x2[:, :, H - (expect_rows - p):, :] += 100.0
        np.testing.assert_array_equal(run_op("conv2d", {**a, "x": x2}, params)["out"], arrays["out"])


def test_full_conv_parts():
    a, params = make_arrays((1, 2, 5, 6, 3, 3, 2, 2, 1), seed=1)
    rec = conv2d_full_conv(a["dout"], a["w"], a["x"].shape, params["stride"], params["pad"])
    N, F, OH, OW = a["dout"].shape
    assert rec.dout_dilated.shape == (N, F, (OH - 1) * 2 + 1, (OW - 1) * 2 + 1)
    np.testing.assert_array_equal(rec.dout_dilated[:, :, ::2, ::2], a["dout"])
    assert np.count_nonzero(rec.dout_dilated) == a["dout"].size
    assert rec.dout_padded.shape == (N, F, 5 + 2 + 3 - 1, 6 + 2 + 2 - 1)
    assert rec.w_rot.shape == (2, 3, 3, 2)
    for c, f, kh, kw in itertools.product(range(2), range(3), range(3), range(2)):
        assert rec.w_rot[c, f, kh, kw] == a["w"][f, c, 2 - kh, 1 - kw]
    np.testing.assert_array_equal(rotate_kernel(a["w"]), rec.w_rot)
    np.testing.assert_array_equal(rec.dx, rec.dx_padded[:, :, 1:-1, 1:-1])


# ---------------------------------------------------------------------------------------------
# dtype, mutation
# ---------------------------------------------------------------------------------------------


def test_float32_in_float32_out():
    a, params = make_arrays((2, 2, 5, 5, 2, 3, 3, 2, 1), seed=2)
    arrays = run_op("conv2d", a, params, dtype="float32")
    for name, arr in arrays.items():
        if name in ("dropped_rows", "dropped_cols"):
            assert arr.dtype.kind == "i"
        else:
            assert arr.dtype == np.float32, name
    ref = run_op("conv2d", a, params)
    for name in ("out", "dw", "db", "dx", "dx_full_conv"):
        np.testing.assert_allclose(arrays[name], ref[name], rtol=1e-4, atol=1e-4, err_msg=name)
    # and the functions themselves
    a32 = {k: v.astype(np.float32) for k, v in a.items()}
    out, cache = conv2d_forward(a32["x"], a32["w"], a32["b"], **params)
    g = conv2d_backward(a32["dout"], cache)
    assert out.dtype == cache.x_col.dtype == g.dw.dtype == g.db.dtype == g.dx.dtype == np.float32
    assert conv2d_dx_full_conv(a32["dout"], a32["w"], a32["x"].shape, **params).dtype == np.float32
    assert conv2d_forward_naive(a32["x"], a32["w"], a32["b"], **params)[0].dtype == np.float32


@pytest.mark.parametrize("case", CORNERS[1:4], ids=[case_id(c) for c in CORNERS[1:4]])
def test_no_input_is_mutated(case):
    a, params = make_arrays(case, seed=6)
    before = {k: v.copy() for k, v in a.items()}
    s, p = params["stride"], params["pad"]
    out, cache = conv2d_forward(a["x"], a["w"], a["b"], s, p, keep_product=True)
    grads = conv2d_backward(a["dout"], cache)
    conv2d_forward_naive(a["x"], a["w"], a["b"], s, p)
    conv2d_full_conv(a["dout"], a["w"], a["x"].shape, s, p)
    dx_col = grads.dx_col.copy()
    col2im(grads.dx_col, cache.x_padded.shape, *a["w"].shape[2:], s)
    np.testing.assert_array_equal(grads.dx_col, dx_col)
    _, arrays, clean = prepare("conv2d", a, params)
    arrays_before = {k: v.copy() for k, v in arrays.items()}
    SPEC.trace(arrays, clean)
    SPEC.run(arrays, clean, extras=False)
    SPEC.provenance(arrays, clean, "dx", (0, 0, 0, 0))
    run_op("conv2d", a, params)
    for k in a:
        np.testing.assert_array_equal(a[k], before[k], err_msg=k)
        np.testing.assert_array_equal(arrays[k], arrays_before[k], err_msg=k)


def test_records_are_frozen():
    a, params = make_arrays(CORNERS[1])
    _, cache = conv2d_forward(a["x"], a["w"], a["b"], **params)
    with pytest.raises(AttributeError):
        cache.out = None
    with pytest.raises(AttributeError):
        conv2d_backward(a["dout"], cache).dx = None


# ---------------------------------------------------------------------------------------------
# Registry: arrays, defaults, errors
# ---------------------------------------------------------------------------------------------


def test_run_returns_every_named_array():
    a, params = make_arrays((2, 2, 5, 6, 3, 3, 2, 2, 1), seed=8)
    arrays = run_op("conv2d", a, params)
    conventions = {"x_padded", "x_col", "w_row", "out", "dw", "db", "dx_col", "dx"}
    brief = {"x", "w", "b", "dout", "dout_row", "dx_full_conv", "dropped_rows", "dropped_cols"}
    assert conventions | brief <= set(arrays)
    assert set(arrays) == set(SPEC.arrays)
    for k in INPUTS:
        np.testing.assert_array_equal(arrays[k], a[k])
    OH, OW = (5 + 2 - 3) // 2 + 1, (6 + 2 - 2) // 2 + 1
    assert (OH, OW) == (3, 4)
    assert arrays["x_col"].shape == (2 * 3 * 2, 2 * OH * OW)
    assert arrays["w_row"].shape == (3, 12)
    np.testing.assert_allclose(arrays["out"], arrays["wx_row"].reshape(3, 2, OH, OW).transpose(1, 0, 2, 3)
                               + a["b"][None, :, None, None])


def test_default_dout_is_ones():
    a, params = make_arrays((1, 2, 4, 5, 2, 2, 3, 1, 1))
    del a["dout"]
    arrays = run_op("conv2d", a, params)
    assert arrays["dout"].shape == arrays["out"].shape == (1, 2, 5, 5)
    assert np.all(arrays["dout"] == 1)
    np.testing.assert_allclose(arrays["db"], [25, 25])


def test_params_defaults_and_ranges():
    params = {p.name: p for p in SPEC.params}
    assert (params["stride"].default, params["stride"].lo, params["stride"].hi) == (1, 1, 8)
    assert (params["pad"].default, params["pad"].lo, params["pad"].hi) == (0, 0, 8)
    assert (params["dilation"].default, params["dilation"].lo, params["dilation"].hi) == (1, 1, 4)
    assert all(params[name].pair for name in ("stride", "pad", "dilation"))
    a, _ = make_arrays((1, 1, 4, 4, 1, 3, 3, 1, 0))
    assert run_op("conv2d", a)["out"].shape == (1, 1, 2, 2)


def _err(inputs, params=None):
    with pytest.raises(OpInputError) as exc:
        run_op("conv2d", inputs, params)
    return exc.value


def test_error_channel_mismatch():
    e = _err({"x": np.ones((1, 3, 4, 4)), "w": np.ones((2, 2, 2, 2)), "b": np.ones(2)})
    assert e.field == "inputs.w"
    assert "2 input channels" in e.message and "x has 3" in e.message


def test_error_bias_length():
    e = _err({"x": np.ones((1, 1, 4, 4)), "w": np.ones((2, 1, 2, 2)), "b": np.ones(3)})
    assert e.field == "inputs.b" and "[2]" in e.message and "[3]" in e.message


def test_error_dout_shape_names_the_expected_shape():
    e = _err({"x": np.ones((2, 1, 5, 5)), "w": np.ones((3, 1, 2, 2)), "b": np.ones(3),
              "dout": np.ones((2, 3, 4, 3))}, {"stride": 1})
    assert e.field == "inputs.dout" and "[2, 3, 4, 4]" in e.message and "[2, 3, 4, 3]" in e.message


def test_error_kernel_larger_than_padded_input_names_the_formula():
    e = _err({"x": np.ones((1, 1, 3, 6)), "w": np.ones((1, 1, 5, 2)), "b": np.ones(1)})
    assert e.field == "inputs.w"
    assert "⌊(3 + 2·0 − 5)/1⌋ + 1 = -1" in e.message and "larger than the padded input height" in e.message
    e = _err({"x": np.ones((1, 1, 6, 3)), "w": np.ones((1, 1, 2, 6)), "b": np.ones(1)}, {"pad": 1, "stride": 2})
    assert e.field == "inputs.w" and "width" in e.message and "⌊(3 + 2·1 − 6)/2⌋ + 1 = 0" in e.message
    # enough padding makes the same kernel fit
    assert run_op("conv2d", {"x": np.ones((1, 1, 3, 6)), "w": np.ones((1, 1, 5, 2)), "b": np.ones(1)},
                  {"pad": 1})["out"].shape == (1, 1, 1, 7)


@pytest.mark.parametrize("inputs,params,field", [
    ({"x": np.ones((1, 4, 4)), "w": np.ones((1, 1, 2, 2)), "b": np.ones(1)}, {}, "inputs.x"),
    ({"x": np.ones((1, 1, 4, 4)), "w": np.ones((1, 2, 2)), "b": np.ones(1)}, {}, "inputs.w"),
    ({"x": np.ones((1, 1, 4, 4)), "w": np.ones((1, 1, 2, 2)), "b": np.ones((1, 1))}, {}, "inputs.b"),
    ({"x": np.ones((1, 1, 4, 4)), "w": np.ones((1, 1, 2, 2)), "b": np.ones(1), "dout": np.ones((3, 3))}, {},
     "inputs.dout"),
    ({"x": np.ones((1, 1, 4, 4)), "w": np.ones((1, 1, 2, 2)), "b": np.ones(1)}, {"stride": 9}, "params.stride"),
    ({"x": np.ones((1, 1, 4, 4)), "w": np.ones((1, 1, 2, 2)), "b": np.ones(1)}, {"stride": 0}, "params.stride"),
    ({"x": np.ones((1, 1, 4, 4)), "w": np.ones((1, 1, 2, 2)), "b": np.ones(1)}, {"pad": -1}, "params.pad"),
    ({"x": np.ones((1, 1, 4, 4)), "w": np.ones((1, 1, 2, 2)), "b": np.ones(1)}, {"pad": 1.5}, "params.pad"),
    ({"x": np.ones((1, 1, 4, 4)), "w": np.ones((1, 1, 2, 2))}, {}, "inputs.b"),
])
def test_bad_shapes_and_params_name_the_field(inputs, params, field):
    assert _err(inputs, params).field == field


def test_example_is_valid_and_small():
    rng = np.random.default_rng(0)
    for _ in range(20):
        inputs, params = SPEC.example(rng)
        arrays = run_op("conv2d", inputs, params)
        N, C, H, W = arrays["x"].shape
        F, _, KH, KW = arrays["w"].shape
        assert 1 <= N <= 2 and 1 <= C <= 2 and 4 <= H <= 6 and 4 <= W <= 6
        assert 1 <= F <= 2 and 2 <= KH <= 3 and 2 <= KW <= 3


# ---------------------------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------------------------

STEP_NAMES = ["pad", "im2col", "matmul", "bias", "dout_row", "dw", "db", "dx_col", "col2im", "full_conv"]


def test_steps_in_order_with_run_arrays():
    a, params = make_arrays((2, 2, 5, 6, 3, 3, 2, 2, 1), seed=12)
    steps = op_steps("conv2d", a, params)
    assert [s.name for s in steps] == STEP_NAMES
    assert [s.phase for s in steps] == ["forward"] * 4 + ["backward"] * 6
    arrays = run_op("conv2d", a, params)
    for step in steps:
        assert step.title and isinstance(step.latex, str) and step.latex.strip()
        assert step.latex.count("{") == step.latex.count("}"), step.name
        assert step.arrays, step.name
        for name, arr in step.arrays.items():
            assert name in arrays, (step.name, name)
            np.testing.assert_array_equal(arr, arrays[name], err_msg=f"{step.name}.{name}")
    by_name = {s.name: s for s in steps}
    assert {"x_padded", "x_col"} <= set(by_name["im2col"].arrays)
    assert {"w_row", "x_col", "wx_row"} <= set(by_name["matmul"].arrays)
    assert {"dout_row", "x_col", "dw"} <= set(by_name["dw"].arrays)
    assert {"dx_col", "dx_padded", "dx"} <= set(by_name["col2im"].arrays)
    assert {"w_rot", "dx_full_conv", "dout_padded"} <= set(by_name["full_conv"].arrays)
    np.testing.assert_allclose(by_name["full_conv"].arrays["dx_full_conv"], arrays["dx"], rtol=1e-10, atol=1e-12)


def test_step_arrays_are_copies():
    a, params = make_arrays(CORNERS[1], seed=1)
    _, arrays, clean = prepare("conv2d", a, params)
    result, steps = SPEC.trace(arrays, clean)
    assert not np.shares_memory(steps[0].arrays["x"], arrays["x"])
    assert not np.shares_memory(steps[0].arrays["x"], result["x"])
    steps[1].arrays["x_col"][...] = 0  # editing one step does not change another
    assert np.any(steps[2].arrays["x_col"] != 0)


# ---------------------------------------------------------------------------------------------
# Provenance
# ---------------------------------------------------------------------------------------------


