"""The records of provenance as terms: an element of a gradient array as the sum of its terms.

A :class:`Term` is one product of the chain rule, a coefficient (a weight, an input, a local
derivative) times an upstream value (a cell of the gradient coming back), each a
:class:`Factor` that names the cell it is (or ``array=None`` for a constant such as 1/n). A
:class:`Terms` is the element and every term that sums to it:
dx[n, c, i, j] = Σ w[f, c, kh, kw]·dout[n, f, oh, ow] over the windows that cover (i, j).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from engine.records import Arrays, Index
from engine.tex import plain_number, tex_number


def index_text(index: Index) -> str:
    """An index as a cell's data-idx writes it: ``0,1,2``."""
    return ",".join(map(str, map(int, index)))


class Factor(NamedTuple):
    """One factor of a term: a cell of a named array (or a constant), its value, how a formula writes it.

    A named tuple, not a frozen dataclass: a norm's column or a conv weight's gradient is thousands of terms, and
    a network step builds every term of the elements it explains (a frozen dataclass took 1.4 µs to build, a
    named tuple 0.7); its label is written when it is read, not for every factor built."""

    array: str | None  # the array it is a cell of; None for a constant (1, 1/n, 1/(N·T))
    index: Index | None
    value: float
    written: str | None = None  # how a formula writes it when not array[index]: "1/n", "2(x−μ)[0,1]/n"

    @property
    def label(self) -> str:
        """How a formula writes it: "w[0,0,1,2]", "1/n", "2(x−μ)[0,1]/n"."""
        return self.written if self.written is not None else f"{self.array}[{index_text(self.index)}]"

    def cell(self) -> tuple[str, Index] | None:
        return (self.array, self.index) if self.array is not None and self.index is not None else None

    def as_json(self) -> dict[str, Any]:
        return {"array": self.array, "index": None if self.index is None else index_text(self.index),
                "value": _finite(self.value), "label": self.label}


def cell(array: str, index: Index, value: Any, label: str | None = None) -> Factor:
    """A factor that is the cell ``array[index]`` (``label``: how a formula writes it, when not so)."""
    return Factor(array, tuple(map(int, index)), float(value), label)  # (map: numpy ints in, Python ints out)


def cells_of(array: str, indices: Sequence[Index], values: Iterable[float],
             written: Callable[[Index], str] | None = None) -> list[Factor]:
    """Many cells of one array at once, as :func:`cell` makes them one at a time but without its conversions:
    ``indices`` must be tuples of Python ints (a column's, a loop's) and ``values`` Python floats (an array read
    with ``tolist()``); ``written(index)``: each one's label, when not its cell's name. A batch norm's column is
    thousands of cells, and a network step explains several."""
    if written is None:
        return [Factor(array, j, v) for j, v in zip(indices, values, strict=True)]
    return [Factor(array, j, v, written(j)) for j, v in zip(indices, values, strict=True)]


def constant(value: float, label: str) -> Factor:
    """A factor that is no cell: a constant of the formula (1, 1/n), or a value computed from cells (its
    label says how)."""
    return Factor(None, None, float(value), label)


class Term(NamedTuple):
    """coefficient · upstream = product (``path``: which path of the formula, when it has several)."""

    coefficient: Factor
    upstream: Factor
    path: str = ""

    @property
    def product(self) -> float:
        return self.coefficient.value * self.upstream.value

    def as_json(self) -> dict[str, Any]:
        return {"coefficient": self.coefficient.as_json(), "upstream": self.upstream.as_json(),
                "product": _finite(self.product), "path": self.path}


