"""Quiz mode, once for every lab: chosen cells of the arrays a page shows are hidden, the student types them,
and the engine grades each one.

The hidden set is in the link: ``quiz=dx:0,0,1,2;dx:0,0,2,2;loss:`` — cells ``<array>:<index>`` (the table's
``data-arr`` and the cell's ``data-idx``, "" for a scalar) joined by ``;``, at most ``Settings.quiz_max_cells``,
no cell twice; read strictly (a 422 naming ``quiz``), and each cell must be one the page shows. A lecturer
sends "compute these three dx cells" as one link.

``POST /<slug>/quiz/grade`` takes the lab's form with ``quiz`` and one ``answer`` per cell (in order, "" for
not answered) and answers JSON: per cell ✓/✗ against the engine's value — exact for integer arrays (indices,
masks, labels), else within a relative 1e-3 (with an absolute floor of 1e-9 for cells that are 0) — and the
score. ``POST /<slug>/quiz/hint`` answers one cell's formula with every number plugged in but the answer (the
lab's terms where it has them, else its provenance: the cells it is computed from, with their values), and
``POST /<slug>/quiz/reveal`` the values. The engine's value of a cell is what the page's own heatmaps hold
(THE heatmap writer keeps each table's exact values), so any array any page shows can be asked.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from app import work
from app.settings import Settings, get_settings
from app.web.kit import bugs, quiz_mask
from app.web.kit.fields import FieldError, parse_number
from app.web.kit.form import collect, first
from app.web.kit.link import split_query
from app.web.kit.responses import field_errors
from app.web.render import hidden
from app.web.render.numbers import cell_text

CELL = re.compile(r"([a-z][a-z0-9_.]{0,39}):((?:\d{1,4}(?:,\d{1,4}){0,5})?)", re.ASCII)
REL_TOL = 1e-3  # relative tolerance of a real-valued cell
ABS_FLOOR = 1e-9  # ... and the absolute one below which a cell counts as 0
INTEGER_ARRAYS = ("argmax", "mask", "labels", "label", "index", "indices")  # names ending so are graded exactly
HINT_CELLS = 12  # source cells a provenance hint lists
Cell = tuple[str, str]  # (array, index text)
SettingsDep = Annotated[Settings, Depends(get_settings)]


def parse(text: str, max_cells: int) -> tuple[Cell, ...]:
    """The cells of a ``quiz`` value; FieldError("quiz") naming what is wrong."""
    parts = text.split(";") if text else []
    if not parts:
        raise FieldError("quiz", "holds no cell; write cells as array:index, e.g. quiz=dx:0,0,1,2;dx:0,0,2,2")
    if len(parts) > max_cells:
        raise FieldError("quiz", f"holds {len(parts)} cells; a quiz hides at most {max_cells}")
    cells: list[Cell] = []
    for k, part in enumerate(parts):
        m = CELL.fullmatch(part)
        if not m:
            raise FieldError("quiz", f"cell {k + 1} ({part[:60]!r}) must be array:index, e.g. dx:0,0,1,2 "
                                     "(an array name of lower-case letters, digits, _ or .; the index in digits)")
        cell = (m.group(1), ",".join(str(int(i)) for i in m.group(2).split(",")) if m.group(2) else "")
        if cell in cells:
            raise FieldError("quiz", f"cell {k + 1} ({part}) is in the quiz twice")
        cells.append(cell)
    return tuple(cells)


def text_of(cells: tuple[Cell, ...]) -> str:
    return ";".join(f"{a}:{i}" for a, i in cells)


def link(cells: tuple[Cell, ...] | None, url: str) -> str:
    """A lab link that keeps the quiz."""
    return f"{url}&quiz={text_of(cells)}" if cells else url


def label(cell: Cell) -> str:
    array, index = cell
    return f"{array}[{index.replace(',', ', ')}]" if index else array


def from_query(query: str, max_cells: int) -> tuple[str, tuple[Cell, ...] | None]:
    """(the lab's own link, the quiz's cells or None): ``quiz=`` taken out of a page's query."""
    query, own = split_query(query, ("quiz",))
    return query, (parse(own["quiz"], max_cells) if "quiz" in own else None)


def from_form(fields: Mapping[str, list[str]], max_cells: int) -> tuple[Cell, ...] | None:
    """The cells of a posted ``quiz`` (quiz.js adds it to every request of a quiz page), None without one."""
    text = first(fields, "quiz")
    return parse(text, max_cells) if text else None


def hiding(cells: tuple[Cell, ...] | None, job: Callable[..., Any]) -> Callable[..., Any]:
    """``job`` drawing a page or fragment with ``cells`` hidden: THE heatmap writer draws them blank."""
    return hidden.hiding(cells, job)


def masked(response: Response, cells: tuple[Cell, ...] | None, values: Mapping[Cell, float]) -> Response:
    """A page or fragment drawn for a quiz without its hidden cells' values anywhere in its text
    (app.web.kit.quiz_mask: formulas, cards, tooltips, figures, a second table of the same quantity)."""
    if not cells:
        return response
    return quiz_mask.masked(response, [values[c] for c in cells if c in values])


