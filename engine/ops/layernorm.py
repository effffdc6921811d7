"""Layer normalization: batch norm's graph along each sample instead of each channel.

Per sample over every non-batch axis, biased variance, no running statistics; γ and β
have the shape of one sample. Forward, the notes' staged backward and the compact formula.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.ops.batchnorm import EPS_PARAM
from engine.records import Arrays, Index, Input, OpInputError, OpSpec, Step, check_index, copied, pick, shape_text
from engine.tex import tex_number


def _per_sample(v: np.ndarray, ndim: int) -> np.ndarray:
    """An (N,) vector shaped to broadcast against (N, ...)."""
    return v.reshape((-1,) + (1,) * (ndim - 1))


@dataclass(frozen=True)
class LayerNormCache:
    """What layer-norm backward reads."""

    x: np.ndarray  # input (N, D) or (N, C, H, W) (a copy)
    gamma: np.ndarray  # scale, the shape of one sample
    beta: np.ndarray  # shift, the shape of one sample
    eps: float
    d: int  # values per sample: D or C·H·W
    mean: np.ndarray  # μ of each sample, (N,)
    var: np.ndarray  # biased variance of each sample, (N,)
    std: np.ndarray  # √(σ² + ε), (N,)
    x_mu: np.ndarray  # x − μ
    x_hat: np.ndarray  # (x − μ)/std


@dataclass(frozen=True)
class LayerNormGrads:
    """Layer-norm gradients (the batch-norm graph along each sample instead of each channel)."""

    dx: np.ndarray  # staged: dx̂/std + dvar·2(x − μ)/d + dmean/d
    dgamma: np.ndarray  # Σ over the batch of dout·x̂, the shape of one sample
    dbeta: np.ndarray  # Σ over the batch of dout
    dx_hat: np.ndarray  # dout·γ
    dvar: np.ndarray  # ∂L/∂σ² per sample, (N,)
    dmean: np.ndarray  # ∂L/∂μ per sample, (N,)
    dx_compact: np.ndarray  # 1/(d·std)·(d·dx̂ − Σdx̂ − x̂·Σ dx̂·x̂)


def _ln_check(shapes: dict[str, tuple[int, ...]], params: dict[str, Any]) -> None:
    x_shape = tuple(shapes["x"])
    if len(x_shape) not in (2, 4):
        raise OpInputError("inputs.x", f"must be (N, D) or (N, C, H, W); got shape {shape_text(x_shape)}")
    sample = x_shape[1:]
    what = "one per feature" if len(x_shape) == 2 else "the shape of one sample, C×H×W"
    for name in ("gamma", "beta"):
        if name in shapes and tuple(shapes[name]) != sample:
            raise OpInputError(f"inputs.{name}", f"must have shape {shape_text(sample)} ({what}), "
                               f"got {shape_text(shapes[name])}")
    if "dout" in shapes and tuple(shapes["dout"]) != x_shape:
        raise OpInputError("inputs.dout", f"must have the shape of out {shape_text(x_shape)}, "
                           f"got {shape_text(shapes['dout'])}")
    eps = params.get("eps", 1e-5)
    if not eps > 0:
        raise OpInputError("params.eps", f"must be positive, got {eps!r}")


def layernorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                      eps: float = 1e-5) -> tuple[np.ndarray, LayerNormCache]:
    """y = γ·(x − μ)/√(σ² + ε) + β with μ, σ² over each sample's features (no running statistics)."""
    x = np.asarray(x)
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    x = np.array(x, dtype=dtype, copy=True)
    gamma, beta = (np.array(a, dtype=dtype, copy=True) for a in (gamma, beta))
    _ln_check({"x": x.shape, "gamma": gamma.shape, "beta": beta.shape}, {"eps": eps})
    nd, axes = x.ndim, tuple(range(1, x.ndim))
    mean = x.mean(axis=axes)
    x_mu = x - _per_sample(mean, nd)
    var = (x_mu * x_mu).mean(axis=axes)
    std = np.sqrt(var + eps)
    x_hat = x_mu / _per_sample(std, nd)
    out = gamma * x_hat + beta
    cache = LayerNormCache(x=x, gamma=gamma, beta=beta, eps=float(eps), d=x[0].size, mean=mean, var=var,
                           std=std, x_mu=x_mu, x_hat=x_hat)
    return out, cache


