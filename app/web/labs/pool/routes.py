"""The pooling lab at /pool: max and average pooling, the argmax routing of the gradient, ReLU.

GET /pool?<state> renders the whole page from a link. The page's form posts to the
fragment routes, which answer only what changed and put the canonical link in
``HX-Replace-Url`` so the address bar always holds the whole state.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from app.settings import Settings, get_settings
from app.web.kit.lab import broken_link, form_errors, form_fields, fragment, preset_redirect
from app.web.kit.link import LinkError, parse_int
from app.web.labs.pool import view as pool_view
from app.web.labs.pool.presets import DEFAULT, PRESETS
from app.web.labs.pool.state import PoolState, fit_typed, from_form, from_link
from app.web.render import figures
from app.web.render.templating import render, templates
from engine.explain import pool as pool_lab
from engine.gradcheck import check_op
from engine.records import OpInputError
from engine.registry import op_provenance, prepare

router = APIRouter(tags=["pages"])
SettingsDep = Annotated[Settings, Depends(get_settings)]

GRADCHECK_SAMPLE = 40  # entries of x checked per op; all of them when x is smaller
GRADCHECK_STEP = 1e-3  # both ops are piecewise linear: away from their kinks the differences are exact
POOL_ARRAYS = {"out", "window_argmax", "argmax", "dx", "windows"}  # the op's own provenance
POOL_INPUTS = {"x", "dout"}  # provenance the other way round: what was computed from them
RELU_ARRAYS = {"relu_x": "x", "relu_out": "out", "relu_mask": "mask", "relu_dx": "dx", "relu_dout": "dout"}


def canonical(state: PoolState) -> str:
    return f"/pool?{state.to_query()}"


def _context(view: dict, **extra) -> dict:
    return {"view": view, "presets": PRESETS.values(), "link": canonical(view["state"]), **extra}


def _status(view: dict) -> int:
    return 422 if "error" in view else 200


@router.get("/pool")
def pool_page(request: Request, settings: SettingsDep) -> Response:
    query = request.url.query
    if not query:
        return RedirectResponse(canonical(PRESETS[DEFAULT].make(0)), status_code=303)
    try:
        state = from_link(query, settings)
    except LinkError as exc:
        return broken_link(request, "pool", "pooling", exc, canonical(PRESETS[DEFAULT].make(0)), query)
    view = pool_view.build(state)
    return render(request, "pool/page.html", _context(view), partial="pool/lab.html", status_code=_status(view))


@router.get("/pool/preset/{key}")
def pool_preset(key: str, seed: str = "0") -> Response:
    return preset_redirect(PRESETS, key, seed, canonical)


async def _form_state(request: Request, settings: Settings):
    return from_form(await form_fields(request), settings)


@router.post("/pool/results")
async def pool_results(request: Request, settings: SettingsDep) -> Response:
    """The results after an edit of any cell (the inputs themselves are not swapped)."""
    state, errors = await _form_state(request, settings)
    if errors:
        return form_errors(request, errors)
    view = pool_view.build(state)
    return fragment(request, "pool/results.html", _context(view), canonical(view["state"]), _status(view))


@router.post("/pool/lab")
async def pool_lab_fragment(request: Request, settings: SettingsDep) -> Response:
    """The inputs and results after a change of shape, pooling type, size, stride or dout mode."""
    state, errors = await _form_state(request, settings)
    if errors:
        return form_errors(request, errors)
    view = pool_view.build(state)
    return fragment(request, "pool/lab.html", _context(view), canonical(view["state"]), _status(view))


@router.post("/pool/window")
async def pool_window(request: Request, settings: SettingsDep) -> Response:
    """The window stepper moved by ``step_delta`` output positions (wrapping around)."""
    state, errors = await _form_state(request, settings)
    form = await request.form()
    try:
        delta = parse_int("step_delta", str(form.get("step_delta", "0")), -(10**6), 10**6)
    except LinkError as exc:
        errors = [*errors, exc]
    if errors:
        return form_errors(request, errors)
    shape = state.out_shape()
    if shape is None:
        return Response(status_code=204)
    state = replace(state, step=(state.step + delta) % int(np.prod(shape)))
    view = pool_view.build(state)
    return fragment(request, "pool/window.html", _context(view), canonical(view["state"]), _status(view))


def _gradcheck(op: str, inputs: dict, params: dict, size: int, stride: int) -> dict:
    """One badge: check_op on x, or, where x sits on a kink (a tie, ReLU at 0), the entries away from it."""
    spec, arrays, clean = prepare(op, inputs, params)
    result = spec.run(arrays, clean)
    skip = pool_lab.kinks(op, result, size, stride, GRADCHECK_STEP)
    if not skip.any():
        report = check_op(op, inputs, params, h=GRADCHECK_STEP, max_per_input=GRADCHECK_SAMPLE)
    else:
        report = pool_lab.check_away_from_kinks(op, arrays, clean, skip, GRADCHECK_STEP,
                                                max_per_input=GRADCHECK_SAMPLE)
    found = {"op": op, "report": report, "skipped": int(skip.sum()), "total": int(skip.size),
             "worst": figures.format_value(report.worst) if report else None,
             "ok": report is not None and report.worst < 1e-7}
    if op == "maxpool2d" and skip.any():
        ties = pool_lab.tie_counts(result)
        found["ties"] = int(np.sum(ties >= 2))
        found["near"] = found["ties"] == 0  # only near-ties (closer than h), no exact ones
        found["first_tie"] = ", ".join(str(int(i)) for i in np.argwhere(ties >= 2)[0]) if found["ties"] else None
    return found


@router.post("/pool/gradcheck")
async def pool_gradcheck(request: Request, settings: SettingsDep) -> Response:
    """Numeric gradient checks of the current inputs: the pooling op, then ReLU."""
    state, errors = await _form_state(request, settings)
    if errors:
        return form_errors(request, errors)
    state = fit_typed(state)
    try:
        pool = _gradcheck(state.op, state.pool_inputs(), state.params, state.size, state.stride)
    except OpInputError:
        pool = None
    relu = _gradcheck("relu", state.relu_inputs(), {}, state.size, state.stride)
    figure = None
    if pool and pool["report"]:
        figure = figures.gradcheck_scatter(pool["report"].analytic, pool["report"].numeric)
    return templates.TemplateResponse(request, "pool/gradcheck.html",
                                      {"pool": pool, "relu": relu, "figure": figure, "state": state})


def _index(text: str) -> tuple[int, ...]:
    return tuple(int(i) for i in text.split(","))


def _cells(sources: dict) -> dict[str, list[str]]:
    return {name: [",".join(str(int(i)) for i in idx) for idx in idxs] for name, idxs in sources.items()}


@router.post("/pool/provenance")
async def pool_provenance(request: Request, settings: SettingsDep) -> Response:
    """Which cells a hovered cell came from (or, for x and dout, went to): ``{"cells": {array: ["n,c,h,w"]}}``."""
    form = await request.form()
    array, index_text = str(form.get("array", "")), str(form.get("index", ""))
    if array not in POOL_ARRAYS | POOL_INPUTS | set(RELU_ARRAYS):
        return JSONResponse({"detail": [{"loc": ["body", "array"], "msg": f"no provenance for {array!r}",
                                         "type": "value_error"}]}, status_code=422)
    state, errors = await _form_state(request, settings)
    if errors:
        return JSONResponse({"detail": [{"loc": ["body", e.field], "msg": e.message, "type": "value_error"}
                                        for e in errors]}, status_code=422)
    state = fit_typed(state)
    try:
        index = _index(index_text)
        if array in RELU_ARRAYS:
            sources = _relu_provenance(state, RELU_ARRAYS[array], index)
        elif array in POOL_ARRAYS:
            sources = op_provenance(state.op, state.pool_inputs(), state.params, array, index)
        else:
            spec, arrays, params = prepare(state.op, state.pool_inputs(), state.params)
            result = spec.run(arrays, params)
            sources = pool_lab.consumers(state.op, result, state.size, state.stride, array, index)
    except (ValueError, OpInputError) as exc:
        msg = exc.message if isinstance(exc, OpInputError) else f"index {index_text!r} is not a cell of {array}"
        return JSONResponse({"detail": [{"loc": ["body", "index"], "msg": msg, "type": "value_error"}]},
                            status_code=422)
    return JSONResponse({"array": array, "index": index_text, "cells": _cells(sources)})


def _relu_provenance(state: PoolState, name: str, index: tuple[int, ...]) -> dict:
    """ReLU is elementwise: every array's cell comes from (and feeds) the same cell of the others."""
    if name in ("x", "dout"):  # the other way round: what was computed from this input cell
        op_provenance("relu", state.relu_inputs(), {}, "out", index)  # checks the index
        made = {"x": ("relu_mask", "relu_out", "relu_dx"), "dout": ("relu_dx",)}[name]
        return {table: [index] for table in made}
    sources = op_provenance("relu", state.relu_inputs(), {}, name, index)
    found = {("relu_" + src if src != "x" else "relu_x"): idxs for src, idxs in sources.items()}
    if "relu_x" in found or "relu_mask" in found:
        found["x"] = [index]  # the editable x is the same tensor
        found.setdefault("relu_x", [index])
    return found
