"""Whole networks: model parsing and shapes, forward/backward against central differences,
the residual fork, the trace answer. (The training step against the traced path: test_train_step.py.)"""

import copy
import json
import math

import numpy as np
import pytest

from engine.network import trace as network
from engine.network.model import (
    Conv2d,
    MaxPool2d,
    Residual,
    buffer_shapes,
    infer_shapes,
    model_to_json,
    param_shapes,
    parse_model,
)
from engine.network.params import derive_seed, init_params
from engine.network.trace import backward, forward, jsonable, numeric_check_network, trace, train_step
from engine.records import OpInputError
from tests.engine.network.models import EXAMPLE, FLAT, GRAD_MODELS, RELU, batch, conv, lin

# ---------------------------------------------------------------- parsing and shapes


def test_example_model_parses_with_conventions_parameter_names():
    m = parse_model(EXAMPLE)
    assert param_shapes(m) == {
        "0.w": (4, 1, 3, 3), "0.b": (4,), "1.gamma": (4,), "1.beta": (4,),
        "4.0.w": (4, 4, 1, 1), "4.0.b": (4,), "7.w": (64, 10), "7.b": (10,),
    }
    assert buffer_shapes(m) == {"1.running_mean": (4,), "1.running_var": (4,)}
    infos = infer_shapes(m)
    assert [i.path for i in infos] == ["0", "1", "2", "3", "4", "4.0", "4.1", "5", "6", "7"]
    assert [i.out_shape for i in infos] == [(4, 8, 8)] * 3 + [(4, 4, 4)] * 5 + [(64,), (10,)]
    assert infos[5].field == "model.layers[4].layers[0]"
    assert sum(i.param_count for i in infos) == 40 + 8 + 20 + 650
    assert isinstance(m.layers[4], Residual) and m.layers[4].layers[0] == Conv2d(4, 1, 1, 0)
    assert m.layers[3] == MaxPool2d(2, 2)


def test_defaults_and_round_trip():
    m = parse_model({"input_shape": [1, 4, 4], "layers": [{"type": "conv2d", "filters": 2, "kernel": 3},
                                                          {"type": "maxpool2d", "size": 2}, FLAT, lin(3)]})
    assert m.layers[0] == Conv2d(2, 3, 1, 0) and m.layers[1] == MaxPool2d(2, 2)  # stride defaults to size
    assert m.loss == "softmax_cross_entropy"
    assert parse_model(model_to_json(m)) == m
    assert parse_model(json.loads(json.dumps(model_to_json(parse_model(EXAMPLE))))) == parse_model(EXAMPLE)


BAD_SETTINGS = [
    ({"input_shape": None}, "model.input_shape", "required"),
    ({"input_shape": [1, 4]}, "model.input_shape", "[C, H, W]"),
    ({"input_shape": [1, 0, 4]}, "model.input_shape[1]", "between 1 and"),
    ({"layers": []}, "model.layers", "at least one layer"),
    ({"loss": "mse"}, "model.loss", "softmax_cross_entropy"),
    ({"extra": 1}, "model.extra", "unknown key"),
    ({"layers": [{"type": "conv3d"}]}, "model.layers[0].type", "unknown layer type 'conv3d'"),
    ({"layers": [{"filters": 2}]}, "model.layers[0].type", "unknown layer type None"),
    ({"layers": [{"type": "conv2d", "filters": 2}]}, "model.layers[0].kernel", "is required"),
    ({"layers": [conv(2, 3) | {"dilation": 2}]}, "model.layers[0].dilation", "no setting 'dilation'"),
    ({"layers": [conv(2, 2.5)]}, "model.layers[0].kernel", "whole number"),
    ({"layers": [conv(2, True)]}, "model.layers[0].kernel", "whole number"),
    ({"layers": [conv(2, "3")]}, "model.layers[0].kernel", "whole number"),
    ({"layers": [conv(0, 3)]}, "model.layers[0].filters", "between 1 and"),
    ({"layers": [conv(2, 3, stride=4)]}, "model.layers[0].stride", "between 1 and 3"),
    ({"layers": [conv(2, 3, pad=-1)]}, "model.layers[0].pad", "between 0 and 3"),
    ({"layers": [{"type": "dropout", "p": 1.0}]}, "model.layers[0].p", "[0, 1)"),
    ({"layers": [{"type": "dropout", "p": float("nan")}]}, "model.layers[0].p", "finite"),
    ({"layers": [{"type": "batchnorm", "eps": 0}]}, "model.layers[0].eps", "(0, 1]"),
    ({"layers": [{"type": "batchnorm", "convention": "keras"}]}, "model.layers[0].convention", "pytorch, cs231n"),
    ({"layers": [{"type": "batchnorm", "momentum": 1.5}]}, "model.layers[0].momentum", "[0, 1]"),
    ({"layers": [{"type": "maxpool2d", "size": 2, "stride": 0}]}, "model.layers[0].stride", "between 1 and"),
    ({"layers": [lin(0)]}, "model.layers[0].units", "between 1 and"),
    ({"layers": ["relu"]}, "model.layers[0]", "must be an object"),
    ({"layers": [{"type": "residual", "layers": {"type": "relu"}}]}, "model.layers[0].layers", "list of layers"),
    ({"layers": [conv(2, 3), RELU, {"type": "residual", "layers": [{"type": "conv2d", "filters": 2, "kernel": 9}]}]},
     "model.layers[2].layers[0].kernel", "between 1 and 7"),
    ({"layers": [{"type": "residual", "layers": [{"type": "residual", "layers": [
        {"type": "residual", "layers": [{"type": "residual", "layers": [RELU]}]}]}]}]},
     "model.layers[0].layers[0].layers[0].layers[0]", "nested at most"),
]