def layernorm_backward(dout: np.ndarray, cache: LayerNormCache) -> LayerNormGrads:
    dout = np.asarray(dout)
    c = cache
    if dout.shape != c.x.shape:
        raise OpInputError("inputs.dout", f"must have the shape of out {shape_text(c.x.shape)}, "
                           f"got {shape_text(dout.shape)}")
    nd, axes, d = c.x.ndim, tuple(range(1, c.x.ndim)), c.d
    std_b = _per_sample(c.std, nd)
    dbeta = dout.sum(axis=0)
    dgamma = (dout * c.x_hat).sum(axis=0)
    dx_hat = dout * c.gamma
    dvar = (dx_hat * c.x_mu).sum(axis=axes) * -0.5 * (c.var + c.eps) ** -1.5
    dmean = (-dx_hat / std_b).sum(axis=axes) + dvar * (-2 * c.x_mu).sum(axis=axes) / d
    dx = dx_hat / std_b + _per_sample(dvar, nd) * 2 * c.x_mu / d + _per_sample(dmean, nd) / d
    dx_compact = (d * dx_hat - _per_sample(dx_hat.sum(axis=axes), nd)
                  - c.x_hat * _per_sample((dx_hat * c.x_hat).sum(axis=axes), nd)) / (d * std_b)
    return LayerNormGrads(dx=dx, dgamma=dgamma, dbeta=dbeta, dx_hat=dx_hat, dvar=dvar, dmean=dmean,
                          dx_compact=dx_compact)


LAYERNORM_ARRAYS = ("x", "gamma", "beta", "dout", "mean", "var", "std", "x_mu", "x_hat", "out",
                    "dx_hat", "dvar", "dmean", "dx", "dx_compact", "dgamma", "dbeta")


def _ln_defaults(shapes: dict[str, tuple[int, ...]], params: dict[str, Any], dtype: Any) -> Arrays:
    x_shape = tuple(shapes["x"])
    return {"gamma": np.ones(x_shape[1:], dtype), "beta": np.zeros(x_shape[1:], dtype),
            "dout": np.ones(x_shape, dtype)}


def _ln_call(arrays: Arrays, params: dict[str, Any]) -> tuple[np.ndarray, LayerNormCache, LayerNormGrads, Arrays]:
    arrays = {**_ln_defaults({"x": arrays["x"].shape}, params, arrays["x"].dtype), **arrays}
    out, cache = layernorm_forward(arrays["x"], arrays["gamma"], arrays["beta"], eps=params.get("eps", 1e-5))
    return out, cache, layernorm_backward(arrays["dout"], cache), arrays


def _ln_run(arrays: Arrays, params: dict[str, Any], extras: bool = True) -> Arrays:
    out, c, g, arrays = _ln_call(arrays, params)
    return copied(x=c.x, gamma=c.gamma, beta=c.beta, dout=arrays["dout"], mean=c.mean, var=c.var, std=c.std,
                 x_mu=c.x_mu, x_hat=c.x_hat, out=out, dx_hat=g.dx_hat, dvar=g.dvar, dmean=g.dmean, dx=g.dx,
                 dx_compact=g.dx_compact, dgamma=g.dgamma, dbeta=g.dbeta)


def _ln_steps(a: Arrays, params: dict[str, Any]) -> list[Step]:
    """The steps of what :func:`_ln_run` computed, from its arrays."""
    d = a["x"][0].size
    d_text = f"d = {d}" if a["x"].ndim == 2 else f"d = C \\cdot H \\cdot W = {d}"
    return [
        Step("forward", "mean", "Mean of each sample over its features",
             r"\mu_n = \frac{1}{d}\sum_{j=1}^{d} x_{n,j}, \quad " + d_text, pick(a, "x", "mean")),
        Step("forward", "var", "Variance of each sample (biased: divide by d)",
             r"\sigma^2_n = \frac{1}{d}\sum_{j=1}^{d} (x_{n,j} - \mu_n)^2", pick(a, "x_mu", "var")),
        Step("forward", "std", "Standard deviation with ε",
             r"\sigma_n = \sqrt{\sigma^2_n + \epsilon}, \quad \epsilon = " + tex_number(float(params.get("eps", 1e-5))),
             pick(a, "var", "std")),
        Step("forward", "x_hat", "Normalise each sample",
             r"\hat{x}_{n,j} = \frac{x_{n,j} - \mu_n}{\sigma_n}", pick(a, "x", "mean", "x_mu", "std", "x_hat")),
        Step("forward", "out", "Scale by γ and shift by β (one of each per feature)",
             r"y_{n,j} = \gamma_j\,\hat{x}_{n,j} + \beta_j", pick(a, "x_hat", "gamma", "beta", "out")),
        Step("backward", "dbeta", "Gradient of β: sum over the batch",
             r"\frac{\partial L}{\partial \beta_j} = \sum_{n} \frac{\partial L}{\partial y_{n,j}}",
             pick(a, "dout", "dbeta")),
        Step("backward", "dgamma", "Gradient of γ",
             r"\frac{\partial L}{\partial \gamma_j} = \sum_{n} \frac{\partial L}{\partial y_{n,j}}\,\hat{x}_{n,j}",
             pick(a, "dout", "x_hat", "dgamma")),
        Step("backward", "dx_hat", "Gradient of the normalised input",
             r"\frac{\partial L}{\partial \hat{x}_{n,j}} = \frac{\partial L}{\partial y_{n,j}}\,\gamma_j",
             pick(a, "dout", "gamma", "dx_hat")),
        Step("backward", "dvar", "Gradient of each sample's variance",
             r"\frac{\partial L}{\partial \sigma^2_n} = \sum_{j=1}^{d} \frac{\partial L}{\partial \hat{x}_{n,j}}"
             r"\,(x_{n,j} - \mu_n)\,\frac{-1}{2}\,(\sigma^2_n + \epsilon)^{-3/2}",
             pick(a, "dx_hat", "x_mu", "var", "dvar")),
        Step("backward", "dmean", "Gradient of each sample's mean",
             r"\frac{\partial L}{\partial \mu_n} = \sum_{j=1}^{d} \frac{\partial L}{\partial \hat{x}_{n,j}}"
             r"\frac{-1}{\sigma_n} + \frac{\partial L}{\partial \sigma^2_n}\,\frac{\sum_{j} -2(x_{n,j} - \mu_n)}{d}",
             pick(a, "dx_hat", "std", "dvar", "dmean")),
        Step("backward", "dx", "Gradient of the input: three paths add up",
             r"\frac{\partial L}{\partial x_{n,j}} = \frac{\partial L}{\partial \hat{x}_{n,j}}\frac{1}{\sigma_n}"
             r" + \frac{\partial L}{\partial \sigma^2_n}\,\frac{2(x_{n,j} - \mu_n)}{d}"
             r" + \frac{1}{d}\,\frac{\partial L}{\partial \mu_n}",
             pick(a, "dx_hat", "std", "dvar", "x_mu", "dmean", "dx")),
        Step("backward", "dx_compact", "The same gradient in one line",
             r"\frac{\partial L}{\partial x_{n,j}} = \frac{1}{d\,\sigma_n}\Big("
             r"d\,\frac{\partial L}{\partial \hat{x}_{n,j}}"
             r" - \sum_{k} \frac{\partial L}{\partial \hat{x}_{n,k}} - \hat{x}_{n,j} \sum_{k}"
             r" \frac{\partial L}{\partial \hat{x}_{n,k}}\,\hat{x}_{n,k}\Big)",
             pick(a, "dx_hat", "x_hat", "std", "dx_compact", "dx")),
    ]


