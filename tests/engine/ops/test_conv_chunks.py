"""col2im adds back a chunk of images at a time (engine.ops.im2col.batch_chunks); the chunks change no bit.

Every array conv2d answers — forward, backward and the registry's run with and without its extras — is
computed once with the whole batch in one chunk, then again with chunks of one image and of two images
(so that the last chunk of an odd batch is shorter), and compared byte for byte (−0 against +0, dtype,
strides). The geometries take both of col2im's ways (by layers at stride 1, by windows otherwise), pairs
for stride, pad and dilation, N = 1, and batches that the chunk size does not divide.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.ops import im2col as im2col_module
from engine.ops.conv import _run, conv2d_backward, conv2d_forward
from engine.ops.im2col import batch_chunks, col2im, conv_output_size, pair

# (N, C, H, W, F, KH, KW, stride, pad, dilation)
SHAPES = [
    (7, 3, 9, 8, 4, 3, 3, 1, 1, 1),  # odd N: chunks of 2 leave one image over
    (5, 2, 11, 10, 3, 3, 3, 2, 1, 1),  # stride 2: by windows
    (4, 2, 12, 9, 3, 3, 2, 1, 2, 2),  # dilation 2
    (3, 2, 10, 13, 2, 3, 3, (1, 1), (2, 0), (2, 1)),  # pad and dilation pairs
    (1, 3, 8, 8, 5, 3, 3, 1, 1, 1),  # N = 1
    (9, 1, 8, 8, 8, 3, 3, 1, 1, 1),  # the tiny CNN's layer (one channel)
    (6, 3, 6, 7, 1, 2, 3, (2, 1), 1, 1),  # one filter, a stride pair
    (5, 4, 3, 3, 2, 3, 3, 1, 0, 1),  # a 1×1 output
]


def _layers_bytes(shape, dtype) -> int:
    """What col2im's chunking counts for one image (its layers: KH·KW copies of a padded image)."""
    N, C, H, W, F, KH, KW, stride, pad, dilation = shape
    (ph, pw) = pair(pad)
    return KH * KW * C * (H + 2 * ph) * (W + 2 * pw) * np.dtype(dtype).itemsize


def _arrays(shape, dtype, seed):
    N, C, H, W, F, KH, KW, stride, pad, dilation = shape
    (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(pad), pair(dilation)
    OH, OW = conv_output_size(H, KH, sh, ph, dh), conv_output_size(W, KW, sw, pw, dw)
    rng = np.random.default_rng(seed)
    arrays = {"x": rng.standard_normal((N, C, H, W)), "w": rng.standard_normal((F, C, KH, KW)),
              "b": rng.standard_normal(F), "dout": rng.standard_normal((N, F, OH, OW))}
    arrays["dout"][rng.random(arrays["dout"].shape) < 0.2] = -0.0  # −0 terms: a sum must still start at +0
    return {k: v.astype(dtype) for k, v in arrays.items()}, {"stride": stride, "pad": pad, "dilation": dilation}


def _records(arrays, params) -> dict[str, np.ndarray]:
    """Every array of the forward/backward pair and of the registry's run (extras and lean)."""
    out, cache = conv2d_forward(arrays["x"], arrays["w"], arrays["b"], params["stride"], params["pad"],
                                dilation=params["dilation"])
    grads = conv2d_backward(arrays["dout"], cache)
    f_major = conv2d_backward(np.ascontiguousarray(out.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3), cache)
    records = {"out": out, "dx_col": grads.dx_col, "dx_padded": grads.dx_padded, "dx": grads.dx, "dw": grads.dw,
               "db": grads.db, "f_major.dx_padded": f_major.dx_padded, "f_major.dw": f_major.dw}
    for extras in (True, False):
        records.update({f"run{int(extras)}.{k}": v for k, v in _run(arrays, params, extras=extras).items()})
    return records


def _same(got: np.ndarray, want: np.ndarray, name: str) -> None:
    assert got.dtype == want.dtype and got.shape == want.shape and got.strides == want.strides, name
    assert got.tobytes(order="A") == want.tobytes(order="A"), f"{name} differs"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "-".join(map(str, s)).replace(" ", ""))
def test_chunks_give_the_same_bits(shape, dtype, monkeypatch) -> None:
    arrays, params = _arrays(shape, dtype, seed=SHAPES.index(shape))
    monkeypatch.setattr(im2col_module, "CHUNK_BYTES", 10**18)
    want = _records(arrays, params)
    per_image = _layers_bytes(shape, dtype)
    for images in (1, 2):
        monkeypatch.setattr(im2col_module, "CHUNK_BYTES", images * per_image)
        got = _records(arrays, params)
        assert got.keys() == want.keys()
        for name in want:
            _same(got[name], want[name], f"{name} with chunks of {images} image(s)")


def test_the_chunks_really_split_the_batch(monkeypatch) -> None:
    """The forced sizes above do make several chunks (else the test would compare a path with itself)."""
    shape = SHAPES[0]
    per_image = _layers_bytes(shape, np.float64)
    seen = []

    def spy(n, bytes_per_image):
        chunks = batch_chunks(n, bytes_per_image)
        seen.append(chunks)
        return chunks

    monkeypatch.setattr(im2col_module, "batch_chunks", spy)
    monkeypatch.setattr(im2col_module, "CHUNK_BYTES", 2 * per_image)
    N, C, H, W, F, KH, KW, stride, pad, dilation = shape
    OH, OW = conv_output_size(H, KH, stride, pad), conv_output_size(W, KW, stride, pad)
    col2im(np.ones((C * KH * KW, N * OH * OW)), (N, C, H + 2 * pad, W + 2 * pad), KH, KW, stride)
    assert seen == [[(0, 2), (2, 4), (4, 6), (6, 7)]]


def test_batch_chunks_cover_the_batch_in_order(monkeypatch) -> None:
    monkeypatch.setattr(im2col_module, "CHUNK_BYTES", 1000)
    assert batch_chunks(5, 300) == [(0, 3), (3, 5)]
    assert batch_chunks(4, 5000) == [(0, 1), (1, 2), (2, 3), (3, 4)]  # an image bigger than a chunk: one each
    assert batch_chunks(3, 0) == [(0, 3)]
    assert batch_chunks(1, 10**9) == [(0, 1)]
