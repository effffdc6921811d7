"""cs231n's assignment checks, reproduced through the public JSON API (sources: ./sources.py).

Each test names the notebook and cell it comes from and holds to the notebook's own tolerance: the
"difference should be around e-8" of a ``rel_error`` check (asserted an order above, as the printed
expected values carry 8 decimals), or the digits a printed statistic shows.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.app.published.sources import CS231N, linspace, op, rel_error

# ---------------------------------------------------------------- assignment1/two_layer_net.ipynb


def test_affine_forward(client):
    """assignment1/two_layer_net.ipynb, "Test the affine_forward function": x (2, 4, 5, 6) flattened to 120
    features. "The error should be around e-9 or less"."""
    x, w, b = linspace(-0.1, 0.5, (2, 4, 5, 6)), linspace(-0.2, 0.3, (120, 3)), np.linspace(-0.3, 0.1, num=3)
    out = op(client, "linear", {"x": x.tolist(), "w": w.tolist(), "b": b.tolist()})["out"]
    correct_out = [[1.49834967, 1.70660132, 1.91485297], [3.25553199, 3.5141327, 3.77273342]]
    assert rel_error(out, correct_out) < 1e-8, CS231N


def test_relu_forward(client):
    """assignment1/two_layer_net.ipynb, "Test the relu_forward function": "on the order of e-8"."""
    out = op(client, "relu", {"x": linspace(-0.5, 0.5, (3, 4)).tolist()})["out"]
    correct_out = [[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.04545455, 0.13636364],
                   [0.22727273, 0.31818182, 0.40909091, 0.5]]
    assert rel_error(out, correct_out) < 1e-7, CS231N


def _loss_inputs():
    np.random.seed(231)
    x = 0.001 * np.random.randn(50, 10)
    y = np.random.randint(10, size=50)
    return {"logits": x.tolist(), "labels": y.tolist()}


def test_svm_loss(client):
    """assignment1/two_layer_net.ipynb, "Testing svm_loss": loss 8.999602749096233 (printed; "around 9")."""
    a = op(client, "svm_loss", _loss_inputs())
    assert float(a["loss"]) == pytest.approx(8.999602749096233, rel=1e-13), CS231N


def test_softmax_loss(client):
    """assignment1/two_layer_net.ipynb, "Testing softmax_loss": loss 2.3025458445007376 (printed; "close to 2.3")."""
    a = op(client, "softmax_cross_entropy", _loss_inputs())
    assert float(a["loss"]) == pytest.approx(2.3025458445007376, rel=1e-13), CS231N


def test_two_layer_net_scores_and_losses(client):
    """assignment1/two_layer_net.ipynb, TwoLayerNet: affine–relu–affine–softmax with linspace weights, through
    POST /api/v1/networks/trace. The notebook asserts Σ|scores − correct_scores| < 1e-6 and
    |loss − correct_loss| < 1e-10, without (3.4702243556) and with L2 regularization reg = 1.0 (26.5948426952,
    cs231n's ½·reg·Σw² over W1 and W2)."""
    n, d, h, c = 3, 5, 50, 7
    params = {"0.w": linspace(-0.7, 0.3, (d, h)).tolist(), "0.b": np.linspace(-0.1, 0.9, num=h).tolist(),
              "2.w": linspace(-0.3, 0.4, (h, c)).tolist(), "2.b": np.linspace(-0.9, 0.1, num=c).tolist()}
    x = np.linspace(-5.5, 4.5, num=n * d).reshape(d, n).T
    correct_scores = np.asarray(
        [[11.53165108, 12.2917344, 13.05181771, 13.81190102, 14.57198434, 15.33206765, 16.09215096],
         [12.05769098, 12.74614105, 13.43459113, 14.1230412, 14.81149128, 15.49994135, 16.18839143],
         [12.58373087, 13.20054771, 13.81736455, 14.43418138, 15.05099822, 15.66781506, 16.2846319]])
    layers = [{"type": "linear", "units": h}, {"type": "relu"}, {"type": "linear", "units": c}]
    for reg, correct_loss in ((0.0, 3.4702243556), (1.0, 26.5948426952)):
        body = {"model": {"input_shape": [d], "layers": layers, "reg": reg}, "params": params, "x": x.tolist(),
                "labels": [0, 5, 1], "mode": "eval"}
        r = client.post("/api/v1/networks/trace", json=body)
        assert r.status_code == 200, r.text
        answer = r.json()
        assert np.abs(np.asarray(answer["layers"][-1]["forward"]["out"]) - correct_scores).sum() < 1e-6, CS231N
        assert abs(answer["loss"] - correct_loss) < 1e-10, (reg, answer["loss"], CS231N)


# ---------------------------------------------------------------- assignment2/FullyConnectedNets.ipynb


def _optimizer_case():
    n, d = 4, 5
    return linspace(-0.4, 0.6, (n, d)), linspace(-0.6, 0.4, (n, d))


def optimize(client, name, w, dw, hyperparams, state):
    body = {"params": {"w": w.tolist()}, "grads": [{"w": dw.tolist()}], "hyperparams": hyperparams, "state": state}
    r = client.post(f"/api/v1/optimizers/{name}", json=body)
    assert r.status_code == 200, r.text
    return r.json()["steps"][0]


def test_sgd_momentum_from_a_given_velocity(client):
    """assignment2/FullyConnectedNets.ipynb, sgd_momentum (learning_rate 1e-3, momentum 0.9): "relative errors
    around e-8 or less". cs231n's velocity is v_cs ← μ·v_cs − lr·g, w ← w + v_cs; this API's (PyTorch's)
    v ← μ·v + g, w ← w − lr·v is the same update with v = −v_cs/lr, so the given velocity goes in as
    −velocity/lr and the answered v comes back as −lr·v."""
    w, dw = _optimizer_case()
    velocity = linspace(0.6, 0.9, (4, 5))
    lr = 1e-3
    step = optimize(client, "momentum", w, dw, {"lr": lr, "momentum": 0.9}, {"v": {"w": (-velocity / lr).tolist()}})
    expected_next_w = np.asarray([
        [0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789],
        [0.47454737, 0.54133684, 0.60812632, 0.67491579, 0.74170526],
        [0.80849474, 0.87528421, 0.94207368, 1.00886316, 1.07565263],
        [1.14244211, 1.20923158, 1.27602105, 1.34281053, 1.4096]])
    expected_velocity = np.asarray([
        [0.5406, 0.55475789, 0.56891579, 0.58307368, 0.59723158],
        [0.61138947, 0.62554737, 0.63970526, 0.65386316, 0.66802105],
        [0.68217895, 0.69633684, 0.71049474, 0.72465263, 0.73881053],
        [0.75296842, 0.76712632, 0.78128421, 0.79544211, 0.8096]])
    assert rel_error(step["params"]["w"], expected_next_w) < 1e-7, CS231N
    assert rel_error(-lr * np.asarray(step["state"]["v"]["w"]), expected_velocity) < 1e-7, CS231N


def test_rmsprop_from_a_given_cache(client):
    """assignment2/FullyConnectedNets.ipynb, RMSProp (learning_rate 1e-2, decay_rate 0.99 = alpha, epsilon 1e-8;
    its ``cache`` is this API's ``s``): "relative errors around e-7 or less"."""
    w, dw = _optimizer_case()
    cache = linspace(0.6, 0.9, (4, 5))
    step = optimize(client, "rmsprop", w, dw, {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8}, {"s": {"w": cache.tolist()}})
    expected_next_w = np.asarray([
        [-0.39223849, -0.34037513, -0.28849239, -0.23659121, -0.18467247],
        [-0.132737, -0.08078555, -0.02881884, 0.02316247, 0.07515774],
        [0.12716641, 0.17918792, 0.23122175, 0.28326742, 0.33532447],
        [0.38739248, 0.43947102, 0.49155973, 0.54365823, 0.59576619]])
    expected_cache = np.asarray([
        [0.5976, 0.6126277, 0.6277108, 0.64284931, 0.65804321],
        [0.67329252, 0.68859723, 0.70395734, 0.71937285, 0.73484377],
        [0.75037008, 0.7659518, 0.78158892, 0.79728144, 0.81302936],
        [0.82883269, 0.84469141, 0.86060554, 0.87657507, 0.8926]])
    assert rel_error(step["params"]["w"], expected_next_w) < 1e-6, CS231N
    assert rel_error(step["state"]["s"]["w"], expected_cache) < 1e-6, CS231N


def test_adam_from_a_given_state_at_t_5(client):
    """assignment2/FullyConnectedNets.ipynb, Adam (learning_rate 1e-2, t = 5, given m and v; "modify t before
    using it": this update is t = 6, as the API's t + 1): "relative errors around e-7 or less"."""
    w, dw = _optimizer_case()
    m, v = linspace(0.6, 0.9, (4, 5)), linspace(0.7, 0.5, (4, 5))
    step = optimize(client, "adam", w, dw, {"lr": 1e-2},
                    {"t": 5, "m": {"w": m.tolist()}, "v": {"w": v.tolist()}})
    expected_next_w = np.asarray([
        [-0.40094747, -0.34836187, -0.29577703, -0.24319299, -0.19060977],
        [-0.1380274, -0.08544591, -0.03286534, 0.01971428, 0.0722929],
        [0.1248705, 0.17744702, 0.23002243, 0.28259667, 0.33516969],
        [0.38774145, 0.44031188, 0.49288093, 0.54544852, 0.59801459]])
    expected_v = np.asarray([
        [0.69966, 0.68908382, 0.67851319, 0.66794809, 0.65738853],
        [0.64683452, 0.63628604, 0.6257431, 0.61520571, 0.60467385],
        [0.59414753, 0.58362676, 0.57311152, 0.56260183, 0.55209767],
        [0.54159906, 0.53110598, 0.52061845, 0.51013645, 0.49966]])
    expected_m = np.asarray([
        [0.48, 0.49947368, 0.51894737, 0.53842105, 0.55789474],
        [0.57736842, 0.59684211, 0.61631579, 0.63578947, 0.65526316],
        [0.67473684, 0.69421053, 0.71368421, 0.73315789, 0.75263158],
        [0.77210526, 0.79157895, 0.81105263, 0.83052632, 0.85]])
    assert step["t"] == 6
    assert rel_error(step["params"]["w"], expected_next_w) < 1e-6, CS231N
    assert rel_error(step["state"]["v"]["w"], expected_v) < 1e-6, CS231N
    assert rel_error(step["state"]["m"]["w"], expected_m) < 1e-6, CS231N
