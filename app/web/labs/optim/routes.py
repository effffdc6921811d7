"""The optimizer lab at /optim: the page, its htmx fragments, its link state, and its stream.

GET /optim?<state> renders the whole page from a link. The page's form posts to the fragment
routes, which answer only what changed and put the canonical link in ``HX-Replace-Url`` so the
address bar always holds the whole state. The surface paths are played over Server-Sent Events
(``app.web.labs.optim.stream``, included here).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from app.settings import Settings, get_settings
from app.web.kit.lab import broken_link, first, form_errors, form_fields, fragment, preset_redirect
from app.web.kit.link import LinkError, parse_int
from app.web.labs.optim import stream as optim_stream
from app.web.labs.optim import view as optim_view
from app.web.labs.optim.presets import DEFAULT, PRESETS
from app.web.labs.optim.state import OptimState, from_form, from_link
from app.web.render import figures
from app.web.render.templating import render, templates
from engine.optim import rules as optim
from engine.optim import runs as optim_lab
from engine.records import OpInputError

router = APIRouter(tags=["pages"])
router.include_router(optim_stream.router)
SettingsDep = Annotated[Settings, Depends(get_settings)]

TABLE_ARRAYS = set(optim_view.BANDS)


def canonical(state: OptimState) -> str:
    return f"/optim?{state.to_query()}"


def stream_url(state: OptimState) -> str:
    return f"/optim/stream?{state.to_query()}"


def _context(state: OptimState, table: bool = True, surface: bool = True, fragment: bool = False) -> dict:
    ctx: dict = {"state": state, "link": canonical(state), "presets": PRESETS.values(), "fragment": fragment,
                 "titles": optim.TITLES, "surfaces": optim.SURFACES, "hp_fields": optim_view.hp_fields}
    if table:
        ctx["view"] = optim_view.build_table(state)
    if surface:
        ctx["sview"] = optim_view.build_surface(state, stream_url(state))
    return ctx


def _default() -> OptimState:
    return PRESETS[DEFAULT].make(0)


@router.get("/optim")
def optim_page(request: Request) -> Response:
    query = request.url.query
    if not query:
        return RedirectResponse(canonical(_default()), status_code=303)
    try:
        state = from_link(query)
    except LinkError as exc:
        return broken_link(request, "optim", "optimizer", exc, canonical(_default()), query)
    return render(request, "optim/page.html", _context(state), partial="optim/lab.html")


@router.get("/optim/preset/{key}")
def optim_preset(key: str, seed: str = "0") -> Response:
    return preset_redirect(PRESETS, key, seed, canonical)


async def _form(request: Request) -> tuple[dict[str, list[str]], OptimState | None, list[LinkError]]:
    fields = await form_fields(request)
    state, errors = from_form(fields)
    return fields, state, errors


def _surface_errors(request: Request, errors: list[LinkError]) -> Response:
    """422 with the message both at the top of the results (which marks the cells) and by the surface."""
    response = templates.TemplateResponse(request, "optim/errors.html", {"form_errors": errors},
                                          status_code=422)
    response.headers["HX-Reswap"] = "none"
    return response


def _table_fragment(request: Request, template: str, state: OptimState) -> Response:
    return fragment(request, template, _context(state, surface=False, fragment=True), canonical(state))


@router.post("/optim/results")
async def optim_results(request: Request) -> Response:
    """The step table, formulas and conventions after an edit of a cell or a hyperparameter."""
    _, state, errors = await _form(request)
    if errors:
        return form_errors(request, errors)
    return _table_fragment(request, "optim/results.html", state)


@router.post("/optim/lab")
async def optim_lab_fragment(request: Request) -> Response:
    """Inputs and results of the step table after a change of optimizer, sizes or gradient mode."""
    _, state, errors = await _form(request)
    if errors:
        return form_errors(request, errors)
    return _table_fragment(request, "optim/table.html", state)


@router.post("/optim/step")
async def optim_step(request: Request) -> Response:
    """The results with another step selected: ``k_delta`` (wrapping around) or ``k_to``."""
    fields, state, errors = await _form(request)
    try:
        if first(fields, "k_to"):
            k = parse_int("k_to", first(fields, "k_to"), 1, state.steps if state else 1)
        else:
            delta = parse_int("k_delta", first(fields, "k_delta", "0"), -1000, 1000)
            k = ((state.k - 1 + delta) % state.steps) + 1 if state else 1
    except LinkError as exc:
        errors = [*errors, exc]
    if errors:
        return form_errors(request, errors)
    state = replace(state, k=k)
    return _table_fragment(request, "optim/results.html", state)


@router.post("/optim/surface")
async def optim_surface(request: Request) -> Response:
    """The surface explorer after a change of surface, start, optimizers or their hyperparameters."""
    _, state, errors = await _form(request)
    if errors:
        return _surface_errors(request, errors)
    ctx = _context(state, table=False, fragment=True)
    return fragment(request, "optim/surface.html", ctx, canonical(state))


@router.post("/optim/link")
async def optim_link(request: Request) -> Response:
    """The canonical link of the posted form (the page asks when a play pauses: the step index moved)."""
    _, state, errors = await _form(request)
    if errors:
        return JSONResponse({"detail": [{"loc": ["body", e.field], "msg": e.message, "type": "value_error"}
                                        for e in errors]}, status_code=422)
    return JSONResponse({"url": canonical(state)})


@router.post("/optim/gradcheck")
async def optim_gradcheck(request: Request) -> Response:
    """∇f of the surface against central differences: where the paths went (or where the table's steps were)."""
    fields, state, errors = await _form(request)
    if errors:
        return form_errors(request, errors)
    which = first(fields, "which", "surface")
    if which == "table":
        if state.gmode != "surface":
            return Response(status_code=204)
        surface = state.gsurface
        points = optim_view.path_points(optim_view.run(state))
    else:
        surface, points = state.surface, optim_view.check_points(state)
    points = points[np.all(np.isfinite(points), axis=1)]
    report = optim_lab.check_surface_gradient(surface, points)
    ctx = {"report": report, "worst": figures.format_value(report.worst), "which": which, "t": state.t,
           "where": ", ".join(figures.format_value(v) for v in report.where)}
    return templates.TemplateResponse(request, "optim/gradcheck.html", ctx)


def _cell(text: str) -> tuple[int, int]:
    a, b = (int(s) for s in text.split(","))
    return a, b


@router.post("/optim/provenance")
async def optim_provenance(request: Request) -> Response:
    """Which cells a hovered cell of the step table was computed from: ``{"cells": {array: ["i,c", ...]}}``.

    Step-table cells are indexed (parameter, column) with column = t − 1; the starting vector
    ``theta0`` is (0, parameter) and the typed gradients ``g_in`` (row, parameter).
    """
    fields, state, errors = await _form(request)
    array, index_text = first(fields, "array"), first(fields, "index")
    if array not in TABLE_ARRAYS:
        return JSONResponse({"detail": [{"loc": ["body", "array"], "msg": f"no provenance for {array!r}",
                                         "type": "value_error"}]}, status_code=422)
    if errors:
        return JSONResponse({"detail": [{"loc": ["body", e.field], "msg": e.message, "type": "value_error"}
                                        for e in errors]}, status_code=422)
    try:
        i, col = _cell(index_text)
        if not (0 <= i < state.P and 0 <= col < state.steps):
            raise ValueError(index_text)
        sources = optim_lab.provenance(state.opt.name, state.opt.hp, array, col + 1, i, state.gmode, state.P)
    except (ValueError, OpInputError) as exc:
        msg = exc.message if isinstance(exc, OpInputError) else f"index {index_text!r} is not a cell of {array}"
        return JSONResponse({"detail": [{"loc": ["body", "index"], "msg": msg, "type": "value_error"}]},
                            status_code=422)
    cells = {}
    for name, idxs in sources.items():
        if name == "theta0":
            cells[name] = [f"0,{p}" for _, p in idxs]
        elif name == "g_in":
            cells[name] = [f"{t},{p}" for t, p in idxs]
        else:
            cells[name] = [f"{p},{t - 1}" for t, p in idxs]
    return JSONResponse({"array": array, "index": index_text, "cells": cells})
