"""Group normalization: layer norm's graph over groups of channels; instance norm is groups = C.

x (N, C, ...) — (N, C) features or (N, C, H, W) images. The C channels are split into
``groups`` consecutive groups of C/G channels; each (sample, group) is normalized over its
d = (C/G)·H·W values with the biased variance. γ and β hold one value per channel (C,), as
PyTorch's GroupNorm. groups = 1 normalizes each sample over all its values (layer norm with
per-channel γ, β); groups = C normalizes each channel of each sample alone (instance norm).
No running statistics: train and eval compute the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.ops.batchnorm import EPS_PARAM
from engine.records import Arrays, Index, Input, OpInputError, OpSpec, Param, Step, check_index, copied, pick
from engine.tex import tex_number


@dataclass(frozen=True)
class GroupNormCache:
    """What group-norm backward reads (arrays in x's shape unless said)."""

    x: np.ndarray  # input (N, C, ...) (a copy)
    gamma: np.ndarray  # scale (C,)
    groups: int  # G
    eps: float
    d: int  # values per (sample, group): (C/G)·H·W
    mean: np.ndarray  # μ of each (sample, group), (N, G)
    var: np.ndarray  # biased variance of each (sample, group), (N, G)
    std: np.ndarray  # √(σ² + ε), (N, G)
    x_mu: np.ndarray  # x − μ of its group
    x_hat: np.ndarray  # (x − μ)/std


@dataclass(frozen=True)
class GroupNormGrads:
    dx_hat: np.ndarray  # dout·γ
    dvar: np.ndarray  # ∂L/∂σ² of each (sample, group), (N, G)
    dmean: np.ndarray  # ∂L/∂μ of each (sample, group), (N, G)
    dx: np.ndarray  # dx̂/std + dvar·2(x − μ)/d + dmean/d
    dgamma: np.ndarray  # Σ over N and the spatial axes of dout·x̂, (C,)
    dbeta: np.ndarray  # Σ over N and the spatial axes of dout, (C,)


def _by_group(a: np.ndarray, groups: int) -> np.ndarray:
    """(N, C, ...) -> (N, G, d): a view of each (sample, group)'s values (a copy only if a is not contiguous)."""
    return a.reshape(a.shape[0], groups, -1)


def _per_channel(v: np.ndarray, ndim: int) -> np.ndarray:
    """(C,) shaped to broadcast against (N, C, ...)."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def check_groupnorm(x_shape: tuple[int, ...], groups: int) -> None:
    if len(x_shape) not in (2, 4):
        raise OpInputError("inputs.x", f"must be (N, C) or (N, C, H, W), got shape {list(x_shape)}")
    c = x_shape[1]
    if groups > c or c % groups:
        raise OpInputError("params.groups", f"must divide the channels C = {c} into equal groups; "
                                            f"got {groups} (try one of "
                                            f"{', '.join(str(g) for g in range(1, c + 1) if c % g == 0)})")


def groupnorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, groups: int = 1,
                      eps: float = 1e-5) -> tuple[np.ndarray, GroupNormCache]:
    """y = γ_c·(x − μ_{n,g})/√(σ²_{n,g} + ε) + β_c, statistics over each sample's group of channels."""
    x = np.array(x, copy=True)
    check_groupnorm(x.shape, groups)
    nd = x.ndim
    xg = _by_group(x, groups)
    mean = xg.mean(axis=2)
    x_mu_g = xg - mean[:, :, None]
    var = (x_mu_g * x_mu_g).mean(axis=2)
    std = np.sqrt(var + eps)
    x_hat = (x_mu_g / std[:, :, None]).reshape(x.shape)
    out = _per_channel(gamma, nd) * x_hat + _per_channel(beta, nd)
    cache = GroupNormCache(x=x, gamma=np.array(gamma, copy=True), groups=groups, eps=float(eps), d=xg.shape[2],
                           mean=mean, var=var, std=std, x_mu=x_mu_g.reshape(x.shape), x_hat=x_hat)
    return out, cache


def groupnorm_backward(dout: np.ndarray, cache: GroupNormCache) -> GroupNormGrads:
    c = cache
    if dout.shape != c.x.shape:
        raise OpInputError("inputs.dout", f"must have the shape of out {list(c.x.shape)}, got {list(dout.shape)}")
    nd, g, d = c.x.ndim, c.groups, c.d
    axes = (0, *range(2, nd))
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * c.x_hat).sum(axis=axes)
    dx_hat = dout * _per_channel(c.gamma, nd)
    dxh, x_mu = _by_group(dx_hat, g), _by_group(c.x_mu, g)
    std = c.std[:, :, None]
    dvar = (dxh * x_mu).sum(axis=2) * -0.5 * (c.var + c.eps) ** -1.5
    dmean = (-dxh / std).sum(axis=2) + dvar * (-2 * x_mu).sum(axis=2) / d
    dx = (dxh / std + dvar[:, :, None] * 2 * x_mu / d + dmean[:, :, None] / d).reshape(c.x.shape)
    return GroupNormGrads(dx_hat=dx_hat, dvar=dvar, dmean=dmean, dx=dx, dgamma=dgamma, dbeta=dbeta)


