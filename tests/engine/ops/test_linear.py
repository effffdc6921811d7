"""Dense layer and flatten: gradients, a hand example, row-major flattening, errors."""

import numpy as np
import pytest

from engine.ops.linear import flatten_backward, flatten_forward, linear_backward, linear_forward
from engine.records import OpInputError
from engine.registry import get_spec, op_provenance, op_steps, prepare, run_op
from tests.engine.conftest import assert_gradcheck


def _linear_cases(count, seed=99):
    rng = np.random.default_rng(seed)
    return [(int(rng.integers(1, 5)), int(rng.integers(1, 7)), int(rng.integers(1, 6))) for _ in range(count)]


LINEAR_CASES = [(1, 1, 1), (2, 3, 4), (4, 6, 2)] + _linear_cases(5)


@pytest.mark.parametrize("case", LINEAR_CASES, ids=lambda c: "n{}-m{}-d{}".format(*c))
def test_linear_gradcheck(case):
    n, m, d = case
    rng = np.random.default_rng(n * 100 + m * 10 + d)
    inputs = {"x": rng.normal(size=(n, m)), "w": rng.normal(size=(m, d)), "b": rng.normal(size=d),
              "dout": rng.normal(size=(n, d))}
    report = assert_gradcheck("linear", inputs, case=f"N={n} M={m} D={d}")
    assert set(report.per_input) == {"x", "w", "b"}


def test_linear_by_hand():
    x = [[1.0, 2.0]]
    w = [[1.0, 0.0, -1.0], [2.0, 1.0, 0.0]]
    b = [0.5, 0.0, -0.5]
    dout = [[1.0, -1.0, 2.0]]
    arrays = run_op("linear", {"x": x, "w": w, "b": b, "dout": dout})
    # out = x·W + b = [1 + 4, 0 + 2, −1 + 0] + b
    np.testing.assert_array_equal(arrays["out"], [[5.5, 2.0, -1.5]])
    # dx = dout·Wᵀ: [1·1 − 1·0 + 2·(−1), 1·2 − 1·1 + 2·0]
    np.testing.assert_array_equal(arrays["dx"], [[-1.0, 1.0]])
    np.testing.assert_array_equal(arrays["dw"], [[1.0, -1.0, 2.0], [2.0, -2.0, 4.0]])  # xᵀ·dout
    np.testing.assert_array_equal(arrays["db"], [1.0, -1.0, 2.0])


def test_db_sums_over_the_batch():
    dout = [[1.0, 2.0], [10.0, 20.0], [100.0, 200.0]]
    arrays = run_op("linear", {"x": np.ones((3, 1)), "w": [[1.0, 1.0]], "b": [0.0, 0.0], "dout": dout})
    np.testing.assert_array_equal(arrays["db"], [111.0, 222.0])
    np.testing.assert_array_equal(arrays["dw"], [[111.0, 222.0]])


@pytest.mark.parametrize(
    "inputs, field, words",
    [
        ({"x": np.ones((2, 3)), "w": np.ones((4, 2)), "b": np.ones(2)}, "inputs.w", "has 4 rows but x has 3"),
        ({"x": np.ones((2, 3)), "w": np.ones((3, 2)), "b": np.ones(3)}, "inputs.b", "has 3 entries but w has 2"),
        ({"x": np.ones((2, 3)), "w": np.ones((3, 2)), "b": np.ones(2), "dout": np.ones((2, 3))}, "inputs.dout",
         "[2, 2]"),
        ({"x": np.ones((2, 1, 2, 2)), "w": np.ones((3, 2)), "b": np.ones(2)}, "inputs.w",
         "x has 4 features per sample (1 · 2 · 2 = 4)"),
        ({"x": np.ones(6), "w": np.ones((6, 2)), "b": np.ones(2)}, "inputs.x", "dimensions"),
        ({"x": np.ones((2, 3)), "w": np.ones(3), "b": np.ones(1)}, "inputs.w", "2 dimensions"),
        ({"x": np.ones((2, 3)), "w": np.ones((3, 2))}, "inputs.b", "required"),
    ],
    ids=["w-rows", "b-length", "dout-shape", "x-4d-w-rows", "x-1d", "w-1d", "b-missing"],
)
def test_linear_errors_name_the_field(inputs, field, words):
    with pytest.raises(OpInputError) as info:
        run_op("linear", inputs)
    assert info.value.field == field
    assert words in info.value.message


