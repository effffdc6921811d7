"""The cells a quiz hides, for the writers of a page: what is hidden is never written into it.

A quiz (app.web.kit.quiz) names cells ``(array, index text)``; while a page (or a fragment of it) is drawn for a
quiz, :func:`hiding` makes them the current hidden set, and THE heatmap writer (app.web.render.heatmap) draws each
of them blank with its index only — no value, no colour, no tooltip, no data attribute — and an image plane
(app.web.render.plane) paints it masked and leaves it out of the values its inspector reads. A legend whose
half-range is a hidden cell's magnitude does not print it. The engine's values stay in the context (a table's
``cells``), which is what the quiz grades against; only the HTML goes without them.

The set lives in a :class:`contextvars.ContextVar`, set inside the job that draws (a worker thread), so requests
never see each other's quiz.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

Cell = tuple[str, str]  # (array, index text): a table's data-arr and a cell's data-idx


@dataclass
class Hidden:
    """The hidden cells of one drawing, and what they hid so far (their magnitudes' texts)."""

    cells: frozenset[Cell]
    by_array: dict[str, frozenset[str]] = field(default_factory=dict)
    magnitudes: set[str] = field(default_factory=set)  # cell_text(|value|) of every hidden cell drawn

    @classmethod
    def of(cls, cells: Iterable[Cell]) -> Hidden:
        cells = frozenset(cells)
        arrays: dict[str, set[str]] = {}
        for array, index in cells:
            arrays.setdefault(array, set()).add(index)
        return cls(cells, {a: frozenset(i) for a, i in arrays.items()})


_hidden: ContextVar[Hidden | None] = ContextVar("backprop_lens_quiz_hidden", default=None)


def current() -> Hidden | None:
    """The hidden cells of what is being drawn now (None: nothing hidden)."""
    return _hidden.get()


def in_array(array: str) -> frozenset[str]:
    """The hidden index texts of ``array`` (empty when none or no quiz)."""
    hidden = _hidden.get()
    return hidden.by_array.get(array, frozenset()) if hidden is not None and array else frozenset()


def hiding(cells: Iterable[Cell] | None, job: Callable[..., Any]) -> Callable[..., Any]:
    """``job`` drawing with ``cells`` hidden (``job`` itself when there are none)."""
    if not cells:
        return job
    hidden = Hidden.of(cells)

    @functools.wraps(job)
    def drawn(*args: Any, **kwargs: Any) -> Any:
        token = _hidden.set(hidden)
        try:
            return job(*args, **kwargs)
        finally:
            _hidden.reset(token)

    return drawn


def positions(array: str, prefix: str, shape: tuple[int, int]) -> set[tuple[int, int]]:
    """The hidden (i, j) of a plane ``prefix + (i, j)`` of ``array`` (an image, whose cells have no index texts)."""
    found = set()
    head = prefix + "," if prefix else ""
    for index in in_array(array):
        if not index.startswith(head):
            continue
        rest = index[len(head):].split(",")
        if len(rest) == 2 and all(r.isdigit() for r in rest):
            i, j = int(rest[0]), int(rest[1])
            if i < shape[0] and j < shape[1]:
                found.add((i, j))
    return found