def masked_from(response: Response, cells: tuple[Cell, ...] | None, context: Mapping[str, Any]) -> Response:
    """:func:`masked` with the values of ``context``, read only for a quiz: :func:`values_of` walks every table of
    the context (half of a network resnet step's server time, when every step walked it)."""
    if not cells:
        return response
    return masked(response, cells, values_of(context))


# --------------------------------------------------------------------------- the engine's values of a page


def grids(value: Any, depth: int = 0) -> Iterator[Mapping[str, Any]]:
    """Every heatmap dict (app.web.render.heatmap: "array", "cells") inside a page's context."""
    if depth > 12:
        return
    if isinstance(value, Mapping):
        if "cells" in value and "array" in value and isinstance(value.get("cells"), tuple):
            yield value
            return
        for v in value.values():
            yield from grids(v, depth + 1)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from grids(v, depth + 1)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from grids(getattr(value, f.name), depth + 1)


def values_of(context: Mapping[str, Any]) -> dict[Cell, float]:
    """{(array, index text): the exact value} of every cell of every table a page's context draws."""
    found: dict[Cell, float] = {}
    for grid in grids(context):
        index, values = grid["cells"]
        if grid["array"] and index is None and "image_prefix" in grid:  # a result drawn as an image
            head = grid["image_prefix"] + "," if grid["image_prefix"] else ""
            index = [[f"{head}{i},{j}" for j in range(values.shape[1])] for i in range(values.shape[0])]
        if not grid["array"] or index is None:
            continue
        for i, row in enumerate(index):
            for j, idx in enumerate(row):
                found.setdefault((grid["array"], idx), float(values[i, j]))
    return found


def missing(cells: tuple[Cell, ...], values: Mapping[Cell, float]) -> list[Cell]:
    return [c for c in cells if c not in values]


# --------------------------------------------------------------------------- grading


def is_integer(array: str) -> bool:
    return array.rsplit(".", 1)[-1].rsplit("_", 1)[-1] in INTEGER_ARRAYS or array.endswith(INTEGER_ARRAYS)


def tolerance(cell: Cell, value: float) -> float:
    """How far an answer may be from ``value``: exact for integer arrays, else relative 1e-3."""
    if is_integer(cell[0]):
        return ABS_FLOOR
    return max(REL_TOL * abs(value), ABS_FLOOR) * (1 + 1e-9)  # the slack: 2.002 − 2 is a hair above 0.002


def graded(cell: Cell, value: float, answer: float | None) -> dict[str, Any]:
    tol = tolerance(cell, value)
    ok = None if answer is None else (math.isfinite(value) and abs(answer - value) <= tol)
    rule = "exact (an integer array)" if is_integer(cell[0]) else "within a relative 10⁻³"
    return {"cell": f"{cell[0]}:{cell[1]}", "label": label(cell), "ok": ok, "rule": rule}


def hint(cell: Cell, state: Any, lab: Any, values: Mapping[Cell, float]) -> dict[str, Any]:
    """The cell's formula with its numbers, all but the answer: the lab's terms, else its provenance."""
    array, index = cell
    terms = None
    if lab.terms is not None:
        try:
            terms = lab.terms(state, array, index)
        except (ValueError, FieldError):
            terms = None
    if terms is not None:
        shown = terms.terms[:12]
        parts = [f"{t.coefficient.label} · {t.upstream.label} = {cell_text(t.coefficient.value)} × "
                 f"{cell_text(t.upstream.value)}" for t in shown]
        more = len(terms.terms) - len(shown)
        text = f"{label(cell)} = Σ of {len(terms.terms)} terms: " + " + ".join(f"({p})" for p in parts) + \
            (f" + … {more} more" if more > 0 else "") + " = ?"
        return {"cell": f"{array}:{index}", "hint": text, "formula": terms.formula, "note": terms.note}
    sources: Mapping[str, Any] = {}
    if lab.provenance is not None:
        try:
            sources = lab.provenance(state, array, index)
        except (ValueError, FieldError):
            sources = {}
    known, unknown = [], []  # the source cells whose values the page shows first, at most HINT_CELLS in all
    for name, idxs in sources.items():
        for idx in idxs:
            key = (name, ",".join(str(int(i)) for i in idx))
            if key in values:
                known.append(f"{label(key)} = {cell_text(values[key])}")
            else:
                unknown.append(label(key))
    listed = (known + unknown)[:HINT_CELLS]
    if len(known) + len(unknown) > HINT_CELLS:
        listed.append(f"… {len(known) + len(unknown) - HINT_CELLS} more")
    text = (f"{label(cell)} is computed from " + ", ".join(listed) + ": apply the step's formula shown on the "
            "page to these numbers.") if listed else f"Find the formula of {array} on the page, and the cells it reads."
    return {"cell": f"{array}:{index}", "hint": text, "formula": "", "note": ""}


# --------------------------------------------------------------------------- the page and the routes


