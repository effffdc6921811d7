"""Batch normalization: forward, the notes' staged backward, the compact formula, running statistics.

Statistics per feature over N for (N, D) input, per channel over N, H, W for (N, C, H, W)
(CONVENTIONS.md, "Normalization and dropout"); ``var`` is the biased batch variance and
normalises. Two running-statistics conventions:

- ``pytorch`` (default): r ← (1 − m)·r + m·batch with m = 0.1; running_var averages the
  UNBIASED variance n/(n − 1)·σ² (n = N or N·H·W), so train mode needs n ≥ 2.
- ``cs231n`` (the notes): r ← m·r + (1 − m)·batch with m = 0.9; biased variance.

``momentum=None`` means the convention's default (0.1 or 0.9); the registry's ``momentum``
parameter defaults to None too, so an omitted momentum is always the convention's own.
Eval mode normalises with the running statistics and leaves them unchanged; its backward
is the affine map's gradient dx = dout·γ/√(running_var + ε) (the statistics are constants
there, so dvar = dmean = 0). Layer norm (:mod:`engine.ops.layernorm`) shares this module's
helpers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine import conventions
from engine.records import (
    Arrays,
    Index,
    Input,
    OpInputError,
    OpSpec,
    Param,
    Step,
    check_index,
    copied,
    pick,
    shape_text,
)
from engine.tex import tex_number

MODES = ("train", "eval")
BN_CONVENTIONS = conventions.values("convention")
MOMENTUM_DEFAULTS = dict(zip(BN_CONVENTIONS, (0.1, 0.9), strict=True))  # PyTorch's m, the notes' m


# --------------------------------------------------------------------------- helpers


def _channel_row(v: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A (C,) vector laid out to broadcast against ``shape`` = (N, D) or (N, C, H, W).

    For images it is materialised as one (1, C, H, W) sample (a few KB), so an elementwise
    op with a whole batch runs one contiguous inner loop per sample instead of one per
    (sample, channel) pair with a broadcast scalar: about 1.7× faster here.
    """
    if len(shape) == 2:
        return v.reshape(1, -1)
    c, h, w = shape[1:]
    return np.repeat(v, h * w).reshape(1, c, h, w)


def _channel_sum(a: np.ndarray) -> np.ndarray:
    """Σ over every axis but the channel axis 1 (batch norm's reduction), (C,)."""
    if a.ndim == 2:
        return a.sum(axis=0)
    a3 = a.reshape(a.shape[0], a.shape[1], -1)
    return (a3 @ np.ones(a3.shape[2], a3.dtype)).sum(axis=0)  # a BLAS product: faster than add.reduce


