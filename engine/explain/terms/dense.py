"""linear's gradients as terms (x (N, D), w (D, M), out = x·w + b):

- dx[n, d] = Σ_m w[d, m]·dout[n, m]    (dout · wᵀ)
- dw[d, m] = Σ_n x[n, d]·dout[n, m]    (xᵀ · dout)
- db[m]    = Σ_n 1·dout[n, m]
"""

from __future__ import annotations

from typing import Any

from engine.explain.terms.record import Term, Terms, cell, constant
from engine.records import Arrays, Index, OpInputError

ARRAYS = ("dx", "dw", "db")
FORMULAS = {
    "dx": r"\frac{\partial L}{\partial x}[n,d] = \sum_m w[d,m]\,\frac{\partial L}{\partial y}[n,m]",
    "dw": r"\frac{\partial L}{\partial w}[d,m] = \sum_n x[n,d]\,\frac{\partial L}{\partial y}[n,m]",
    "db": r"\frac{\partial L}{\partial b}[m] = \sum_n \frac{\partial L}{\partial y}[n,m]",
}


def linear_terms(result: Arrays, params: dict[str, Any], array: str, index: Index) -> Terms:
    x, w, dout = result["x"], result["w"], result["dout"]
    N, M = dout.shape
    if array == "dx":
        n, d = index
        terms = [Term(cell("w", (d, m), w[d, m]), cell("dout", (n, m), dout[n, m])) for m in range(M)]
        note = f"Input {d} of sample {n} fed all {M} outputs, each through its weight."
    elif array == "dw":
        d, m = index
        terms = [Term(cell("x", (n, d), x[n, d]), cell("dout", (n, m), dout[n, m])) for n in range(N)]
        note = f"Weight w[{d},{m}] multiplied input {d} of each of the {N} samples."
    elif array == "db":
        (m,) = index
        terms = [Term(constant(1.0, "1"), cell("dout", (n, m), dout[n, m])) for n in range(N)]
        note = f"b[{m}] is added to output {m} of every sample."
    else:
        raise OpInputError("array", f"linear has no terms for {array!r}; arrays with terms: {', '.join(ARRAYS)}")
    return Terms("linear", array, tuple(index), float(result[array][index]), tuple(terms), FORMULAS[array], note)


FAMILY = {"linear": (linear_terms, ARRAYS)}
