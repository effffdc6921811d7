"""The lean training path: forward, backward and one optimizer update, nothing kept.

:func:`train_step` computes exactly the math of :mod:`engine.network.trace` (the ops' forward and
backward pairs, and :func:`engine.optim.rules.optimizer_step` for the update) but keeps no
records: no caches, no step arrays, no dx for the first layer, and no fresh activation
arrays per step. Activations live in a :class:`Workspace` of buffers reused from step to
step, because on this machine allocating and freeing ~128 KB arrays every step costs more
in page faults than the arithmetic. Image tensors are kept channel-major (C, N, H, W)
inside, which is the layout im2col reads and the conv product writes, so no layer
transposes; flatten puts the (N, C·H·W) rows back in CONVENTIONS.md's order.

The tests check this path against :func:`engine.network.trace.backward` layer type by layer
type (ties in max-pooling included): both must give the same gradients.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from engine.network.model import (
    AvgPool2d,
    BatchNorm,
    Conv2d,
    Dropout,
    Flatten,
    Layer,
    Linear,
    MaxPool2d,
    Model,
    Relu,
    Residual,
    as_model,
    check_batch,
    check_params,
    check_seed,
    dropout_seed,
    layer_field,
)
from engine.ops import norm
from engine.optim import rules as optim
from engine.records import OpInputError


class Workspace:
    """Scratch buffers by name, reused across steps of one (model, batch shape, dtype)."""

    def __init__(self) -> None:
        self._buffers: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: Any, zero: bool = False) -> np.ndarray:
        buf = self._buffers.get(name)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = self._buffers[name] = np.zeros(shape, dtype) if zero else np.empty(shape, dtype)
        elif zero:
            buf.fill(0)
        return buf

    def zeros_once(self, name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """A buffer zeroed only when created: for padding borders nothing else writes."""
        buf = self._buffers.get(name)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = self._buffers[name] = np.zeros(shape, dtype)
        return buf


_local = threading.local()  # per thread: a workspace is scratch, never shared between threads
_MAX_WORKSPACES = 4


def _workspace(key: tuple) -> Workspace:
    cache = getattr(_local, "workspaces", None)
    if cache is None:
        cache = _local.workspaces = OrderedDict()
    ws = cache.get(key)
    if ws is None:
        ws = cache[key] = Workspace()
        while len(cache) > _MAX_WORKSPACES:
            cache.popitem(last=False)
    else:
        cache.move_to_end(key)
    return ws


def _slice(x: np.ndarray, k0: int, k1: int, s: int, oh: int, ow: int) -> np.ndarray:
    """The (oh, ow) grid of x's last two axes starting at offset (k0, k1), step s."""
    return x[..., k0:k0 + s * (oh - 1) + 1:s, k1:k1 + s * (ow - 1) + 1:s]


