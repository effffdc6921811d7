"""Worked examples of the lecture notes (seeds 001 and 004): max pooling, ReLU, softmax, dense layers.

Every expected value is derived by hand here, never copied from the notes; where the notes'
printed numbers slip, the comment says so and the test asserts the correct value.
"""

import math

import numpy as np

from engine.ops.softmax import softmax, softmax_naive
from engine.registry import run_op

# 001, "Max pooling": a 4×4 image, 2×2 filter, stride 2.
NOTES_X = [[[[2, 1, -11, 0],
             [0, 10, -15, -16],
             [23, 100, 2, 3],
             [-23, 0, 7, 20]]]]


def test_notes_maxpool_4x4_output_size():
    # (4 − 2)/2 + 1 = 2 per side, as the notes compute
    arrays = run_op("maxpool2d", {"x": NOTES_X}, {"size": 2, "stride": 2})
    assert arrays["out"].shape == (1, 1, 2, 2)
    assert int(arrays["dropped_rows"]) == 0 and int(arrays["dropped_cols"]) == 0


def test_notes_maxpool_4x4_forward():
    arrays = run_op("maxpool2d", {"x": NOTES_X}, {"size": 2, "stride": 2})
    # windows: {2, 1, 0, 10} → 10; {−11, 0, −15, −16} → 0; {23, 100, −23, 0} → 100; {2, 3, 7, 20} → 20
    np.testing.assert_array_equal(arrays["out"][0, 0], [[10, 0], [100, 20]])
    # where: 10 at (1, 1) → 1·4 + 1 = 5; 0 at (0, 3) → 3; 100 at (2, 1) → 9; 20 at (3, 3) → 15
    np.testing.assert_array_equal(arrays["argmax"][0, 0], [[5, 3], [9, 15]])
    np.testing.assert_array_equal(arrays["window_argmax"][0, 0], [[3, 1], [1, 3]])


def test_notes_maxpool_4x4_backward():
    dout = [[[[1.5, -2.0], [3.0, 0.25]]]]
    arrays = run_op("maxpool2d", {"x": NOTES_X, "dout": dout}, {"size": 2, "stride": 2})
    expected = [[0, 0, 0, -2.0],
                [0, 1.5, 0, 0],
                [0, 3.0, 0, 0],
                [0, 0, 0, 0.25]]
    np.testing.assert_array_equal(arrays["dx"][0, 0], expected)


def test_notes_maxpool_index_routing_2x2():
    # 001, "Calculating gradient at Convolutional layer": x_conv = [[1, 3], [2, 4]], 2×2 pool, stride 2.
    arrays = run_op("maxpool2d", {"x": [[[[1, 3], [2, 4]]]], "dout": [[[[10]]]]}, {"size": 2, "stride": 2})
    np.testing.assert_array_equal(arrays["out"], [[[[4]]]])
    # The notes store the location as "(1, 1, 0)" (row 1, column 1, channel 0); our argmax is the flat
    # index inside the plane, h·W + w = 1·2 + 1 = 3.
    assert arrays["argmax"][0, 0, 0, 0] == 3
    np.testing.assert_array_equal(arrays["dx"][0, 0], [[0, 0], [0, 10]])


def test_notes_004_maxpool_2x2_stride2_routing():
    # 004, "BP for a max pooling layer": its input figure is not in the text, so this input puts each
    # window's maximum where the notes' δx shows it: δy1 at (1, 1), δy3 at (0, 2), δy2 at (2, 0), δy4 at (3, 3).
    x = [[[[1, 2, 9, 3],
           [4, 8, 5, 6],
           [7, 1, 0, 2],
           [3, 5, 4, 6]]]]
    # The notes label δy column by column: [[δy1, δy3], [δy2, δy4]]; take δyi = i.
    dout = [[[[1.0, 3.0], [2.0, 4.0]]]]
    arrays = run_op("maxpool2d", {"x": x, "dout": dout}, {"size": 2, "stride": 2})
    expected = [[0, 0, 3, 0],
                [0, 1, 0, 0],
                [2, 0, 0, 0],
                [0, 0, 0, 4]]
    np.testing.assert_array_equal(arrays["dx"][0, 0], expected)


def test_notes_004_relu_backward():
    # 004, "BP for a ReLU layer": x = [[−5, 4], [0, 2]] → y = [[0, 4], [0, 2]];
    # δy = [[δy1, δy3], [δy2, δy4]] → δx = [[0, δy3], [0, δy4]] (x = 0 passes no gradient). δyi = i.
    arrays = run_op("relu", {"x": [[-5.0, 4.0], [0.0, 2.0]], "dout": [[1.0, 3.0], [2.0, 4.0]]})
    np.testing.assert_array_equal(arrays["out"], [[0, 4], [0, 2]])
    np.testing.assert_array_equal(arrays["dx"], [[0, 3], [0, 4]])


