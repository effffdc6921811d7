"""groupnorm's gradients as terms (statistics per sample n and group g over the d = (C/G)·H·W values i of that
sample's group of channels; batch norm's terms with the group in place of the channel's column):

- dbeta[c] = Σ_{n, positions} 1·dout;  dgamma[c] = Σ x̂·dout;  dx_hat[i] = γ[c]·dout[i]
- dvar[n, g] = Σ_i (x − μ)[i]·(−½)(σ² + ε)^{−3/2} · dx̂[i]
- dmean[n, g] = Σ_i (−1/σ)·dx̂[i] + (−2·Σ(x − μ)/d)·dvar[n, g]
- dx[i] = (1/σ)·dx̂[i] (through x̂) + (2(x − μ)[i]/d)·dvar[n, g] (through σ²) + (1/d)·dmean[n, g] (through μ)

σ is std = √(σ² + ε) of the group. Each coefficient names the cell it is made from.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.explain.terms.norm import PATHS, along, column, dvar_coefficient
from engine.explain.terms.record import Cells, Column, Grid, Term, Terms, cell, constant, index_text
from engine.records import Arrays, Index, OpInputError

ARRAYS = ("dbeta", "dgamma", "dx_hat", "dvar", "dmean", "dx")
FORMULAS = {
    "dbeta": r"\frac{\partial L}{\partial \beta_c} = \sum_{n,\,\text{positions}} 1\cdot\frac{\partial L}{\partial y}",
    "dgamma": r"\frac{\partial L}{\partial \gamma_c} = \sum_{n,\,\text{positions}} \hat{x}\,"
              r"\frac{\partial L}{\partial y}",
    "dx_hat": r"\frac{\partial L}{\partial \hat{x}_i} = \gamma_c\,\frac{\partial L}{\partial y_i}",
    "dvar": r"\frac{\partial L}{\partial \sigma^2_{n,g}} = \sum_{i \in (n,g)} (x_i - \mu_{n,g})\,"
            r"\frac{-1}{2}(\sigma^2_{n,g} + \epsilon)^{-3/2}\,\frac{\partial L}{\partial \hat{x}_i}",
    "dmean": r"\frac{\partial L}{\partial \mu_{n,g}} = \sum_{i \in (n,g)} \frac{-1}{\sigma_{n,g}}\,"
             r"\frac{\partial L}{\partial \hat{x}_i} + \frac{-2\sum_i (x_i - \mu_{n,g})}{d}\,"
             r"\frac{\partial L}{\partial \sigma^2_{n,g}}",
    "dx": r"\frac{\partial L}{\partial x_i} = \frac{1}{\sigma_{n,g}}\,\frac{\partial L}{\partial \hat{x}_i}"
          r" + \frac{2(x_i - \mu_{n,g})}{d}\,\frac{\partial L}{\partial \sigma^2_{n,g}}"
          r" + \frac{1}{d}\,\frac{\partial L}{\partial \mu_{n,g}}",
}


def members(shape: tuple[int, ...], groups: int, n: int, g: int) -> Grid:
    """Every index of sample n's group g (channels g·C/G … (g+1)·C/G − 1, every position), row-major."""
    per = shape[1] // groups
    return Grid((per, *shape[2:]), lambda j: (n, g * per + j[0], *j[1:]))


def in_group(values: np.ndarray, n: int, g: int, per: int) -> list[float]:
    """Sample n's group g of an (N, C, …) array in :func:`members`' order, as Python floats (one read)."""
    return values[n, g * per:(g + 1) * per].reshape(-1).tolist()


def groupnorm_terms(result: Arrays, params: dict[str, Any], array: str, index: Index) -> Terms:
    if array not in ARRAYS:
        raise OpInputError("array", f"groupnorm has no terms for {array!r}; arrays with terms: {', '.join(ARRAYS)}")
    index = tuple(int(i) for i in index)
    shape = result["x"].shape
    groups = int(params.get("groups", result["mean"].shape[1]))
    eps = float(params.get("eps", 1e-5))
    per = shape[1] // groups
    d = result["x"][0].size // groups
    dout, x_hat, x_mu, dx_hat = result["dout"], result["x_hat"], result["x_mu"], result["dx_hat"]
    if array in ("dx_hat", "dx"):
        n, g = index[0], index[1] // per
    elif array in ("dvar", "dmean"):
        n, g = index
    else:
        n = g = 0
    note = ""
    if array == "dbeta":  # what dβ[c] and dγ[c] sum: channel c over the samples and positions, as batch norm's
        terms = Column(constant(1.0, "1"), Cells("dout", column(shape, index[0]), along(dout, index[0])))
    elif array == "dgamma":
        c, col = index[0], column(shape, index[0])
        terms = Column(Cells("x_hat", col, along(x_hat, c)), Cells("dout", col, along(dout, c)))
    elif array == "dx_hat":
        c = index[1]
        terms = [Term(cell("gamma", (c,), result["gamma"][c]), cell("dout", index, dout[index]))]
    elif array == "dvar":
        k = -0.5 * (float(result["var"][n, g]) + eps) ** -1.5
        group = members(shape, groups, n, g)
        terms = Column(Cells("x_mu", group, [xm * k for xm in in_group(x_mu, n, g, per)], dvar_coefficient),
                       Cells("dx_hat", group, in_group(dx_hat, n, g, per)))
    elif array == "dmean":
        std = float(result["std"][n, g])
        through_var = -2.0 * float(sum(in_group(x_mu, n, g, per))) / d
        terms = Column(cell("std", (n, g), -1.0 / std, f"−1/σ[{n},{g}]"),
                       Cells("dx_hat", members(shape, groups, n, g), in_group(dx_hat, n, g, per)),
                       [Term(constant(through_var, "−2·Σ(x−μ)/d"), cell("dvar", (n, g), result["dvar"][n, g]))])
        note = "Σ(x − μ) over the group is 0 up to rounding, so the path through σ² adds (almost) nothing."
    else:  # dx
        std = float(result["std"][n, g])
        terms = [Term(cell("std", (n, g), 1.0 / std, f"1/σ[{n},{g}]"), cell("dx_hat", index, dx_hat[index]), "x_hat"),
                 Term(cell("x_mu", index, 2.0 * x_mu[index] / d, f"2(x−μ)[{index_text(index)}]/d"),
                      cell("dvar", (n, g), result["dvar"][n, g]), "var"),
                 Term(constant(1.0 / d, f"1/d = 1/{d}"), cell("dmean", (n, g), result["dmean"][n, g]), "mean")]
        note = f"Three paths reach x through its group's statistics (sample {n}, group {g} of {groups})."
    return Terms("groupnorm", array, index, float(result[array][index]), terms, FORMULAS[array], note,
                 PATHS if array == "dx" else {})


FAMILY = {"groupnorm": (groupnorm_terms, ARRAYS)}