@pytest.mark.parametrize("change, field, words", BAD_SETTINGS, ids=[c[1] + ":" + c[2] for c in BAD_SETTINGS])
def test_bad_settings_name_the_field(change, field, words):
    spec = {"input_shape": [2, 6, 6], "layers": [conv(2, 3), FLAT, lin(3)]}
    spec.update(change)
    spec = {k: v for k, v in spec.items() if v is not None}
    with pytest.raises(OpInputError) as err:
        parse_model(spec)
    assert err.value.field == field, err.value
    assert words in err.value.message, err.value


SHAPE_ERRORS = [
    # (input_shape, layers, field, message)
    ([1, 4, 4], [conv(2, 3), RELU, {"type": "conv2d", "filters": 2, "kernel": 2, "stride": 1},
                 {"type": "maxpool2d", "size": 2}, FLAT, lin(2)],
     "model.layers[3]", "maxpool2d 2×2 needs an input at least 2×2, but layer 2 outputs 1×1"),
    ([1, 3, 3], [{"type": "avgpool2d", "size": 4}, FLAT, lin(2)],
     "model.layers[0]", "avgpool2d 4×4 needs an input at least 4×4, but the input is 3×3"),
    ([1, 4, 4], [conv(2, 3), conv(2, 5, pad=1), FLAT, lin(2)],
     "model.layers[1]", "conv2d 5×5 kernel needs an input at least 5×5, but layer 0 outputs 2×2 (4×4 after padding 1)"),
    ([1, 6, 6], [conv(2, 3), RELU, lin(4)],
     "model.layers[2]", "linear needs a flat input (N, D), but layer 1 outputs 2×4×4: add a flatten layer"),
    ([1, 6, 6], [conv(2, 3), FLAT, conv(2, 1), lin(2)],
     "model.layers[2]", "conv2d needs an image input C×H×W, but layer 1 outputs 32 features"),
    ([1, 6, 6], [conv(2, 3), RELU, {"type": "maxpool2d", "size": 2}, {"type": "residual", "layers": [conv(3, 1)]},
                 FLAT, lin(2)],
     "model.layers[3]", "input is 2×2×2 and its layers output 3×2×2"),
    ([1, 5, 5], [conv(2, 3), {"type": "residual", "layers": [conv(2, 1), {"type": "maxpool2d", "size": 4}]}, FLAT,
                 lin(2)],
     "model.layers[1].layers[1]", "maxpool2d 4×4 needs an input at least 4×4, but layer 1.0 outputs 3×3"),
    ([1, 6, 6], [conv(2, 3), RELU], "model.loss", "needs logits (N, K), but the last layer outputs 2×4×4"),
    ([1, 6, 6], [conv(2, 3), FLAT, lin(1)], "model.loss", "at least 2 classes"),
]


