"""POST /api/v1/ops/{op} against CONVENTIONS.md ("The JSON API")."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.api.v1.jsonarrays import to_json
from app.settings import Settings, get_settings
from engine import registry
from tests.app.conftest import assert_error, example_body

OPS = sorted(registry.OPS)
LIMITS = Settings()  # the JSON API's limits (api_max_*)

# CONVENTIONS.md's table, row by row: op -> (inputs, params, arrays it answers at least)
CONVENTIONS_TABLE = {
    "conv2d": (
        ("x", "w", "b", "dout"),
        ("stride", "pad"),
        ("x_padded", "x_col", "w_row", "out", "dw", "db", "dx_col", "dx"),
    ),
    "maxpool2d": (("x", "dout"), ("size", "stride"), ("out", "argmax", "dx")),
    "avgpool2d": (("x", "dout"), ("size", "stride"), ("out", "dx")),
    "relu": (("x", "dout"), (), ("out", "mask", "dx")),
    "linear": (("x", "w", "b", "dout"), (), ("out", "dx", "dw", "db")),
    "softmax_cross_entropy": (("logits", "labels"), (), ("probs", "loss", "dlogits")),
    "batchnorm": (
        ("x", "gamma", "beta", "dout", "running_mean", "running_var"),
        ("eps", "momentum", "mode", "convention"),
        ("mean", "var", "std", "x_hat", "out", "running_mean", "running_var",
         "dx_hat", "dvar", "dmean", "dx", "dgamma", "dbeta"),
    ),
    "layernorm": (
        ("x", "gamma", "beta", "dout"),
        ("eps",),
        ("mean", "var", "x_hat", "out", "dx", "dgamma", "dbeta"),
    ),
    "dropout": (("x", "dout"), ("p", "mode", "seed"), ("mask", "out", "dx")),
}


def post(client, op, body):
    return client.post(f"/api/v1/ops/{op}", json=body)


def needs(*ops):
    missing = [op for op in ops if op not in registry.OPS]
    return pytest.mark.skipif(bool(missing), reason=f"op not registered yet: {', '.join(missing)}")


# ---------------------------------------------------------------- every registered op


@pytest.mark.parametrize("op", OPS)
def test_every_op_answers_its_example(client, op):
    spec = registry.OPS[op]
    assert spec.example is not None, f"{op}: OpSpec.example is missing"
    body = example_body(op)
    r = post(client, op, body)
    assert r.status_code == 200, f"{op}: {r.status_code} {r.text[:500]}"
    data = r.json()
    assert data["op"] == op
    assert set(data["params"]) == {p.name for p in spec.params}
    arrays = data["arrays"]
    missing = set(spec.arrays) - set(arrays)
    assert not missing, f"{op}: the response lacks arrays its OpSpec promises: {sorted(missing)}"
    for name in body["inputs"]:
        assert name in arrays, f"{op}: input {name} is not echoed back"
        np.testing.assert_allclose(np.array(arrays[name], dtype=float), np.array(body["inputs"][name], dtype=float))


@pytest.mark.parametrize("op", OPS)
def test_every_op_answers_exactly_what_the_engine_computes(client, op):
    """The wire format loses nothing: JSON floats round-trip, shapes and integer types survive."""
    body = example_body(op, seed=1)
    r = post(client, op, body)
    assert r.status_code == 200, r.text[:500]
    direct = registry.run_op(op, body["inputs"], body["params"])
    arrays = r.json()["arrays"]
    assert set(arrays) == set(direct)
    for name, value in direct.items():
        got = arrays[name]
        want = np.asarray(value)
        assert np.shape(got) == want.shape, f"{op}.{name}: shape {np.shape(got)} != {want.shape}"
        if want.dtype.kind in "iub":
            assert all(isinstance(v, int) for v in np.ravel(np.array(got, dtype=object))), f"{op}.{name}"
            np.testing.assert_array_equal(np.array(got), want.astype(np.int64))
        elif want.dtype.kind == "f":
            got_arr = np.array(got, dtype=float)  # null -> nan
            np.testing.assert_array_equal(got_arr, want, err_msg=f"{op}.{name}")
        if want.ndim == 0:
            assert not isinstance(got, list), f"{op}.{name}: a 0-d value must be a bare number, got {got!r}"


@pytest.mark.parametrize("op", OPS)
def test_every_op_rejects_unknown_inputs_and_params(client, op):
    body = example_body(op)
    r = post(client, op, {**body, "inputs": {**body["inputs"], "bogus": [1.0]}})
    assert_error(r, 422, ["body", "inputs", "bogus"], "bogus")
    r = post(client, op, {**body, "params": {**body["params"], "bogus": 1}})
    assert_error(r, 422, ["body", "params", "bogus"], "bogus")


@pytest.mark.parametrize("op", OPS)
def test_every_op_runs_in_float32_when_asked(client, op):
    body = example_body(op)
    r = post(client, op, {**body, "dtype": "float32"})
    assert r.status_code == 200, r.text[:500]
    first = registry.OPS[op].inputs[0].name
    if registry.OPS[op].inputs[0].integer:
        return
    echoed = np.array(r.json()["arrays"][first], dtype=float)
    np.testing.assert_array_equal(echoed, np.array(body["inputs"][first], dtype=np.float32).astype(float))


# ---------------------------------------------------------------- CONVENTIONS.md's table


@pytest.mark.parametrize("op", sorted(CONVENTIONS_TABLE))
def test_conventions_table_row(client, op):
    if op not in registry.OPS:
        pytest.skip(f"{op} is not registered yet")
    inputs, params, arrays = CONVENTIONS_TABLE[op]
    spec = registry.OPS[op]
    assert set(inputs) <= {i.name for i in spec.inputs}, f"{op}: inputs of the table not all accepted"
    assert set(params) <= {p.name for p in spec.params}, f"{op}: params of the table not all accepted"
    r = post(client, op, example_body(op))
    assert r.status_code == 200, r.text[:500]
    missing = set(arrays) - set(r.json()["arrays"])
    assert not missing, f"{op}: CONVENTIONS.md promises {sorted(missing)}"


# ---------------------------------------------------------------- worked values through the wire


@needs("conv2d")
def test_conv2d_numbers_by_hand(client):
    # x = 1..9 as 3×3, w = [[1, 0], [0, −1]], b = 0.5: out[i, j] = x[i, j] − x[i+1, j+1] + 0.5 = −4 + 0.5
    body = {"inputs": {"x": [[[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]], "w": [[[[1, 0], [0, -1]]]], "b": [0.5]}}
    r = post(client, "conv2d", body)
    assert r.status_code == 200, r.text
    a = r.json()["arrays"]
    assert a["out"] == [[[[-3.5, -3.5], [-3.5, -3.5]]]]
    # dout = ones: dw[kh, kw] = sum of the window-shifted x: 1+2+4+5, 2+3+5+6, 4+5+7+8, 5+6+8+9
    assert a["dw"] == [[[[12.0, 16.0], [24.0, 28.0]]]]
    assert a["db"] == [4.0]
    # dx[i, j] = sum of w over the windows covering (i, j)
    assert a["dx"] == [[[[1.0, 1.0, 0.0], [1.0, 0.0, -1.0], [0.0, -1.0, -1.0]]]]
    # im2col row 0 = the top-left element of every window, in (oh, ow) order
    assert a["x_col"][0] == [1.0, 2.0, 4.0, 5.0]
    assert a["w_row"] == [[1.0, 0.0, 0.0, -1.0]]
    assert r.json()["params"] == {"stride": 1, "pad": 0, "dilation": 1}


@needs("softmax_cross_entropy")
def test_scalar_loss_is_a_bare_number_and_labels_stay_integers(client):
    body = {"inputs": {"logits": [[0.0, 0.0], [0.0, 0.0]], "labels": [0, 1]}}
    r = post(client, "softmax_cross_entropy", body)
    assert r.status_code == 200, r.text
    a = r.json()["arrays"]
    assert isinstance(a["loss"], float)
    assert a["loss"] == pytest.approx(np.log(2.0), rel=1e-12)
    assert a["labels"] == [0, 1] and all(isinstance(v, int) for v in a["labels"])


@needs("maxpool2d")
def test_maxpool_argmax_is_integers(client):
    body = {"inputs": {"x": [[[[1, 5], [3, 2]]]]}, "params": {"size": 2, "stride": 2}}
    r = post(client, "maxpool2d", body)
    assert r.status_code == 200, r.text
    a = r.json()["arrays"]
    assert a["argmax"] == [[[[1]]]]  # flat index h·W + w of the 5
    assert isinstance(a["argmax"][0][0][0][0], int)
    assert a["dx"] == [[[[0.0, 1.0], [0.0, 0.0]]]]


# ---------------------------------------------------------------- bad input: 422 naming the field


def _relu_or_first_op_with_x():
    if "relu" in registry.OPS:
        return "relu"
    for op in OPS:
        if any(i.name == "x" for i in registry.OPS[op].inputs):
            return op
    pytest.skip("no op with an input x is registered yet")


def test_non_number_names_the_field(client):
    op = _relu_or_first_op_with_x()
    body = example_body(op)
    x = np.array(body["inputs"]["x"], dtype=object)
    x.flat[0] = "abc"
    r = post(client, op, {**body, "inputs": {**body["inputs"], "x": x.tolist()}})
    assert_error(r, 422, ["body", "inputs", "x"], "numbers", "abc")


def test_nan_written_as_a_string_is_a_non_number(client):
    op = _relu_or_first_op_with_x()
    r = post(client, op, {"inputs": {"x": [["NaN", 1.0]]}})
    assert_error(r, 422, ["body", "inputs", "x"], "numbers")


def test_ragged_array_names_the_field(client):
    op = _relu_or_first_op_with_x()
    r = post(client, op, {"inputs": {"x": [[1, 2], [3]]}})
    assert_error(r, 422, ["body", "inputs", "x"], "ragged")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_json_numbers_are_rejected(client, literal):
    # JSON has no NaN; Python's json (and so FastAPI) accepts NaN/Infinity literals, and 1e999 overflows to inf
    op = _relu_or_first_op_with_x()
    r = client.post(f"/api/v1/ops/{op}", content=f'{{"inputs": {{"x": [[{literal}, 1.0]]}}}}',
                    headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    item = r.json()["detail"][0]
    assert item["loc"][:3] == ["body", "inputs", "x"], item
    assert "finite" in item["msg"] or "number" in item["msg"], item


def test_oversized_array_is_rejected_with_the_limit(client):
    op = _relu_or_first_op_with_x()
    n = Settings().api_max_elements + 1
    r = post(client, op, {"inputs": {"x": [0.5] * n}})
    assert_error(r, 422, ["body", "inputs", "x"], f"{n}", f"{Settings().api_max_elements}")


def test_missing_required_input(client):
    op = _relu_or_first_op_with_x()
    r = post(client, op, {"inputs": {}})
    assert_error(r, 422, ["body", "inputs", "x"], "required")


@needs("conv2d")
def test_conv2d_mismatched_channels(client):
    body = {"inputs": {"x": np.zeros((1, 2, 4, 4)).tolist(), "w": np.zeros((1, 3, 2, 2)).tolist(), "b": [0.0]}}
    item = assert_error(post(client, "conv2d", body), 422, ["body", "inputs", "w"])
    assert "3" in item["msg"] and "2" in item["msg"], item


@needs("conv2d")
def test_conv2d_bias_of_the_wrong_length(client):
    body = {"inputs": {"x": np.zeros((1, 1, 4, 4)).tolist(), "w": np.zeros((2, 1, 2, 2)).tolist(), "b": [0.0]}}
    assert_error(post(client, "conv2d", body), 422, ["body", "inputs", "b"])


@needs("conv2d")
def test_conv2d_dout_of_the_wrong_shape(client):
    body = {"inputs": {"x": np.zeros((1, 1, 4, 4)).tolist(), "w": np.zeros((1, 1, 2, 2)).tolist(), "b": [0.0],
                       "dout": np.ones((1, 1, 2, 2)).tolist()}}
    assert_error(post(client, "conv2d", body), 422, ["body", "inputs", "dout"], "shape")


@needs("conv2d")
@pytest.mark.parametrize("stride", [0, -1, 9, 99, 1.5, "2", True, [1, 2, 3], [1, 0], [1, "2"]])
def test_conv2d_stride_out_of_range(client, stride):
    body = {"inputs": {"x": np.zeros((1, 1, 4, 4)).tolist(), "w": np.zeros((1, 1, 2, 2)).tolist(), "b": [0.0]},
            "params": {"stride": stride}}
    assert_error(post(client, "conv2d", body), 422, ["body", "params", "stride"])


@needs("conv2d")
def test_conv2d_kernel_larger_than_the_input(client):
    body = {"inputs": {"x": np.zeros((1, 1, 2, 2)).tolist(), "w": np.zeros((1, 1, 3, 3)).tolist(), "b": [0.0]}}
    r = post(client, "conv2d", body)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"][:2] == ["body", "inputs"] or r.json()["detail"][0]["loc"][:2] == [
        "body", "params"]


@needs("conv2d")
@pytest.mark.parametrize(
    "x_shape, w_shape, words",
    [
        ((LIMITS.api_max_batch + 1, 1, 2, 2), (1, 1, 2, 2), ("batch size", f"{LIMITS.api_max_batch + 1}",
                                                              f"{LIMITS.api_max_batch}")),
        ((1, LIMITS.api_max_channels + 1, 2, 2), (1, LIMITS.api_max_channels + 1, 2, 2),
         ("channels", f"{LIMITS.api_max_channels + 1}", f"{LIMITS.api_max_channels}")),
        ((1, 1, LIMITS.api_max_spatial + 1, 4), (1, 1, 2, 2), ("height", f"{LIMITS.api_max_spatial + 1}",
                                                                 f"{LIMITS.api_max_spatial}")),
        ((1, 1, 4, LIMITS.api_max_spatial + 1), (1, 1, 2, 2), ("width", f"{LIMITS.api_max_spatial + 1}",
                                                                 f"{LIMITS.api_max_spatial}")),
    ],
    ids=["batch", "channels", "height", "width"],
)
def test_conv2d_input_over_the_settings_limits(client, x_shape, w_shape, words):
    body = {"inputs": {"x": np.zeros(x_shape).tolist(), "w": np.zeros(w_shape).tolist(), "b": [0.0]}}
    assert_error(post(client, "conv2d", body), 422, ["body", "inputs", "x"], *words)


@needs("conv2d")
@pytest.mark.parametrize(
    "w_shape, words",
    [((LIMITS.api_max_filters + 1, 1, 2, 2), ("filters", f"{LIMITS.api_max_filters + 1}", f"{LIMITS.api_max_filters}")),
     ((1, 1, LIMITS.api_max_kernel + 1, 2), ("kernel height", f"{LIMITS.api_max_kernel + 1}",
                                             f"{LIMITS.api_max_kernel}"))],
    ids=["filters", "kernel"],
)
def test_conv2d_weights_over_the_settings_limits(client, w_shape, words):
    body = {"inputs": {"x": np.zeros((1, 1, 16, 8)).tolist(), "w": np.zeros(w_shape).tolist(),
                       "b": [0.0] * w_shape[0]}}
    assert_error(post(client, "conv2d", body), 422, ["body", "inputs", "w"], *words)


@needs("conv2d")
def test_settings_override_changes_the_limits(app, client):
    body = {"inputs": {"x": np.zeros((2, 1, 4, 4)).tolist(), "w": np.zeros((1, 1, 2, 2)).tolist(), "b": [0.0]}}
    assert post(client, "conv2d", body).status_code == 200
    app.dependency_overrides[get_settings] = lambda: Settings(api_max_batch=1)
    assert_error(post(client, "conv2d", body), 422, ["body", "inputs", "x"], "batch size N = 2", "limit of 1")
    app.dependency_overrides[get_settings] = lambda: Settings(api_max_elements=16)
    big = {**body, "inputs": {**body["inputs"], "x": np.zeros((2, 1, 4, 3)).tolist()}}
    assert_error(post(client, "conv2d", big), 422, ["body", "inputs", "x"], "24", "16")


def test_unknown_op_is_404_listing_the_known_ops(client):
    r = client.post("/api/v1/ops/conv3d", json={"inputs": {}})
    item = assert_error(r, 404, ["path", "op"], "conv3d")
    for op in OPS:
        assert op in item["msg"]


@pytest.mark.parametrize(
    "raw, loc_start",
    [
        ('{"inputs": [1, 2]}', ["body", "inputs"]),
        ('{"params": {}}', ["body", "inputs"]),
        ('{"inputs": {}, "extra": 1}', ["body", "extra"]),
        ('{"inputs": {}, "dtype": "float16"}', ["body", "dtype"]),
        ('{"inputs": {"x": [1, 2}', ["body"]),
        ("[]", ["body"]),
        ("", ["body"]),
    ],
    ids=["inputs-not-object", "inputs-missing", "extra-field", "bad-dtype", "invalid-json", "array-body", "empty"],
)
def test_malformed_request_is_422_in_the_same_shape(client, raw, loc_start):
    op = _relu_or_first_op_with_x()
    r = client.post(f"/api/v1/ops/{op}", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, list) and detail
    for item in detail:
        assert set(item) == {"loc", "msg", "type"}, item  # no echo of the input
    assert detail[0]["loc"][: len(loc_start)] == loc_start, detail


def test_body_over_the_size_limit_is_413(client):
    op = _relu_or_first_op_with_x()
    big = json.dumps({"inputs": {"x": [0.123456789] * (LIMITS.max_body_bytes // 12)}})
    assert len(big) > LIMITS.max_body_bytes
    r = client.post(f"/api/v1/ops/{op}", content=big, headers={"content-type": "application/json"})
    assert_error(r, 413, ["body"], "limit")


# ---------------------------------------------------------------- never a 500 on bad input


def _malformed_bodies(op):
    """Each input and each param of the op's example replaced by something wrong, one at a time."""
    body = example_body(op)
    bad_arrays = ["abc", [], [[]], [[1, 2], [3]], {"a": 1}, True, None, [[["x"]]], 1e308, [1e308, -1e308],
                  np.zeros((3, 3, 3, 3, 3)).tolist(), [[0.0] * 70] * 70]
    bad_params = [-1, 0, 1e9, -1e9, 0.5, "x", "", None, [], {}, True, False, 1e-300]
    for name in list(body["inputs"]) + [i.name for i in registry.OPS[op].inputs if i.name not in body["inputs"]]:
        for value in bad_arrays:
            yield f"inputs.{name}={str(value)[:20]}", {**body, "inputs": {**body["inputs"], name: value}}
        if name in body["inputs"]:
            arr = np.asarray(body["inputs"][name], dtype=float)
            for shape in [arr.shape[:-1] or (2,), arr.shape + (1,), tuple(s + 1 for s in arr.shape)]:
                reshaped = {**body["inputs"], name: np.ones(shape).tolist()}
                yield f"inputs.{name}.shape={shape}", {**body, "inputs": reshaped}
        rest = {k: v for k, v in body["inputs"].items() if k != name}
        yield f"without {name}", {**body, "inputs": rest}
    for p in registry.OPS[op].params:
        for value in bad_params:
            yield f"params.{p.name}={value!r}", {**body, "params": {**body["params"], p.name: value}}