def _channel_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Σ a·b over every axis but the channel axis 1, (C,), without an a·b temporary."""
    if a.ndim == 2:
        return np.einsum("nd,nd->d", a, b)
    n, c = a.shape[:2]
    return np.vecdot(a.reshape(n, c, -1), b.reshape(n, c, -1)).sum(axis=0)


def _n_text(x_shape: tuple[int, ...]) -> str:
    """How many values one batch-norm channel averages: 'N = 4' or 'N·H·W = 2·3·3 = 18'."""
    if len(x_shape) == 2:
        return f"N = {x_shape[0]}"
    n, _, h, w = x_shape
    return f"N·H·W = {n}·{h}·{w} = {n * h * w}"


def unbiased_var(var: np.ndarray, n: int) -> np.ndarray:
    """n/(n − 1)·σ²: the variance the pytorch convention averages into running_var."""
    return var * (n / (n - 1))


def _resolve_momentum(momentum: float | None, convention: str) -> float:
    if convention not in BN_CONVENTIONS:
        raise OpInputError("params.convention", f"must be one of {', '.join(BN_CONVENTIONS)}; got {convention!r}")
    if momentum is None:
        return MOMENTUM_DEFAULTS[convention]
    momentum = float(momentum)
    if not 0.0 <= momentum <= 1.0:
        raise OpInputError("params.momentum", f"must be between 0 and 1, got {momentum:g}")
    return momentum


# --------------------------------------------------------------------------- batch norm


@dataclass(frozen=True)
class BatchNormCache:
    """What batch-norm backward reads (and the step views show)."""

    x: np.ndarray | None  # input, (N, D) or (N, C, H, W) (a copy); None from a lean forward (staged=False)
    gamma: np.ndarray  # scale γ, one per feature / channel
    beta: np.ndarray  # shift β, one per feature / channel
    eps: float  # ε inside the square root
    momentum: float  # running-average momentum in force (the convention's default resolved)
    mode: str  # "train" | "eval"
    convention: str  # "pytorch" | "cs231n"
    n: int  # values averaged per channel: N, or N·H·W
    mean: np.ndarray  # μ the input was normalised with: batch mean (train) or running mean (eval), (C,)
    var: np.ndarray  # σ² likewise: biased batch variance (train) or running variance (eval), (C,)
    std: np.ndarray  # √(σ² + ε), (C,)
    x_mu: np.ndarray | None  # x − μ, x's shape; None from a lean forward (staged=False)
    x_hat: np.ndarray  # (x − μ)/std, x's shape
    var_unbiased: np.ndarray | None  # n/(n − 1)·σ², what pytorch's running_var averages (train + pytorch only)
    running_mean_before: np.ndarray  # running mean as it came in
    running_var_before: np.ndarray  # running variance as it came in
    running_mean: np.ndarray  # running mean after this call (unchanged in eval)
    running_var: np.ndarray  # running variance after this call (unchanged in eval)


@dataclass(frozen=True)
class BatchNormGrads:
    """Batch-norm gradients: the notes' staged intermediates and the compact formula."""

    dx_hat: np.ndarray | None  # ∂L/∂x̂ = dout·γ (None when backward ran with staged=False)
    dvar: np.ndarray | None  # ∂L/∂σ² (0 in eval: the running variance is a constant), (C,); None likewise
    dmean: np.ndarray | None  # ∂L/∂μ (0 in eval), (C,); None likewise
    dx: np.ndarray  # staged: dx̂/std + dvar·2(x − μ)/n + dmean/n (staged=False: the compact one)
    dx_compact: np.ndarray  # one line: γ/(n·std)·(n·dout − Σdout − x̂·Σ dout·x̂)
    dgamma: np.ndarray  # Σ dout·x̂
    dbeta: np.ndarray  # Σ dout


def _bn_check(shapes: dict[str, tuple[int, ...]], params: dict[str, Any]) -> None:
    x_shape = tuple(shapes["x"])
    if len(x_shape) not in (2, 4):
        raise OpInputError("inputs.x", f"must be (N, D) or (N, C, H, W); got shape {shape_text(x_shape)}")
    c = x_shape[1]
    what = "one per feature" if len(x_shape) == 2 else "one per channel"
    for name in ("gamma", "beta", "running_mean", "running_var"):
        if name in shapes and tuple(shapes[name]) != (c,):
            raise OpInputError(f"inputs.{name}", f"must have shape [{c}] ({what}), got {shape_text(shapes[name])}")
    if "dout" in shapes and tuple(shapes["dout"]) != x_shape:
        raise OpInputError("inputs.dout", f"must have the shape of out {shape_text(x_shape)}, "
                           f"got {shape_text(shapes['dout'])}")
    mode, convention = params.get("mode", "train"), params.get("convention", "pytorch")
    if mode not in MODES:
        raise OpInputError("params.mode", f"must be one of {', '.join(MODES)}; got {mode!r}")
    _resolve_momentum(params.get("momentum"), convention)
    eps = params.get("eps", 1e-5)
    if not eps > 0:
        raise OpInputError("params.eps", f"must be positive, got {eps!r}")
    n = int(np.prod(x_shape)) // c
    if mode == "train" and convention == "pytorch" and n == 1:
        raise OpInputError(
            "inputs.x",
            f"train mode needs more than one value per {'feature' if len(x_shape) == 2 else 'channel'}: "
            f"with {_n_text(x_shape)} the unbiased variance n/(n − 1)·σ² that the pytorch convention "
            "averages into running_var divides by n − 1 = 0 (PyTorch raises here too); "
            "use a bigger batch, eval mode, or the cs231n convention (biased variance)")


def batchnorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                      running_mean: np.ndarray | None = None, running_var: np.ndarray | None = None,
                      eps: float = 1e-5, momentum: float | None = None, mode: str = "train",
                      convention: str = "pytorch", staged: bool = True) -> tuple[np.ndarray, BatchNormCache]:
    """y = γ·(x − μ)/√(σ² + ε) + β per feature/channel, and the updated running statistics.

    ``running_mean``/``running_var`` default to zeros/ones; they are never modified: the
    updated values are new arrays in the cache. ``momentum=None``: 0.1 (pytorch), 0.9 (cs231n).
    ``staged=False`` (the lean path) keeps only what the compact backward reads: the cache's
    ``x`` (a copy of the input) and ``x_mu`` are None, and x̂ is computed in place.
    """
    x = np.asarray(x)
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    x = np.array(x, dtype=dtype, copy=True) if staged else x.astype(dtype, copy=False)  # lean: read, never kept
    c = x.shape[1] if x.ndim >= 2 else 0
    running_mean = np.zeros(c, dtype) if running_mean is None else running_mean
    running_var = np.ones(c, dtype) if running_var is None else running_var
    gamma, beta = (np.array(a, dtype=dtype, copy=True) for a in (gamma, beta))
    rm0, rv0 = (np.array(a, dtype=dtype, copy=True) for a in (running_mean, running_var))
    params = {"eps": eps, "momentum": momentum, "mode": mode, "convention": convention}
    _bn_check({"x": x.shape, "gamma": gamma.shape, "beta": beta.shape,
               "running_mean": rm0.shape, "running_var": rv0.shape}, params)
    m = _resolve_momentum(momentum, convention)
    if np.any(rv0 < 0):
        bad = int(np.argmax(rv0 < 0))
        raise OpInputError("inputs.running_var", f"is a variance and must be ≥ 0; element [{bad}] is {rv0[bad]:g}")
    shape = x.shape
    n = x.size // c
    var_unbiased = None
    if mode == "train":
        mean = _channel_sum(x) / n
        x_mu = np.subtract(x, _channel_row(mean, shape))
        var = _channel_dot(x_mu, x_mu) / n  # biased: divides by n
        if convention == "pytorch":
            var_unbiased = unbiased_var(var, n)
            rm = (1 - m) * rm0 + m * mean
            rv = (1 - m) * rv0 + m * var_unbiased
        else:
            rm = m * rm0 + (1 - m) * mean
            rv = m * rv0 + (1 - m) * var
    else:
        mean, var = rm0.copy(), rv0.copy()
        x_mu = np.subtract(x, _channel_row(mean, shape))
        rm, rv = rm0.copy(), rv0.copy()
    std = np.sqrt(var + eps)
    if staged:
        x_hat = np.divide(x_mu, _channel_row(std, shape))
    else:  # x̂ overwrites x − μ: the same values, one array fewer
        x_hat, x, x_mu = np.divide(x_mu, _channel_row(std, shape), out=x_mu), None, None
    out = np.multiply(x_hat, _channel_row(gamma, shape))  # γ·x̂ + β, in place
    out += _channel_row(beta, shape)
    cache = BatchNormCache(
        x=x, gamma=gamma, beta=beta, eps=float(eps), momentum=m, mode=mode, convention=convention, n=n,
        mean=mean, var=var, std=std, x_mu=x_mu, x_hat=x_hat, var_unbiased=var_unbiased,
        running_mean_before=rm0, running_var_before=rv0,
        running_mean=np.asarray(rm, dtype), running_var=np.asarray(rv, dtype))
    return out, cache