@pytest.mark.parametrize("shape, layers, field, message", SHAPE_ERRORS, ids=[c[2] for c in SHAPE_ERRORS])
def test_shape_errors_name_the_layer_that_breaks(shape, layers, field, message):
    with pytest.raises(OpInputError) as err:
        parse_model({"input_shape": shape, "layers": layers})
    assert err.value.field == field, err.value
    assert message in err.value.message, err.value


def test_init_is_deterministic_per_seed_and_per_layer():
    m = parse_model(EXAMPLE)
    a, b, c = init_params(m, 3), init_params(m, 3), init_params(m, 4)
    assert list(a) == ["0.w", "0.b", "1.gamma", "1.beta", "1.running_mean", "1.running_var", "4.0.w", "4.0.b",
                       "7.w", "7.b"]
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["0.w"], c["0.w"]) and not np.array_equal(a["7.w"], c["7.w"])
    # PyTorch's default bound 1/√fan_in: fan_in = C·KH·KW = 9 for 0.w, 4 for 4.0.w, D = 64 for 7.w
    for name, fan_in in (("0.w", 9), ("0.b", 9), ("4.0.w", 4), ("7.w", 64), ("7.b", 64)):
        bound = 1 / math.sqrt(fan_in)
        assert np.all(np.abs(a[name]) <= bound) and np.abs(a[name]).max() > bound / 2, name
    assert np.array_equal(a["1.gamma"], np.ones(4)) and np.array_equal(a["1.beta"], np.zeros(4))
    assert np.array_equal(a["1.running_mean"], np.zeros(4)) and np.array_equal(a["1.running_var"], np.ones(4))
    # seeds are per layer path: changing the last layer leaves the others' numbers alone
    wider = copy.deepcopy(EXAMPLE)
    wider["layers"][7]["units"] = 5
    d = init_params(parse_model(wider), 3)
    assert np.array_equal(d["0.w"], a["0.w"]) and np.array_equal(d["4.0.w"], a["4.0.w"])
    # layer paths 4 and 4.0 must not share a stream (SeedSequence pads with zeros: [s, 4] == [s, 4, 0])
    assert derive_seed(3, "init", "4").generate_state(4).tolist() != \
        derive_seed(3, "init", "4.0").generate_state(4).tolist()


# ---------------------------------------------------------------- gradients of whole networks


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", list(GRAD_MODELS))
def test_network_gradients_match_central_differences(name, seed):
    spec = GRAD_MODELS[name]
    m = parse_model(spec)
    x, labels = batch(spec, 3, seed)
    params = init_params(m, seed)
    wrt = [n for n in (*param_shapes(m), "x")]
    if m.layers[1].type == "batchnorm":
        # a bias right before batchnorm has gradient exactly 0 (the batch mean removes it); relative
        # error is meaningless there, so it is checked on its own
        wrt.remove("0.b")
        assert np.abs(backward(forward(m, params, x, labels, "train", seed)).grads["0.b"]).max() < 1e-14
    # h = 1e-5: the loss is ~1, so a difference quotient carries ~1e-16/h of rounding; gradients
    # entries of ~1e-4 would make that ~1e-7 relative with h = 1e-6. Any real bug is O(1).
    report = numeric_check_network(m, params, x, labels, seed=seed, h=1e-5, wrt=tuple(wrt))
    assert report.checked == sum(math.prod(s) for k, s in param_shapes(m).items() if k in wrt) + x.size
    assert report.worst < 1e-6, f"{name} seed {seed}: {report.worst:.2e} at {report.where} ({report.per_input})"


def test_the_residual_fork_adds_and_a_fork_that_overwrites_fails():
    spec = GRAD_MODELS["conv-residual(conv1x1-relu)-flatten-linear"]
    m = parse_model(spec)
    x, labels = batch(spec, 3, 0)
    params = init_params(m, 0)
    bwd = backward(forward(m, params, x, labels))
    block = bwd.layers["1"].grads
    # both paths carry gradient, and dx is their sum
    assert np.abs(block.dx_skip).max() > 1e-3 and np.abs(block.dx_branch).max() > 1e-3
    assert np.array_equal(block.dx, block.dx_skip + block.dx_branch)
    assert np.array_equal(bwd.layers["0"].dout, block.dx)
    assert numeric_check_network(m, params, x, labels, h=1e-5, wrt=("0.w", "x")).worst < 1e-6
    # the bug this guards against (early tinygrad): the fork keeps only one path's gradient
    with network.fork_swapped(lambda skip, branch: branch):  # the seam a planted bug uses (engine.bugs)
        broken = numeric_check_network(m, params, x, labels, h=1e-5, wrt=("0.w", "x"))
        assert network.variant() == ("fork:test_the_residual_fork_adds_and_a_fork_that_overwrites_fails.<locals>"
                                     ".<lambda>",)
    assert broken.worst > 1e-2, broken.worst
    assert network.variant() == ()  # only within the block


