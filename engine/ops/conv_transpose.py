"""Transposed convolution ("deconvolution"): conv2d's backward pass for dx, run forward.

Layouts (PyTorch's ConvTranspose2d): x (N, F, H, W), w (F, C, KH, KW) — the same filters a
conv2d from C to F channels holds — b (C,), out (N, C, OH, OW) with
    OH = (H − 1)·stride − 2·pad + dilation·(KH − 1) + output_padding + 1.
Forward scatters every input pixel through the filters: ``out_col = w_rowᵀ · x_row`` (one column
per input pixel), col2im adds the columns onto their (stride-spaced) windows of ``out_padded``,
then the padding is cropped and the bias added. So conv_transpose2d(dout, w) with b = 0 equals
the dx of conv2d(x, w) for the same stride, pad and dilation, output_padding being the rows and
columns the conv's stride left over (its ``dropped_rows`` / ``dropped_cols``).
Backward is a conv2d: pad dout, im2col it (``dout_col``), ``dx_row = w_row · dout_col``,
``dw = x_row · dout_colᵀ``, ``db = Σ dout``. stride, pad, dilation and output_padding are each an
int or a (height, width) pair; output_padding must be smaller than the stride.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.ops.im2col import IntOrPair, col2im, im2col, pad_input, pair
from engine.records import Arrays, Index, Input, OpInputError, OpSpec, Param, Step, check_element


@dataclass(frozen=True)
class ConvTransposeCache:
    x: np.ndarray  # input (N, F, H, W)
    x_row: np.ndarray  # x as (F, N·H·W), columns ordered (n·H + i)·W + j
    w: np.ndarray  # filters (F, C, KH, KW)
    w_row: np.ndarray  # w as (F, C·KH·KW)
    out_col: np.ndarray  # w_rowᵀ · x_row: (C·KH·KW, N·H·W), each input pixel spread over a window
    out_padded: np.ndarray  # col2im(out_col): (N, C, OH + 2·pad_h, OW + 2·pad_w)
    stride: IntOrPair
    pad: IntOrPair
    dilation: IntOrPair


@dataclass(frozen=True)
class ConvTransposeGrads:
    dout_padded: np.ndarray  # dout with the cropped padding put back (zeros): the shape of out_padded
    dout_col: np.ndarray  # im2col(dout_padded): (C·KH·KW, N·H·W)
    dx: np.ndarray  # (w_row · dout_col) reshaped to (N, F, H, W)
    dw: np.ndarray  # x_row · dout_colᵀ reshaped to (F, C, KH, KW)
    db: np.ndarray  # Σ dout over N, OH, OW: (C,)


def output_size(size: int, kernel: int, stride: int, pad: int, output_padding: int = 0, dilation: int = 1) -> int:
    """(size − 1)·stride − 2·pad + dilation·(kernel − 1) + output_padding + 1, along one axis."""
    return (size - 1) * stride - 2 * pad + dilation * (kernel - 1) + output_padding + 1


def check_conv_transpose(x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: IntOrPair, pad: IntOrPair,
                         output_padding: IntOrPair, dilation: IntOrPair) -> tuple[int, int]:
    """(OH, OW), or OpInputError naming the field that does not fit."""
    N, F, H, W = x_shape
    Fw, C, KH, KW = w_shape
    if Fw != F:
        raise OpInputError("inputs.w", f"has {Fw} filters (shape {list(w_shape)}) but x has {F} channels: w must be "
                                       f"(F, C, KH, KW) with F = {F}, the channels of x")
    sizes = []
    for axis, size, k, s, p, op, d in zip(("height", "width"), (H, W), (KH, KW), pair(stride), pair(pad),
                                          pair(output_padding), pair(dilation), strict=True):
        if op >= s:
            raise OpInputError("params.output_padding", f"{op} along the {axis} must be smaller than the stride {s}")
        o = output_size(size, k, s, p, op, d)
        if o < 1:
            raise OpInputError("params.pad", f"{p} on each side crops the whole output {axis}: "
                                             f"({size} − 1)·{s} − 2·{p} + {d}·({k} − 1) + {op} + 1 = {o}")
        sizes.append(o)
    return sizes[0], sizes[1]


def conv_transpose2d_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: IntOrPair = 1, pad: IntOrPair = 0,
                             output_padding: IntOrPair = 0, dilation: IntOrPair = 1
                             ) -> tuple[np.ndarray, ConvTransposeCache]:
    """out = crop_pad(col2im(w_rowᵀ · x_row)) + b."""
    OH, OW = check_conv_transpose(x.shape, w.shape, stride, pad, output_padding, dilation)
    N, F, H, W = x.shape
    _, C, KH, KW = w.shape
    (ph, pw) = pair(pad)
    x_row = x.transpose(1, 0, 2, 3).reshape(F, N * H * W)
    w_row = w.reshape(F, C * KH * KW)
    out_col = w_row.T @ x_row
    out_padded = col2im(out_col, (N, C, OH + 2 * ph, OW + 2 * pw), KH, KW, stride, dilation)
    out = out_padded[:, :, ph:ph + OH, pw:pw + OW] + b[None, :, None, None]
    return out, ConvTransposeCache(x, x_row, w, w_row, out_col, out_padded, stride, pad, dilation)


def conv_transpose2d_backward(dout: np.ndarray, cache: ConvTransposeCache) -> ConvTransposeGrads:
    """dx = w_row · im2col(pad(dout)), dw = x_row · im2col(pad(dout))ᵀ, db = Σ dout."""
    c = cache
    N, F, H, W = c.x.shape
    _, C, KH, KW = c.w.shape
    want = (N, C, c.out_padded.shape[2] - 2 * pair(c.pad)[0], c.out_padded.shape[3] - 2 * pair(c.pad)[1])
    if dout.shape != want:
        raise OpInputError("inputs.dout", f"must have the shape of out {list(want)}, got {list(dout.shape)}")
    dout_padded = pad_input(dout, c.pad)
    if dout_padded is dout:
        dout_padded = dout.copy()
    dout_col = im2col(dout_padded, KH, KW, c.stride, c.dilation)
    dx = (c.w_row @ dout_col).reshape(F, N, H, W).transpose(1, 0, 2, 3)
    dw = (c.x_row @ dout_col.T).reshape(c.w.shape)
    return ConvTransposeGrads(dout_padded, dout_col, np.ascontiguousarray(dx), dw, dout.sum(axis=(0, 2, 3)))


# ---------------------------------------------------------------- registry glue

ARRAYS = ("x", "w", "b", "dout", "x_row", "w_row", "out_col", "out_padded", "out", "dout_padded", "dout_col",
          "dx", "dw", "db")


def _geometry(params: dict[str, Any]) -> tuple[IntOrPair, IntOrPair, IntOrPair, IntOrPair]:
    return params["stride"], params["pad"], params["output_padding"], params["dilation"]


def _check(shapes: dict[str, tuple[int, ...]], params: dict[str, Any]) -> None:
    OH, OW = check_conv_transpose(shapes["x"], shapes["w"], *_geometry(params))
    C = shapes["w"][1]
    if shapes["b"] != (C,):
        raise OpInputError("inputs.b", f"must hold one bias per output channel: shape [{C}] for w with C = {C}, "
                                       f"got {list(shapes['b'])}")
    want = (shapes["x"][0], C, OH, OW)
    if "dout" in shapes and tuple(shapes["dout"]) != want:
        raise OpInputError("inputs.dout", f"must have the shape of out, (N, C, OH, OW) = {list(want)}; "
                                          f"got {list(shapes['dout'])}")


def _shapes(shapes: dict[str, tuple[int, ...]], params: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """The shape of every array :func:`_run` answers."""
    OH, OW = check_conv_transpose(shapes["x"], shapes["w"], *_geometry(params))
    (N, F, H, W), (_, C, KH, KW) = shapes["x"], shapes["w"]
    (ph, pw) = pair(params["pad"])
    padded, col = (N, C, OH + 2 * ph, OW + 2 * pw), (C * KH * KW, N * H * W)
    return {"x": shapes["x"], "w": shapes["w"], "b": (C,), "dout": (N, C, OH, OW), "x_row": (F, N * H * W),
            "w_row": (F, C * KH * KW), "out_col": col, "out_padded": padded, "out": (N, C, OH, OW),
            "dout_padded": padded, "dout_col": col, "dx": shapes["x"], "dw": shapes["w"], "db": (C,)}


def _defaults(shapes: dict[str, tuple[int, ...]], params: dict[str, Any], dtype: Any) -> Arrays:
    if "dout" in shapes:
        return {}
    OH, OW = check_conv_transpose(shapes["x"], shapes["w"], *_geometry(params))
    return {"dout": np.ones((shapes["x"][0], shapes["w"][1], OH, OW), dtype=dtype)}


def _run(arrays: Arrays, params: dict[str, Any], extras: bool = True) -> Arrays:
    out, c = conv_transpose2d_forward(arrays["x"], arrays["w"], arrays["b"], *_geometry(params))
    g = conv_transpose2d_backward(arrays["dout"], c)
    return {"x": arrays["x"], "w": arrays["w"], "b": arrays["b"], "dout": arrays["dout"], "x_row": c.x_row,
            "w_row": c.w_row, "out_col": c.out_col, "out_padded": c.out_padded, "out": out,
            "dout_padded": g.dout_padded, "dout_col": g.dout_col, "dx": g.dx, "dw": g.dw, "db": g.db}


def _tex(value: IntOrPair) -> str:
    return str(value) if isinstance(value, int) else f"({value[0]}, {value[1]})"


def _steps(a: Arrays, params: dict[str, Any]) -> list[Step]:
    s, p, op, d = (_tex(v) for v in _geometry(params))
    N, F, H, W = a["x"].shape
    _, C, OH, OW = a["out"].shape
    tap = r"i s + k_h d,\ j s + k_w d" if d != "1" else r"i s + k_h,\ j s + k_w"
    return [
        Step("forward", "x_row", "Lay the input out as rows, one per input channel",
             r"X_{\text{row}}\big[f,\ (n H + i) W + j\big] = x[n, f, i, j]", {"x": a["x"], "x_row": a["x_row"]}),
        Step("forward", "matmul", "Spread every input pixel over a window through the filters",
             rf"\text{{out}}_{{\text{{col}}}} = W_{{\text{{row}}}}^{{\top}} X_{{\text{{row}}}},\quad"
             rf" ({C * a['w'].shape[2] * a['w'].shape[3]} \times {F}) \cdot ({F} \times {N * H * W})",
             {"w_row": a["w_row"], "x_row": a["x_row"], "out_col": a["out_col"]}),
        Step("forward", "col2im", "Add every column onto its window, s apart (overlaps add)",
             rf"\text{{out}}_{{\text{{pad}}}}[n, c, {tap}] \mathrel{{+}}= "
             rf"\text{{out}}_{{\text{{col}}}}\big[(c K_H + k_h) K_W + k_w,\ (n H + i) W + j\big],\quad s = {s}"
             + (rf",\ d = {d}" if d != "1" else ""),
             {"out_col": a["out_col"], "out_padded": a["out_padded"]}),
        Step("forward", "crop_bias", "Crop the padding and add the bias",
             rf"\text{{out}}[n, c] = \text{{out}}_{{\text{{pad}}}}[n, c, p : p + O_H,\ p : p + O_W] + b_c,"
             rf"\quad p = {p},"
             rf"\ O_H = (H - 1)s - 2p + d(K_H - 1) + {op} + 1 = {OH},\ O_W = {OW}",
             {"out_padded": a["out_padded"], "b": a["b"], "out": a["out"]}),
        Step("backward", "im2col", "Backward is a convolution: pad dout and lay its windows out as columns",
             rf"\text{{dout}}_{{\text{{col}}}} = \operatorname{{im2col}}\big("
             rf"\operatorname{{pad}}_{{{p}}}(\text{{dout}})\big),\quad s = {s}",
             {"dout": a["dout"], "dout_padded": a["dout_padded"], "dout_col": a["dout_col"]}),
        Step("backward", "dx", "Input gradient: the filters times the columns (conv2d's forward)",
             r"\frac{\partial L}{\partial X_{\text{row}}} = W_{\text{row}}\, \text{dout}_{\text{col}}",
             {"w_row": a["w_row"], "dout_col": a["dout_col"], "dx": a["dx"]}),
        Step("backward", "dw", "Filter gradient: input rows times the columns transposed",
             r"\frac{\partial L}{\partial W_{\text{row}}} = X_{\text{row}}\, \text{dout}_{\text{col}}^{\top}",
             {"x_row": a["x_row"], "dout_col": a["dout_col"], "dw": a["dw"]}),
        Step("backward", "db", "Bias gradient: sum dout over N, OH, OW",
             r"\frac{\partial L}{\partial b_c} = \sum_{n, o_h, o_w}"
             r" \frac{\partial L}{\partial \text{out}}[n, c, o_h, o_w]",
             {"dout": a["dout"], "db": a["db"]}),
    ]


def _provenance(arrays: Arrays, params: dict[str, Any], name: str, index: Index) -> dict[str, list[Index]]:
    result = _run(arrays, params)
    check_element(result, "conv_transpose2d", name, index)
    N, F, H, W = result["x"].shape
    _, C, KH, KW = result["w"].shape
    _, _, OH, OW = result["out"].shape
    (sh, sw), (ph, pw), _, (dh, dw) = (pair(v) for v in _geometry(params))
    taps = [(kh, kw) for kh in range(KH) for kw in range(KW)]

    def sources(n: int, c: int, hp: int, wp: int) -> dict[str, list[Index]]:
        """out_padded[n, c, hp, wp] = Σ x[n, f, i, j]·w[f, c, kh, kw] over i·s + kh·d = hp, j·s + kw·d = wp."""
        hits = []
        for kh, kw in taps:
            i, ri = divmod(hp - kh * dh, sh)
            j, rj = divmod(wp - kw * dw, sw)
            if not ri and not rj and 0 <= i < H and 0 <= j < W:
                hits.append((i, j, kh, kw))
        return {"x": [(n, f, i, j) for f in range(F) for i, j, _, _ in hits],
                "w": [(f, c, kh, kw) for f in range(F) for _, _, kh, kw in hits]}

    if name in ("out", "out_padded"):
        n, c, h, w = index
        found = sources(n, c, h + ph, w + pw) if name == "out" else sources(n, c, h, w)
        return {**found, "b": [(c,)]} if name == "out" else found
    if name == "out_col":
        r, col = index
        c, rest = divmod(r, KH * KW)
        kh, kw = divmod(rest, KW)
        n, rest = divmod(col, H * W)
        i, j = divmod(rest, W)
        return {"w": [(f, c, kh, kw) for f in range(F)], "x": [(n, f, i, j) for f in range(F)]}
    if name == "x_row":
        f, col = index
        n, rest = divmod(col, H * W)
        return {"x": [(n, f, *divmod(rest, W))]}
    if name == "w_row":
        f, r = index
        c, rest = divmod(r, KH * KW)
        return {"w": [(f, c, *divmod(rest, KW))]}
    if name == "dout_padded":
        n, c, hp, wp = index
        h, w = hp - ph, wp - pw
        return {"dout": [(n, c, h, w)] if 0 <= h < OH and 0 <= w < OW else []}

    def dout_cell(n: int, c: int, i: int, j: int, kh: int, kw: int) -> list[Index]:
        h, w = i * sh + kh * dh - ph, j * sw + kw * dw - pw
        return [(n, c, h, w)] if 0 <= h < OH and 0 <= w < OW else []

    if name == "dout_col":
        r, col = index
        c, rest = divmod(r, KH * KW)
        kh, kw = divmod(rest, KW)
        n, rest = divmod(col, H * W)
        return {"dout": dout_cell(n, c, *divmod(rest, W), kh, kw)}
    if name == "dx":
        n, f, i, j = index
        pairs = [(c, kh, kw, cell) for c in range(C) for kh, kw in taps for cell in dout_cell(n, c, i, j, kh, kw)]
        return {"dout": [cell for *_, cell in pairs], "w": [(f, c, kh, kw) for c, kh, kw, _ in pairs]}
    if name == "dw":
        f, c, kh, kw = index
        pairs = [((n, f, i, j), cell) for n in range(N) for i in range(H) for j in range(W)
                 for cell in dout_cell(n, c, i, j, kh, kw)]
        return {"x": [xi for xi, _ in pairs], "dout": [cell for _, cell in pairs]}
    if name == "db":
        (c,) = index
        return {"dout": [(n, c, h, w) for n in range(N) for h in range(OH) for w in range(OW)]}
    return {}  # x, w, b, dout are inputs


def _example(rng: np.random.Generator) -> tuple[dict[str, Any], dict[str, Any]]:
    N, F, C = 1, int(rng.integers(1, 3)), int(rng.integers(1, 3))
    return ({"x": np.round(rng.normal(size=(N, F, 2, 2)), 2).tolist(),
             "w": np.round(rng.normal(size=(F, C, 3, 3)), 2).tolist(), "b": np.round(rng.normal(size=C), 2).tolist()},
            {"stride": 2, "pad": 1, "output_padding": 1})


SPECS = (
    OpSpec(
        name="conv_transpose2d",
        title="Transposed convolution",
        inputs=(
            Input("x", (4,), doc="input (N, F, H, W)"),
            Input("w", (4,), doc="filters (F, C, KH, KW): F input channels, C output channels (PyTorch's layout)"),
            Input("b", (1,), doc="one bias per output channel (C,)"),
            Input("dout", (4,), required=False, grad=False, doc="upstream gradient (N, C, OH, OW); ones if missing"),
        ),
        params=(
            Param("stride", int, 1, lo=1, hi=8, pair=True, doc="spacing of the scattered windows, or [height, width]"),
            Param("pad", int, 0, lo=0, hi=8, pair=True, doc="rows/columns cropped from each side, or [height, width]"),
            Param("output_padding", int, 0, lo=0, hi=7, pair=True,
                  doc="rows/columns added at the bottom/right (smaller than the stride), or [height, width]"),
            Param("dilation", int, 1, lo=1, hi=4, pair=True, doc="spacing of the kernel's taps, or [height, width]"),
        ),
        arrays=ARRAYS,
        run=_run,
        check=_check,
        defaults=_defaults,
        steps=_steps,
        provenance=_provenance,
        example=_example,
        shapes=_shapes,
    ),
)