def test_linear_direct_calls_check_shapes():
    with pytest.raises(OpInputError) as info:
        linear_forward(np.ones((2, 3)), np.ones((2, 3)), np.ones(3))
    assert info.value.field == "inputs.w"
    _, cache = linear_forward(np.ones((2, 3)), np.ones((3, 4)), np.ones(4))
    with pytest.raises(OpInputError) as info:
        linear_backward(np.ones((2, 3)), cache)
    assert info.value.field == "inputs.dout"


def test_linear_float32_stays_float32_and_missing_dout_is_ones():
    rng = np.random.default_rng(3)
    inputs = {"x": rng.normal(size=(2, 3)), "w": rng.normal(size=(3, 4)), "b": rng.normal(size=4)}
    arrays = run_op("linear", inputs, dtype="float32")
    for name in ("x", "w", "b", "dout", "out", "dx", "dw", "db"):
        assert arrays[name].dtype == np.float32, name
    np.testing.assert_array_equal(arrays["dout"], np.ones((2, 4)))
    reference = run_op("linear", inputs)
    np.testing.assert_allclose(arrays["out"], reference["out"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op, inputs", [
    ("linear", {"x": np.arange(6.0).reshape(2, 3), "w": np.arange(12.0).reshape(3, 4), "b": np.ones(4),
                "dout": np.arange(8.0).reshape(2, 4)}),
    ("flatten", {"x": np.arange(24.0).reshape(2, 3, 2, 2), "dout": np.arange(24.0).reshape(2, 12)}),
])
def test_no_input_is_mutated_and_nothing_aliases(op, inputs):
    spec, arrays, params = prepare(op, inputs)
    before = {k: v.copy() for k, v in arrays.items()}
    result = spec.run(arrays, params)
    for name in set(result) - set(arrays):
        result[name][...] = -99.0
    for name, value in before.items():
        np.testing.assert_array_equal(arrays[name], value, err_msg=name)


def test_linear_cache_keeps_copies():
    x, w = np.ones((1, 2)), np.ones((2, 2))
    _, cache = linear_forward(x, w, np.zeros(2))
    x[:] = 5.0
    w[:] = 5.0
    grads = linear_backward(np.ones((1, 2)), cache)
    np.testing.assert_array_equal(grads.dx, [[2.0, 2.0]])
    np.testing.assert_array_equal(grads.dw, np.ones((2, 2)))


def test_linear_provenance():
    inputs = {"x": np.ones((2, 3)), "w": np.ones((3, 4)), "b": np.ones(4)}
    assert op_provenance("linear", inputs, None, "out", (1, 2)) == {
        "x": [(1, 0), (1, 1), (1, 2)], "w": [(0, 2), (1, 2), (2, 2)], "b": [(2,)]}
    assert op_provenance("linear", inputs, None, "dx", (0, 1)) == {
        "dout": [(0, 0), (0, 1), (0, 2), (0, 3)], "w": [(1, 0), (1, 1), (1, 2), (1, 3)]}
    assert op_provenance("linear", inputs, None, "dw", (2, 3)) == {"x": [(0, 2), (1, 2)], "dout": [(0, 3), (1, 3)]}
    assert op_provenance("linear", inputs, None, "db", (3,)) == {"dout": [(0, 3), (1, 3)]}
    with pytest.raises(OpInputError) as info:
        op_provenance("linear", inputs, None, "dw", (3, 0))
    assert info.value.field == "index"


def test_linear_steps():
    inputs, params = get_spec("linear").example(np.random.default_rng(2))
    steps = op_steps("linear", inputs, params)
    arrays = run_op("linear", inputs, params)
    assert [s.name for s in steps] == ["affine", "dx", "dw", "db"]
    for step, name in zip(steps, ["out", "dx", "dw", "db"], strict=True):
        np.testing.assert_array_equal(step.arrays[name], arrays[name])


# ---------------------------------------------------------------- flatten


@pytest.mark.parametrize("shape", [(1, 5), (2, 3, 4), (2, 2, 3, 3), (3, 1, 2, 4)], ids=str)
def test_flatten_gradcheck(shape):
    rng = np.random.default_rng(sum(shape))
    n, rest = shape[0], int(np.prod(shape[1:]))
    assert_gradcheck("flatten", {"x": rng.normal(size=shape), "dout": rng.normal(size=(n, rest))}, case=str(shape))


def test_flatten_is_row_major_over_c_h_w():
    x = np.arange(2 * 2 * 2 * 3, dtype=float).reshape(2, 2, 2, 3)
    arrays = run_op("flatten", {"x": x, "dout": np.arange(24.0).reshape(2, 12) * 10})
    np.testing.assert_array_equal(arrays["out"], [list(range(12)), list(range(12, 24))])
    # element (n, c, h, w) lands at column (c·H + h)·W + w
    assert arrays["out"][1, (1 * 2 + 0) * 3 + 2] == x[1, 1, 0, 2]
    np.testing.assert_array_equal(arrays["dx"], x * 10)
    assert arrays["dx"].shape == x.shape