@dataclass(frozen=True)
class Terms:
    """Element ``array[index]`` = Σ of ``terms`` (``value`` is the array's own element, read from the op's answer)."""

    op: str
    array: str
    index: Index
    value: float
    terms: tuple[Term, ...]
    formula: str  # the symbolic formula (TeX) the terms instantiate
    note: str = ""  # one sentence a reader needs (which windows, which paths)
    paths: dict[str, str] = field(default_factory=dict)  # path -> what it is, for formulas with several
    title: str = ""  # how the page names the element, when not ``array[index]`` (the optimizer's m_3[1])

    @property
    def total(self) -> float:
        """Σ products (math.fsum: the exact sum of the products, rounded once)."""
        return math.fsum(t.product for t in self.terms)

    @property
    def label(self) -> str:
        return self.title or f"{self.array}[{index_text(self.index)}]"

    def renamed(self, name: Callable[[str], str]) -> Terms:
        """The same terms with every array named ``name(array)``: a page whose tables carry other names
        (the pool lab's ``relu_dx``, the network lab's ``3.dx``)."""
        return self.moved(lambda array, index: (name(array), index))

    def moved(self, where: Callable[[str, Index], tuple[str, Index]]) -> Terms:
        """The same terms with every cell ``(array, index)`` at ``where(array, index)``: a page that lays an
        array out differently (the optimizer lab's table, parameter by step). A factor labelled by its cell
        is relabelled."""
        def factor(f: Factor) -> Factor:
            if f.array is None or f.index is None:
                return f
            array, index = where(f.array, f.index)
            own = f.label == f"{f.array}[{index_text(f.index)}]"
            return f._replace(array=array, index=tuple(index), written=None if own else f.label)

        terms = tuple(t._replace(coefficient=factor(t.coefficient), upstream=factor(t.upstream)) for t in self.terms)
        array, index = where(self.array, self.index)
        return replace(self, array=array, index=tuple(index), terms=terms)

    def cells(self) -> dict[str, list[Index]]:
        """Every cell a factor names, by array, in term order (no repeats): what a page outlines."""
        found: dict[str, list[Index]] = {}
        for term in self.terms:
            for factor in (term.coefficient, term.upstream):
                where = factor.cell()
                if where is not None and where[1] not in found.setdefault(where[0], []):
                    found[where[0]].append(where[1])
        return found

    def latex(self, max_terms: int = 9, digits: int = 4, largest_first: bool = False) -> str:
        """``label = c₁·u₁ + c₂·u₂ + … = value`` with the numbers (the middle elided past ``max_terms``);
        ``largest_first``: the terms by |product|, largest first (a long sum's elision then hides the small)."""
        num = _tex_factor(digits)
        terms = sorted(self.terms, key=lambda t: -abs(t.product)) if largest_first else list(self.terms)

        def part(t: Term) -> str:
            return rf"{num(t.coefficient.value)}\cdot{num(t.upstream.value)}"

        if len(terms) > max_terms:  # only the terms shown are written (a column of a norm has thousands)
            parts = [*map(part, terms[:max_terms - 2]), r"\cdots", part(terms[-1])]
        else:
            parts = [part(t) for t in terms]
        body = " + ".join(parts) if parts else "0"
        lhs = rf"\text{{{_tex_escape(self.array)}}}[{index_text(self.index)}]"
        return rf"{lhs} = {body} = {tex_number(self.value, 6)}"

    def text(self, max_terms: int = 12) -> str:
        """The same as one plain sentence (what a screen reader reads)."""
        count = len(self.terms)
        parts = [f"{_said(t.coefficient)} times {_said(t.upstream)} is {plain_number(t.product, 4)}"
                 for t in self.terms[:max_terms]]
        more = f"; and {count - max_terms} more terms" if count > max_terms else ""
        what = f"{count} term{'s' * (count != 1)}" if count else "no terms (nothing reaches it)"
        return f"{self.label} = {plain_number(self.value, 6)}, the sum of {what}" + \
            (": " + "; ".join(parts) + more if parts else "") + "."

    def as_json(self, max_terms: int | None = None) -> dict[str, Any]:
        shown = self.terms if max_terms is None else self.terms[:max_terms]
        return {"op": self.op, "array": self.array, "index": index_text(self.index), "label": self.label,
                "value": _finite(self.value), "total": _finite(self.total), "count": len(self.terms),
                "terms": [t.as_json() for t in shown], "formula": self.formula, "note": self.note,
                "paths": self.paths, "text": self.text()}


TermsFn = Callable[[Arrays, dict[str, Any], str, Index], Terms]


def _said(factor: Factor) -> str:
    """A factor as a sentence says it: ``w[0,0,1,1] (-1)``, or just ``1`` for the constant 1."""
    number = plain_number(factor.value, 4)
    return number if factor.label == number else f"{factor.label} ({number})"


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None


def _tex_factor(digits: int) -> Callable[[float], str]:
    return lambda v: tex_number(v, digits, parens=True)


def _tex_escape(name: str) -> str:
    return name.replace("_", r"\_")
