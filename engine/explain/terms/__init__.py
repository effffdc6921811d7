"""Provenance as terms: for an element of a gradient array, the terms (coefficient cell, upstream cell,
product) that sum to it — not only the set of cells (:func:`engine.registry.op_provenance`).

One function per op family (conv, pooling and elementwise, dense, batch norm, group norm, softmax
cross-entropy and the SVM loss), registered by op name in :data:`TERMS`. :func:`op_terms` runs an op from plain
inputs through the registry's one validation (:func:`engine.registry.prepare`), as
``op_provenance`` does; :func:`terms_of` reads an answer the caller already has (a lab's run, a
network layer's arrays). Every element's terms sum to the array's value (tested).
"""

from __future__ import annotations

from typing import Any

from engine.explain.terms import conv, dense, elementwise, groupnorm, norm, softmax
from engine.explain.terms.record import Cells, Column, Factor, Term, Terms, TermsFn, cell, constant, index_text
from engine.records import Arrays, Index, OpInputError, check_element
from engine.registry import get_spec, prepare

__all__ = ["TERMS", "Cells", "Column", "Factor", "Term", "Terms", "cell", "constant", "index_text", "op_terms",
           "term_arrays", "terms_of"]

TERMS: dict[str, tuple[TermsFn, tuple[str, ...]]] = {
    **conv.FAMILY, **elementwise.FAMILY, **dense.FAMILY, **norm.FAMILY, **groupnorm.FAMILY, **softmax.FAMILY,
}


def term_arrays(op: str) -> tuple[str, ...]:
    """The arrays of ``op`` whose elements have terms (none: ``()``)."""
    return TERMS[op][1] if op in TERMS else ()


def terms_of(op: str, result: Arrays, params: dict[str, Any], array: str, index: Index) -> Terms:
    """The terms of ``result[array][index]``, ``result`` being op's run() answer with ``params`` cleaned."""
    get_spec(op)  # an unknown op: OpInputError naming it
    if op not in TERMS:
        raise OpInputError("op", f"{op} has no terms; ops with terms: {', '.join(sorted(TERMS))}")
    fn, arrays = TERMS[op]
    if array not in arrays:
        raise OpInputError("array", f"{op} has no terms for {array!r}; arrays with terms: {', '.join(arrays)}")
    index = tuple(int(i) for i in index)
    check_element(result, op, array, index)
    return fn(result, params, array, index)


def op_terms(name: str, inputs: dict[str, Any], params: dict[str, Any] | None, array: str, index: Index,
             **kw) -> Terms:
    """The terms of element ``index`` of ``array`` of op ``name`` on these inputs (validated as every op call is)."""
    op, arrays, clean = prepare(name, inputs, params, **kw)
    return terms_of(name, op.run(arrays, clean), clean, array, index)
