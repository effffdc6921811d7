"""batchnorm's gradients as terms (statistics per channel c over the n = N or N·H·W values i of its column):

- dbeta[c] = Σ_i 1·dout[i];  dgamma[c] = Σ_i x̂[i]·dout[i];  dx_hat[i] = γ[c]·dout[i]
- dvar[c] = Σ_i (x − μ)[i]·(−½)(σ² + ε)^{−3/2} · dx̂[i]
- dmean[c] = Σ_i (−1/σ)·dx̂[i] + (−2·Σ(x − μ)/n)·dvar[c]
- dx[i], train, the notes' three paths: (1/σ)·dx̂[i] (through x̂) + (2(x − μ)[i]/n)·dvar[c] (through σ²)
  + (1/n)·dmean[c] (through μ); eval: the first path only (μ and σ² are constants)
- dx_compact[i] = (γ/σ)·dout[i] + (−γ/(nσ))·dbeta[c] + (−γ x̂[i]/(nσ))·dgamma[c]  (γ/(nσ)·(n·dout − Σdout − x̂·Σdout·x̂))

σ is std = √(σ² + ε). Each coefficient names the cell it is made from.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.explain.terms.record import Cells, Column, Grid, Term, Terms, cell, constant, index_text
from engine.records import Arrays, Index, OpInputError

ARRAYS = ("dbeta", "dgamma", "dx_hat", "dvar", "dmean", "dx", "dx_compact")
PATHS = {"x_hat": "through x̂ = (x − μ)/σ", "var": "through the variance σ²", "mean": "through the mean μ"}
FORMULAS = {
    "dbeta": r"\frac{\partial L}{\partial \beta_c} = \sum_i 1\cdot\frac{\partial L}{\partial y_i}",
    "dgamma": r"\frac{\partial L}{\partial \gamma_c} = \sum_i \hat{x}_i\,\frac{\partial L}{\partial y_i}",
    "dx_hat": r"\frac{\partial L}{\partial \hat{x}_i} = \gamma_c\,\frac{\partial L}{\partial y_i}",
    "dvar": r"\frac{\partial L}{\partial \sigma^2} = \sum_i (x_i - \mu)\,\frac{-1}{2}(\sigma^2 + \epsilon)^{-3/2}"
            r"\,\frac{\partial L}{\partial \hat{x}_i}",
    "dmean": r"\frac{\partial L}{\partial \mu} = \sum_i \frac{-1}{\sqrt{\sigma^2 + \epsilon}}\,"
             r"\frac{\partial L}{\partial \hat{x}_i}"
             r" + \frac{-2\sum_i (x_i - \mu)}{n}\,\frac{\partial L}{\partial \sigma^2}",
    "dx": r"\frac{\partial L}{\partial x_i} = \frac{1}{\sqrt{\sigma^2 + \epsilon}}\,"
          r"\frac{\partial L}{\partial \hat{x}_i} + \frac{2(x_i - \mu)}{n}\,\frac{\partial L}{\partial \sigma^2}"
          r" + \frac{1}{n}\,\frac{\partial L}{\partial \mu}",
    "dx_compact": r"\frac{\partial L}{\partial x_i} = \frac{\gamma}{\sigma}\frac{\partial L}{\partial y_i}"
                  r" - \frac{\gamma}{n\sigma}\frac{\partial L}{\partial \beta} - \frac{\gamma\,\hat{x}_i}{n\sigma}"
                  r"\frac{\partial L}{\partial \gamma}",
}
EVAL_DX = (r"\frac{\partial L}{\partial x_i} = \frac{1}{\sqrt{\sigma^{2,\text{run}} + \epsilon}}\,"
           r"\frac{\partial L}{\partial \hat{x}_i}")


def dvar_coefficient(index: Index) -> str:
    """How a formula writes dvar's coefficient of cell ``index``: (x − μ) times the local derivative of σ²."""
    return f"(x−μ)[{index_text(index)}]·(−½)(σ²+ε)^(−3/2)"


def column(shape: tuple[int, ...], c: int) -> Grid:
    """Every index of channel c of an (N, C) or (N, C, H, W) array, row-major: the n values its statistics use."""
    return Grid(shape[:1] + shape[2:], lambda i: (i[0], c, *i[1:]))


