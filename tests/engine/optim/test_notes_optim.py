"""The lecture notes' optimizer examples, with the numbers worked out by hand (seeds 000, 001, 002).

Where a note's number slips, the test asserts the correct value and says so in a comment.
"""

import math

import numpy as np
import pytest

from engine.optim.rules import init_state, optimizer_step, optimizer_steps, run_optimizer

# 001: "one Adam step on five parameters"
NOTES_PARAMS = {"w1": 0.5, "w2": 0.3, "b0": 0.2, "b1": -0.1, "conv1": 0.8}
NOTES_GRADS = {"w1": 0.02, "w2": 0.01, "b0": 0.01, "b1": -0.03, "conv1": 0.05}
# The example's hyperparameters: β1 = 0.9, β2 = 0.995 (not 0.999), learning rate 0.01; ε is "e.g. 1e-7".
# β2 = 0.995 is the only value that reproduces the note's own velocities below (0.999 would give
# velocity_w1 = 4e-7, not the printed 0.000002).
NOTES_HP = {"lr": 0.01, "beta1": 0.9, "beta2": 0.995, "eps": 1e-7}


def test_notes_adam_001_moments():
    steps = run_optimizer("adam", NOTES_PARAMS, [NOTES_GRADS],
                          {**NOTES_HP, "eps_placement": "inside", "bias_correction": False})
    m, v = steps[0]["state"]["m"], steps[0]["state"]["v"]
    # momentum_x = 0.9·0 + (1 − 0.9)·dx = 0.1·dx. The note prints momentum_w1 = 0.002 (right; its line
    # also carries a stray "− 0.02"), momentum_b0 = 0.001, momentum_b1 = −0.003, momentum_conv1 = 0.005 (right),
    # but momentum_w2 = −0.004: a slip, that needs dw2 = −0.04. From dw2 = 0.01 it is 0.1·0.01 = 0.001.
    want_m = {"w1": 0.002, "w2": 0.001, "b0": 0.001, "b1": -0.003, "conv1": 0.005}
    # velocity_x = 0.995·0 + (1 − 0.995)·dx² = 0.005·dx². The note's 0.000002, 0.0000005, 0.0000045,
    # 0.0000125 are right; velocity_w2 = 0.000008 is the same slip (0.005·0.04²). Correct: 0.005·0.01² = 5e-7.
    want_v = {"w1": 0.000002, "w2": 5e-7, "b0": 0.0000005, "b1": 0.0000045, "conv1": 0.0000125}
    for k in NOTES_PARAMS:
        assert float(m[k]) == pytest.approx(want_m[k], rel=1e-12), f"momentum_{k}"
        assert float(v[k]) == pytest.approx(want_v[k], rel=1e-12), f"velocity_{k}"
        # bias correction off: m̂ and v̂ are m and v themselves
        assert float(steps[0]["state"]["m_hat"][k]) == float(m[k])
        assert float(steps[0]["state"]["v_hat"][k]) == float(v[k])


def test_notes_adam_001_update_in_the_notes_form():
    """The note's update: w ← w − lr·momentum/√(velocity + ε), no bias correction, ε inside the root."""
    steps = run_optimizer("adam", NOTES_PARAMS, [NOTES_GRADS],
                          {**NOTES_HP, "eps_placement": "inside", "bias_correction": False})
    m = {"w1": 0.002, "w2": 0.001, "b0": 0.001, "b1": -0.003, "conv1": 0.005}
    v = {"w1": 2e-6, "w2": 5e-7, "b0": 5e-7, "b1": 4.5e-6, "conv1": 1.25e-5}
    by_hand = {k: NOTES_PARAMS[k] - 0.01 * m[k] / math.sqrt(v[k] + 1e-7) for k in NOTES_PARAMS}
    # e.g. w1 = 0.5 − 0.01·0.002/√(2.1e-6) = 0.5 − 0.013801 = 0.486199
    rounded = {"w1": 0.486199, "w2": 0.287090, "b0": 0.187090, "b1": -0.086012, "conv1": 0.785914}
    for k in NOTES_PARAMS:
        got = float(steps[0]["params"][k])
        assert got == pytest.approx(by_hand[k], rel=1e-12), k
        assert got == pytest.approx(rounded[k], abs=1e-6), k


