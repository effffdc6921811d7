"""Convolution geometries for the conv2d tests: hand-picked corners and seeded random draws."""

import numpy as np

from engine.ops.im2col import conv_output_size


def draw_case(seed, max_elems=None):
    """A random valid geometry (N, C, H, W, F, KH, KW, stride, pad); impossible draws are redrawn."""
    rng = np.random.default_rng(seed)
    while True:
        N, C, F = (int(v) for v in rng.integers(1, 4, size=3))
        H, W = (int(v) for v in rng.integers(3, 9, size=2))
        KH, KW = (int(v) for v in rng.integers(1, 5, size=2))
        stride, pad = int(rng.integers(1, 4)), int(rng.integers(0, 3))
        if conv_output_size(H, KH, stride, pad) < 1 or conv_output_size(W, KW, stride, pad) < 1:
            continue
        if max_elems is not None and N * C * H * W + F * C * KH * KW > max_elems:
            continue
        return N, C, H, W, F, KH, KW, stride, pad


def case_id(case):
    N, C, H, W, F, KH, KW, s, p = case
    return f"N{N}C{C}-{H}x{W}-F{F}k{KH}x{KW}-s{s}p{p}"


def make_arrays(case, seed=0, dtype=np.float64):
    N, C, H, W, F, KH, KW, s, p = case
    rng = np.random.default_rng(seed)
    OH, OW = conv_output_size(H, KH, s, p), conv_output_size(W, KW, s, p)
    return {
        "x": rng.normal(size=(N, C, H, W)).astype(dtype),
        "w": rng.normal(size=(F, C, KH, KW)).astype(dtype),
        "b": rng.normal(size=F).astype(dtype),
        "dout": rng.normal(size=(N, F, OH, OW)).astype(dtype),
    }, {"stride": s, "pad": p}


# Hand-picked corners, then seeded random draws (sizes capped so the modules stay fast).
CORNERS = [
    (1, 1, 3, 3, 1, 1, 1, 1, 0),  # 1×1 kernel
    (2, 2, 5, 7, 3, 2, 3, 1, 1),  # non-square input and kernel
    (1, 2, 6, 6, 2, 3, 3, 2, 0),  # stride 2 drops the last row and column
    (2, 1, 7, 5, 2, 3, 2, 3, 2),  # stride 3 with padding: drops 2 rows / 0 cols
    (1, 3, 3, 4, 2, 4, 4, 1, 1),  # kernel equals the padded height
    (3, 1, 4, 4, 1, 4, 1, 3, 2),  # windows made mostly of padding
    (1, 1, 8, 3, 2, 1, 3, 3, 0),  # tall thin input, one output column
]
RANDOM = [draw_case(seed, max_elems=260) for seed in range(24)]
GRAD_CASES = CORNERS + RANDOM
MANY_CASES = CORNERS + [draw_case(1000 + seed) for seed in range(60)]
