"""Planted variants of the ops' functions (conv, pool, ReLU, softmax, batch norm, dropout).

Each ``<bug>(inputs, params)`` runs the real op through the registry, then redoes the one step the
bug replaces, the wrong way, and answers the op's arrays with that step's results in.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.registry import OPS, prepare

Arrays = dict[str, Any]


def _run(op_name: str, inputs: Arrays, params: dict) -> Arrays:
    """The real op's arrays — the registry's own op, even while a planted variant is swapped in for it."""
    _, arrays, clean = prepare(op_name, inputs, params)
    return dict(OPS[op_name].run(arrays, clean))


# ------------------------------------------------------------------ convolution


def conv_reference(inputs: Arrays, params: dict) -> Arrays:
    return _run("conv2d", inputs, params)


def conv_example(rng: np.random.Generator) -> tuple[Arrays, dict]:
    x = np.round(rng.normal(size=(1, 2, 5, 5)), 2)
    w = np.round(rng.normal(size=(2, 2, 3, 3)), 2)
    return {"x": x, "w": w, "b": np.array([0.5, -0.25]), "dout": np.round(rng.normal(size=(1, 2, 3, 3)), 2)}, \
        {"stride": 1, "pad": 0}


def _conv_out(x_padded: np.ndarray, w: np.ndarray, b: np.ndarray, s: int, OH: int, OW: int) -> np.ndarray:
    N, F, KH, KW = x_padded.shape[0], w.shape[0], w.shape[2], w.shape[3]
    out = np.empty((N, F, OH, OW))
    for oh in range(OH):
        for ow in range(OW):
            window = x_padded[:, :, oh * s:oh * s + KH, ow * s:ow * s + KW]
            out[:, :, oh, ow] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out


def conv_flip(inputs: Arrays, params: dict) -> Arrays:
    """Forward slides w[:, :, ::-1, ::-1] (the bug); backward is the real one, for the unflipped w."""
    r = conv_reference(inputs, params)
    OH, OW = r["out"].shape[2:]
    r["out"] = _conv_out(r["x_padded"], r["w"][:, :, ::-1, ::-1], r["b"], int(params.get("stride", 1)), OH, OW)
    return r


def _crop(dx_padded: np.ndarray, pad: int, H: int, W: int) -> np.ndarray:
    return dx_padded[:, :, pad:pad + H, pad:pad + W].copy()


def conv_dx_unrotated(inputs: Arrays, params: dict) -> Arrays:
    """dx by the full convolution of dout with w — not rotated (the bug)."""
    r = conv_reference(inputs, params)
    s, pad = int(params.get("stride", 1)), int(params.get("pad", 0))
    dout, w = r["dout"], r["w"]
    N, F, OH, OW = dout.shape
    _, C, KH, KW = w.shape
    dilated = np.zeros((N, F, (OH - 1) * s + 1, (OW - 1) * s + 1))
    dilated[:, :, ::s, ::s] = dout
    Hp, Wp = r["x_padded"].shape[2:]
    padded = np.zeros((N, F, Hp + KH - 1, Wp + KW - 1))
    padded[:, :, KH - 1:KH - 1 + dilated.shape[2], KW - 1:KW - 1 + dilated.shape[3]] = dilated
    dx_padded = np.empty_like(r["x_padded"], dtype=float)
    for h in range(Hp):
        for col in range(Wp):
            window = padded[:, :, h:h + KH, col:col + KW]
            dx_padded[:, :, h, col] = np.tensordot(window, w, axes=([1, 2, 3], [0, 2, 3]))  # w, not w rotated
    r["dx_padded"] = dx_padded
    r["dx"] = _crop(dx_padded, pad, *r["x"].shape[2:])
    return r


def conv_col2im_assign(inputs: Arrays, params: dict) -> Arrays:
    """col2im writes each window's column with = (the bug), so overlapping windows overwrite each other."""
    r = conv_reference(inputs, params)
    s, pad = int(params.get("stride", 1)), int(params.get("pad", 0))
    N, _, OH, OW = r["out"].shape
    _, C, KH, KW = r["w"].shape
    dx_padded = np.zeros_like(r["x_padded"], dtype=float)
    for n in range(N):
        for oh in range(OH):
            for ow in range(OW):
                column = r["dx_col"][:, (n * OH + oh) * OW + ow]
                dx_padded[n, :, oh * s:oh * s + KH, ow * s:ow * s + KW] = column.reshape(C, KH, KW)
    r["dx_padded"] = dx_padded
    r["dx"] = _crop(dx_padded, pad, *r["x"].shape[2:])
    return r