def batchnorm_backward(dout: np.ndarray, cache: BatchNormCache, staged: bool | None = None) -> BatchNormGrads:
    """The notes' staged backward (dx̂ → dσ² → dμ → dx) and the compact one-line dx.

    ``staged=False`` (the lean path) computes only the compact formula: ``dx`` and
    ``dx_compact`` are then the same array, and the staged intermediates ``dx_hat``,
    ``dvar`` and ``dmean`` are None. ``staged=None`` (default): staged unless the cache came
    from a lean forward, which keeps no x − μ for the staged route.
    """
    dout = np.asarray(dout)
    c = cache
    shape, n = c.x_hat.shape, c.n
    if staged is None:
        staged = c.x_mu is not None
    elif staged and c.x_mu is None:
        raise ValueError("the staged backward needs x − μ, which a lean forward (staged=False) does not keep")
    if dout.shape != shape:
        raise OpInputError("inputs.dout", f"must have the shape of out {shape_text(shape)}, "
                           f"got {shape_text(dout.shape)}")
    dtype = np.result_type(dout, c.x_hat)
    dbeta = _channel_sum(dout)
    dgamma = _channel_dot(dout, c.x_hat)
    if c.mode == "train":
        # γ/(n·std)·(n·dout − Σdout − x̂·Σ dout·x̂) = γ/std·(dout − x̂·(Σ dout·x̂)/n − (Σdout)/n):
        # four passes over one new array (the 1/n rides on the per-channel sums)
        dx_compact = np.multiply(c.x_hat, _channel_row(dgamma / n, shape), dtype=dtype)
        dx_compact += _channel_row(dbeta / n, shape)
        np.subtract(dout, dx_compact, out=dx_compact)
        dx_compact *= _channel_row(c.gamma / c.std, shape)
    else:
        # the running statistics are constants here: nothing flows back through μ and σ²
        dx_compact = np.multiply(dout, _channel_row(c.gamma / c.std, shape), dtype=dtype)
    if not staged:
        return BatchNormGrads(dx_hat=None, dvar=None, dmean=None, dx=dx_compact, dx_compact=dx_compact,
                              dgamma=dgamma, dbeta=dbeta)
    std_row = _channel_row(c.std, shape)
    dx_hat = np.multiply(dout, _channel_row(c.gamma, shape), dtype=dtype)
    dx = np.divide(dx_hat, std_row)  # dx̂/std: the first path, and (negated, summed) dmean's first term
    if c.mode == "train":
        dvar = _channel_dot(dx_hat, c.x_mu) * -0.5 * (c.var + c.eps) ** -1.5
        dmean = -_channel_sum(dx) + dvar * (-2 * _channel_sum(c.x_mu)) / n
        second = np.multiply(c.x_mu, _channel_row(dvar * 2, shape), dtype=dtype)  # dvar·2(x − μ)/n
        second /= n
        dx += second
        dx += _channel_row(dmean / n, shape)
    else:
        dvar, dmean = np.zeros_like(c.var), np.zeros_like(c.mean)
    return BatchNormGrads(dx_hat=dx_hat, dvar=dvar, dmean=dmean, dx=dx, dx_compact=dx_compact,
                          dgamma=dgamma, dbeta=dbeta)


BATCHNORM_ARRAYS = ("x", "gamma", "beta", "dout", "running_mean_before", "running_var_before", "momentum",
                    "mean", "var", "std", "x_mu", "x_hat", "out", "running_mean", "running_var",
                    "dx_hat", "dvar", "dmean", "dx", "dx_compact", "dgamma", "dbeta")


def _bn_defaults(shapes: dict[str, tuple[int, ...]], params: dict[str, Any], dtype: Any) -> Arrays:
    x_shape = tuple(shapes["x"])
    c = x_shape[1]
    return {"gamma": np.ones(c, dtype), "beta": np.zeros(c, dtype), "dout": np.ones(x_shape, dtype),
            "running_mean": np.zeros(c, dtype), "running_var": np.ones(c, dtype)}


def _bn_call(arrays: Arrays, params: dict[str, Any]) -> tuple[np.ndarray, BatchNormCache, BatchNormGrads, Arrays]:
    dtype = arrays["x"].dtype
    arrays = {**_bn_defaults({"x": arrays["x"].shape}, params, dtype), **arrays}
    out, cache = batchnorm_forward(
        arrays["x"], arrays["gamma"], arrays["beta"], arrays["running_mean"], arrays["running_var"],
        eps=params.get("eps", 1e-5), momentum=params.get("momentum"), mode=params.get("mode", "train"),
        convention=params.get("convention", "pytorch"))
    grads = batchnorm_backward(arrays["dout"], cache)
    return out, cache, grads, arrays