def context(cells: tuple[Cell, ...] | None, shown_context: Mapping[str, Any], slug: str, link_url: str,
            settings: Settings) -> tuple[dict[str, Any], FieldError | None]:
    """What a lab page adds for quiz mode (kit/quiz.html): the panel, and the link with the quiz. A quiz cell the
    page does not show is the error naming ``quiz`` (the page answers 422 and says so in the panel)."""
    panel: dict[str, Any] = {"slug": slug, "cells": [], "text": "", "max_cells": settings.quiz_max_cells}
    extra: dict[str, Any] = {"quiz_panel": panel}
    if not cells:
        return extra, None
    panel["cells"] = [{"cell": f"{a}:{i}", "label": label((a, i))} for a, i in cells]
    panel["text"] = text_of(cells)
    extra["link"] = link(cells, link_url)
    absent = missing(cells, values_of(shown_context))
    if absent:
        error = FieldError("quiz", f"{', '.join(label(c) for c in absent)} is not a cell this page shows")
        panel["error"] = error
        return extra, error
    return extra, None


def add_routes(router: APIRouter, lab: Any, posted: Callable[..., Any], prepare: Callable[..., Any]) -> None:
    """``POST /<slug>/quiz/grade``, ``/quiz/hint`` and ``/quiz/reveal`` from the lab's posted form (``prepare``:
    the kit's, which runs a state's heavy work — the network's replay — before it is shown)."""
    base = f"/{lab.slug}/quiz"

    async def read(request: Request, settings: Settings) -> tuple[Any, Any, tuple[Cell, ...], list[FieldError], Any]:
        fields, state, errors = await posted(request, lab.from_form, settings)
        plant = collect(errors, bugs.from_form, lab.slug, lab.bug_sites, fields, settings.bug_secret)
        cells = collect(errors, parse, first(fields, "quiz"), settings.quiz_max_cells, fallback=())
        return fields, state, cells, errors, plant

    async def page_values(state: Any, settings: Settings, plant: Any,
                          cells: tuple[Cell, ...]) -> tuple[dict[Cell, float], Response | None]:
        """The values the page shows, and the 422 naming ``quiz`` when one of ``cells`` is not among them."""
        await prepare(lab, state, settings)
        shown = await work.render(settings, bugs.planted(plant, lab.show), state, settings, "page")
        values = values_of(shown.context)
        absent = missing(cells, values)
        if not absent:
            return values, None
        gone = ", ".join(label(c) for c in absent)
        return values, field_errors([FieldError("quiz", f"{gone} is not on the page now")])

    @router.post(base + "/grade", name=f"{lab.slug}_quiz_grade")
    async def grade(request: Request, settings: SettingsDep) -> Response:
        """Each answer against the engine: ``{"cells": [{"cell", "label", "ok", "rule"}], "score", "of"}``."""
        fields, state, cells, errors, plant = await read(request, settings)
        typed = fields.get("answer", [])
        if not errors and len(typed) != len(cells):
            errors.append(FieldError("answer", f"holds {len(typed)} answers for {len(cells)} quiz cells"))
        answers = [None if not t.strip() else collect(errors, parse_number, f"answer {label(c)}", t.strip())
                   for c, t in zip(cells, typed, strict=False)]
        if errors:
            return field_errors(errors)
        values, bad = await page_values(state, settings, plant, cells)
        if bad is not None:
            return bad
        out = [graded(c, values[c], a) for c, a in zip(cells, answers, strict=True)]
        return JSONResponse({"cells": out, "score": sum(1 for g in out if g["ok"]), "of": len(out)})

    @router.post(base + "/hint", name=f"{lab.slug}_quiz_hint")
    async def give_hint(request: Request, settings: SettingsDep) -> Response:
        """One cell's formula with every number but the answer (``cell`` = array:index)."""
        fields, state, cells, errors, plant = await read(request, settings)
        cell = collect(errors, parse, first(fields, "cell"), 1, fallback=((),))[0]
        if not errors and cell not in cells:
            errors.append(FieldError("cell", f"{label(cell)} is not in this quiz"))
        if errors:
            return field_errors(errors)
        values, bad = await page_values(state, settings, plant, (cell,))
        if bad is not None:
            return bad
        answer = await work.render(settings, bugs.planted(plant, hint), cell, state, lab, values)
        return JSONResponse(answer)

    @router.post(base + "/reveal", name=f"{lab.slug}_quiz_reveal")
    async def reveal(request: Request, settings: SettingsDep) -> Response:
        """The engine's value of every quiz cell: ``{"cells": [{"cell", "value", "exact"}]}``."""
        _, state, cells, errors, plant = await read(request, settings)
        if errors:
            return field_errors(errors)
        values, bad = await page_values(state, settings, plant, cells)
        if bad is not None:
            return bad
        return JSONResponse({"cells": [{"cell": f"{a}:{i}", "value": cell_text(values[(a, i)]),
                                        "exact": repr(values[(a, i)])} for a, i in cells]})
