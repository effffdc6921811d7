"""The lecture notes' convolution examples (seeds 001, 002, 004), with values worked by hand.

Every expected number below is derived in the comments next to it, not copied from the engine.
Where the notes slip, the test asserts the correct number and says what the notes print.
"""

import numpy as np
import pytest

from engine.ops.conv import (
    conv2d_backward,
    conv2d_dx_full_conv,
    conv2d_forward,
    conv2d_forward_naive,
    rotate_kernel,
)
from engine.ops.im2col import im2col
from engine.registry import run_op


def conv1(x, k, dout=None, b=0.0, stride=1, pad=0):
    """One image, one channel, one filter through the registry: every named array."""
    x, k = np.asarray(x, float), np.asarray(k, float)
    inputs = {"x": x[None, None], "w": k[None, None], "b": [b]}
    if dout is not None:
        inputs["dout"] = np.asarray(dout, float)[None, None]
    return run_op("conv2d", inputs, {"stride": stride, "pad": pad})


# ---------------------------------------------------------------------------------------------
# 001: identity 3×3 ⊛ identity 2×2
# ---------------------------------------------------------------------------------------------


def test_notes_identity_3x3_conv_2x2():
    x = np.eye(3)
    k = np.eye(2)
    r = conv1(x, k)
    # out[i, j] = x[i, j]·1 + x[i+1, j+1]·1: [[1+1, 0+0], [0+0, 1+1]] — the notes' [[2, 0], [0, 2]];
    # size (3 − 2)/1 + 1 = 2.
    np.testing.assert_array_equal(r["out"][0, 0], [[2, 0], [0, 2]])
    # backward with dout = ones: dK[kh, kw] = Σ over the 4 windows of x[i+kh, j+kw]
    #   dK[0,0] = x00+x01+x10+x11 = 1+0+0+1 = 2   dK[0,1] = x01+x02+x11+x12 = 0+0+1+0 = 1
    #   dK[1,0] = x10+x11+x20+x21 = 0+1+0+0 = 1   dK[1,1] = x11+x12+x21+x22 = 1+0+0+1 = 2
    np.testing.assert_array_equal(r["dw"][0, 0], [[2, 1], [1, 2]])
    assert r["db"].tolist() == [4.0]
    # dx[h, w] = Σ over windows covering (h, w) of K[h − i, w − j]; K = I so only the windows
    # where (h − i) == (w − j) count: corners 1 or 0, centre 2.
    np.testing.assert_array_equal(r["dx"][0, 0], [[1, 1, 0], [1, 2, 1], [0, 1, 1]])


# ---------------------------------------------------------------------------------------------
# 001: im2col of the 2-channel 4×4 example with a 2×2 kernel
# ---------------------------------------------------------------------------------------------

CHANNEL1 = np.arange(1, 17, dtype=float).reshape(4, 4)
CHANNEL2 = np.arange(17, 33, dtype=float).reshape(4, 4)
FILTER1 = [[1, 0], [0, -1]]
FILTER2 = [[1, -1], [1, 0]]

# The matrix as the notes print it: 8 rows (C·KH·KW = 2·2·2) × 9 columns (OH·OW = 3·3); the two
# channels are stacked, channel 1's four kernel offsets first. It is exactly our x_col layout:
# row (c·KH + kh)·KW + kw, column oh·OW + ow.
NOTES_X_COL = [
    [1, 2, 3, 5, 6, 7, 9, 10, 11],
    [2, 3, 4, 6, 7, 8, 10, 11, 12],
    [5, 6, 7, 9, 10, 11, 13, 14, 15],
    [6, 7, 8, 10, 11, 12, 14, 15, 16],
    [17, 18, 19, 21, 22, 23, 25, 26, 27],
    [18, 19, 20, 22, 23, 24, 26, 27, 28],
    [21, 22, 23, 25, 26, 27, 29, 30, 31],
    [22, 23, 24, 26, 27, 28, 30, 31, 32],
]


def test_notes_im2col_two_channel_4x4():
    x = np.stack([CHANNEL1, CHANNEL2])[None]  # (1, 2, 4, 4)
    x_col = im2col(x, 2, 2, 1)
    # row 0 = offset (c=0, kh=0, kw=0): the top-left pixel of each of the 9 windows, row by row
    assert x_col[0].tolist() == [1, 2, 3, 5, 6, 7, 9, 10, 11]
    # row 1 = (0, 0, 1): one pixel to the right; row 2 = (0, 1, 0): one row down (+4)
    assert x_col[1].tolist() == [v + 1 for v in x_col[0]]
    assert x_col[2].tolist() == [v + 4 for v in x_col[0]]
    # rows 4..7: channel 2 = channel 1 + 16
    assert x_col[4:].tolist() == [[v + 16 for v in row] for row in x_col[:4].tolist()]
    np.testing.assert_array_equal(x_col, NOTES_X_COL)
    r = run_op("conv2d", {"x": x, "w": np.ones((1, 2, 2, 2)), "b": [0]})
    np.testing.assert_array_equal(r["x_col"], NOTES_X_COL)