def test_flatten_direct_calls():
    x = np.arange(8.0).reshape(2, 2, 2)
    out, cache = flatten_forward(x)
    out[0, 0] = 100.0
    assert x[0, 0, 0] == 0.0  # the output never aliases the input
    dout = np.ones((2, 4))
    dx = flatten_backward(dout, cache).dx
    dx[0, 0, 0] = 5.0
    assert dout[0, 0] == 1.0
    with pytest.raises(OpInputError) as info:
        flatten_backward(np.ones((2, 3)), cache)
    assert info.value.field == "inputs.dout"
    with pytest.raises(OpInputError):
        flatten_forward(np.ones(3))


def test_flatten_errors_and_defaults():
    with pytest.raises(OpInputError) as info:
        run_op("flatten", {"x": np.ones((2, 3, 4)), "dout": np.ones((2, 3))})
    assert info.value.field == "inputs.dout"
    with pytest.raises(OpInputError) as info:
        run_op("flatten", {"x": np.ones(3)})
    assert info.value.field == "inputs.x"
    arrays = run_op("flatten", {"x": np.ones((2, 3, 4))}, dtype="float32")
    assert arrays["dout"].shape == (2, 12) and arrays["dx"].dtype == np.float32


def test_flatten_provenance_and_steps():
    x = np.arange(12.0).reshape(1, 2, 2, 3)
    assert op_provenance("flatten", {"x": x}, None, "out", (0, 5)) == {"x": [(0, 0, 1, 2)]}
    assert op_provenance("flatten", {"x": x}, None, "dx", (0, 1, 0, 1)) == {"dout": [(0, 7)]}
    assert [s.name for s in op_steps("flatten", {"x": x})] == ["flatten", "unflatten"]


def test_flatten_then_linear_equals_linear_on_the_reshaped_batch():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 2, 3, 3))
    w, b, dout = rng.normal(size=(18, 4)), rng.normal(size=4), rng.normal(size=(2, 4))
    flat = run_op("flatten", {"x": x})["out"]
    lin = run_op("linear", {"x": flat, "w": w, "b": b, "dout": dout})
    np.testing.assert_allclose(lin["out"], x.reshape(2, 18) @ w + b)
    dx = run_op("flatten", {"x": x, "dout": lin["dx"]})["dx"]
    np.testing.assert_allclose(dx, (dout @ w.T).reshape(x.shape))


@pytest.mark.parametrize("op", ["linear", "flatten"])
def test_example_runs(op):
    inputs, params = get_spec(op).example(np.random.default_rng(0))
    assert set(get_spec(op).arrays) <= set(run_op(op, inputs, params))


@pytest.mark.parametrize("shape", [(2, 3), (3, 2, 2), (2, 4, 5, 6), (1, 2, 1, 3, 2)])
def test_linear_flattens_each_sample_like_cs231n_affine(shape):
    """x (N, d₁, …, d_k) is x.reshape(N, −1) on the way in, and dx comes back in x's shape."""
    rng = np.random.default_rng(len(shape))
    m = int(np.prod(shape[1:]))
    x, w, b = rng.normal(size=shape), rng.normal(size=(m, 3)), rng.normal(size=3)
    dout = rng.normal(size=(shape[0], 3))
    a = run_op("linear", {"x": x, "w": w, "b": b, "dout": dout})
    flat = run_op("linear", {"x": x.reshape(shape[0], -1), "w": w, "b": b, "dout": dout})
    np.testing.assert_array_equal(a["x_flat"], x.reshape(shape[0], -1))
    np.testing.assert_array_equal(a["out"], flat["out"])
    np.testing.assert_array_equal(a["dx"], flat["dx"].reshape(shape))
    np.testing.assert_array_equal(a["dw"], flat["dw"])
    assert_gradcheck("linear", {"x": x, "w": w, "b": b, "dout": dout}, case=str(shape))
    names = [s.name for s in op_steps("linear", {"x": x, "w": w, "b": b})]
    assert names[0] == ("flatten" if len(shape) > 2 else "affine")
    if len(shape) > 2:
        found = op_provenance("linear", {"x": x, "w": w, "b": b}, None, "out", (0, 1))
        assert len(found["x"]) == m and found["x"][-1] == (0, *(s - 1 for s in shape[1:]))
        last = (0, *(s - 1 for s in shape[1:]))
        assert op_provenance("linear", {"x": x, "w": w, "b": b}, None, "dx", last)["w"][0] == (m - 1, 0)
