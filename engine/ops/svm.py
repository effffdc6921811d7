"""The multiclass SVM (hinge) loss of cs231n: margin Δ = 1, mean over the batch.

Per row n of logits (N, K) with label yₙ:
    correct_n = logits[n, yₙ];  margins[n, k] = max(0, logits[n, k] − correct_n + Δ) for k ≠ yₙ, 0 at k = yₙ;
    L = (1/N) Σₙ Σₖ margins[n, k].
Backward (the objective is the scalar ``loss``):
    positive[n, k] = 1 where margins[n, k] > 0;  num_positive_n = Σₖ positive[n, k];
    dlogits[n, k] = (positive[n, k] − [k = yₙ]·num_positive_n) / N.
A margin of exactly 0 counts as not positive (the subgradient 0 at the hinge's kink).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.ops.softmax import clean_labels
from engine.records import Arrays, Index, Input, OpInputError, OpSpec, Param, Step, check_element
from engine.tex import tex_number


@dataclass(frozen=True)
class SvmCache:
    labels: np.ndarray  # (N,) int64 class indices
    correct: np.ndarray  # (N,) logits[n, yₙ]: each row's score of its true class
    margins: np.ndarray  # (N, K) max(0, logits − correct + Δ), 0 at the label
    loss: np.ndarray  # 0-d: Σ margins / N


@dataclass(frozen=True)
class SvmGrads:
    positive: np.ndarray  # (N, K) 1.0 where the margin is violated (> 0), else 0.0
    num_positive: np.ndarray  # (N,) how many classes violate the margin in each row
    dlogits: np.ndarray  # (N, K) (positive − onehot·num_positive) / N


def svm_loss_forward(logits: np.ndarray, labels: Any, margin: float = 1.0) -> tuple[np.ndarray, SvmCache]:
    if logits.ndim != 2:
        raise OpInputError("inputs.logits", f"must be (N, K), got shape {list(logits.shape)}")
    n, k = logits.shape
    labels = clean_labels(labels, n, k)
    rows = np.arange(n)
    correct = logits[rows, labels].copy()
    margins = np.maximum(0, logits - correct[:, None] + logits.dtype.type(margin))
    margins[rows, labels] = 0
    loss = np.asarray(margins.sum() / n, dtype=logits.dtype)
    return loss, SvmCache(labels=labels, correct=correct, margins=margins, loss=loss)


def svm_loss_backward(cache: SvmCache) -> SvmGrads:
    n = cache.margins.shape[0]
    positive = (cache.margins > 0).astype(cache.margins.dtype)
    num_positive = positive.sum(axis=1)
    dlogits = positive.copy()
    dlogits[np.arange(n), cache.labels] -= num_positive
    return SvmGrads(positive=positive, num_positive=num_positive, dlogits=dlogits / n)


# ---------------------------------------------------------------- registry glue

ARRAYS = ("logits", "labels", "correct", "margins", "loss", "positive", "num_positive", "dlogits")


def _check(shapes: dict[str, tuple[int, ...]], params: dict[str, Any]) -> None:
    n = shapes["logits"][0]
    if shapes["logits"][1] < 2:
        raise OpInputError("inputs.logits", f"needs at least 2 classes (columns), got shape {list(shapes['logits'])}")
    if shapes["labels"] != (n,):
        raise OpInputError("inputs.labels", f"has {shapes['labels'][0]} labels but logits has {n} rows: "
                                            "one label per row")


def _defaults(shapes: dict[str, tuple[int, ...]], params: dict[str, Any], dtype: Any) -> Arrays:
    return {}


def _shapes(shapes: dict[str, tuple[int, ...]], params: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    n, k = shapes["logits"]
    return {**dict.fromkeys(("logits", "margins", "positive", "dlogits"), (n, k)),
            **dict.fromkeys(("labels", "correct", "num_positive"), (n,)), "loss": ()}


def _run(arrays: Arrays, params: dict[str, Any], extras: bool = True) -> Arrays:
    _, c = svm_loss_forward(arrays["logits"], arrays["labels"], params["margin"])
    g = svm_loss_backward(c)
    return {"logits": arrays["logits"], "labels": c.labels, "correct": c.correct, "margins": c.margins,
            "loss": c.loss, "positive": g.positive, "num_positive": g.num_positive, "dlogits": g.dlogits}


def _steps(a: Arrays, params: dict[str, Any]) -> list[Step]:
    delta = tex_number(params["margin"])
    return [
        Step("forward", "correct", "Each row's score of its true class", r"s_{n,y_n} = \text{logits}[n, y_n]",
             {"logits": a["logits"], "labels": a["labels"], "correct": a["correct"]}),
        Step("forward", "margins", "How far each wrong class comes within the margin of the true one",
             r"m_{n,k} = \max(0,\ s_{n,k} - s_{n,y_n} + \Delta)\ \ (k \ne y_n),\quad m_{n,y_n} = 0,\quad \Delta = "
             + delta, {"logits": a["logits"], "correct": a["correct"], "margins": a["margins"]}),
        Step("forward", "mean", "Sum each row's margins, average over the batch",
             r"L = \frac{1}{N} \sum_n \sum_k m_{n,k}", {"margins": a["margins"], "loss": a["loss"]}),
        Step("backward", "positive", "Mark the violated margins and count them per row",
             r"\mathbb{1}_{n,k} = [m_{n,k} > 0],\quad c_n = \sum_k \mathbb{1}_{n,k}",
             {"margins": a["margins"], "positive": a["positive"], "num_positive": a["num_positive"]}),
        Step("backward", "dlogits", "Each violation pushes its class up and the true class down",
             r"\frac{\partial L}{\partial s_{n,k}} = \frac{1}{N}\begin{cases} \mathbb{1}_{n,k} & k \ne y_n \\"
             r" -c_n & k = y_n \end{cases}",
             {"positive": a["positive"], "num_positive": a["num_positive"], "labels": a["labels"],
              "dlogits": a["dlogits"]}),
    ]


def _provenance(arrays: Arrays, params: dict[str, Any], name: str, index: Index) -> dict[str, list[Index]]:
    result = _run(arrays, params)
    check_element(result, "svm_loss", name, index)
    n_rows, k_count = result["logits"].shape
    labels = result["labels"]
    if name == "correct":
        n = index[0]
        return {"logits": [(n, int(labels[n]))], "labels": [(n,)]}
    if name in ("margins", "positive"):
        n, k = index
        found = {"logits": sorted({(n, k), (n, int(labels[n]))}), "labels": [(n,)]}
        return {**found, "margins": [index]} if name == "positive" else found
    if name == "loss":
        return {"margins": [(n, k) for n in range(n_rows) for k in range(k_count)]}
    if name == "num_positive":
        n = index[0]
        return {"positive": [(n, k) for k in range(k_count)]}
    if name == "dlogits":
        n, k = index
        if k == int(labels[n]):
            return {"num_positive": [(n,)], "labels": [(n,)]}
        return {"positive": [index], "labels": [(n,)]}
    return {}  # logits and labels are inputs


def _example(rng: np.random.Generator) -> tuple[dict[str, Any], dict[str, Any]]:
    n, k = int(rng.integers(2, 4)), int(rng.integers(3, 5))
    return ({"logits": np.round(rng.normal(size=(n, k)) * 2, 2).tolist(),
             "labels": rng.integers(0, k, size=n).tolist()}, {"margin": 1.0})


SPECS = (
    OpSpec(
        name="svm_loss",
        title="Multiclass SVM (hinge) loss",
        inputs=(
            Input("logits", (2,), doc="scores (N, K): one row per sample, one column per class"),
            Input("labels", (1,), grad=False, integer=True, doc="the true class of each sample (N,), in 0..K−1"),
        ),
        params=(Param("margin", float, 1.0, 0.0, 100.0, doc="Δ: how far the true class must lead (cs231n: 1)"),),
        arrays=ARRAYS,
        run=_run,
        check=_check,
        defaults=_defaults,
        objective="loss",
        steps=_steps,
        provenance=_provenance,
        example=_example,
        shapes=_shapes,
    ),
)