def _ln_provenance(arrays: Arrays, params: dict[str, Any], array: str, index: Index) -> dict[str, list[Index]]:
    result = _ln_run(arrays, params)
    if array not in result:
        raise OpInputError("array", f"layernorm has no array {array!r} (arrays: {', '.join(LAYERNORM_ARRAYS)})")
    check_index(result[array].shape, array, index)
    shape = result["x"].shape
    if array in ("x", "gamma", "beta", "dout"):
        return {}
    if array in ("dgamma", "dbeta"):
        column = [(n, *index) for n in range(shape[0])]  # feature `index` of every sample
        return {"dout": column} if array == "dbeta" else {"dout": column, "x": [tuple(i) for i in np.ndindex(shape)]}
    n = index[0]
    row = [(n, *i) for i in np.ndindex(shape[1:])]  # every feature of sample n
    feature = tuple(index[1:])
    if array in ("mean", "var", "std", "x_mu", "x_hat"):
        return {"x": row}
    if array == "out":
        return {"x": row, "gamma": [feature], "beta": [feature]}
    if array == "dx_hat":
        return {"dout": [tuple(index)], "gamma": [feature]}
    return {"dout": row, "x": row, "gamma": [tuple(i) for i in np.ndindex(shape[1:])]}  # dvar, dmean, dx, dx_compact


def _ln_shapes(shapes: dict[str, tuple[int, ...]], params: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    x, sample, per_sample = tuple(shapes["x"]), tuple(shapes["gamma"]), (shapes["x"][0],)
    like = {"gamma": sample, "beta": sample, "dgamma": sample, "dbeta": sample,
            "mean": per_sample, "var": per_sample, "std": per_sample, "dvar": per_sample, "dmean": per_sample}
    return {name: like.get(name, x) for name in LAYERNORM_ARRAYS}


def _ln_example(rng: np.random.Generator) -> tuple[dict[str, Any], dict[str, Any]]:
    shape = (3, 4) if rng.integers(2) == 0 else (2, 2, 2, 2)
    return ({"x": rng.normal(size=shape).round(2).tolist(),
             "gamma": rng.uniform(0.5, 1.5, shape[1:]).round(2).tolist(),
             "beta": rng.normal(size=shape[1:]).round(2).tolist(),
             "dout": rng.normal(size=shape).round(2).tolist()}, {})


SPECS = (
    OpSpec(
        name="layernorm",
        title="Layer normalization",
        inputs=(
            Input("x", (2, 4), doc="(N, D) features or (N, C, H, W) images"),
            Input("gamma", (1, 3), required=False, doc="scale γ, the shape of one sample (default ones)"),
            Input("beta", (1, 3), required=False, doc="shift β, the shape of one sample (default zeros)"),
            Input("dout", (2, 4), required=False, grad=False, doc="upstream gradient (default ones)"),
        ),
        params=(EPS_PARAM,),
        arrays=LAYERNORM_ARRAYS,
        run=_ln_run,
        check=_ln_check,
        defaults=_ln_defaults,
        steps=_ln_steps,
        provenance=_ln_provenance,
        example=_ln_example,
        shapes=_ln_shapes,
    ),
)
