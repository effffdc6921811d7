"""The softmax lab at /softmax: the page, its htmx fragments, and its link state.

GET /softmax?<state> renders the whole page from a link. The page's form posts to the
fragment routes, which answer only what changed and put the canonical link in
``HX-Replace-Url`` so the address bar always holds the whole state.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from app.settings import Settings, get_settings
from app.web.kit.lab import broken_link, form_errors, form_fields, fragment, preset_redirect
from app.web.kit.link import LinkError
from app.web.labs.softmax import view as softmax_view
from app.web.labs.softmax.presets import DEFAULT, PRESETS
from app.web.labs.softmax.state import OP, SoftmaxState, from_form, from_link, limits
from app.web.render import figures
from app.web.render.templating import render, templates
from engine.explain import softmax as softmax_lab
from engine.records import OpInputError
from engine.registry import OPS, op_provenance

router = APIRouter(tags=["pages"])
SettingsDep = Annotated[Settings, Depends(get_settings)]

PROVENANCE_ARRAYS = set(OPS[OP].arrays) | set(softmax_lab.NAIVE_ARRAYS)


def canonical(state: SoftmaxState) -> str:
    return f"/softmax?{state.to_query()}"


def _context(view: dict, settings: Settings, **extra) -> dict:
    max_n, max_k = limits(settings)
    return {"view": view, "presets": PRESETS.values(), "link": canonical(view["state"]),
            "max_n": max_n, "max_k": max_k, **extra}


def _error(loc: list[str], msg: str, status: int = 422) -> JSONResponse:
    return JSONResponse({"detail": [{"loc": loc, "msg": msg, "type": "value_error"}]}, status_code=status)


@router.get("/softmax")
def softmax_page(request: Request, settings: SettingsDep) -> Response:
    query = request.url.query
    default_link = canonical(PRESETS[DEFAULT].make(0))
    if not query:
        return RedirectResponse(default_link, status_code=303)
    try:
        state = from_link(query, settings)
    except LinkError as exc:
        return broken_link(request, "softmax", "softmax", exc, default_link, query)
    view = softmax_view.build(state)
    return render(request, "softmax/page.html", _context(view, settings), partial="softmax/lab.html")


@router.get("/softmax/preset/{key}")
def softmax_preset(key: str, seed: str = "0") -> Response:
    return preset_redirect(PRESETS, key, seed, canonical)


async def _form_state(request: Request, settings: Settings):
    return from_form(await form_fields(request), settings)


@router.post("/softmax/results")
async def softmax_results(request: Request, settings: SettingsDep) -> Response:
    """The results after an edit of a logit, a label or the temperature (the inputs are not swapped)."""
    state, errors = await _form_state(request, settings)
    if errors:
        return form_errors(request, errors)
    view = softmax_view.build(state)
    return fragment(request, "softmax/results.html", _context(view, settings), canonical(state))


@router.post("/softmax/lab")
async def softmax_lab_fragment(request: Request, settings: SettingsDep) -> Response:
    """The inputs and results after a change of N or K."""
    state, errors = await _form_state(request, settings)
    if errors:
        return form_errors(request, errors)
    view = softmax_view.build(state)
    return fragment(request, "softmax/lab.html", _context(view, settings), canonical(state))


@router.post("/softmax/gradcheck")
async def softmax_gradcheck(request: Request, settings: SettingsDep) -> Response:
    """The numeric gradient check of dlogits at the current inputs: the worst relative error and a scatter."""
    state, errors = await _form_state(request, settings)
    if errors:
        return form_errors(request, errors)
    check = softmax_lab.gradcheck_logits(state.logits, state.labels, state.temperature)
    report = check.report
    ctx = {"check": check, "worst": figures.format_value(check.worst), "noise": figures.format_value(check.noise),
           "floor": figures.format_value(check.floor), "h": softmax_view.pretty(check.h),
           "figure": figures.gradcheck_scatter(report.analytic, report.numeric)}
    return templates.TemplateResponse(request, "softmax/gradcheck.html", ctx)


@router.post("/softmax/provenance")
async def softmax_provenance(request: Request, settings: SettingsDep) -> Response:
    """Which cells a hovered cell was computed from: ``{"cells": {array: ["n,k", ...]}}``."""
    fields = await form_fields(request)
    array, index_text = (fields.get("array") or [""])[0], (fields.get("index") or [""])[0]
    if array not in PROVENANCE_ARRAYS:
        return _error(["body", "array"], f"no provenance for {array!r}")
    state, errors = from_form(fields, settings)
    if errors:
        return JSONResponse({"detail": [{"loc": ["body", e.field], "msg": e.message, "type": "value_error"}
                                        for e in errors]}, status_code=422)
    try:
        index = tuple(int(i) for i in index_text.split(",")) if index_text else ()
        if array in softmax_lab.NAIVE_ARRAYS:
            sources = softmax_lab.naive_provenance(array, index, state.logits.shape, state.labels)
        else:
            sources = op_provenance(OP, state.inputs(), state.params(), array, index)
    except (ValueError, OpInputError) as exc:
        msg = exc.message if isinstance(exc, OpInputError) else f"index {index_text!r} is not a cell of {array}"
        return _error(["body", "index"], msg)
    cells = {name: [",".join(str(int(i)) for i in idx) for idx in idxs] for name, idxs in sources.items()}
    return JSONResponse({"array": array, "index": index_text, "cells": cells})