def test_notes_adam_001_update_in_pytorchs_form():
    """The same step as PyTorch takes it (bias correction on, ε = 1e-8 outside the root): at t = 1,
    m̂ = g and v̂ = g², so every parameter moves by lr·g/(|g| + ε) — almost exactly lr = 0.01 against
    the sign of its gradient, whatever the gradient's size."""
    steps = run_optimizer("adam", NOTES_PARAMS, [NOTES_GRADS], {"lr": 0.01, "beta1": 0.9, "beta2": 0.995})
    for k, g in NOTES_GRADS.items():
        assert float(steps[0]["state"]["m_hat"][k]) == pytest.approx(g, rel=1e-12)
        assert float(steps[0]["state"]["v_hat"][k]) == pytest.approx(g * g, rel=1e-12)
        by_hand = NOTES_PARAMS[k] - 0.01 * g / (abs(g) + 1e-8)
        assert float(steps[0]["params"][k]) == pytest.approx(by_hand, rel=1e-12), k
        assert float(steps[0]["params"][k]) == pytest.approx(NOTES_PARAMS[k] - 0.01 * math.copysign(1, g), abs=1e-7)
    # the two forms differ visibly on this example: w2 moves 0.012910 in the notes' form, 0.010000 in PyTorch's
    notes = run_optimizer("adam", NOTES_PARAMS, [NOTES_GRADS],
                          {**NOTES_HP, "eps_placement": "inside", "bias_correction": False})
    assert float(notes[0]["update"]["w2"]) == pytest.approx(-0.01 * 0.001 / math.sqrt(5e-7 + 1e-7), rel=1e-12)
    assert float(steps[0]["update"]["w2"]) == pytest.approx(-0.01 * 0.01 / (0.01 + 1e-8), rel=1e-12)


def test_notes_adam_001_step_records():
    """The step-by-step view of the example shows the note's quantities in its order."""
    state = init_state("adam", NOTES_PARAMS)
    steps = optimizer_steps("adam", NOTES_PARAMS, NOTES_GRADS, state,
                            {**NOTES_HP, "eps_placement": "inside", "bias_correction": False})
    assert [s.name for s in steps] == ["m", "v", "m_hat", "v_hat", "update"]
    assert float(steps[0].arrays["m.w2"]) == pytest.approx(0.001)
    assert float(steps[1].arrays["v.w2"]) == pytest.approx(5e-7)
    assert r"\sqrt{\hat v_{1} + 10^{-7}}" in steps[-1].latex


def test_notes_adam_002_code():
    """002's Adam code (bias correction on, ε inside np.sqrt), transcribed, over five steps.

    The note's displayed update line uses v_t where v_{t+1} is meant; its code uses the new m, as here.
    """
    lr, beta1, beta2, epsilon = 1e-3, 0.9, 0.99, 1e-8  # 002: "in practice β1 = 0.9, β2 = 0.99"
    w0 = np.array([[0.4, -0.2], [1.5, 0.0]])
    rng = np.random.default_rng(2)
    dws = [rng.normal(size=(2, 2)) for _ in range(5)]
    # the note's code, line for line
    w, m, v, t = w0.copy(), np.zeros_like(w0), np.zeros_like(w0), 0
    expected = []
    for dw in dws:
        t += 1  # start at 1
        m = beta1 * m + (1 - beta1) * dw
        v = beta2 * v + (1 - beta2) * (dw**2)
        m_unbia = m / (1 - beta1**t)
        v_unbia = v / (1 - beta2**t)
        w = w - lr * m_unbia / np.sqrt(v_unbia + epsilon)
        expected.append((t, w, m, v))
    ours = run_optimizer("adam", {"w": w0}, [{"w": dw} for dw in dws],
                         {"lr": lr, "beta1": beta1, "beta2": beta2, "eps": epsilon, "eps_placement": "inside"})
    for step, (t, w, m, v) in zip(ours, expected, strict=True):
        assert step["t"] == t
        np.testing.assert_allclose(step["params"]["w"], w, rtol=1e-13)
        np.testing.assert_allclose(step["state"]["m"]["w"], m, rtol=1e-13)
        np.testing.assert_allclose(step["state"]["v"]["w"], v, rtol=1e-13)


