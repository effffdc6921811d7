"""softmax_cross_entropy's gradient as terms (N rows, temperature T, dL/dloss = 1):

- dlogits[n, k] = (1/(N·T))·p[n, k] + (−1/(N·T))·y[n, k]    (the fused (p − y)/(N·T))
- dlogits_via_jacobian[n, k] = Σ_j (J[n, j, k]/T)·dprobs[n, j]   (the chain through the softmax Jacobian)

svm_loss's (the multiclass hinge, mean over N rows):

- dlogits[n, k] = (1/N)·positive[n, k] for a wrong class k (its margin violated or not), and
  dlogits[n, yₙ] = Σ_{j ≠ yₙ} (−1/N)·positive[n, j] for the label: each violation pushes the true class down.
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


SVM_FORMULA = (r"\frac{\partial L}{\partial z_{n,k}} = \frac{1}{N}\,[\text{margin}_{n,k} > 0] \;(k \ne y_n),"
               r"\qquad \frac{\partial L}{\partial z_{n,y_n}} = -\frac{1}{N}\sum_{j \ne y_n} [\text{margin}_{n,j} > 0]")


def svm_terms(result: Arrays, params: dict[str, Any], array: str, index: Index) -> Terms:
    if array != "dlogits":
        raise OpInputError("array", f"svm_loss has no terms for {array!r}; arrays with terms: dlogits")
    n, k = (int(i) for i in index)
    N, K = result["logits"].shape
    label, positive = int(result["labels"][n]), result["positive"]
    if k != label:
        terms = [Term(constant(1.0 / N, "1/N"), cell("positive", (n, k), positive[n, k]))]
        note = (f"Class {k} {'violates' if positive[n, k] else 'keeps'} the margin of row {n}'s label {label}: "
                + ("the loss grows with its score." if positive[n, k] else "it does not touch the loss."))
    else:
        terms = [Term(constant(-1.0 / N, "−1/N"), cell("positive", (n, j), positive[n, j]))
                 for j in range(K) if j != label]
        note = f"The label's column: every class that violates its margin pushes z[{n}, {label}] down by 1/N."
    return Terms("svm_loss", "dlogits", (n, k), float(result["dlogits"][n, k]), tuple(terms), SVM_FORMULA, note)


FAMILY = {"softmax_cross_entropy": (softmax_terms, ARRAYS), "svm_loss": (svm_terms, ("dlogits",))}