def test_notes_softmax_3_minus2_minus100():
    # 001, "Soft max function": x = [3, −2, −100].
    denominator = math.exp(3) + math.exp(-2) + math.exp(-100)  # 20.0855 + 0.1353 + 3.7e−44 = 20.2209
    assert round(denominator, 2) == 20.22  # as the notes say
    p = [math.exp(3) / denominator, math.exp(-2) / denominator, math.exp(-100) / denominator]
    assert round(p[0], 2) == 0.99  # as the notes say (0.99331)
    # The notes print 0.0066 for e^−2/20.22; it is 0.0066929 (0.0067 to two significant figures).
    assert abs(p[1] - 0.0066929) < 1e-7
    # Slip in the notes: e^−100/20.22 is 1.84e−45, not 1.88e−45.
    assert abs(p[2] - 1.8397e-45) < 1e-49

    logits = np.array([[3.0, -2.0, -100.0]])
    np.testing.assert_allclose(softmax(logits)[0], p, rtol=1e-14)
    arrays = run_op("softmax_cross_entropy", {"logits": logits, "labels": [0]})
    np.testing.assert_allclose(arrays["probs"][0], p, rtol=1e-14)
    assert arrays["probs"][0, 2] > 0  # 1.84e−45 is representable in float64: no underflow
    # the op shifts by the max (3), so its sum is the notes' denominator divided by e^3
    np.testing.assert_allclose(arrays["sum_exp"][0] * math.exp(3), denominator, rtol=1e-14)
    np.testing.assert_allclose(arrays["shifted"][0], [0.0, -5.0, -103.0])
    # nothing here overflows, so the unshifted formula agrees
    np.testing.assert_allclose(softmax_naive(logits)[0], p, rtol=1e-14)
    # cross-entropy against label 0 and its gradient p − y (N = 1)
    # −log p0 = log(1 + e^−5 + e^−103) ≈ 0.0067; a loss this small carries ~1e−16 absolute rounding
    np.testing.assert_allclose(arrays["loss"], math.log1p(math.exp(-5) + math.exp(-103)), rtol=1e-13)
    np.testing.assert_allclose(arrays["loss"], -math.log(p[0]), rtol=1e-12)
    np.testing.assert_allclose(arrays["dlogits"][0], [p[0] - 1, p[1], p[2]], rtol=1e-12)
    np.testing.assert_allclose(arrays["dlogits_via_jacobian"][0], [p[0] - 1, p[1], p[2]], rtol=1e-12)


def test_notes_softmax_jacobian_cases():
    # 001: dp_i/da_j = p_i(1 − p_i) for i = j, −p_i·p_j for i ≠ j.
    arrays = run_op("softmax_cross_entropy", {"logits": [[0.5, -1.0, 2.0]], "labels": [1]})
    p, jac = arrays["probs"][0], arrays["jacobian"][0]
    for i in range(3):
        for j in range(3):
            expected = p[i] * (1 - p[i]) if i == j else -p[i] * p[j]
            assert math.isclose(jac[i, j], expected, rel_tol=1e-14), (i, j)


def test_notes_dense_layers_chain():
    # 001, "Back Propagation": A1 = x0·W1 + b0, x1 = ReLU(A1), a2 = x1·W2 + b1, x2 = softmax(a2), cross-entropy.
    # The notes' boxed results (one sample): dL/dW2 = x1ᵀ(x2 − z), dL/db1 = x2 − z,
    # dL/dW1 = x0ᵀ[((x2 − z)·W2ᵀ) ⊙ ReLU'(A1)], dL/db0 = ((x2 − z)·W2ᵀ) ⊙ ReLU'(A1).
    x0 = np.array([[1.0, -2.0, 0.5]])
    w1 = np.array([[0.2, -0.4, 0.1, 0.3], [0.5, 0.1, -0.3, 0.2], [-0.6, 0.2, 0.4, -0.1]])
    b0 = np.array([0.1, 0.0, -0.2, 0.05])
    w2 = np.array([[0.3, -0.2], [0.1, 0.4], [-0.5, 0.2], [0.2, 0.1]])
    b1 = np.array([0.0, 0.1])
    label = 1

    first = run_op("linear", {"x": x0, "w": w1, "b": b0})
    relu = run_op("relu", {"x": first["out"]})
    second = run_op("linear", {"x": relu["out"], "w": w2, "b": b1})
    loss = run_op("softmax_cross_entropy", {"logits": second["out"], "labels": [label]})
    second = run_op("linear", {"x": relu["out"], "w": w2, "b": b1, "dout": loss["dlogits"]})
    relu = run_op("relu", {"x": first["out"], "dout": second["dx"]})
    first = run_op("linear", {"x": x0, "w": w1, "b": b0, "dout": relu["dx"]})

    # the notes' closed forms, written out independently
    a1 = x0 @ w1 + b0  # [[−0.7, −0.7, 0.9, −0.15]]: only unit 2 is active
    x1 = np.maximum(a1, 0)
    a2 = x1 @ w2 + b1
    x2 = np.exp(a2 - a2.max()) / np.exp(a2 - a2.max()).sum()
    z = np.array([[0.0, 1.0]])
    relu_prime = (a1 > 0).astype(float)
    np.testing.assert_allclose(relu_prime, [[0, 0, 1, 0]])
    np.testing.assert_allclose(second["dw"], x1.T @ (x2 - z), rtol=1e-13)
    np.testing.assert_allclose(second["db"], (x2 - z)[0], rtol=1e-13)
    delta = ((x2 - z) @ w2.T) * relu_prime
    np.testing.assert_allclose(first["dw"], x0.T @ delta, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(first["db"], delta[0], rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(first["dx"], delta @ w1.T, rtol=1e-13, atol=1e-16)
