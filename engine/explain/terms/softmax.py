"""softmax_cross_entropy's gradient as terms (N rows, temperature T, dL/dloss = 1):

- dlogits[n, k] = (1/(N·T))·p[n, k] + (−1/(N·T))·y[n, k]    (the fused (p − y)/(N·T))
- dlogits_via_jacobian[n, k] = Σ_j (J[n, j, k]/T)·dprobs[n, j]   (the chain through the softmax Jacobian)
"""

from __future__ import annotations

from typing import Any

from engine.explain.terms.record import Term, Terms, cell, constant
from engine.records import Arrays, Index, OpInputError

ARRAYS = ("dlogits", "dlogits_via_jacobian")
FORMULAS = {
    "dlogits": r"\frac{\partial L}{\partial z_{n,k}} = \frac{1}{N T}\,p_{n,k} - \frac{1}{N T}\,y_{n,k}",
    "dlogits_via_jacobian": r"\frac{\partial L}{\partial z_{n,k}} = \sum_j \frac{J_n[j,k]}{T}\,"
                            r"\frac{\partial L}{\partial p_{n,j}}",
}


def softmax_terms(result: Arrays, params: dict[str, Any], array: str, index: Index) -> Terms:
    n, k = (int(i) for i in index)
    N, K = result["logits"].shape
    t = float(params.get("temperature", 1.0))
    scale = 1.0 / (N * t)
    if array == "dlogits":
        terms = [Term(constant(scale, "1/(N·T)"), cell("probs", (n, k), result["probs"][n, k])),
                 Term(constant(-scale, "−1/(N·T)"), cell("onehot", (n, k), result["onehot"][n, k]))]
        note = (f"Row {n}'s label is {int(result['labels'][n])}: "
                + ("this is the label's column, so y = 1." if int(result["labels"][n]) == k else "y = 0 here."))
    elif array == "dlogits_via_jacobian":
        jac, dprobs = result["jacobian"], result["dprobs"]
        terms = [Term(cell("jacobian", (n, j, k), jac[n, j, k] / t, f"J[{n},{j},{k}]/T"),
                      cell("dprobs", (n, j), dprobs[n, j])) for j in range(K)]
        note = "Only the label's probability is in the loss, so only its dprobs is nonzero."
    else:
        raise OpInputError("array", f"softmax_cross_entropy has no terms for {array!r}; arrays with terms: "
                           f"{', '.join(ARRAYS)}")
    return Terms("softmax_cross_entropy", array, (n, k), float(result[array][n, k]), tuple(terms), FORMULAS[array],
                 note)


FAMILY = {"softmax_cross_entropy": (softmax_terms, ARRAYS)}