def test_notes_im2col_algorithm_two_channel_forward():
    """The notes' four steps: im2col, flatten the filter, C = w_row @ x_col, reshape.

    The notes list filter1 and filter2 (and a filter3 equal to filter1) for a 2-channel input;
    here filter1 is the filter's channel-1 slice and filter2 its channel-2 slice.
    """
    x = np.stack([CHANNEL1, CHANNEL2])[None]
    w = np.array([[FILTER1, FILTER2]], float)  # (1, 2, 2, 2)
    r = run_op("conv2d", {"x": x, "w": w, "b": [0]})
    assert r["w_row"].tolist() == [[1, 0, 0, -1, 1, -1, 1, 0]]
    # channel 1: x1[i, j] − x1[i+1, j+1] = −5 (x1[i, j] = 1 + 4i + j)
    # channel 2: x2[i, j] − x2[i, j+1] + x2[i+1, j] = x2[i, j] − 1 + 4 = 20 + 4i + j (x2 = x1 + 16)
    # sum: 15 + 4i + j
    expected = [[15, 16, 17], [19, 20, 21], [23, 24, 25]]
    np.testing.assert_array_equal(r["out"][0, 0], expected)
    np.testing.assert_array_equal((r["w_row"] @ r["x_col"]).reshape(3, 3), expected)
    # first column by hand: window (0, 0) = [1, 2, 5, 6, 17, 18, 21, 22] · [1, 0, 0, −1, 1, −1, 1, 0]
    assert 1 - 6 + 17 - 18 + 21 == 15


# ---------------------------------------------------------------------------------------------
# 002: the worked 3×3 ⊛ 2×2 example
# ---------------------------------------------------------------------------------------------


def test_notes_worked_3x3_conv_2x2():
    x = [[1, 2, 4], [3, 2, 1], [5, 2, 1]]
    k = [[1, -1], [2, 1]]
    # 1: 1×1 + 2×−1 + 3×2 + 2×1 = 1 − 2 + 6 + 2 = 7
    # 2: 2×1 + 4×−1 + 2×2 + 1×1 = 2 − 4 + 4 + 1 = 3
    # 3: 3×1 + 2×−1 + 5×2 + 2×1 = 3 − 2 + 10 + 2 = 13
    # 4: 2×1 + 1×−1 + 2×2 + 1×1 = 2 − 1 + 4 + 1 = 6
    expected = [[7, 3], [13, 6]]
    r = conv1(x, k)
    np.testing.assert_array_equal(r["out"][0, 0], expected)
    # the notes' conv_forward_naive, stride 1, pad 0. (The notes' version writes
    # x_pad[..., pad:-pad, pad:-pad], an empty slice when pad = 0; ours handles pad 0.)
    out, _ = conv2d_forward_naive(np.array(x, float)[None, None], np.array(k, float)[None, None], np.zeros(1))
    np.testing.assert_array_equal(out[0, 0], expected)


def test_notes_naive_stride_and_pad():
    """002's naive conv with stride and padding: H' = 1 + (H + 2·pad − HH)/stride."""
    x = np.arange(1.0, 26.0).reshape(1, 1, 5, 5)
    k = np.ones((1, 1, 3, 3))
    out, cache = conv2d_forward_naive(x, k, np.array([0.5]), stride=2, pad=1)
    # H' = 1 + (5 + 2 − 3)/2 = 3. Window sums on the zero-padded 7×7 input, + 0.5:
    #   (0,0): x[0:2, 0:2] = 1+2+6+7 = 16      (0,1): x[0:2, 1:4] = 2+3+4+7+8+9 = 33
    #   (0,2): x[0:2, 3:5] = 4+5+9+10 = 28     (1,0): x[1:4, 0:2] = 6+7+11+12+16+17 = 69
    #   (1,1): x[1:4, 1:4] = 9·13 = 117        (1,2): x[1:4, 3:5] = 9+10+14+15+19+20 = 87
    #   (2,0): x[3:5, 0:2] = 16+17+21+22 = 76  (2,1): x[3:5, 1:4] = 17+18+19+22+23+24 = 123
    #   (2,2): x[3:5, 3:5] = 19+20+24+25 = 88
    expected = np.array([[16, 33, 28], [69, 117, 87], [76, 123, 88]]) + 0.5
    np.testing.assert_array_equal(out[0, 0], expected)
    np.testing.assert_array_equal(conv2d_forward(x, k, np.array([0.5]), 2, 1)[0][0, 0], expected)
    assert (cache.OH, cache.OW) == (3, 3)