def test_two_dropout_layers_get_different_masks_fixed_by_seed():
    spec = {"input_shape": [20], "layers": [{"type": "dropout", "p": 0.5}, {"type": "dropout", "p": 0.5}, lin(2)]}
    m = parse_model(spec)
    x, labels = np.ones((4, 20)), [0, 1, 0, 1]
    params = init_params(m, 0)
    a, b, c = (forward(m, params, x, labels, "train", s) for s in (7, 7, 8))
    mask = lambda f, p: f.layers[p].cache.mask  # noqa: E731
    assert np.array_equal(mask(a, "0"), mask(b, "0")) and np.array_equal(mask(a, "1"), mask(b, "1"))
    assert not np.array_equal(mask(a, "0"), mask(a, "1"))
    assert not np.array_equal(mask(a, "0"), mask(c, "0"))
    assert np.array_equal(forward(m, params, x, labels, "eval", 7).layers["0"].out, x)


def test_batchnorm_running_statistics_update_in_train_and_not_in_eval():
    spec = {"input_shape": [2, 3, 3], "layers": [{"type": "batchnorm"}, FLAT, lin(2)]}
    m = parse_model(spec)
    x, labels = batch(spec, 4, 0)
    params = init_params(m, 0)
    f = forward(m, params, x, labels, "train")
    mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3), ddof=1)  # pytorch: unbiased into running_var
    np.testing.assert_allclose(f.buffers["0.running_mean"], 0.9 * 0 + 0.1 * mean, rtol=1e-12)
    np.testing.assert_allclose(f.buffers["0.running_var"], 0.9 * 1 + 0.1 * var, rtol=1e-12)
    assert np.array_equal(params["0.running_mean"], np.zeros(2))  # the input dict is untouched
    e = forward(m, params, x, labels, "eval")
    assert np.array_equal(e.buffers["0.running_mean"], np.zeros(2))
    assert np.array_equal(e.buffers["0.running_var"], np.ones(2))


# ---------------------------------------------------------------- the notes' training loop (seeds/004)


def test_notes_convnet_training_loop_conv_relu_maxpool_loss():
    """004: conv → ReLU → max-pool → loss on one example; gradient descent on K lowers the loss.

    The two pooled values are the logits of a 2-class softmax cross-entropy (label q = 1).
    """
    m = parse_model({"input_shape": [1, 4, 4], "layers": [
        {"type": "conv2d", "filters": 2, "kernel": 3}, RELU, {"type": "maxpool2d", "size": 2}, FLAT]})
    image = np.array([[1.0, 2, 0, 1], [0, 1, 3, 1], [2, 1, 0, 2], [1, 0, 1, 3]])
    kernel = 0.5 * np.array([[[[1.0, 0, -1], [0, 1, 0], [-1, 0, 1]]], [[[0.0, 1, 0], [1, -1, 1], [0, 1, 0]]]])
    params = {"0.w": kernel, "0.b": np.zeros(2)}
    x, q = image[None, None], [1]

    f = forward(m, params, x, q)
    # Step 1b by hand: J = I ⋆ K (valid, 2×2 per filter); e.g. J0[0,0] = ½(1 + 1 − 2) = 0
    j = f.layers["0"].out[0]
    np.testing.assert_allclose(j[0], [[0.0, 2.5], [-1.0, 1.5]], atol=1e-15)
    np.testing.assert_allclose(j[1], [[2.5, -0.5], [1.0, 3.5]], atol=1e-15)
    # max-pool of ReLU: p = (2.5, 3.5); loss = −log(e^3.5/(e^2.5 + e^3.5)) = log(1 + e^−1)
    np.testing.assert_allclose(f.logits, [[2.5, 3.5]], atol=1e-15)
    assert f.loss == pytest.approx(math.log1p(math.exp(-1)), rel=1e-14)

    b = backward(f)
    s = 1 / (1 + math.e)  # σ(−1) = softmax(p)[0]
    np.testing.assert_allclose(b.dlogits, [[s, -s]], rtol=1e-14)  # δp = softmax − onehot
    # Step 3b: δz routes each δp to its window's max only: J0 max at (0, 1), J1 max at (1, 1)
    dz = b.layers["2"].dx[0]
    np.testing.assert_allclose(dz, [[[0, s], [0, 0]], [[0, 0], [0, -s]]], rtol=1e-14)
    # Step 3c: ReLU passes both (J there is > 0). Step 4c: δK(p, q) = Σᵢⱼ I(i + p, j + q)·δJ(i, j)
    dj = b.layers["0"].dout[0]
    dk = np.zeros((2, 3, 3))
    for f_ in range(2):
        for p_ in range(3):
            for q_ in range(3):
                dk[f_, p_, q_] = sum(image[i + p_, j_ + q_] * dj[f_, i, j_] for i in range(2) for j_ in range(2))
    np.testing.assert_allclose(b.grads["0.w"][:, 0], dk, rtol=1e-14)
    np.testing.assert_allclose(dk[0], s * image[0:3, 1:4], rtol=1e-14)
    np.testing.assert_allclose(dk[1], -s * image[1:4, 1:4], rtol=1e-14)

    # Step 4, iterated: K ← K − lr·δK lowers the loss every step
    losses = [f.loss]
    for _ in range(5):
        params = {**params, "0.w": params["0.w"] - 0.1 * backward(forward(m, params, x, q)).grads["0.w"]}
        losses.append(forward(m, params, x, q).loss)
    assert all(later < earlier for earlier, later in zip(losses, losses[1:], strict=False)), losses
    assert losses[-1] < 0.5 * losses[0]