class _Lean:
    """One step's forward and backward over the layer list, buffers from a workspace."""

    def __init__(self, params: dict[str, np.ndarray], ws: Workspace, dtype: Any, seed: int) -> None:
        self.params, self.ws, self.dtype, self.seed = params, ws, dtype, seed
        self.ctx: dict[str, Any] = {}  # path -> what backward needs (views of buffers)
        self.grads: dict[str, np.ndarray] = {}  # fresh arrays: returned to the caller
        self.buffers: dict[str, np.ndarray] = {}  # updated running statistics (fresh arrays)

    def buf(self, path: str, role: str, shape: tuple[int, ...], zero: bool = False, dtype: Any = None
            ) -> np.ndarray:
        return self.ws.get(f"{path}:{role}", shape, self.dtype if dtype is None else dtype, zero)

    # forward: x is (C, N, H, W) for images, (N, D) for features
    def forward(self, layers: tuple[Layer, ...], prefix: str, x: np.ndarray) -> np.ndarray:
        for i, layer in enumerate(layers):
            path = prefix + str(i)
            if isinstance(layer, Residual):
                fx = self.forward(layer.layers, path + ".", x)
                x = np.add(x, fx, out=self.buf(path, "out", x.shape))
            else:
                x = getattr(self, "f_" + layer.type)(layer, path, x)
        return x

    def backward(self, layers: tuple[Layer, ...], prefix: str, dout: np.ndarray, need_dx: bool) -> np.ndarray | None:
        for i in range(len(layers) - 1, -1, -1):
            layer, path = layers[i], prefix + str(i)
            need = need_dx or i > 0
            if isinstance(layer, Residual):
                dx_branch = self.backward(layer.layers, path + ".", dout, True)
                dout = np.add(dout, dx_branch, out=self.buf(path, "dx", dout.shape)) if need else None
            else:
                dout = getattr(self, "b_" + layer.type)(layer, path, dout, need)
        return dout

    # conv2d: out = w_row · x_col + b, computed straight into the (F, N, OH, OW) layout
    def f_conv2d(self, layer: Conv2d, path: str, x: np.ndarray) -> np.ndarray:
        w, b = self.params[path + ".w"], self.params[path + ".b"]
        f, c, k, _ = w.shape
        s, p = layer.stride, layer.pad
        _, n, h, wd = x.shape
        if p:
            xp = self.ws.zeros_once(f"{path}:x_padded", (c, n, h + 2 * p, wd + 2 * p), self.dtype)
            xp[:, :, p:p + h, p:p + wd] = x
        else:
            xp = x
        hp, wp = xp.shape[2:]
        oh, ow = (hp - k) // s + 1, (wp - k) // s + 1
        col = self.buf(path, "x_col", (c, k, k, n, oh, ow))
        for i in range(k):
            for j in range(k):
                col[:, i, j] = _slice(xp, i, j, s, oh, ow)
        col2 = col.reshape(c * k * k, n * oh * ow)
        out = self.buf(path, "out", (f, n * oh * ow))
        np.matmul(w.reshape(f, c * k * k), col2, out=out)
        out += b[:, None]
        self.ctx[path] = (col2, xp.shape, (h, wd))
        return out.reshape(f, n, oh, ow)

    def b_conv2d(self, layer: Conv2d, path: str, dout: np.ndarray, need_dx: bool) -> np.ndarray | None:
        w = self.params[path + ".w"]
        f, c, k, _ = w.shape
        col2, padded_shape, (h, wd) = self.ctx[path]
        dout_row = dout.reshape(f, -1)
        self.grads[path + ".w"] = (dout_row @ col2.T).reshape(w.shape)
        self.grads[path + ".b"] = dout_row.sum(axis=1)
        if not need_dx:
            return None
        s, p = layer.stride, layer.pad
        _, n, oh, ow = dout.shape
        dcol = self.buf(path, "dx_col", (c * k * k, n * oh * ow))
        np.matmul(w.reshape(f, c * k * k).T, dout_row, out=dcol)
        dcol6 = dcol.reshape(c, k, k, n, oh, ow)
        dxp = self.buf(path, "dx_padded", padded_shape, zero=True)
        for i in range(k):
            for j in range(k):
                _slice(dxp, i, j, s, oh, ow)[...] += dcol6[:, i, j]  # overlapping windows add
        return dxp[:, :, p:p + h, p:p + wd] if p else dxp

    def f_relu(self, layer: Relu, path: str, x: np.ndarray) -> np.ndarray:
        mask = np.greater(x, 0, out=self.buf(path, "mask", x.shape, dtype=bool))
        self.ctx[path] = mask
        return np.maximum(x, 0, out=self.buf(path, "out", x.shape))

    def b_relu(self, layer: Relu, path: str, dout: np.ndarray, need_dx: bool) -> np.ndarray | None:
        return np.multiply(dout, self.ctx[path], out=self.buf(path, "dx", dout.shape)) if need_dx else None

    # pooling over the last two axes: one strided slice per window offset, as the ops do
    def f_maxpool2d(self, layer: MaxPool2d, path: str, x: np.ndarray) -> np.ndarray:
        k, s = layer.size, layer.stride
        c, n, h, w = x.shape
        oh, ow = (h - k) // s + 1, (w - k) // s + 1
        out = self.buf(path, "out", (c, n, oh, ow))
        idx = np.int8 if k * k <= 127 else np.int16
        arg = self.buf(path, "window_argmax", out.shape, dtype=idx)
        upd = self.buf(path, "upd", out.shape, dtype=bool)
        step = self.buf(path, "step", out.shape, dtype=idx)
        upd_int = upd.view(np.int8) if idx == np.int8 else upd
        out[...] = _slice(x, 0, 0, s, oh, ow)
        arg.fill(0)
        for o in range(1, k * k):  # branch-free running max (masked copies are far slower)
            v = _slice(x, o // k, o % k, s, oh, ow)
            np.greater(v, out, out=upd)  # strictly greater: the first maximum keeps ties
            np.maximum(out, v, out=out)
            np.subtract(idx(o), arg, out=step)  # arg += upd·(o − arg)
            np.multiply(step, upd_int, out=step)
            arg += step
        self.ctx[path] = (arg, x.shape)
        return out

    def b_maxpool2d(self, layer: MaxPool2d, path: str, dout: np.ndarray, need_dx: bool) -> np.ndarray | None:
        if not need_dx:
            return None
        k, s = layer.size, layer.stride
        arg, x_shape = self.ctx[path]
        oh, ow = arg.shape[2:]
        dx = self.buf(path, "dx", x_shape, zero=True)
        hit = self.buf(path, "hit", arg.shape, dtype=bool)
        share = self.buf(path, "share", arg.shape)
        for o in range(k * k):
            np.equal(arg, o, out=hit)
            target = _slice(dx, o // k, o % k, s, oh, ow)
            if s >= k:  # windows do not overlap: each cell belongs to one window, so write it
                np.multiply(dout, hit, out=target)
            else:
                np.multiply(dout, hit, out=share)
                target += share  # overlapping windows add
        return dx

    def f_avgpool2d(self, layer: AvgPool2d, path: str, x: np.ndarray) -> np.ndarray:
        k, s = layer.size, layer.stride
        c, n, h, w = x.shape
        oh, ow = (h - k) // s + 1, (w - k) // s + 1
        out = self.buf(path, "out", (c, n, oh, ow))
        out[...] = _slice(x, 0, 0, s, oh, ow)
        for o in range(1, k * k):
            out += _slice(x, o // k, o % k, s, oh, ow)
        out /= k * k
        self.ctx[path] = x.shape
        return out

    def b_avgpool2d(self, layer: AvgPool2d, path: str, dout: np.ndarray, need_dx: bool) -> np.ndarray | None:
        if not need_dx:
            return None
        k, s = layer.size, layer.stride
        oh, ow = dout.shape[2:]
        dx = self.buf(path, "dx", self.ctx[path], zero=True)
        share = np.divide(dout, k * k, out=self.buf(path, "share", dout.shape))
        for o in range(k * k):
            _slice(dx, o // k, o % k, s, oh, ow)[...] += share
        return dx

    # batchnorm: channel axis 0 in (C, N, H, W), axis 1 in (N, D)
    def f_batchnorm(self, layer: BatchNorm, path: str, x: np.ndarray) -> np.ndarray:
        image = x.ndim == 4
        axes = (1, 2, 3) if image else (0,)
        shape = (-1, 1, 1, 1) if image else (1, -1)
        n = x.size // (x.shape[0] if image else x.shape[1])
        if n == 1 and layer.convention == "pytorch":
            raise OpInputError(layer_field(path), "batchnorm: train mode needs more than one value per channel: "
                                                  "the pytorch convention's unbiased variance divides by n − 1 = 0")
        mean = x.mean(axis=axes)
        x_mu = np.subtract(x, mean.reshape(shape), out=self.buf(path, "x_mu", x.shape))
        var = np.einsum("cnhw,cnhw->c", x_mu, x_mu) / n if image else np.einsum("nd,nd->d", x_mu, x_mu) / n
        std = np.sqrt(var + layer.eps)
        x_hat = np.divide(x_mu, std.reshape(shape), out=self.buf(path, "x_hat", x.shape))
        out = np.multiply(x_hat, self.params[path + ".gamma"].reshape(shape), out=self.buf(path, "out", x.shape))
        out += self.params[path + ".beta"].reshape(shape)
        m = norm.MOMENTUM_DEFAULTS[layer.convention] if layer.momentum is None else layer.momentum
        rm, rv = self.params[path + ".running_mean"], self.params[path + ".running_var"]
        if layer.convention == "pytorch":
            self.buffers[path + ".running_mean"] = (1 - m) * rm + m * mean
            self.buffers[path + ".running_var"] = (1 - m) * rv + m * (var * (n / (n - 1)))
        else:
            self.buffers[path + ".running_mean"] = m * rm + (1 - m) * mean
            self.buffers[path + ".running_var"] = m * rv + (1 - m) * var
        self.ctx[path] = (x_hat, std, n, axes, shape)
        return out

    def b_batchnorm(self, layer: BatchNorm, path: str, dout: np.ndarray, need_dx: bool) -> np.ndarray | None:
        x_hat, std, n, axes, shape = self.ctx[path]
        dbeta = dout.sum(axis=axes)
        dgamma = np.einsum("cnhw,cnhw->c" if len(axes) == 3 else "nd,nd->d", dout, x_hat)  # no dout·x̂ temporary
        self.grads[path + ".gamma"], self.grads[path + ".beta"] = dgamma, dbeta
        if not need_dx:
            return None
        gamma = self.params[path + ".gamma"]
        # γ/(n·std)·(n·dout − Σdout − x̂·Σdout·x̂) = γ/std·(dout − x̂·(Σdout·x̂)/n − (Σdout)/n), in place
        dx = np.multiply(x_hat, (dgamma / n).reshape(shape), out=self.buf(path, "dx", dout.shape))
        dx += (dbeta / n).reshape(shape)
        np.subtract(dout, dx, out=dx)
        dx *= (gamma / std).reshape(shape)
        return dx

    def f_dropout(self, layer: Dropout, path: str, x: np.ndarray) -> np.ndarray:
        # the op's mask exactly: default_rng(seed).random over the (N, C, H, W) shape, kept where u ≥ p
        nchw = (x.shape[1], x.shape[0], *x.shape[2:]) if x.ndim == 4 else x.shape
        u = np.random.default_rng(dropout_seed(self.seed, path)).random(nchw)
        if x.ndim == 4:
            u = u.transpose(1, 0, 2, 3)
        kept = np.greater_equal(u, layer.p, out=self.buf(path, "mask", x.shape, dtype=bool))
        self.ctx[path] = kept
        out = np.multiply(x, 1.0 / (1.0 - layer.p), out=self.buf(path, "out", x.shape))
        out *= kept
        return out

    def b_dropout(self, layer: Dropout, path: str, dout: np.ndarray, need_dx: bool) -> np.ndarray | None:
        if not need_dx:
            return None
        dx = np.multiply(dout, 1.0 / (1.0 - layer.p), out=self.buf(path, "dx", dout.shape))
        dx *= self.ctx[path]
        return dx

    def f_flatten(self, layer: Flatten, path: str, x: np.ndarray) -> np.ndarray:
        self.ctx[path] = x.shape
        if x.ndim == 2:
            return x
        c, n, h, w = x.shape
        out = self.buf(path, "out", (n, c * h * w))
        out.reshape(n, c, h, w)[...] = x.transpose(1, 0, 2, 3)  # rows in (C, H, W) order
        return out

    def b_flatten(self, layer: Flatten, path: str, dout: np.ndarray, need_dx: bool) -> np.ndarray | None:
        shape = self.ctx[path]
        if len(shape) == 2:
            return dout
        c, n, h, w = shape
        return dout.reshape(n, c, h, w).transpose(1, 0, 2, 3) if need_dx else None

    def f_linear(self, layer: Linear, path: str, x: np.ndarray) -> np.ndarray:
        w = self.params[path + ".w"]
        out = np.matmul(x, w, out=self.buf(path, "out", (x.shape[0], w.shape[1])))
        out += self.params[path + ".b"]
        self.ctx[path] = x
        return out

    def b_linear(self, layer: Linear, path: str, dout: np.ndarray, need_dx: bool) -> np.ndarray | None:
        x, w = self.ctx[path], self.params[path + ".w"]
        self.grads[path + ".w"] = x.T @ dout
        self.grads[path + ".b"] = dout.sum(axis=0)
        return np.matmul(dout, w.T, out=self.buf(path, "dx", x.shape)) if need_dx else None


def _loss_and_dlogits(logits: np.ndarray, labels: np.ndarray, ws: Workspace) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy and (probs − onehot)/N, as softmax.py computes them."""
    n = logits.shape[0]
    rows = np.arange(n)
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    sum_exp = exp.sum(axis=1)
    loss = float(np.mean(np.log(sum_exp) - shifted[rows, labels]))
    dlogits = np.divide(exp, sum_exp[:, None], out=ws.get("loss:dlogits", logits.shape, logits.dtype))
    dlogits[rows, labels] -= 1
    dlogits /= n
    return loss, dlogits


def lean_gradients(model: Model, params: dict[str, np.ndarray], x: np.ndarray, labels: np.ndarray, seed: int,
                   workspace: Workspace | None = None
                   ) -> tuple[float, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(loss, grads by parameter name, buffers after the pass) in train mode, on validated inputs."""
    dtype = np.result_type(x, *params.values())
    ws = workspace or _workspace((model, x.shape, dtype))
    run = _Lean(params, ws, dtype, seed)
    inner = x.transpose(1, 0, 2, 3) if x.ndim == 4 else x  # images channel-major inside
    logits = run.forward(model.layers, "", inner)
    loss, dlogits = _loss_and_dlogits(logits, labels, ws)
    run.backward(model.layers, "", dlogits, False)
    order = [name for name in params if name in run.grads]
    buffers = {k: v for k, v in params.items() if k.endswith((".running_mean", ".running_var"))}
    buffers.update(run.buffers)
    return loss, {name: run.grads[name] for name in order}, buffers


def train_step(model: Any, params: dict[str, Any], state: optim.OptimizerState | None, x: Any, labels: Any,
               optimizer_name: str, hyperparams: dict[str, Any] | None = None, seed: int = 0,
               workspace: Workspace | None = None
               ) -> tuple[dict[str, np.ndarray], optim.OptimizerState | None, float, dict[str, np.ndarray]]:
    """One training step in train mode: (new params and buffers, new optimizer state, loss, grads).

    ``state=None`` starts the optimizer from zeros (t = 0). Nothing passed in is modified and
    nothing returned aliases a scratch buffer. Pass a different ``seed`` each step for fresh
    dropout masks. ``workspace``: scratch buffers to reuse (default: one per thread, per model
    and batch shape).
    """
    model = as_model(model)
    params = check_params(model, params)
    x, labels = check_batch(model, x, labels)
    loss, grads, buffers = lean_gradients(model, params, x, labels, check_seed(seed), workspace)
    if not grads:  # a model without learnable parameters: nothing to update
        return {**params, **buffers}, state, loss, grads
    learnable = {k: params[k] for k in grads}
    if state is None:
        state = optim.init_state(optimizer_name, learnable)
    new, state, _ = optim.optimizer_step(optimizer_name, learnable, grads, state, hyperparams)
    return {**params, **new, **buffers}, state, loss, grads