@pytest.mark.parametrize("op", OPS)
def test_malformed_payloads_never_500(client, op):
    failures = []
    for case, body in _malformed_bodies(op):
        r = post(client, op, body)
        if r.status_code not in (200, 422):
            failures.append(f"{case}: {r.status_code} {r.text[:200]}")
        elif r.status_code == 422:
            item = r.json()["detail"][0]
            if not item["msg"] or item["loc"][:1] != ["body"]:
                failures.append(f"{case}: unhelpful error {item}")
    assert not failures, f"{op}: {len(failures)} malformed payloads were not answered with 200/422:\n" + "\n".join(
        failures[:25]
    )


# ---------------------------------------------------------------- the wire format, on a fake op


def _fake_spec(run):
    from engine.records import Input, OpSpec, Param

    return OpSpec(
        name="fake_scale",
        title="Fake",
        inputs=(Input("x", (1, 2)),),
        params=(Param("k", float, 2.0),),
        arrays=("x", "out"),
        run=run,
        check=lambda shapes, params: None,
        defaults=lambda shapes, params, dtype: {},
        example=lambda rng: ({"x": [1.0, 2.0]}, {}),
    )


def test_wire_format_of_values(client, monkeypatch):
    def run(arrays, params):
        x = arrays["x"]
        with np.errstate(over="ignore"):
            out = x * params["k"]  # overflows to inf with a huge k
        return {
            "x": x,
            "out": out,
            "zero_d": np.array(1.5),
            "scalar": np.float64(2.5),
            "ints": np.array([1, 2], dtype=np.int64),
            "mask": x > 1.5,
            "nan": np.array([np.nan, 1.0]),
        }

    monkeypatch.setitem(registry.OPS, "fake_scale", _fake_spec(run))
    r = post(client, "fake_scale", {"inputs": {"x": [1.0, 2.0]}, "params": {"k": 1e308}})
    assert r.status_code == 200, r.text
    a = r.json()["arrays"]
    assert a["out"] == [1e308, None]  # 2e308 overflowed: null, never the invalid JSON token Infinity
    assert a["zero_d"] == 1.5 and a["scalar"] == 2.5
    assert a["ints"] == [1, 2] and all(isinstance(v, int) for v in a["ints"])
    assert a["mask"] == [0, 1]
    assert a["nan"] == [None, 1.0]
    assert "Infinity" not in r.text and "NaN" not in r.text


def test_engine_bug_is_a_500_without_traceback(client, monkeypatch):
    def run(arrays, params):
        raise IndexError("index 7 is out of bounds for axis 0 with size 2")

    monkeypatch.setitem(registry.OPS, "fake_scale", _fake_spec(run))
    r = post(client, "fake_scale", {"inputs": {"x": [1.0, 2.0]}})
    item = assert_error(r, 500, [], "internal error", "IndexError", "bug")
    assert "Traceback" not in r.text and "out of bounds" not in r.text and ".py" not in r.text, item


def test_op_input_error_raised_inside_run_is_a_422(client, monkeypatch):
    from engine.records import OpInputError

    def run(arrays, params):
        raise OpInputError("params.k", "is too clever")

    monkeypatch.setitem(registry.OPS, "fake_scale", _fake_spec(run))
    assert_error(post(client, "fake_scale", {"inputs": {"x": [1.0]}}), 422, ["body", "params", "k"], "too clever")


def test_to_json_handles_nested_records():
    assert to_json({"a": [np.float64(np.inf), np.int32(3)], "b": (np.array([True]),)}) == {"a": [None, 3], "b": [[1]]}