# ------------------------------------------------------------------ pooling and ReLU


def maxpool_reference(inputs: Arrays, params: dict) -> Arrays:
    return _run("maxpool2d", inputs, params)


def maxpool_example(rng: np.random.Generator) -> tuple[Arrays, dict]:
    x = np.array([[[[1.0, 3.0, 2.0, 2.0], [3.0, 0.0, 1.0, 0.0], [5.0, 5.0, 4.0, 1.0], [5.0, 5.0, 0.0, 4.0]]]])
    return {"x": x, "dout": np.array([[[[1.0, 2.0], [3.0, 4.0]]]])}, {"size": 2, "stride": 2}


def maxpool_all_ties(inputs: Arrays, params: dict) -> Arrays:
    r = maxpool_reference(inputs, params)
    k = int(params.get("size", 2))
    s = int(params.get("stride") or k)
    x, dout = r["x"], r["dout"]
    dx = np.zeros_like(x, dtype=float)
    N, C, OH, OW = dout.shape
    for oh in range(OH):
        for ow in range(OW):
            window = x[:, :, oh * s:oh * s + k, ow * s:ow * s + k]
            every_max = window == window.max(axis=(2, 3), keepdims=True)  # the bug: all of a tie
            dx[:, :, oh * s:oh * s + k, ow * s:ow * s + k] += every_max * dout[:, :, oh, ow, None, None]
    r["dx"] = dx
    return r


def gradient_not_conserved(bug: Arrays, inputs: Arrays, params: dict) -> bool:
    """Max pooling passes each dout on once: Σ dx = Σ dout (without dropped rows)."""
    return not np.isclose(bug["dx"].sum(), bug["dout"].sum())


def relu_reference(inputs: Arrays, params: dict) -> Arrays:
    return _run("relu", inputs, params)


def relu_example(rng: np.random.Generator) -> tuple[Arrays, dict]:
    x = np.array([[-2.0, 0.0, 3.0], [0.0, 1.5, -1.0]])
    return {"x": x, "dout": np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])}, {}


def relu_ge(inputs: Arrays, params: dict) -> Arrays:
    r = relu_reference(inputs, params)
    r["mask"] = r["x"] >= 0  # the bug: ≥ lets x = 0 through
    r["dx"] = np.where(r["mask"], r["dout"], 0.0)
    return r


def relu_passes_at_zero(bug: Arrays, inputs: Arrays, params: dict) -> bool:
    """PyTorch's convention: ReLU's derivative at 0 is 0."""
    at_zero = bug["x"] == 0
    return bool(np.any(bug["dx"][at_zero] != 0))


# ------------------------------------------------------------------ softmax and cross-entropy


def softmax_reference(inputs: Arrays, params: dict) -> Arrays:
    return _run("softmax_cross_entropy", inputs, params)


def softmax_example(rng: np.random.Generator) -> tuple[Arrays, dict]:
    return {"logits": np.round(rng.normal(size=(3, 4)), 2), "labels": np.array([0, 3, 1])}, {"temperature": 1.0}


def softmax_big_example(rng: np.random.Generator) -> tuple[Arrays, dict]:
    return {"logits": np.array([[1000.0, 999.0, 0.0], [3.0, -2.0, -100.0]]), "labels": np.array([0, 0])}, \
        {"temperature": 1.0}


def softmax_no_max(inputs: Arrays, params: dict) -> Arrays:
    r = softmax_reference(inputs, params)
    z = r["logits"] / float(params.get("temperature", 1.0))
    N = z.shape[0]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        exp = np.exp(z)  # the bug: no shift by the row's max
        probs = exp / exp.sum(axis=1, keepdims=True)
        nll = -np.log(probs[np.arange(N), r["labels"]])
    r.update(exp=exp, probs=probs, nll=nll, loss=np.asarray(nll.mean()),
             dlogits=(probs - r["onehot"]) / (N * float(params.get("temperature", 1.0))))
    return r