def along(values: np.ndarray, c: int) -> list[float]:
    """Channel c of an (N, C, …) array in :func:`column`'s order, as Python floats (a column is thousands of
    cells: one read of the array, not one NumPy scalar read a cell)."""
    return values[:, c].reshape(-1).tolist()


def batchnorm_terms(result: Arrays, params: dict[str, Any], array: str, index: Index) -> Terms:
    if array not in ARRAYS:
        raise OpInputError("array", f"batchnorm has no terms for {array!r}; arrays with terms: {', '.join(ARRAYS)}")
    train = params.get("mode", "train") == "train"
    index = tuple(int(i) for i in index)
    per_value = array in ("dx_hat", "dx", "dx_compact")
    c = index[1] if per_value else index[0]
    shape = result["x"].shape
    n = result["x"].size // shape[1]
    col = column(shape, c) if array in ("dbeta", "dgamma", "dvar", "dmean") else []
    dout, x_hat, x_mu, dx_hat = result["dout"], result["x_hat"], result["x_mu"], result["dx_hat"]
    gamma, std, var = float(result["gamma"][c]), float(result["std"][c]), float(result["var"][c])
    eps = float(params.get("eps", 1e-5))
    i = index
    formula, note = FORMULAS[array], ""
    if array == "dbeta":
        terms = Column(constant(1.0, "1"), Cells("dout", col, along(dout, c)))
    elif array == "dgamma":
        terms = Column(Cells("x_hat", col, along(x_hat, c)), Cells("dout", col, along(dout, c)))
    elif array == "dx_hat":
        terms = [Term(cell("gamma", (c,), gamma), cell("dout", i, dout[i]))]
    elif array == "dvar":
        k = -0.5 * (var + eps) ** -1.5
        terms = Column(Cells("x_mu", col, [xm * k for xm in along(x_mu, c)], dvar_coefficient),
                       Cells("dx_hat", col, along(dx_hat, c))) if train else []
        note = "" if train else "Eval: the running variance is a constant, nothing flows into it."
    elif array == "dmean":
        if train:
            through_var = -2.0 * float(np.sum(x_mu[:, c])) / n
            terms = Column(cell("std", (c,), -1.0 / std, f"−1/σ[{c}]"), Cells("dx_hat", col, along(dx_hat, c)),
                           [Term(constant(through_var, "−2·Σ(x−μ)/n"), cell("dvar", (c,), result["dvar"][c]))])
            note = "Σ(x − μ) is 0 up to rounding, so the path through σ² adds (almost) nothing."
        else:
            terms, note = [], "Eval: the running mean is a constant, nothing flows into it."
    elif array == "dx":
        first = Term(cell("std", (c,), 1.0 / std, f"1/σ[{c}]"), cell("dx_hat", i, dx_hat[i]), "x_hat")
        if train:
            terms = [first,
                     Term(cell("x_mu", i, 2.0 * x_mu[i] / n, f"2(x−μ)[{index_text(i)}]/n"),
                          cell("dvar", (c,), result["dvar"][c]), "var"),
                     Term(constant(1.0 / n, f"1/n = 1/{n}"), cell("dmean", (c,), result["dmean"][c]), "mean")]
            note = "Three paths reach x: through x̂ directly, through the variance and through the mean."
        else:
            terms, formula = [first], EVAL_DX
            note = "Eval: μ and σ² are the running statistics, constants, so only the path through x̂ is left."
    else:  # dx_compact
        g = gamma / std
        terms = [Term(cell("gamma", (c,), g, f"γ[{c}]/σ[{c}]"), cell("dout", i, dout[i]))]
        if train:
            terms += [Term(constant(-g / n, "−γ/(nσ)"), cell("dbeta", (c,), result["dbeta"][c])),
                      Term(cell("x_hat", i, -g * x_hat[i] / n, f"−γ·x̂[{index_text(i)}]/(nσ)"),
                           cell("dgamma", (c,), result["dgamma"][c]))]
            note = "The same gradient with the sums over the column written as dβ and dγ."
    return Terms("batchnorm", array, index, float(result[array][index]), terms, formula, note,
                 PATHS if array == "dx" and train else {})


FAMILY = {"batchnorm": (batchnorm_terms, ARRAYS)}
