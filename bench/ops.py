"""Single ops, forward + backward, against straight-line references timed in the same run.

conv2d (the lean path: ``conv2d_forward`` + ``conv2d_backward``, none of the registry's
extras) is compared with its floor — the three matrix products it cannot avoid, on arrays of
the same shapes, into preallocated outputs — and with PyTorch. maxpool, batchnorm (train)
and softmax cross-entropy are compared with the same math written as straight-line NumPy
and with PyTorch, on their lean paths too: no display extras (maxpool ``keep_windows=False``,
batchnorm ``staged=False`` forward and backward, softmax-CE backward ``jacobian=False``).
Inputs are standard C-contiguous NCHW arrays, the upstream gradient too (the general case:
a gradient made elementwise from conv's own output would be F-major, which makes conv
backward's ``dout_row`` free).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.report import Row, Table, ratio_row
from bench.timing import Settings, interleaved
from engine.ops.batchnorm import batchnorm_backward, batchnorm_forward
from engine.ops.conv import conv2d_backward, conv2d_forward
from engine.ops.pool import maxpool2d_backward, maxpool2d_forward
from engine.ops.softmax import softmax_cross_entropy_backward, softmax_cross_entropy_forward

Fn = Callable[[], object]

CONV_SHAPES = ((32, 8, 28, 16, 3, 1), (16, 16, 14, 32, 3, 1))  # (N, C, H=W, F, K, pad)
POOL_SHAPE = (32, 16, 28, 28)
BN_SHAPE = (32, 16, 28, 28)
SOFTMAX_SHAPE = (256, 10)
FLOOR_LIMIT = 1.3  # conv fwd+bwd at most this many times its three matrix products (issue 12, target 6)
TORCH_LIMIT = 1.3  # maxpool and softmax-CE at most this many times PyTorch CPU, at float64
CONV_TORCH_LIMITS = {"float64": 1.0, "float32": 1.5}  # issue 12: conv ≤ 1.0× PyTorch at float64, ≤ 1.5× at float32
BN_TORCH_LIMIT = 1.2  # issue 12: batch norm (train, forward + backward) ≤ 1.2× PyTorch, at float64


@dataclass
class Case:
    name: str
    candidate: Fn
    references: dict[str, Fn]  # label -> callable
    limits: dict[str, float | None]  # label -> the ratio to stay under (None: information only)


def _torch_tensors(torch: Any, *arrays: np.ndarray, grad: tuple[bool, ...]) -> list[Any]:
    return [torch.from_numpy(np.ascontiguousarray(a)).requires_grad_(g) for a, g in zip(arrays, grad, strict=True)]


# --- conv2d ---------------------------------------------------------------------------------


def conv_case(shape: tuple[int, int, int, int, int, int], dtype: Any, torch: Any = None, seed: int = 0) -> Case:
    n, c, hw, f, k, pad = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, hw, hw)).astype(dtype)
    w = rng.standard_normal((f, c, k, k)).astype(dtype)
    b = rng.standard_normal(f).astype(dtype)
    oh = hw + 2 * pad - k + 1
    dout = rng.standard_normal((n, f, oh, oh)).astype(dtype)

    def candidate() -> object:
        _, cache = conv2d_forward(x, w, b, 1, pad)
        return conv2d_backward(dout, cache)

    # the floor: w_row·x_col, dout_row·x_colᵀ, w_rowᵀ·dout_row on arrays of the engine's shapes
    m = n * oh * oh
    w_row = w.reshape(f, c * k * k)
    x_col = rng.standard_normal((c * k * k, m)).astype(dtype)
    dout_row = rng.standard_normal((f, m)).astype(dtype)
    out_row, dw_row, dx_col = np.empty((f, m), dtype), np.empty((f, c * k * k), dtype), np.empty((c * k * k, m), dtype)

    def floor() -> object:
        np.matmul(w_row, x_col, out=out_row)
        np.matmul(dout_row, x_col.T, out=dw_row)
        np.matmul(w_row.T, dout_row, out=dx_col)
        return dx_col

    refs: dict[str, Fn] = {"floor (3 matmuls)": floor}
    limits: dict[str, float | None] = {"floor (3 matmuls)": FLOOR_LIMIT}
    if torch is not None:
        xt, wt, bt = _torch_tensors(torch, x, w, b, grad=(True, True, True))
        dt = torch.from_numpy(dout)
        conv2d = torch.nn.functional.conv2d

        def torch_ref() -> object:
            out = conv2d(xt, wt, bt, stride=1, padding=pad)
            return torch.autograd.grad(out, (xt, wt, bt), dt)

        refs["torch"] = torch_ref
        limits["torch"] = CONV_TORCH_LIMITS.get(np.dtype(dtype).name)
    name = f"conv2d N{n} C{c} {hw}x{hw} F{f} k{k} p{pad}"
    return Case(name, candidate, refs, limits)


def conv_stages(table: Table, shape: tuple[int, int, int, int, int, int], dtype: Any, settings: Settings
                ) -> list[Row]:
    """Where conv2d's time over its floor goes: each stage of the lean path timed alone, interleaved with
    the floor, as a share of it (information rows: the profile behind a MISS against the floor)."""
    from engine.ops.im2col import col2im, im2col, pad_input

    n, c, hw, f, k, pad = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, hw, hw)).astype(dtype)
    w = rng.standard_normal((f, c, k, k)).astype(dtype)
    b = rng.standard_normal(f).astype(dtype)
    oh = hw + 2 * pad - k + 1
    dout = rng.standard_normal((n, f, oh, oh)).astype(dtype)
    x_padded = pad_input(x, pad)
    x_col = im2col(x_padded, k, k, 1)
    w_row = w.reshape(f, -1)
    dout_row = dout.transpose(1, 0, 2, 3).reshape(f, -1)
    dx_col = w_row.T @ dout_row
    out_row, dw_row = np.empty((f, x_col.shape[1]), dtype), np.empty((f, x_col.shape[0]), dtype)
    dx_out = np.empty_like(dx_col)

    def floor() -> object:
        np.matmul(w_row, x_col, out=out_row)
        np.matmul(dout_row, x_col.T, out=dw_row)
        return np.matmul(w_row.T, dout_row, out=dx_out)

    def small() -> object:  # the bias, dout as rows (a copy: dout is NCHW), db
        out_row.__iadd__(b[:, None])
        return dout.transpose(1, 0, 2, 3).reshape(f, -1).sum(axis=1)

    stages = {"floor": floor, "pad": lambda: pad_input(x, pad), "im2col": lambda: im2col(x_padded, k, k, 1),
              "col2im": lambda: col2im(dx_col, x_padded.shape, k, k, 1), "bias+dout_row+db": small}
    timings = interleaved(stages, settings)
    ref = timings["floor"].median
    name = f"conv2d N{n} C{c} {hw}x{hw} F{f} k{k} p{pad} {np.dtype(dtype).name}"
    return [table.add(ratio_row(f"{name} stage {label}", "floor (3 matmuls)", t.median, ref, None,
                                note="this stage alone, as a share of the floor"))
            for label, t in timings.items() if label != "floor"]


# --- maxpool --------------------------------------------------------------------------------


def maxpool_case(shape: tuple[int, int, int, int], dtype: Any, torch: Any = None, seed: int = 1) -> Case:
    n, c, h, w = shape
    k = 2
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    oh, ow = h // k, w // k
    dout = rng.standard_normal((n, c, oh, ow)).astype(dtype)

    def candidate() -> object:
        _, cache = maxpool2d_forward(x, k, k, keep_windows=False)  # windows: a display extra
        return maxpool2d_backward(dout, cache)

    def numpy_ref() -> object:
        """Non-overlapping windows by reshape: argmax over each window (first max), route dout back."""
        windows = x[:, :, :oh * k, :ow * k].reshape(n, c, oh, k, ow, k).transpose(0, 1, 2, 4, 3, 5)
        flat = windows.reshape(n, c, oh, ow, k * k)  # one copy
        arg = flat.argmax(axis=-1)[..., None]
        out = np.take_along_axis(flat, arg, axis=-1)[..., 0]
        dflat = np.zeros_like(flat)
        np.put_along_axis(dflat, arg, dout[..., None], axis=-1)
        dx = np.zeros_like(x)
        dx[:, :, :oh * k, :ow * k] = dflat.reshape(n, c, oh, ow, k, k).transpose(0, 1, 2, 4, 3, 5).reshape(
            n, c, oh * k, ow * k)
        return out, dx

    refs: dict[str, Fn] = {"numpy reshape-max": numpy_ref}
    limits: dict[str, float | None] = {"numpy reshape-max": None}
    if torch is not None:
        (xt,) = _torch_tensors(torch, x, grad=(True,))
        dt = torch.from_numpy(dout)
        max_pool2d = torch.nn.functional.max_pool2d

        def torch_ref() -> object:
            return torch.autograd.grad(max_pool2d(xt, k, k), (xt,), dt)

        refs["torch"] = torch_ref
        limits["torch"] = TORCH_LIMIT if np.dtype(dtype) == np.float64 else None
    return Case(f"maxpool2d 2x2 s2 {'x'.join(map(str, shape))}", candidate, refs, limits)


# --- batchnorm ------------------------------------------------------------------------------


def batchnorm_case(shape: tuple[int, int, int, int], dtype: Any, torch: Any = None, seed: int = 2) -> Case:
    n, c, h, w = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    gamma = rng.uniform(0.5, 1.5, c).astype(dtype)
    beta = rng.standard_normal(c).astype(dtype)
    rm, rv = np.zeros(c, dtype), np.ones(c, dtype)
    dout = rng.standard_normal(shape).astype(dtype)
    eps, momentum = 1e-5, 0.1
    count = n * h * w

    def candidate() -> object:
        # the lean path: no copy of x or x − μ kept, the compact dx only (the staged route is for display)
        _, cache = batchnorm_forward(x, gamma, beta, rm, rv, eps=eps, momentum=momentum, mode="train", staged=False)
        return batchnorm_backward(dout, cache, staged=False)

    def numpy_ref() -> object:
        """The same math, straight-line: batch statistics, x̂, out, running stats, the compact dx."""
        axes = (0, 2, 3)
        mean = x.mean(axis=axes)
        x_mu = x - mean[:, None, None]
        var = np.einsum("nchw,nchw->c", x_mu, x_mu) / count
        std = np.sqrt(var + eps)
        x_hat = x_mu / std[:, None, None]
        out = gamma[:, None, None] * x_hat + beta[:, None, None]
        running = (1 - momentum) * rm + momentum * mean, (1 - momentum) * rv + momentum * var * (count / (count - 1))
        dbeta = dout.sum(axis=axes)
        dgamma = np.einsum("nchw,nchw->c", dout, x_hat)
        dx = count * dout
        dx -= dbeta[:, None, None]
        dx -= x_hat * dgamma[:, None, None]
        dx *= (gamma / (count * std))[:, None, None]
        return out, running, dx, dgamma, dbeta

    refs: dict[str, Fn] = {"numpy straight-line": numpy_ref}
    limits: dict[str, float | None] = {"numpy straight-line": None}
    if torch is not None:
        xt, gt, bt = _torch_tensors(torch, x, gamma, beta, grad=(True, True, True))
        rmt, rvt = torch.from_numpy(rm.copy()), torch.from_numpy(rv.copy())
        dt = torch.from_numpy(dout)
        batch_norm = torch.nn.functional.batch_norm

        def torch_ref() -> object:
            out = batch_norm(xt, rmt, rvt, gt, bt, training=True, momentum=momentum, eps=eps)
            return torch.autograd.grad(out, (xt, gt, bt), dt)

        refs["torch"] = torch_ref
        limits["torch"] = BN_TORCH_LIMIT if np.dtype(dtype) == np.float64 else None
    return Case(f"batchnorm train {'x'.join(map(str, shape))}", candidate, refs, limits)


# --- softmax cross-entropy ------------------------------------------------------------------


def softmax_case(shape: tuple[int, int], dtype: Any, torch: Any = None, seed: int = 3) -> Case:
    n, k = shape
    rng = np.random.default_rng(seed)
    logits = (2 * rng.standard_normal(shape)).astype(dtype)
    labels = rng.integers(0, k, n)

    def candidate() -> object:
        _, cache = softmax_cross_entropy_forward(logits, labels)
        return softmax_cross_entropy_backward(cache, jacobian=False)  # the Jacobian route is for display

    rows = np.arange(n)

    def numpy_ref() -> object:
        """Stable log-softmax, mean NLL, fused gradient (p − onehot)/N."""
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        sum_exp = exp.sum(axis=1)
        loss = np.mean(np.log(sum_exp) - shifted[rows, labels])
        dlogits = exp / sum_exp[:, None]
        dlogits[rows, labels] -= 1
        dlogits /= n
        return loss, dlogits

    refs: dict[str, Fn] = {"numpy fused": numpy_ref}
    limits: dict[str, float | None] = {"numpy fused": None}
    if torch is not None:
        (lt,) = _torch_tensors(torch, logits, grad=(True,))
        yt = torch.from_numpy(labels)
        cross_entropy = torch.nn.functional.cross_entropy

        def torch_ref() -> object:
            return torch.autograd.grad(cross_entropy(lt, yt), (lt,))

        refs["torch"] = torch_ref
        limits["torch"] = TORCH_LIMIT if np.dtype(dtype) == np.float64 else None
    return Case(f"softmax-CE {n}x{k}", candidate, refs, limits)


# --- running a case -------------------------------------------------------------------------


def run_case(table: Table, case: Case, dtype: Any, settings: Settings, torch_missing: bool) -> list[Row]:
    """Time the candidate interleaved with its references; one row per reference."""
    fns = {"candidate": case.candidate, **case.references}
    timings = interleaved(fns, settings)
    cand = timings["candidate"]
    name = f"{case.name} {np.dtype(dtype).name}"
    rows = []
    for label in case.references:
        ref = timings[label]
        rows.append(table.add(ratio_row(name, label, cand.median, ref.median, case.limits[label],
                                        spread={"candidate": cand.spread, "reference": ref.spread})))
    if torch_missing:
        rows.append(table.add(Row(name, "torch", cand.median, None, "", "skip", note="torch not installed")))
    return rows


def run(table: Table, settings: Settings, torch: Any = None, dtypes: tuple[Any, ...] = (np.float64, np.float32),
        conv_shapes: tuple = CONV_SHAPES, pool_shape: tuple = POOL_SHAPE, bn_shape: tuple = BN_SHAPE,
        softmax_shape: tuple = SOFTMAX_SHAPE, stages: bool = False) -> list[Row]:
    """Every case's rows; ``stages``: conv2d's stage profile too (:func:`conv_stages`)."""
    rows = []
    for dtype in dtypes:
        cases = [conv_case(s, dtype, torch) for s in conv_shapes]
        cases += [maxpool_case(pool_shape, dtype, torch), batchnorm_case(bn_shape, dtype, torch),
                  softmax_case(softmax_shape, dtype, torch)]
        for case in cases:
            rows += run_case(table, case, dtype, settings, torch is None)
        if stages:
            for shape in conv_shapes:
                rows += conv_stages(table, shape, dtype, settings)
    return rows
