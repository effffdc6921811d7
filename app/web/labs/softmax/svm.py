"""The softmax lab's SVM card as hover provenance: its tables are named ``svm_margins``, ``svm_positive`` and
``svm_dlogits``, and a cell's sources are the op's own (``engine.registry.op_provenance`` for ``svm_loss`` on the
lab's logits and labels) in the page's names: the logits and labels input tables, the card's other tables.
A ``svm_dlogits`` cell also answers its terms (:func:`terms`). The card itself is drawn by :mod:`.view`
(``_svm``)."""

from __future__ import annotations

import numpy as np

from engine.explain.terms import Terms, op_terms
from engine.registry import op_provenance

OP = "svm_loss"
ARRAYS = {"svm_margins": "margins", "svm_positive": "positive", "svm_dlogits": "dlogits"}  # table -> the op's array
INPUTS = ("logits", "labels")  # the lab's input tables keep the op's names


def provenance(inputs: dict[str, np.ndarray], array: str, index: tuple[int, ...]) -> dict[str, list[tuple[int, ...]]]:
    """The cells of the SVM table ``array``'s cell ``index`` came from, named as the page names its tables."""
    found = op_provenance(OP, inputs, {}, ARRAYS[array], index)
    return {(name if name in INPUTS else f"svm_{name}"): idxs for name, idxs in found.items()
            if name in INPUTS or f"svm_{name}" in ARRAYS}


def terms(inputs: dict[str, np.ndarray], index: tuple[int, ...]) -> Terms:
    """A cell of ``svm_dlogits`` as the sum of its terms (each violated margin's ±1/N), in the page's table names."""
    found = op_terms(OP, inputs, {}, "dlogits", index)
    return found.renamed(lambda name: name if name in INPUTS else f"svm_{name}")