def not_finite(bug: Arrays, inputs: Arrays, params: dict) -> bool:
    return not all(np.all(np.isfinite(bug[k])) for k in ("probs", "loss", "dlogits"))


def ce_no_mean(inputs: Arrays, params: dict) -> Arrays:
    r = softmax_reference(inputs, params)
    r["dlogits"] = r["dlogits"] * r["logits"].shape[0]  # the bug: no 1/N
    return r


# ------------------------------------------------------------------ batch norm and dropout


def bn_reference(inputs: Arrays, params: dict) -> Arrays:
    return _run("batchnorm", inputs, params)


def bn_example(rng: np.random.Generator) -> tuple[Arrays, dict]:
    return {"x": np.round(rng.normal(1.0, 2.0, size=(4, 3)), 2), "gamma": np.array([1.5, 0.5, -1.0]),
            "beta": np.array([0.1, 0.0, -0.2]), "dout": np.round(rng.normal(size=(4, 3)), 2)}, {"mode": "train"}


def _rows(v: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return v.reshape((1, -1) + (1,) * (len(shape) - 2))


def _axes(x: np.ndarray) -> tuple[int, ...]:
    return (0,) + tuple(range(2, x.ndim))


def bn_no_mean_path(inputs: Arrays, params: dict) -> Arrays:
    r = bn_reference(inputs, params)
    x = r["x"]
    n = x.size // x.shape[1]
    r["dx"] = r["dx_hat"] / _rows(r["std"], x.shape) + _rows(r["dvar"], x.shape) * 2 * r["x_mu"] / n  # no dμ/n
    return r


def bn_unbiased(inputs: Arrays, params: dict) -> Arrays:
    """Forward normalizes with n/(n − 1)·σ² (the bug); backward is the real compact formula for ÷ n."""
    r = bn_reference(inputs, params)
    x, gamma, beta, dout = r["x"], r["gamma"], r["beta"], r["dout"]
    n, ax, eps = x.size // x.shape[1], _axes(x), float(params.get("eps", 1e-5))
    var = r["var"] * n / (n - 1)
    std = np.sqrt(var + eps)
    x_hat = r["x_mu"] / _rows(std, x.shape)
    out = _rows(gamma, x.shape) * x_hat + _rows(beta, x.shape)
    dbeta, dgamma = dout.sum(axis=ax), (dout * x_hat).sum(axis=ax)
    dx = _rows(gamma / std, x.shape) * (dout - _rows(dbeta / n, x.shape) - x_hat * _rows(dgamma / n, x.shape))
    r.update(var=var, std=std, x_hat=x_hat, out=out, dgamma=dgamma, dbeta=dbeta, dx=dx, dx_compact=dx)
    return r


def dropout_reference(inputs: Arrays, params: dict) -> Arrays:
    return _run("dropout", inputs, params)


def dropout_example(rng: np.random.Generator) -> tuple[Arrays, dict]:
    return {"x": np.round(rng.normal(size=(4, 5)), 2), "dout": np.ones((4, 5))}, \
        {"p": 0.5, "mode": "train", "seed": 3, "p_means": "drop"}


def dropout_no_scale(inputs: Arrays, params: dict) -> Arrays:
    r = dropout_reference(inputs, params)
    r["scale"] = np.asarray(1.0)  # the bug: kept values are not divided by 1 − p
    r["out"] = np.where(r["mask"] != 0, r["x"], 0.0)
    r["dx"] = np.where(r["mask"] != 0, r["dout"], 0.0)
    return r


def dropout_unscaled(bug: Arrays, inputs: Arrays, params: dict) -> bool:
    """PyTorch: a kept value is x/(1 − p) (p drops) or x/p (p keeps)."""
    p = float(params.get("p", 0.5))
    scale = 1 / (1 - p) if params.get("p_means", "drop") == "drop" else 1 / p
    kept = bug["mask"] != 0
    return not np.allclose(bug["out"][kept], bug["x"][kept] * scale)