# ---------------------------------------------------------------- the trace answer

# CONVENTIONS.md's op table: the arrays each layer's forward/backward must carry at least
TABLE = {
    "conv2d": ("x_padded", "x_col", "w_row", "out", "dw", "db", "dx_col", "dx"),
    "maxpool2d": ("out", "argmax", "dx"),
    "avgpool2d": ("out", "dx"),
    "relu": ("out", "mask", "dx"),
    "linear": ("out", "dx", "dw", "db"),
    "batchnorm": ("mean", "var", "std", "x_hat", "out", "running_mean", "running_var", "dx_hat", "dvar", "dmean",
                  "dx", "dgamma", "dbeta"),
    "dropout": ("mask", "out", "dx"),
    "flatten": ("out", "dx"),
    "residual": ("x", "fx", "out", "dout", "dx_skip", "dx_branch", "dx"),
}


def test_trace_answer_has_every_key_and_every_table_array():
    spec = copy.deepcopy(EXAMPLE)
    spec["layers"].insert(4, {"type": "avgpool2d", "size": 1})
    x, labels = batch(spec, 2, 0)
    out = trace(spec, None, x, labels, "train", {"name": "adam", "hyperparams": {"lr": 0.01}}, seed=0)
    assert set(out) == {"layers", "loss", "data_loss", "l2_penalty", "l1_penalty", "probs", "grads", "reg_grads",
                        "update"}
    m = parse_model(spec)
    assert [layer["path"] for layer in out["layers"]] == [i.path for i in infer_shapes(m)]
    for layer, info in zip(out["layers"], infer_shapes(m), strict=True):
        assert set(layer) == {"path", "type", "out_shape", "forward", "backward"}
        assert layer["type"] == info.type and layer["out_shape"] == [2, *info.out_shape]
        arrays = {**layer["forward"], **layer["backward"]}
        missing = [n for n in TABLE[info.type] if n not in arrays]
        assert not missing, f"{info.path} {info.type} lacks {missing}"
        assert layer["forward"]["x"].shape[1:] == info.in_shape
        assert layer["forward"]["out"].shape == (2, *info.out_shape)
        assert layer["backward"]["dx"].shape == layer["forward"]["x"].shape
        if info.type == "conv2d":  # both ways to dx agree
            np.testing.assert_allclose(layer["backward"]["dx_full_conv"], layer["backward"]["dx"], atol=1e-13)
            assert np.array_equal(layer["forward"]["w"], init_params(m, 0)[f"{info.path}.w"])
    assert out["probs"].shape == (2, 10) and np.allclose(out["probs"].sum(axis=1), 1)
    assert list(out["grads"]) == list(param_shapes(m))
    update = out["update"]
    assert update["t"] == 1 and set(update["state"]) == {"m", "v", "m_hat", "v_hat"}
    assert set(update["params"]) == set(param_shapes(m)) | set(buffer_shapes(m))
    assert not np.array_equal(update["params"]["1.running_mean"], np.zeros(4))  # train mode moved them
    # one Adam step from zero state moves every parameter with a nonzero gradient by lr·g/(|g| + ε) ≈ lr
    g, w0 = out["grads"]["8.w"], init_params(m, 0)["8.w"]
    np.testing.assert_allclose(update["params"]["8.w"], w0 - 0.01 * g / (np.abs(g) + 1e-8), rtol=1e-10, atol=1e-15)
    json.dumps(jsonable(out))  # plain JSON all the way down