def test_notes_adam_000_snippet():
    """000's adam_update (ε outside, bias correction on) is the app's default Adam."""
    beta1, beta2, learning_rate, epsilon = 0.9, 0.999, 1e-3, 1e-8
    param0 = np.array([0.3, -1.1, 2.0])
    grads = [np.array([0.1, -0.5, 0.0]), np.array([0.2, 0.4, -1e-3]), np.array([-0.3, 0.0, 2.0])]
    param, m, v = param0.copy(), np.zeros(3), np.zeros(3)
    expected = []
    for t, gradient in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * gradient
        v = beta2 * v + (1 - beta2) * gradient**2
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        param = param - learning_rate * m_hat / (np.sqrt(v_hat) + epsilon)
        expected.append(param)
    ours = run_optimizer("adam", {"p": param0}, [{"p": g} for g in grads])
    for step, want in zip(ours, expected, strict=True):
        np.testing.assert_allclose(step["params"]["p"], want, rtol=1e-13)


def test_notes_momentum_002_ema():
    """002: v_{t+1} = β·v_t + (1 − β)·∇J(θ_t), θ_{t+1} = θ_t − α·v_{t+1} — the `ema` form."""
    beta, alpha = 0.9, 0.1
    theta, vel = 1.0, 0.0
    grads = [0.5, -0.2, 0.3, 0.3, -1.0]
    expected = []
    for g in grads:
        vel = beta * vel + (1 - beta) * g
        theta = theta - alpha * vel
        expected.append(theta)
    # by hand for the first two: v1 = 0.05, θ1 = 0.995; v2 = 0.045 − 0.02 = 0.025, θ2 = 0.9925
    assert expected[:2] == pytest.approx([0.995, 0.9925], rel=1e-12)
    ours = run_optimizer("momentum", {"theta": 1.0}, [{"theta": g} for g in grads],
                         {"lr": alpha, "momentum": beta, "form": "ema"})
    assert [float(s["params"]["theta"]) for s in ours] == pytest.approx(expected, rel=1e-12)
    # PyTorch's form differs (v ← μv + g, no 1 − μ): after one step θ = 1 − 0.1·0.5 = 0.95
    torch_form = run_optimizer("momentum", {"theta": 1.0}, [{"theta": 0.5}], {"lr": alpha, "momentum": beta})
    assert float(torch_form[0]["params"]["theta"]) == pytest.approx(0.95, rel=1e-12)


def test_notes_rmsprop_002_eps_placement():
    """002 writes RMSprop with ε inside the root (α/√(E[g²] + ε)); the app follows PyTorch and puts ε
    outside (lr·g/(√s + ε)). With a tiny gradient the two differ visibly, so the test can tell them apart.
    (002's first line also writes E[g²]_t on both sides; the running average means E[g²]_t from E[g²]_{t−1}.)"""
    lr, alpha, eps = 0.01, 0.9, 1e-8
    g = 1e-4
    s = (1 - alpha) * g * g  # 1e-9
    pytorch_form = 1.0 - lr * g / (math.sqrt(s) + eps)
    notes_form = 1.0 - lr * g / math.sqrt(s + eps)
    assert abs(pytorch_form - notes_form) > 1e-3
    new, _, rec = optimizer_step("rmsprop", {"p": 1.0}, {"p": g}, init_state("rmsprop", {"p": 1.0}),
                                 {"lr": lr, "alpha": alpha, "eps": eps})
    assert float(rec.slots["s"]["p"]) == pytest.approx(s, rel=1e-12)
    assert float(new["p"]) == pytest.approx(pytorch_form, rel=1e-12)