# ---------------------------------------------------------------------------------------------
# 001: conv backward on a 3×3 input with a 2×2 kernel (dK = conv(X, dY), dB = ΣdY, dX = full conv)
# ---------------------------------------------------------------------------------------------


def test_notes_conv_backward_3x3_by_hand():
    X = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    K = [[1, 2], [3, 4]]
    dT = [[10, 20], [30, 40]]  # dL/dt11, dL/dt12, dL/dt21, dL/dt22
    r = conv1(X, K, dout=dT, b=0.5)
    # t11 = x11k11 + x12k12 + x21k21 + x22k22 + B = 1 + 4 + 12 + 20 + 0.5 = 37.5, and so on
    np.testing.assert_array_equal(r["out"][0, 0], [[37.5, 47.5], [67.5, 77.5]])
    # dK11 = dt11·x11 + dt12·x12 + dt21·x21 + dt22·x22 = 10 + 40 + 120 + 200 = 370
    # dK12 = 10·2 + 20·3 + 30·5 + 40·6 = 470; dK21 = 10·4 + 20·5 + 30·7 + 40·8 = 670
    # dK22 = 10·5 + 20·6 + 30·8 + 40·9 = 770. (The notes print the result as [[dK11, dK21], [dK21, dK22]];
    # the top-right entry is dK12.)
    np.testing.assert_array_equal(r["dw"][0, 0], [[370, 470], [670, 770]])
    # dB = Σ dt = 100
    assert r["db"].tolist() == [100.0]
    # dx11 = dt11·K11 = 10; dx12 = dt11·K12 + dt12·K11 = 20 + 20 = 40 (the notes' second list writes
    # dt12·K21 here, which would give 80; their first derivation has K11, which is right);
    # dx13 = dt12·K12 = 40; dx21 = dt11·K21 + dt21·K11 = 30 + 30 = 60;
    # dx22 = dt11·K22 + dt12·K21 + dt21·K12 + dt22·K11 = 40 + 60 + 60 + 40 = 200;
    # dx23 = dt12·K22 + dt22·K12 = 80 + 80 = 160; dx31 = dt21·K21 = 90;
    # dx32 = dt21·K22 + dt22·K21 = 120 + 120 = 240; dx33 = dt22·K22 = 160
    expected_dx = [[10, 40, 40], [60, 200, 160], [90, 240, 160]]
    np.testing.assert_array_equal(r["dx"][0, 0], expected_dx)
    # …and the notes' closing form: the 0-padded dL/dt cross-correlated with the 180°-rotated K
    np.testing.assert_array_equal(r["w_rot"][0, 0], [[4, 3], [2, 1]])
    np.testing.assert_array_equal(r["dout_padded"][0, 0], [[0, 0, 0, 0], [0, 10, 20, 0], [0, 30, 40, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(r["dx_full_conv"][0, 0], expected_dx)


# ---------------------------------------------------------------------------------------------
# 001: the 5×5 input with the 3×3 edge filter
# ---------------------------------------------------------------------------------------------

I5 = np.arange(1.0, 26.0).reshape(5, 5)  # I[i, j] = 5i + j + 1
EDGE_CORRECT = [[1, 0, -1], [1, 0, -1], [1, 0, -1]]
EDGE_AS_PRINTED = [[1, 0, 1], [1, 0, -1], [1, 0, -1]]  # the notes' slip: +1 in the first row


def test_notes_edge_filter_5x5_forward():
    # each filter row gives I[i, j] − I[i, j+2] = −2, three rows: −6 everywhere; size (5 − 3)/1 + 1 = 3
    r = conv1(I5, EDGE_CORRECT)
    np.testing.assert_array_equal(r["out"][0, 0], np.full((3, 3), -6.0))
    # the filter as printed adds 2·I[i, j+2] = 2(5i + j + 3) to that: −6 + 10i + 2j + 6 = 10i + 2j,
    # not the stated all −6
    printed = conv1(I5, EDGE_AS_PRINTED)
    np.testing.assert_array_equal(printed["out"][0, 0], [[0, 2, 4], [10, 12, 14], [20, 22, 24]])


def test_notes_edge_filter_5x5_im2col():
    r = conv1(I5, EDGE_CORRECT)
    # the notes' img2col: first row 1 2 3 6 7 8 11 12 13, last row 13 14 15 18 19 20 23 24 25
    assert r["x_col"].shape == (9, 9)
    assert r["x_col"][0].tolist() == [1, 2, 3, 6, 7, 8, 11, 12, 13]
    assert r["x_col"][1].tolist() == [2, 3, 4, 7, 8, 9, 12, 13, 14]
    assert r["x_col"][8].tolist() == [13, 14, 15, 18, 19, 20, 23, 24, 25]


def test_notes_edge_filter_5x5_backward_ones():
    r = conv1(I5, EDGE_CORRECT, dout=np.ones((3, 3)))
    # dF[kh, kw] = Σ_{i,j<3} I[i+kh, j+kw] = Σ (5(i+kh) + (j+kw) + 1) = 45kh + 9kw + (45 + 9 + 9)
    #            = 45kh + 9kw + 63; e.g. dF[0, 0] = 1+2+3+6+7+8+11+12+13 = 63
    expected_dw = [[63, 72, 81], [108, 117, 126], [153, 162, 171]]
    np.testing.assert_array_equal(r["dw"][0, 0], expected_dw)
    # the notes' route: dL/dF = im2col(I) × Gᵀ with G = the 9 ones, reshaped to 3×3
    G = np.ones((1, 9))
    np.testing.assert_array_equal((r["x_col"] @ G.T).reshape(3, 3), expected_dw)
    assert r["db"].tolist() == [9.0]
    # dx[h, w] = Σ_{windows covering} F[h − i, w − j]; every filter row is [1, 0, −1], so it factors:
    # (number of valid kh for h) × (Σ of F's row entries at the valid kw for w)
    #   rows h = 0..4 are covered by 1, 2, 3, 2, 1 windows
    #   columns w = 0..4 see kw ∈ {0}, {0,1}, {0,1,2}, {1,2}, {2} → 1, 1, 0, −1, −1
    expected_dx = np.outer([1, 2, 3, 2, 1], [1, 1, 0, -1, -1])
    np.testing.assert_array_equal(r["dx"][0, 0], expected_dx)
    np.testing.assert_array_equal(r["dx_full_conv"][0, 0], expected_dx)


def test_notes_edge_filter_5x5_backward_one_hot():
    dout = np.zeros((3, 3))
    dout[1, 1] = 1.0
    r = conv1(I5, EDGE_CORRECT, dout=dout)
    # only the centre window (rows 1..3, cols 1..3) carries gradient:
    # dF = that patch of I, dx = F placed on that patch
    np.testing.assert_array_equal(r["dw"][0, 0], [[7, 8, 9], [12, 13, 14], [17, 18, 19]])
    expected_dx = np.zeros((5, 5))
    expected_dx[1:4, 1:4] = EDGE_CORRECT
    np.testing.assert_array_equal(r["dx"][0, 0], expected_dx)
    assert r["db"].tolist() == [1.0]


# ---------------------------------------------------------------------------------------------
# 004: δK = I ⋆ δJ and δI = pad(δJ) ⋆ flip(K)
# ---------------------------------------------------------------------------------------------

K004 = [[1, 3, 5], [2, 4, 6]]


def test_notes_flip_kernel():
    # 004: K = [[1, 3, 5], [2, 4, 6]] → flip(K) = [[6, 4, 2], [5, 3, 1]] (180° rotation)
    w = np.array(K004, float)[None, None]
    np.testing.assert_array_equal(rotate_kernel(w)[0, 0], [[6, 4, 2], [5, 3, 1]])
    # with more channels the rotation also swaps F and C: (F, C, KH, KW) → (C, F, KH, KW)
    w2 = np.arange(2 * 3 * 2 * 2, dtype=float).reshape(2, 3, 2, 2)
    assert rotate_kernel(w2).shape == (3, 2, 2, 2)
    assert rotate_kernel(w2)[1, 0, 0, 0] == w2[0, 1, 1, 1]


def _correlate_valid(a, k):
    """004's ⋆: J(i, j) = Σ_{l, m} a(i + l, j + m) k(l, m), written with loops (0-based)."""
    a, k = np.asarray(a, float), np.asarray(k, float)
    h, w = k.shape
    out = np.zeros((a.shape[0] - h + 1, a.shape[1] - w + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = sum(a[i + l, j + m] * k[l, m] for l in range(h) for m in range(w))
    return out


def test_notes_004_conv_backward_formulas():
    I = np.arange(1.0, 13.0).reshape(3, 4)  # 3-by-4, I[i, j] = 4i + j + 1
    K = np.array(K004, float)  # h = 2, w = 3 → J is (3 − 2 + 1)-by-(4 − 3 + 1) = 2-by-2
    dJ = np.array([[1.0, 0.0], [0.0, 2.0]])
    # δK(p, q) = Σ_{i,j} I(i + p, j + q) δJ(i, j) = I(p, q) + 2·I(p + 1, q + 1)
    #   = [[1 + 2·6, 2 + 2·7, 3 + 2·8], [5 + 2·10, 6 + 2·11, 7 + 2·12]] = [[13, 16, 19], [25, 28, 31]]
    dK = [[13, 16, 19], [25, 28, 31]]
    # δI = δJ(0,0)·K placed at (0, 0) + δJ(1,1)·K placed at (1, 1):
    #   [[1, 3, 5, 0], [2, 4, 6, 0], [0, 0, 0, 0]] + [[0, 0, 0, 0], [0, 2, 6, 10], [0, 4, 8, 12]]
    dI = [[1, 3, 5, 0], [2, 6, 12, 10], [0, 4, 8, 12]]
    # the notes' formulas, literally
    np.testing.assert_array_equal(_correlate_valid(I, dJ), dK)
    padded = np.pad(dJ, ((1, 1), (2, 2)))  # h − 1 = 1 rows, w − 1 = 2 columns on each side
    assert padded.shape == (3 + 2 - 1, 4 + 3 - 1)  # (H + h − 1)-by-(W + w − 1)
    np.testing.assert_array_equal(_correlate_valid(padded, np.rot90(K, 2)), dI)
    # the engine: dw by im2col, dx by col2im and by the full convolution
    r = conv1(I, K, dout=dJ)
    assert r["out"].shape == (1, 1, 2, 2)
    np.testing.assert_array_equal(r["dw"][0, 0], dK)
    np.testing.assert_array_equal(r["dx"][0, 0], dI)
    np.testing.assert_array_equal(r["dx_full_conv"][0, 0], dI)
    np.testing.assert_array_equal(r["dout_padded"][0, 0], padded)
    # and δK = I ⋆ δJ is the engine's own forward with δJ as the kernel
    out, _ = conv2d_forward(I[None, None], dJ[None, None], np.zeros(1))
    np.testing.assert_array_equal(out[0, 0], dK)


def test_notes_004_backward_with_stride_dilates_dout():
    """004 is stride 1; with stride 2 the full-convolution route first spreads dout out (dilation)."""
    I = np.arange(1.0, 26.0).reshape(5, 5)
    K = np.array([[1.0, 2.0], [3.0, 4.0]])
    dJ = np.array([[1.0, 2.0], [3.0, 4.0]])  # windows at rows/cols 0 and 2; row/col 4 is dropped
    r = conv1(I, K, dout=dJ, stride=2)
    assert int(r["dropped_rows"]) == 1 and int(r["dropped_cols"]) == 1
    np.testing.assert_array_equal(r["dout_dilated"][0, 0], [[1, 0, 2], [0, 0, 0], [3, 0, 4]])
    # non-overlapping windows: each 2×2 block of dx is δJ(i, j)·K, the dropped row/col get 0
    expected = np.zeros((5, 5))
    for i in range(2):
        for j in range(2):
            expected[2 * i:2 * i + 2, 2 * j:2 * j + 2] = dJ[i, j] * K
    np.testing.assert_array_equal(r["dx"][0, 0], expected)
    np.testing.assert_array_equal(r["dx_full_conv"][0, 0], expected)
    np.testing.assert_array_equal(
        conv2d_dx_full_conv(dJ[None, None], K[None, None], (1, 1, 5, 5), 2, 0)[0, 0], expected)
    # δK(p, q) = Σ_{i,j} I(2i + p, 2j + q) δJ(i, j):
    #   δK(0,0) = 1·1 + 2·3 + 3·11 + 4·13 = 1 + 6 + 33 + 52 = 92, and each step in q adds
    #   Σ δJ = 10, each step in p adds 5·10 = 50
    np.testing.assert_array_equal(r["dw"][0, 0], [[92, 102], [142, 152]])


@pytest.mark.parametrize("stride,pad", [(1, 0), (1, 1), (2, 1), (3, 2)])
def test_notes_dx_two_routes_agree_on_the_5x5_example(stride, pad):
    x = I5[None, None]
    w = np.array(EDGE_CORRECT, float)[None, None]
    out, cache = conv2d_forward(x, w, np.zeros(1), stride, pad)
    dout = np.arange(1.0, out.size + 1).reshape(out.shape)
    g = conv2d_backward(dout, cache)
    np.testing.assert_allclose(g.dx, conv2d_dx_full_conv(dout, w, x.shape, stride, pad), rtol=0, atol=1e-12)