def _bn_shapes(shapes: dict[str, tuple[int, ...]], params: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    x, per_channel = tuple(shapes["x"]), (shapes["x"][1],)
    like_x = ("x", "dout", "x_mu", "x_hat", "out", "dx_hat", "dx", "dx_compact")
    return {name: x if name in like_x else () if name == "momentum" else per_channel for name in BATCHNORM_ARRAYS}


def _bn_run(arrays: Arrays, params: dict[str, Any], extras: bool = True) -> Arrays:
    out, c, g, arrays = _bn_call(arrays, params)
    return copied(
        x=c.x, gamma=c.gamma, beta=c.beta, dout=arrays["dout"], running_mean_before=c.running_mean_before,
        running_var_before=c.running_var_before, momentum=np.asarray(c.momentum, c.x.dtype), mean=c.mean,
        var=c.var, std=c.std, x_mu=c.x_mu, x_hat=c.x_hat, out=out, running_mean=c.running_mean,
        running_var=c.running_var, dx_hat=g.dx_hat, dvar=g.dvar, dmean=g.dmean, dx=g.dx, dx_compact=g.dx_compact,
        dgamma=g.dgamma, dbeta=g.dbeta)


def _bn_steps(a: Arrays, params: dict[str, Any]) -> list[Step]:
    """The steps of what :func:`_bn_run` computed, from its arrays."""
    mode, convention = params.get("mode", "train"), params.get("convention", "pytorch")
    eps, momentum = float(params.get("eps", 1e-5)), float(a["momentum"])
    n_text = _n_text(a["x"].shape).replace("·", r" \cdot ")
    eps_tex, m_tex = tex_number(eps), tex_number(momentum)
    steps: list[Step] = []
    if mode == "train":
        steps += [
            Step("forward", "mean", "Batch mean of each channel",
                 r"\mu_c = \frac{1}{n}\sum_{i=1}^{n} x_{i,c}, \quad n = " + n_text, pick(a, "x", "mean")),
            Step("forward", "var", "Batch variance (biased: divide by n)",
                 r"\sigma^2_c = \frac{1}{n}\sum_{i=1}^{n} (x_{i,c} - \mu_c)^2", pick(a, "x_mu", "var")),
        ]
    else:
        steps.append(Step("forward", "stats", "Eval: use the running statistics, not the batch's",
                          r"\mu_c = \mu^{\text{run}}_c, \quad \sigma^2_c = \sigma^{2,\text{run}}_c",
                          pick(a, "running_mean_before", "running_var_before", "mean", "var")))
    steps += [
        Step("forward", "std", "Standard deviation with ε",
             r"\sigma_c = \sqrt{\sigma^2_c + \epsilon}, \quad \epsilon = " + eps_tex, pick(a, "var", "std")),
        Step("forward", "x_hat", "Normalise: subtract the mean, divide by the standard deviation",
             r"\hat{x}_{i,c} = \frac{x_{i,c} - \mu_c}{\sigma_c}", pick(a, "x", "mean", "x_mu", "std", "x_hat")),
        Step("forward", "out", "Scale by γ and shift by β",
             r"y_{i,c} = \gamma_c\,\hat{x}_{i,c} + \beta_c", pick(a, "x_hat", "gamma", "beta", "out")),
    ]
    running = pick(a, "running_mean_before", "running_var_before", "running_mean", "running_var")
    if mode == "eval":
        steps.append(Step("forward", "running", "Eval: the running statistics stay unchanged",
                          r"\mu^{\text{run}}_c,\ \sigma^{2,\text{run}}_c \text{ unchanged}", running))
    else:  # r ← (1 − m)·r + m·batch (pytorch, unbiased variance) or r ← m·r + (1 − m)·batch (cs231n, biased)
        pytorch = convention == "pytorch"
        keep, add = ("(1 - m)", "m") if pytorch else ("m", "(1 - m)")
        batch_var = r"\frac{n}{n - 1}\sigma^2_c" if pytorch else r"\sigma^2_c"
        shown = {"var_unbiased": unbiased_var(a["var"], a["x"].size // a["var"].size)} if pytorch else {}
        steps.append(Step(
            "forward", "running", f"Update the running statistics ({'PyTorch' if pytorch else 'cs231n'}: momentum "
            f"m = {momentum:g}, {'unbiased' if pytorch else 'biased'} variance)",
            rf"\mu^{{\text{{run}}}}_c \leftarrow {keep}\,\mu^{{\text{{run}}}}_c + {add}\,\mu_c, \quad "
            rf"\sigma^{{2,\text{{run}}}}_c \leftarrow {keep}\,\sigma^{{2,\text{{run}}}}_c + {add}\,{batch_var}, "
            r"\quad m = " + m_tex, {**running, **pick(a, "mean", "var"), **shown}))
    steps += [
        Step("backward", "dbeta", "Gradient of β: sum the upstream gradient",
             r"\frac{\partial L}{\partial \beta_c} = \sum_{i=1}^{n} \frac{\partial L}{\partial y_{i,c}}",
             pick(a, "dout", "dbeta")),
        Step("backward", "dgamma", "Gradient of γ",
             r"\frac{\partial L}{\partial \gamma_c} = \sum_{i=1}^{n}"
             r" \frac{\partial L}{\partial y_{i,c}}\,\hat{x}_{i,c}", pick(a, "dout", "x_hat", "dgamma")),
        Step("backward", "dx_hat", "Gradient of the normalised input",
             r"\frac{\partial L}{\partial \hat{x}_i} = \frac{\partial L}{\partial y_i}\,\gamma",
             pick(a, "dout", "gamma", "dx_hat")),
    ]
    if mode == "train":
        steps += [
            Step("backward", "dvar", "Gradient of the variance (every x̂ used it)",
                 r"\frac{\partial L}{\partial \sigma^2} = \sum_{i=1}^{n} \frac{\partial L}{\partial \hat{x}_i}"
                 r"\,(x_i - \mu)\,\frac{-1}{2}\,(\sigma^2 + \epsilon)^{-3/2}",
                 pick(a, "dx_hat", "x_mu", "var", "dvar")),
            Step("backward", "dmean", "Gradient of the mean (through every x̂ and through σ²)",
                 r"\frac{\partial L}{\partial \mu} = \sum_{i=1}^{n} \frac{\partial L}{\partial \hat{x}_i}"
                 r"\frac{-1}{\sqrt{\sigma^2 + \epsilon}} + \frac{\partial L}{\partial \sigma^2}"
                 r"\,\frac{\sum_{i=1}^{n} -2(x_i - \mu)}{n}", pick(a, "dx_hat", "std", "dvar", "x_mu", "dmean")),
            Step("backward", "dx", "Gradient of the input: three paths add up",
                 r"\frac{\partial L}{\partial x_i} = \frac{\partial L}{\partial \hat{x}_i}"
                 r"\frac{1}{\sqrt{\sigma^2 + \epsilon}} + \frac{\partial L}{\partial \sigma^2}\,\frac{2(x_i - \mu)}{n}"
                 r" + \frac{1}{n}\,\frac{\partial L}{\partial \mu}",
                 pick(a, "dx_hat", "std", "dvar", "x_mu", "dmean", "dx")),
            Step("backward", "dx_compact", "The same gradient in one line",
                 r"\frac{\partial L}{\partial x_i} = \frac{\gamma}{n\,\sigma}\Big(n\,\frac{\partial L}{\partial y_i}"
                 r" - \sum_{j=1}^{n} \frac{\partial L}{\partial y_j} - \hat{x}_i \sum_{j=1}^{n}"
                 r" \frac{\partial L}{\partial y_j}\,\hat{x}_j\Big)",
                 pick(a, "dout", "gamma", "std", "x_hat", "dbeta", "dgamma", "dx_compact", "dx")),
        ]
    else:
        steps += [
            Step("backward", "stats_constant", "Eval: μ and σ² are constants, so no gradient flows through them",
                 r"\frac{\partial \mu}{\partial x_i} = \frac{\partial \sigma^2}{\partial x_i} = 0",
                 pick(a, "dvar", "dmean")),
            Step("backward", "dx", "Gradient of the input: the affine map's gradient",
                 r"\frac{\partial L}{\partial x_i} = \frac{\partial L}{\partial \hat{x}_i}"
                 r"\frac{1}{\sqrt{\sigma^{2,\text{run}} + \epsilon}}", pick(a, "dx_hat", "std", "dx")),
            Step("backward", "dx_compact", "The same gradient in one line",
                 r"\frac{\partial L}{\partial x_i} = \frac{\partial L}{\partial y_i}"
                 r"\,\frac{\gamma}{\sqrt{\sigma^{2,\text{run}} + \epsilon}}",
                 pick(a, "dout", "gamma", "std", "dx_compact", "dx")),
        ]
    return steps


def _column(shape: tuple[int, ...], c: int) -> list[Index]:
    """Every index of an (N, C) or (N, C, H, W) array in channel c, row-major."""
    return [(i[0], c, *i[1:]) for i in np.ndindex(shape[:1] + shape[2:])]


_X_SHAPED = ("x_mu", "x_hat", "out", "dx_hat", "dx", "dx_compact")
_BN_LEAVES = ("x", "gamma", "beta", "dout", "running_mean_before", "running_var_before", "momentum")


def _bn_provenance(arrays: Arrays, params: dict[str, Any], array: str, index: Index) -> dict[str, list[Index]]:
    result = _bn_run(arrays, params)
    if array not in result:
        raise OpInputError("array", f"batchnorm has no array {array!r} (arrays: {', '.join(BATCHNORM_ARRAYS)})")
    check_index(result[array].shape, array, index)
    if array in _BN_LEAVES:
        return {}
    shape = result["x"].shape
    c = index[1] if array in _X_SHAPED else index[0]
    col = _column(shape, c)
    here = [tuple(index)] if array in _X_SHAPED else []
    train = params.get("mode", "train") == "train"
    stats = {"x": col} if train else {"running_mean_before": [(c,)], "running_var_before": [(c,)]}
    var_stats = {"x": col} if train else {"running_var_before": [(c,)]}
    if array in ("x_mu", "x_hat", "out"):
        src = {"x": col} if train else {"x": here, **stats}
        if array == "x_mu":
            src.pop("running_var_before", None)
        if array == "out":
            src = {**src, "gamma": [(c,)], "beta": [(c,)]}
        return src
    if array == "mean":
        return {"x": col} if train else {"running_mean_before": [(c,)]}
    if array in ("var", "std"):
        return var_stats
    if array in ("running_mean", "running_var"):
        before = "running_mean_before" if array == "running_mean" else "running_var_before"
        return {before: [(c,)], "x": col} if train else {before: [(c,)]}
    if array == "dx_hat":
        return {"dout": here, "gamma": [(c,)]}
    if array in ("dvar", "dmean"):
        return {"dout": col, "x": col, "gamma": [(c,)]} if train else {}
    if array in ("dx", "dx_compact"):
        if train:
            return {"dout": col, "x": col, "gamma": [(c,)]}
        return {"dout": here, "gamma": [(c,)], "running_var_before": [(c,)]}
    if array == "dgamma":
        return {"dout": col, "x": col} if train else {"dout": col, "x": col, **stats}
    return {"dout": col}  # dbeta


def _bn_example(rng: np.random.Generator) -> tuple[dict[str, Any], dict[str, Any]]:
    shape = (4, 3) if rng.integers(2) == 0 else (2, 3, 2, 2)
    c = shape[1]
    inputs = {"x": rng.normal(size=shape).round(2).tolist(), "gamma": rng.uniform(0.5, 1.5, c).round(2).tolist(),
              "beta": rng.normal(size=c).round(2).tolist(), "dout": rng.normal(size=shape).round(2).tolist()}
    return inputs, {"mode": "train", "convention": "pytorch"}


EPS_PARAM = Param("eps", float, 1e-5, lo=1e-12, hi=1.0, doc="ε added to the variance under the square root")

SPECS = (
    OpSpec(
        name="batchnorm",
        title="Batch normalization",
        inputs=(
            Input("x", (2, 4), doc="(N, D) features or (N, C, H, W) images"),
            Input("gamma", (1,), required=False, doc="scale γ, one per feature/channel (default ones)"),
            Input("beta", (1,), required=False, doc="shift β, one per feature/channel (default zeros)"),
            Input("dout", (2, 4), required=False, grad=False, doc="upstream gradient (default ones)"),
            Input("running_mean", (1,), required=False, grad=False, doc="running mean coming in (default zeros)"),
            Input("running_var", (1,), required=False, grad=False, doc="running variance coming in (default ones)"),
        ),
        params=(
            EPS_PARAM,
            Param("momentum", float, None, lo=0.0, hi=1.0,
                  doc="running-average momentum m; omit it for the convention's default (pytorch 0.1, cs231n 0.9)"),
            Param("mode", str, "train", choices=MODES, doc="train: batch statistics; eval: running statistics"),
            Param("convention", str, "pytorch", choices=BN_CONVENTIONS,
                  doc="pytorch: r ← (1−m)·r + m·batch, unbiased running variance; "
                      "cs231n (the notes): r ← m·r + (1−m)·batch, biased"),
        ),
        arrays=BATCHNORM_ARRAYS,
        run=_bn_run,
        check=_bn_check,
        defaults=_bn_defaults,
        steps=_bn_steps,
        provenance=_bn_provenance,
        example=_bn_example,
        shapes=_bn_shapes,
    ),
)
