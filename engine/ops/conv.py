"""2-D convolution (cross-correlation) by im2col, with the notes' naive loops as an oracle.

Layouts follow CONVENTIONS.md: x (N, C, H, W), w (F, C, KH, KW), b (F,), out (N, F, OH, OW),
OH = ⌊(H + 2·pad − dilation·(KH − 1) − 1)/stride⌋ + 1 (stride, pad and dilation each an int or a
(height, width) pair, as PyTorch's Conv2d takes them). im2col (:mod:`engine.ops.im2col`) lays every receptive
field out as one column of x_col (C·KH·KW, N·OH·OW).

Forward is one matrix product, ``out = w_row · x_col + b``. Backward is two more:
``dw = dout_row · x_colᵀ`` and ``dx_col = w_rowᵀ · dout_row``, then col2im scatters dx_col back
(overlapping windows add) and crops the padding. The same dx is also computed a second way —
the full convolution of the stride-dilated upstream gradient with the 180°-rotated kernel — so
the app can show that the two agree; the registry computes it only as an extra (``run(extras=True)``).

When the stride does not divide evenly, the bottom rows / right columns of the padded input
that no window reaches are dropped: they never reach ``out`` and get a gradient of exactly 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.ops.conv_provenance import provenance
from engine.ops.im2col import (
    ConvGeometry,
    IntOrPair,
    col2im,
    conv_output_size,
    dropped,
    im2col,
    pad_input,
    pair,
    window_to_col,
)
from engine.records import Arrays, Index, Input, OpInputError, OpSpec, Param, Step, pick

# ---------------------------------------------------------------------------------------------
# Forward / backward records
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConvCache:
    """What conv2d forward computed and backward reads."""

    x: np.ndarray  # input (N, C, H, W)
    w: np.ndarray  # filters (F, C, KH, KW)
    b: np.ndarray  # biases (F,)
    stride: IntOrPair  # as given: an int or (height, width)
    pad: IntOrPair
    x_padded: np.ndarray  # (N, C, H + 2·pad_h, W + 2·pad_w); x itself without padding
    x_col: np.ndarray  # im2col(x_padded): (C·KH·KW, N·OH·OW)
    w_row: np.ndarray  # w reshaped to (F, C·KH·KW) (a view of w)
    out: np.ndarray  # (N, F, OH, OW)
    OH: int  # output height ⌊(H + 2·pad − KH)/stride⌋ + 1
    OW: int  # output width
    wx_row: np.ndarray | None = None  # w_row · x_col before the bias (F, N·OH·OW), when asked for
    dilation: IntOrPair = 1  # spacing of the kernel's taps: offset kh reads row oh·s + kh·d

    @property
    def dropped_rows(self) -> int:
        """Bottom rows of x_padded that no window reaches (the stride does not divide evenly)."""
        return dropped(self.x_padded.shape[2], self.w.shape[2], pair(self.stride)[0], self.OH, pair(self.dilation)[0])

    @property
    def dropped_cols(self) -> int:
        """Right columns of x_padded that no window reaches."""
        return dropped(self.x_padded.shape[3], self.w.shape[3], pair(self.stride)[1], self.OW, pair(self.dilation)[1])


@dataclass(frozen=True)
class ConvGrads:
    """What conv2d backward computed."""

    dout_row: np.ndarray  # dout as (F, N·OH·OW), columns ordered like x_col's
    dw: np.ndarray  # dout_row · x_colᵀ reshaped to (F, C, KH, KW)
    db: np.ndarray  # Σ dout over N, OH, OW: (F,)
    # the input's gradient: None when backward was asked not to (need_dx=False, a network's first layer)
    dx_col: np.ndarray | None  # w_rowᵀ · dout_row: (C·KH·KW, N·OH·OW)
    dx_padded: np.ndarray | None  # col2im(dx_col): the shape of x_padded
    dx: np.ndarray | None  # dx_padded cropped by pad: (N, C, H, W), a view of dx_padded


@dataclass(frozen=True)
class FullConvRecord:
    """dx the second way: full convolution of the dilated dout with the rotated kernel."""

    dout_dilated: np.ndarray  # dout with stride − 1 zeros between neighbours: (N, F, (OH−1)s+1, (OW−1)s+1)
    dout_padded: np.ndarray  # dout_dilated padded by K' − 1 (plus the dropped rows/cols at the bottom/right)
    w_rot: np.ndarray  # w (with dilation − 1 zeros between its taps: K' = d(K − 1) + 1) rotated 180°,
    # channels swapped: (C, F, K'H, K'W)
    dx_padded: np.ndarray  # dout_padded ⋆ w_rot (valid, stride 1): the shape of x_padded
    dx: np.ndarray  # dx_padded cropped by pad: (N, C, H, W)


def _check_geometry(x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: IntOrPair, pad: IntOrPair,
                    dilation: IntOrPair = 1) -> tuple[int, int]:
    N, C, H, W = x_shape
    F, Cw, KH, KW = w_shape
    (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(pad), pair(dilation)
    if Cw != C:
        raise ValueError(f"w has {Cw} channels but x has {C}")
    if min(sh, sw, dh, dw) < 1 or min(ph, pw) < 0:
        raise ValueError(f"stride and dilation must be ≥ 1 and pad ≥ 0, got stride={stride}, pad={pad}, "
                         f"dilation={dilation}")
    OH, OW = conv_output_size(H, KH, sh, ph, dh), conv_output_size(W, KW, sw, pw, dw)
    if OH < 1 or OW < 1:
        raise ValueError(f"kernel {KH}×{KW} (dilation {dilation}) is larger than the padded input "
                         f"{H + 2 * ph}×{W + 2 * pw}")
    return OH, OW


def conv2d_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: IntOrPair = 1, pad: IntOrPair = 0, *,
                   dilation: IntOrPair = 1, keep_product: bool = False):
    """out = w_row · x_col + b, reshaped to (N, F, OH, OW). Returns (out, ConvCache).

    ``out`` is a (N, F, OH, OW) view of the (F, N·OH·OW) product — no copy; a gradient made
    elementwise from it keeps that layout, which makes backward's dout_row free.
    ``keep_product`` also keeps w_row · x_col before the bias (``cache.wx_row``) for the
    step-by-step view; the fast path skips that copy.
    """
    OH, OW = _check_geometry(x.shape, w.shape, stride, pad, dilation)
    N = x.shape[0]
    F, C, KH, KW = w.shape
    x_padded = pad_input(x, pad)
    x_col = im2col(x_padded, KH, KW, stride, dilation)
    w_row = w.reshape(F, C * KH * KW)
    out_row = w_row @ x_col
    wx_row = out_row.copy() if keep_product else None
    out_row += b[:, None]
    out = out_row.reshape(F, N, OH, OW).transpose(1, 0, 2, 3)
    return out, ConvCache(x, w, b, stride, pad, x_padded, x_col, w_row, out, OH, OW, wx_row, dilation)


def conv2d_forward_naive(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: IntOrPair = 1, pad: IntOrPair = 0, *,
                         dilation: IntOrPair = 1, keep_product: bool = False):
    """The notes' conv_forward_naive: slide each filter over each window (a test oracle).

    Same signature and record as :func:`conv2d_forward`; every cached array is built by
    plain loops over output pixels, independently of pad_input / im2col.
    """
    OH, OW = _check_geometry(x.shape, w.shape, stride, pad, dilation)
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(pad), pair(dilation)
    dtype = np.result_type(x, w, b)
    x_padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
    x_col = np.empty((C * KH * KW, N * OH * OW), dtype=x.dtype)
    wx_row = np.empty((F, N * OH * OW), dtype=dtype)
    out = np.empty((N, F, OH, OW), dtype=dtype)
    for n in range(N):
        for oh in range(OH):
            for ow in range(OW):
                top, left = oh * sh, ow * sw
                window = x_padded[n, :, top:top + dh * (KH - 1) + 1:dh, left:left + dw * (KW - 1) + 1:dw]
                j = window_to_col(n, oh, ow, OH, OW)
                x_col[:, j] = window.reshape(-1)
                for f in range(F):
                    wx_row[f, j] = np.sum(window * w[f])
                    out[n, f, oh, ow] = wx_row[f, j] + b[f]
    w_row = w.reshape(F, C * KH * KW)
    return out, ConvCache(x, w, b, stride, pad, x_padded, x_col, w_row, out, OH, OW,
                          wx_row if keep_product else None, dilation)


def conv2d_backward(dout: np.ndarray, cache: ConvCache, need_dx: bool = True) -> ConvGrads:
    """dw = dout_row · x_colᵀ, db = Σ dout, dx_col = w_rowᵀ · dout_row, dx = crop(col2im(dx_col)).

    ``need_dx=False`` (a network's first layer, whose input needs no gradient) stops after dw and db.
    """
    w = cache.w
    F, C, KH, KW = w.shape
    N, _, H, W = cache.x.shape
    if dout.shape != (N, F, cache.OH, cache.OW):
        raise ValueError(f"dout has shape {dout.shape}, expected {(N, F, cache.OH, cache.OW)}")
    # Free when dout is F-major (as out itself is); otherwise one copy.
    dout_row = dout.transpose(1, 0, 2, 3).reshape(F, -1)
    dw = (dout_row @ cache.x_col.T).reshape(w.shape)  # x_col.T is a view: BLAS reads it transposed
    db = dout_row.sum(axis=1)
    if not need_dx:
        return ConvGrads(dout_row, dw, db, None, None, None)
    dx_col = cache.w_row.T @ dout_row
    dx_padded = col2im(dx_col, cache.x_padded.shape, KH, KW, cache.stride, cache.dilation)
    ph, pw = pair(cache.pad)
    dx = dx_padded[:, :, ph:ph + H, pw:pw + W]  # a view: cropping copies nothing
    return ConvGrads(dout_row, dw, db, dx_col, dx_padded, dx)


def rotate_kernel(w: np.ndarray) -> np.ndarray:
    """w rotated by 180° in (KH, KW) with the channel axes swapped: (C, F, KH, KW).

    w_rot[c, f, kh, kw] = w[f, c, KH − 1 − kh, KW − 1 − kw] (004's flip(K)).
    """
    return w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)


def dilate_kernel(w: np.ndarray, dilation: IntOrPair) -> np.ndarray:
    """w with dilation − 1 zeros between neighbouring taps: (F, C, d(KH − 1) + 1, d(KW − 1) + 1); w itself at 1."""
    dh, dw = pair(dilation)
    if dh == dw == 1:
        return w
    F, C, KH, KW = w.shape
    out = np.zeros((F, C, dh * (KH - 1) + 1, dw * (KW - 1) + 1), dtype=w.dtype)
    out[:, :, ::dh, ::dw] = w
    return out


def conv2d_full_conv(dout: np.ndarray, w: np.ndarray, x_shape: tuple[int, ...], stride: IntOrPair,
                     pad: IntOrPair, dilation: IntOrPair = 1) -> FullConvRecord:
    """dx as the full convolution of the stride-dilated dout with the rotated kernel, with its parts.

    Dilate dout (stride − 1 zeros between neighbours), pad by K' − 1 on every side (K' the kernel
    with its own dilation spread out) — and by the dropped rows/columns more at the bottom/right,
    so that input rows no window reached get gradient 0 — cross-correlate with w_rot at stride 1,
    then crop ``pad``. Computed by a loop over kernel offsets, independently of im2col/col2im.
    """
    N, F, OH, OW = dout.shape
    w = dilate_kernel(w, dilation)
    _, C, KH, KW = w.shape
    _, _, H, W = x_shape
    (sh, sw), (ph, pw) = pair(stride), pair(pad)
    Hp, Wp = H + 2 * ph, W + 2 * pw
    extra_h, extra_w = dropped(Hp, KH, sh, OH), dropped(Wp, KW, sw, OW)
    dtype = np.result_type(dout, w)
    dout_dilated = np.zeros((N, F, (OH - 1) * sh + 1, (OW - 1) * sw + 1), dtype=dtype)
    dout_dilated[:, :, ::sh, ::sw] = dout
    dout_padded = np.pad(dout_dilated, ((0, 0), (0, 0), (KH - 1, KH - 1 + extra_h), (KW - 1, KW - 1 + extra_w)))
    w_rot = rotate_kernel(w)
    dx_padded = np.zeros((N, C, Hp, Wp), dtype=dtype)
    for kh in range(KH):
        for kw in range(KW):
            window = dout_padded[:, :, kh:kh + Hp, kw:kw + Wp]  # (N, F, Hp, Wp)
            dx_padded += np.einsum("nfhw,cf->nchw", window, w_rot[:, :, kh, kw])
    dx = np.ascontiguousarray(dx_padded[:, :, ph:ph + H, pw:pw + W])
    return FullConvRecord(dout_dilated, dout_padded, np.ascontiguousarray(w_rot), dx_padded, dx)


def conv2d_dx_full_conv(dout: np.ndarray, w: np.ndarray, x_shape: tuple[int, ...], stride: IntOrPair,
                        pad: IntOrPair, dilation: IntOrPair = 1) -> np.ndarray:
    """dx = crop_pad(pad_{K'−1}(dilate_stride(dout)) ⋆ rot180(dilate_d(w))): equals conv2d_backward's dx."""
    return conv2d_full_conv(dout, w, x_shape, stride, pad, dilation).dx


# ---------------------------------------------------------------------------------------------
# Registry spec
# ---------------------------------------------------------------------------------------------


EXTRAS = ("wx_row", "dout_dilated", "dout_padded", "w_rot", "dx_full_conv")  # display only: run(extras=True)


def _run(arrays: Arrays, params: dict[str, Any], extras: bool = True) -> Arrays:
    """Forward, backward and (``extras``) the product before the bias and dx by full convolution."""
    stride, pad, dilation = params["stride"], params["pad"], params.get("dilation", 1)
    _, cache = conv2d_forward(arrays["x"], arrays["w"], arrays["b"], stride, pad, dilation=dilation,
                              keep_product=extras)
    grads = conv2d_backward(arrays["dout"], cache)
    full = conv2d_full_conv(arrays["dout"], arrays["w"], arrays["x"].shape, stride, pad, dilation) if extras else None
    result = {
        "x": cache.x, "w": cache.w, "b": cache.b, "dout": arrays["dout"], "x_padded": cache.x_padded,
        "x_col": cache.x_col, "w_row": cache.w_row, "wx_row": cache.wx_row, "out": cache.out,
        "dout_row": grads.dout_row, "dw": grads.dw, "db": grads.db, "dx_col": grads.dx_col,
        "dx_padded": grads.dx_padded, "dx": grads.dx,
    }
    if full is not None:
        result.update(dout_dilated=full.dout_dilated, dout_padded=full.dout_padded, w_rot=full.w_rot,
                      dx_full_conv=full.dx)
    else:
        del result["wx_row"]
    result.update(dropped_rows=np.array(cache.dropped_rows), dropped_cols=np.array(cache.dropped_cols))
    return result


ARRAYS = ("x", "w", "b", "dout", "x_padded", "x_col", "w_row", "wx_row", "out", "dout_row", "dw", "db",
          "dx_col", "dx_padded", "dx", "dout_dilated", "dout_padded", "w_rot", "dx_full_conv",
          "dropped_rows", "dropped_cols")


def _out_shape(shapes: dict[str, tuple[int, ...]], params: dict[str, Any]) -> tuple[int, int, int, int]:
    N, _, H, W = shapes["x"]
    F, _, KH, KW = shapes["w"]
    (sh, sw), (ph, pw), (dh, dw) = pair(params["stride"]), pair(params["pad"]), pair(params.get("dilation", 1))
    return N, F, conv_output_size(H, KH, sh, ph, dh), conv_output_size(W, KW, sw, pw, dw)


def _defaults(shapes: dict[str, tuple[int, ...]], params: dict[str, Any], dtype) -> Arrays:
    if "dout" in shapes:
        return {}
    shape = _out_shape(shapes, params)
    if min(shape) < 1:
        return {}  # check() explains why there is no output
    return {"dout": np.ones(shape, dtype=dtype)}


def _check(shapes: dict[str, tuple[int, ...]], params: dict[str, Any]) -> None:
    N, C, H, W = shapes["x"]
    F, Cw, KH, KW = shapes["w"]
    (sh, sw), (ph, pw), (dh, dw) = pair(params["stride"]), pair(params["pad"]), pair(params.get("dilation", 1))
    if Cw != C:
        raise OpInputError("inputs.w", f"has {Cw} input channel{'s' * (Cw != 1)} (shape {list(shapes['w'])}) "
                           f"but x has {C}: w must be (F, C, KH, KW) = ({F}, {C}, {KH}, {KW})")
    if shapes["b"] != (F,):
        raise OpInputError("inputs.b", f"must hold one bias per filter: shape [{F}] for w with F = {F} filters, "
                           f"got shape {list(shapes['b'])}")
    for axis, size, k, name, letter, s, p, d in (("height", H, KH, "KH", "H", sh, ph, dh),
                                                  ("width", W, KW, "KW", "W", sw, pw, dw)):
        oh = conv_output_size(size, k, s, p, d)
        if oh < 1:
            reach = f"{k}" if d == 1 else f"{d}·({k} − 1) + 1 = {d * (k - 1) + 1}"
            raise OpInputError(
                "inputs.w",
                f"kernel {axis} {name} = {reach} is larger than the padded input {axis} {letter} + 2·pad = "
                f"{size} + 2·{p} = {size + 2 * p}: output {axis} would be "
                f"⌊({size} + 2·{p} − {d * (k - 1) + 1})/{s}⌋ + 1 = {oh}, below 1; use a smaller kernel or more "
                "padding")
    want = _out_shape(shapes, params)
    if "dout" not in shapes:
        raise OpInputError("inputs.dout", f"is required with shape {list(want)}")
    if tuple(shapes["dout"]) != want:
        raise OpInputError("inputs.dout", f"must have the shape of out, (N, F, OH, OW) = {list(want)}; "
                           f"got {list(shapes['dout'])}")


def _shapes(shapes: dict[str, tuple[int, ...]], params: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """The shape of every array :func:`_run` answers (ConvGeometry.shapes)."""
    return ConvGeometry.of(shapes["x"], shapes["w"], params["stride"], params["pad"],
                           params.get("dilation", 1)).shapes()


def _tex_pair(value: IntOrPair) -> str:
    """A stride, pad or dilation as a formula writes it: 2, or (2, 1) for a (height, width) pair."""
    return str(value) if isinstance(value, int) else f"({value[0]}, {value[1]})"


def _steps(a: Arrays, params: dict[str, Any]) -> list[Step]:
    """The steps of what :func:`_run` computed (with its extras), from its arrays."""
    s, p, d = _tex_pair(params["stride"]), _tex_pair(params["pad"]), params.get("dilation", 1)
    F, C, KH, KW = a["w"].shape
    N, _, OH, OW = a["out"].shape
    dilated = pair(d) != (1, 1)
    geo = rf"\quad s = {s},\ p = {p},\ O_H = {OH},\ O_W = {OW}" + (rf",\ d = {_tex_pair(d)}" if dilated else "")
    tap = (r"o_h s + k_h d, o_w s + k_w d" if dilated else r"o_h s + k_h, o_w s + k_w")
    return [
        Step("forward", "pad", "Pad the input with zeros",
             rf"x_{{\text{{pad}}}}[n, c, h + p, w + p] = x[n, c, h, w],\quad p = {p}", pick(a, "x", "x_padded")),
        Step("forward", "im2col", "Lay every window out as a column (im2col)",
             r"X_{\text{col}}\big[(c K_H + k_h) K_W + k_w,\ (n O_H + o_h) O_W + o_w\big]"
             rf" = x_{{\text{{pad}}}}[n, c, {tap}]" + geo, pick(a, "x_padded", "x_col")),
        Step("forward", "matmul", "Multiply the flattened filters by the columns",
             rf"Z = W_{{\text{{row}}}}\, X_{{\text{{col}}}},\quad ({F} \times {C * KH * KW})"
             rf"\cdot ({C * KH * KW} \times {N * OH * OW})", pick(a, "w", "w_row", "x_col", "wx_row")),
        Step("forward", "bias", "Add the bias and reshape to (N, F, OH, OW)",
             r"\text{out}[n, f, o_h, o_w] = Z\big[f,\ (n O_H + o_h) O_W + o_w\big] + b_f",
             pick(a, "wx_row", "b", "out")),
        Step("backward", "dout_row", "Reshape the upstream gradient to rows, one per filter",
             r"\delta_{\text{row}}\big[f,\ (n O_H + o_h) O_W + o_w\big]"
             r" = \frac{\partial L}{\partial \text{out}}[n, f, o_h, o_w]", pick(a, "dout", "dout_row")),
        Step("backward", "dw", "Filter gradient: upstream rows times the columns transposed",
             r"\frac{\partial L}{\partial W_{\text{row}}} = \delta_{\text{row}}\, X_{\text{col}}^{\top},\quad"
             r" \frac{\partial L}{\partial W} = \operatorname{reshape}_{F \times C \times K_H \times K_W}"
             r"\Big(\frac{\partial L}{\partial W_{\text{row}}}\Big)", pick(a, "dout_row", "x_col", "dw")),
        Step("backward", "db", "Bias gradient: sum the upstream gradient over N, OH, OW",
             r"\frac{\partial L}{\partial b_f}"
             r" = \sum_{n, o_h, o_w} \frac{\partial L}{\partial \text{out}}[n, f, o_h, o_w]", pick(a, "dout", "db")),
        Step("backward", "dx_col", "Column gradient: the filters transposed times the upstream rows",
             r"\frac{\partial L}{\partial X_{\text{col}}} = W_{\text{row}}^{\top}\, \delta_{\text{row}}",
             pick(a, "w_row", "dout_row", "dx_col")),
        Step("backward", "col2im", "Add every column back onto its window (col2im), then crop the padding",
             rf"dx_{{\text{{pad}}}}[n, c, {tap}] \mathrel{{+}}="
             r" dX_{\text{col}}\big[(c K_H + k_h) K_W + k_w,\ (n O_H + o_h) O_W + o_w\big],"
             rf"\quad dx = dx_{{\text{{pad}}}}[:, :, p : p + H,\ p : p + W],\ p = {p}",
             pick(a, "dx_col", "dx_padded", "dx")),
        Step("backward", "full_conv", "The same dx as a full convolution with the rotated kernel",
             r"W^{\text{rot}}[c, f, k_h, k_w] = W[f, c, K_H - 1 - k_h, K_W - 1 - k_w],\quad"
             r" dx = \operatorname{crop}_p\Big(\operatorname{pad}_{K - 1}\big(\operatorname{dilate}_s(\delta)\big)"
             r" \star W^{\text{rot}}\Big)" + rf",\quad s = {s},\ p = {p}"
             + (rf",\ W \text{{ spread by }} d = {_tex_pair(d)}" if dilated else ""),
             pick(a, "dout", "dout_dilated", "dout_padded", "w", "w_rot", "dx_full_conv", "dx")),
    ]


def _provenance(arrays: Arrays, params: dict[str, Any], array: str, index: Index) -> dict[str, list[Index]]:
    """Which cells a cell of ``array`` was computed from (engine/ops/conv_provenance.py)."""
    if array not in ARRAYS:
        raise OpInputError("array", f"conv2d has no array {array!r}; arrays: {', '.join(ARRAYS)}")
    return provenance(arrays, params, array, index)


def _example(rng: np.random.Generator) -> tuple[dict[str, Any], dict[str, Any]]:
    N, C, F = (int(v) for v in rng.integers(1, 3, size=3))
    H, W = (int(v) for v in rng.integers(4, 7, size=2))
    KH, KW = (int(v) for v in rng.integers(2, 4, size=2))
    params = {"stride": int(rng.integers(1, 3)), "pad": int(rng.integers(0, 2))}
    inputs = {
        "x": np.round(rng.normal(size=(N, C, H, W)), 2).tolist(),
        "w": np.round(rng.normal(size=(F, C, KH, KW)), 2).tolist(),
        "b": np.round(rng.normal(size=F), 2).tolist(),
    }
    return inputs, params


SPECS = (
    OpSpec(
        name="conv2d",
        title="2-D convolution (im2col)",
        inputs=(
            Input("x", (4,), doc="input images (N, C, H, W)"),
            Input("w", (4,), doc="filters (F, C, KH, KW)"),
            Input("b", (1,), doc="one bias per filter (F,)"),
            Input("dout", (4,), required=False, grad=False,
                  doc="upstream gradient ∂L/∂out (N, F, OH, OW); all ones when missing"),
        ),
        params=(
            Param("stride", int, 1, lo=1, hi=8, pair=True,
                  doc="step between neighbouring windows: an int, or [height, width]"),
            Param("pad", int, 0, lo=0, hi=8, pair=True,
                  doc="zeros added on each side: an int (every side), or [height, width] (top and bottom, "
                      "left and right)"),
            Param("dilation", int, 1, lo=1, hi=4, pair=True,
                  doc="spacing of the kernel's taps (1: adjacent): an int, or [height, width]"),
        ),
        arrays=ARRAYS,
        run=_run,
        check=_check,
        defaults=_defaults,
        objective="out",
        steps=_steps,
        provenance=_provenance,
        example=_example,
        extras=EXTRAS,
        shapes=_shapes,
    ),
)