def test_trace_fills_missing_params_from_seed_and_validates_the_rest():
    spec = GRAD_MODELS["conv-relu-maxpool-flatten-linear"]
    x, labels = batch(spec, 2, 0)
    m = parse_model(spec)
    full = init_params(m, 5)
    mine = np.full((3, 2, 3, 3), 0.1)
    out = trace(spec, {"0.w": mine.tolist()}, x.tolist(), labels.tolist(), "eval", None, seed=5)
    assert out["update"] is None
    assert np.array_equal(out["layers"][0]["forward"]["w"], mine)
    assert np.array_equal(out["layers"][4]["forward"]["w"], full["4.w"])
    for params, x_, labels_, mode, field in [
        ({"9.w": [1.0]}, x, labels, "train", "params.9.w"),
        ({"0.w": np.zeros((3, 2, 2, 2))}, x, labels, "train", "params.0.w"),
        ({"0.b": [1.0, float("nan"), 0.0]}, x, labels, "train", "params.0.b"),
        (None, x[:, :1], labels, "train", "x"),
        (None, x, [0, 3], "train", "labels"),
        (None, x, [0], "train", "labels"),
        (None, x, labels, "test", "mode"),
    ]:
        with pytest.raises(OpInputError) as err:
            trace(spec, params, x_, labels_, mode)
        assert err.value.field == field, err.value
    with pytest.raises(OpInputError) as err:
        trace(spec, None, x, labels, "train", {"name": "adagrad"})
    assert err.value.field == "optimizer.name"
    with pytest.raises(OpInputError) as err:
        trace(spec, None, x, labels, "train", {"name": "adam", "hyperparams": {"lr": -1}})
    assert err.value.field == "optimizer.hyperparams.lr"
    with pytest.raises(OpInputError) as err:
        trace(spec, None, x, labels, "train", seed=-1)
    assert err.value.field == "seed"


def test_an_op_refusing_a_batch_names_the_layer_in_both_paths():
    spec = {"input_shape": [3], "layers": [lin(4), {"type": "residual", "layers": [{"type": "batchnorm"}]}, lin(2)]}
    params = init_params(parse_model(spec), 0)
    for run in (lambda: trace(spec, None, np.ones((1, 3)), [0]),
                lambda: train_step(spec, params, None, np.ones((1, 3)), [0], "sgd")):
        with pytest.raises(OpInputError) as err:
            run()
        assert err.value.field == "model.layers[1].layers[0]" and "more than one value" in err.value.message
    # the cs231n convention (biased variance) has no such limit
    spec["layers"][1]["layers"][0]["convention"] = "cs231n"
    assert math.isfinite(trace(spec, None, np.ones((1, 3)), [0])["loss"])


def test_nothing_passed_in_is_modified():
    spec = copy.deepcopy(EXAMPLE)
    x, labels = batch(spec, 3, 1)
    params = init_params(parse_model(spec), 1)
    kept = (copy.deepcopy(spec), x.copy(), labels.copy(), {k: v.copy() for k, v in params.items()})
    trace(spec, params, x, labels, "train", {"name": "momentum"}, seed=1)
    new, state, _, _ = train_step(spec, params, None, x, labels, "adam", {"lr": 0.1}, seed=1)
    train_step(spec, new, state, x, labels, "adam", {"lr": 0.1}, seed=2)
    numeric_check_network(spec, params, x, labels, seed=1, max_per_input=3)
    assert spec == kept[0] and np.array_equal(x, kept[1]) and np.array_equal(labels, kept[2])
    assert all(np.array_equal(params[k], kept[3][k]) for k in params)
