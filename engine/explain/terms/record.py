"""The records of provenance as terms: an element of a gradient array as the sum of its terms.

A :class:`Term` is one product of the chain rule, a coefficient (a weight, an input, a local
derivative) times an upstream value (a cell of the gradient coming back), each a
:class:`Factor` that names the cell it is (or ``array=None`` for a constant such as 1/n). A
:class:`Terms` is the element and every term that sums to it:
dx[n, c, i, j] = Σ w[f, c, kh, kw]·dout[n, f, oh, ow] over the windows that cover (i, j).
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np

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


class Grid(Sequence):
    """Every index of a block of an array, row-major, made when read: position ``k`` unravelled over ``dims`` (the
    block's free axes) and placed in the array's index by ``place`` (a channel of a batch norm: (n, h, w) ->
    (n, c, h, w)). A column is thousands of cells, of which a formula names eight."""

    __slots__ = ("_dims", "_place", "_n")

    def __init__(self, dims: Sequence[int], place: Callable[[tuple[int, ...]], Index]) -> None:
        self._dims, self._place, self._n = tuple(dims), place, math.prod(dims)

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(self._n))]
        if not -self._n <= k < self._n:
            raise IndexError(f"position {k} of {self._n}")
        k %= self._n
        at = []
        for size in reversed(self._dims):
            k, i = divmod(k, size)
            at.append(i)
        return self._place(tuple(reversed(at)))

    def __iter__(self) -> Iterator[Index]:
        return map(self._place, itertools.product(*map(range, self._dims)))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"Grid({self._dims})"


class Cells(NamedTuple):
    """Many cells of one array, made into factors only when read: cell ``k`` is ``array[indices[k]]`` with value
    ``values[k]`` (``indices``: tuples of Python ints, ``values``: Python floats, an array read with ``tolist()``;
    ``written(index)``: each one's label, when not its cell's name)."""

    array: str
    indices: Sequence[Index]
    values: Sequence[float]
    written: Callable[[Index], str] | None = None

    def factor(self, k: int) -> Factor:
        index = self.indices[k]
        return Factor(self.array, index, self.values[k], None if self.written is None else self.written(index))


class Made(NamedTuple):
    """Many factors made by a rule only when read: factor ``k`` is ``make(k)``, whose value is ``values[k]`` (for
    cells of more than one array, such as a weight's gradient reading x inside and x_padded's zeros outside)."""

    values: Sequence[float]
    make: Callable[[int], Factor]

    def factor(self, k: int) -> Factor:
        return self.make(k)


class Column(Sequence):
    """The terms ``coefficient_k · upstream_k`` of a long sum, then ``tail``: a sequence of :class:`Term` made only
    when read. A batch norm's column is thousands of terms and a network step explains several, each shown as its
    eight largest; :attr:`products` reads every term's product without making a term. Each side is
    :class:`Cells` or :class:`Made` (a factor a term), or one :class:`Factor` (the same in every term: 1, −1/σ)."""

    __slots__ = ("_coefficients", "_upstreams", "_n", "_tail", "_path", "_products", "_sizes")

    def __init__(self, coefficients: Cells | Made | Factor, upstreams: Cells | Made | Factor,
                 tail: Sequence[Term] = (), path: str = "") -> None:
        sizes = {len(side.values) for side in (coefficients, upstreams) if not isinstance(side, Factor)}
        if len(sizes) != 1:
            raise ValueError(f"a column's sides hold one number of cells, got {sorted(sizes)}")
        self._coefficients, self._upstreams, self._n = coefficients, upstreams, sizes.pop()
        self._tail, self._path, self._products, self._sizes = tuple(tail), path, None, None

    def __len__(self) -> int:
        return self._n + len(self._tail)

    def _term(self, k: int) -> Term:
        if k >= self._n:
            return self._tail[k - self._n]
        c, u = self._coefficients, self._upstreams
        return Term(c if isinstance(c, Factor) else c.factor(k), u if isinstance(u, Factor) else u.factor(k),
                    self._path)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return tuple(map(self._term, range(*k.indices(len(self)))))
        size = len(self)
        if not -size <= k < size:
            raise IndexError(f"term {k} of {size}")
        return self._term(k % size)

    def __iter__(self) -> Iterator[Term]:
        return map(self._term, range(len(self)))

    @property
    def products(self) -> list[float]:
        """Every term's coefficient · upstream, in order (the same floats as each term's ``product``)."""
        if self._products is None:
            c, u = self._coefficients, self._upstreams
            if not isinstance(c, Factor) and not isinstance(u, Factor):
                column = [a * b for a, b in zip(c.values, u.values, strict=True)]
            elif isinstance(u, Factor):
                column = [a * u.value for a in c.values]
            else:
                column = [c.value * b for b in u.values]
            self._products = column + [t.product for t in self._tail]
        return self._products

    @property
    def sizes(self) -> np.ndarray:
        """Every term's |product| as an array (read-only; made once: a long sum is ordered by it twice)."""
        if self._sizes is None:
            self._sizes = np.abs(np.asarray(self.products, dtype=np.float64))
            self._sizes.flags.writeable = False
        return self._sizes

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str) or len(other) != len(self):
            return False
        return all(a == b for a, b in zip(self, other, strict=True))

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"Column({len(self)} terms)"