# ---------------------------------------------------------------- registry glue

ARRAYS = ("x", "gamma", "beta", "dout", "mean", "var", "std", "x_mu", "x_hat", "out",
          "dx_hat", "dvar", "dmean", "dx", "dgamma", "dbeta")


def _check(shapes: dict[str, tuple[int, ...]], params: dict[str, Any]) -> None:
    x_shape = tuple(shapes["x"])
    check_groupnorm(x_shape, params["groups"])
    for name in ("gamma", "beta"):
        if name in shapes and tuple(shapes[name]) != (x_shape[1],):
            raise OpInputError(f"inputs.{name}", f"must hold one value per channel: shape [{x_shape[1]}], "
                                                 f"got {list(shapes[name])}")
    if "dout" in shapes and tuple(shapes["dout"]) != x_shape:
        raise OpInputError("inputs.dout", f"must have the shape of out {list(x_shape)}, got {list(shapes['dout'])}")


def _defaults(shapes: dict[str, tuple[int, ...]], params: dict[str, Any], dtype: Any) -> Arrays:
    x_shape = tuple(shapes["x"])
    return {"gamma": np.ones(x_shape[1], dtype), "beta": np.zeros(x_shape[1], dtype), "dout": np.ones(x_shape, dtype)}


def _shapes(shapes: dict[str, tuple[int, ...]], params: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    x, per_channel, per_group = tuple(shapes["x"]), (shapes["x"][1],), (shapes["x"][0], params["groups"])
    like = {"gamma": per_channel, "beta": per_channel, "dgamma": per_channel, "dbeta": per_channel,
            "mean": per_group, "var": per_group, "std": per_group, "dvar": per_group, "dmean": per_group}
    return {name: like.get(name, x) for name in ARRAYS}


def _run(arrays: Arrays, params: dict[str, Any], extras: bool = True) -> Arrays:
    out, c = groupnorm_forward(arrays["x"], arrays["gamma"], arrays["beta"], params["groups"], params["eps"])
    g = groupnorm_backward(arrays["dout"], c)
    return copied(x=c.x, gamma=c.gamma, beta=arrays["beta"], dout=arrays["dout"], mean=c.mean, var=c.var, std=c.std,
                  x_mu=c.x_mu, x_hat=c.x_hat, out=out, dx_hat=g.dx_hat, dvar=g.dvar, dmean=g.dmean, dx=g.dx,
                  dgamma=g.dgamma, dbeta=g.dbeta)


def _steps(a: Arrays, params: dict[str, Any]) -> list[Step]:
    n, c = a["x"].shape[:2]
    g = params["groups"]
    d = a["x"][0].size // g
    where = (rf"G = {g}\ \text{{groups of}}\ C/G = {c // g}\ \text{{channels}},\ d = {d}"
             + (r"\ \text{(instance norm)}" if g == c and a["x"].ndim == 4 else ""))
    return [
        Step("forward", "mean", "Mean of each sample's group of channels",
             r"\mu_{n,g} = \frac{1}{d}\sum_{j \in g} x_{n,j},\quad " + where, pick(a, "x", "mean")),
        Step("forward", "var", "Variance of each group (biased: divide by d)",
             r"\sigma^2_{n,g} = \frac{1}{d}\sum_{j \in g} (x_{n,j} - \mu_{n,g})^2", pick(a, "x_mu", "var")),
        Step("forward", "std", "Standard deviation with ε",
             r"\sigma_{n,g} = \sqrt{\sigma^2_{n,g} + \epsilon},\quad \epsilon = " + tex_number(params["eps"]),
             pick(a, "var", "std")),
        Step("forward", "x_hat", "Normalise each group", r"\hat x_{n,j} = \frac{x_{n,j} - \mu_{n,g}}{\sigma_{n,g}}",
             pick(a, "x", "mean", "x_mu", "std", "x_hat")),
        Step("forward", "out", "Scale and shift, one γ and β per channel",
             r"y_{n,c,\dots} = \gamma_c\,\hat x_{n,c,\dots} + \beta_c", pick(a, "x_hat", "gamma", "beta", "out")),
        Step("backward", "dbeta", "Gradient of β: sum over the batch and the positions",
             r"\frac{\partial L}{\partial \beta_c} = \sum_{n,h,w} \frac{\partial L}{\partial y_{n,c,h,w}}",
             pick(a, "dout", "dbeta")),
        Step("backward", "dgamma", "Gradient of γ",
             r"\frac{\partial L}{\partial \gamma_c} = \sum_{n,h,w} \frac{\partial L}{\partial y_{n,c,h,w}}\,"
             r"\hat x_{n,c,h,w}", pick(a, "dout", "x_hat", "dgamma")),
        Step("backward", "dx_hat", "Gradient of the normalised input",
             r"\frac{\partial L}{\partial \hat x_{n,c,\dots}} = \frac{\partial L}{\partial y_{n,c,\dots}}\,\gamma_c",
             pick(a, "dout", "gamma", "dx_hat")),
        Step("backward", "dvar", "Gradient of each group's variance",
             r"\frac{\partial L}{\partial \sigma^2_{n,g}} = \sum_{j \in g} \frac{\partial L}{\partial \hat x_{n,j}}"
             r"\,(x_{n,j} - \mu_{n,g})\,\frac{-1}{2}\,(\sigma^2_{n,g} + \epsilon)^{-3/2}",
             pick(a, "dx_hat", "x_mu", "var", "dvar")),
        Step("backward", "dmean", "Gradient of each group's mean",
             r"\frac{\partial L}{\partial \mu_{n,g}} = \sum_{j \in g} \frac{\partial L}{\partial \hat x_{n,j}}"
             r"\frac{-1}{\sigma_{n,g}} + \frac{\partial L}{\partial \sigma^2_{n,g}}\,"
             r"\frac{\sum_{j \in g} -2(x_{n,j} - \mu_{n,g})}{d}", pick(a, "dx_hat", "std", "dvar", "dmean")),
        Step("backward", "dx", "Gradient of the input: three paths add up",
             r"\frac{\partial L}{\partial x_{n,j}} = \frac{\partial L}{\partial \hat x_{n,j}}\frac{1}{\sigma_{n,g}}"
             r" + \frac{\partial L}{\partial \sigma^2_{n,g}}\,\frac{2(x_{n,j} - \mu_{n,g})}{d}"
             r" + \frac{1}{d}\,\frac{\partial L}{\partial \mu_{n,g}}",
             pick(a, "dx_hat", "std", "dvar", "x_mu", "dmean", "dx")),
    ]


def _group_cells(shape: tuple[int, ...], groups: int, n: int, g: int) -> list[Index]:
    """Every element (n, c, ...) of x in group g of sample n."""
    per = shape[1] // groups
    return [(n, c, *rest) for c in range(g * per, (g + 1) * per) for rest in np.ndindex(shape[2:])]


def _provenance(arrays: Arrays, params: dict[str, Any], array: str, index: Index) -> dict[str, list[Index]]:
    result = _run(arrays, params)
    if array not in result:
        raise OpInputError("array", f"groupnorm has no array {array!r} (arrays: {', '.join(ARRAYS)})")
    check_index(result[array].shape, array, index)
    shape, groups = result["x"].shape, params["groups"]
    per = shape[1] // groups
    if array in ("x", "gamma", "beta", "dout"):
        return {}
    if array in ("mean", "var", "std", "dvar", "dmean"):
        n, g = index
        cells = _group_cells(shape, groups, n, g)
        found: dict[str, list[Index]] = {"x": cells}
        if array in ("dvar", "dmean"):
            found.update(dout=cells, gamma=[(c,) for c in range(g * per, (g + 1) * per)])
        return found
    if array in ("dgamma", "dbeta"):
        (c,) = index
        column = [(n, c, *rest) for n in range(shape[0]) for rest in np.ndindex(shape[2:])]
        if array == "dbeta":
            return {"dout": column}
        g = c // per
        return {"dout": column, "x": [cell for n in range(shape[0]) for cell in _group_cells(shape, groups, n, g)]}
    n, c = index[0], index[1]
    cells = _group_cells(shape, groups, n, c // per)
    if array in ("x_mu", "x_hat"):
        return {"x": cells}
    if array == "out":
        return {"x": cells, "gamma": [(c,)], "beta": [(c,)]}
    if array == "dx_hat":
        return {"dout": [tuple(index)], "gamma": [(c,)]}
    g = c // per
    return {"dout": cells, "x": cells, "gamma": [(k,) for k in range(g * per, (g + 1) * per)]}  # dx


def _example(rng: np.random.Generator) -> tuple[dict[str, Any], dict[str, Any]]:
    shape = (2, 4, 2, 2)
    return ({"x": rng.normal(size=shape).round(2).tolist(), "gamma": rng.uniform(0.5, 1.5, 4).round(2).tolist(),
             "beta": rng.normal(size=4).round(2).tolist(), "dout": rng.normal(size=shape).round(2).tolist()},
            {"groups": 2})


SPECS = (
    OpSpec(
        name="groupnorm",
        title="Group normalization",
        inputs=(
            Input("x", (2, 4), doc="(N, C) features or (N, C, H, W) images"),
            Input("gamma", (1,), required=False, doc="scale γ, one per channel (C,) (default ones)"),
            Input("beta", (1,), required=False, doc="shift β, one per channel (C,) (default zeros)"),
            Input("dout", (2, 4), required=False, grad=False, doc="upstream gradient (default ones)"),
        ),
        params=(
            Param("groups", int, 1, lo=1, hi=1024, doc="G: groups of C/G channels (1: over all channels; C: "
                                                        "instance norm)"),
            EPS_PARAM,
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