def products(terms: Sequence[Term]) -> list[float]:
    """Every term's product, in order (a :class:`Column`'s without making its terms)."""
    return terms.products if isinstance(terms, Column) else [t.product for t in terms]


def _sizes(terms: Sequence[Term]) -> np.ndarray | None:
    """Every |product| as an array, for a long sum's ordering (a network step's batch norm: 26 sums of ~870 terms,
    ~5 ms in Python); None when a product is NaN: Python's comparisons order a NaN as they meet it, and its order
    is kept (the lists' own way, below each caller)."""
    sizes = terms.sizes if isinstance(terms, Column) else np.abs(np.asarray(products(terms), dtype=np.float64))
    return None if np.isnan(sizes).any() else sizes


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
    terms: Sequence[Term]  # a tuple, or a long sum's :class:`Column` (its terms made only when read)
    formula: str  # the symbolic formula (TeX) the terms instantiate
    note: str = ""  # one sentence a reader needs (which windows, which paths)
    paths: dict[str, str] = field(default_factory=dict)  # path -> what it is, for formulas with several
    title: str = ""  # how the page names the element, when not ``array[index]`` (the optimizer's m_3[1])

    def __post_init__(self) -> None:
        if not isinstance(self.terms, (tuple, Column)):  # a family's list: held as a tuple
            object.__setattr__(self, "terms", tuple(self.terms))

    @property
    def total(self) -> float:
        """Σ products (math.fsum: the exact sum of the products, rounded once)."""
        return math.fsum(products(self.terms))

    def largest(self) -> Term | None:
        """The term of largest |product| (the first of equals); None when there is none."""
        sizes = _sizes(self.terms)
        if sizes is not None:
            return self.terms[int(np.argmax(sizes))] if sizes.size else None
        sizes = [abs(p) for p in products(self.terms)]
        return self.terms[max(range(len(sizes)), key=sizes.__getitem__)] if sizes else None

    def by_size(self, count: int | None = None) -> list[int]:
        """The positions of the ``count`` terms of largest |product| (every term's when None), largest first,
        equals in their order (as a stable sort puts them)."""
        sizes = _sizes(self.terms)
        if sizes is not None:
            return np.argsort(-sizes, kind="stable")[:count].tolist()
        keys = [-abs(p) for p in products(self.terms)]
        if count is None or count >= len(keys):
            return sorted(range(len(keys)), key=keys.__getitem__)
        return heapq.nsmallest(count, range(len(keys)), key=keys.__getitem__)

    def smallest(self) -> int | None:
        """The position of the term of smallest |product|, the last of equals: the last of :meth:`by_size`."""
        sizes = _sizes(self.terms)
        if sizes is not None:
            return int(sizes.size - 1 - np.argmin(sizes[::-1])) if sizes.size else None
        sizes = [abs(p) for p in products(self.terms)]
        return len(sizes) - 1 - sizes[::-1].index(min(sizes)) if sizes else None

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
        found: dict[str, dict[Index, None]] = {}  # (a dict keeps the order and answers "in" at once)
        for term in self.terms:
            for factor in (term.coefficient, term.upstream):
                where = factor.cell()
                if where is not None:
                    found.setdefault(where[0], {})[where[1]] = None
        return {array: list(cells) for array, cells in found.items()}

    def latex(self, max_terms: int = 9, digits: int = 4, largest_first: bool = False) -> str:
        """``label = c₁·u₁ + c₂·u₂ + … = value`` with the numbers (the middle elided past ``max_terms``);
        ``largest_first``: the terms by |product|, largest first (a long sum's elision then hides the small)."""
        num = _tex_factor(digits)
        count = len(self.terms)

        def part(k: int) -> str:
            t = self.terms[k]
            return rf"{num(t.coefficient.value)}\cdot{num(t.upstream.value)}"

        if count > max_terms:  # only the terms shown are made and written (a column of a norm has thousands)
            first = self.by_size(max_terms - 2) if largest_first else range(max_terms - 2)
            parts = [*map(part, first), r"\cdots", part(self.smallest() if largest_first else count - 1)]
        else:
            parts = [part(k) for k in (self.by_size() if largest_first else range(count))]
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
