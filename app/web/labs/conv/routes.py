"""The convolution lab at /conv: the page, its htmx fragments, and its link state.

GET /conv?<state> renders the whole page from a link. The page's form posts to the
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
from app.web.labs.conv import view as conv_view
from app.web.labs.conv.presets import DEFAULT, PRESETS
from app.web.labs.conv.state import ConvState, from_form, from_link, out_shape
from app.web.render import figures
from app.web.render.templating import render, templates
from engine.gradcheck import check_op
from engine.ops.conv import row_to_offset
from engine.records import OpInputError
from engine.registry import op_provenance

router = APIRouter(tags=["pages"])
SettingsDep = Annotated[Settings, Depends(get_settings)]

GRADCHECK_SAMPLE = 40  # entries checked per input; all of them when an input is smaller
GRADCHECK_STEP = 1e-3  # conv is linear in each input: central differences have no truncation error
PROVENANCE_ARRAYS = {"x", "w", "b", "x_padded", "x_col", "w_row", "wx_row", "out", "dout", "dout_row",
                     "dw", "db", "dx_col", "dx", "dx_full_conv"}


def canonical(state: ConvState) -> str:
    return f"/conv?{state.to_query()}"


def _context(view: dict, **extra) -> dict:
    return {"view": view, "presets": PRESETS.values(), "link": canonical(view["state"]), **extra}


def _status(view: dict) -> int:
    return 422 if "error" in view else 200


@router.get("/conv")
def conv_page(request: Request, settings: SettingsDep) -> Response:
    query = request.url.query
    if not query:
        return RedirectResponse(canonical(PRESETS[DEFAULT].make(0)), status_code=303)
    try:
        state = from_link(query, settings)
    except LinkError as exc:
        return broken_link(request, "conv", "convolution", exc, canonical(PRESETS[DEFAULT].make(0)), query)
    view = conv_view.build(state)
    return render(request, "conv/page.html", _context(view), partial="conv/lab.html", status_code=_status(view))


@router.get("/conv/preset/{key}")
def conv_preset(key: str, seed: str = "0") -> Response:
    return preset_redirect(PRESETS, key, seed, canonical)


async def _form_state(request: Request, settings: Settings):
    return from_form(await form_fields(request), settings)


@router.post("/conv/results")
async def conv_results(request: Request, settings: SettingsDep) -> Response:
    """The results after an edit of any cell (the inputs themselves are not swapped)."""
    state, errors = await _form_state(request, settings)
    if errors:
        return form_errors(request, errors)
    view = conv_view.build(state)
    return fragment(request, "conv/results.html", _context(view), canonical(view["state"]), _status(view))


@router.post("/conv/lab")
async def conv_lab(request: Request, settings: SettingsDep) -> Response:
    """The inputs and results after a change of shape, stride, padding or dout mode."""
    state, errors = await _form_state(request, settings)
    if errors:
        return form_errors(request, errors)
    view = conv_view.build(state)
    return fragment(request, "conv/lab.html", _context(view), canonical(view["state"]), _status(view))


@router.post("/conv/gradcheck")
async def conv_gradcheck(request: Request, settings: SettingsDep) -> Response:
    """The numeric gradient check of the current inputs: the worst relative error and a scatter."""
    state, errors = await _form_state(request, settings)
    if errors:
        return form_errors(request, errors)
    shape = out_shape(state)
    try:
        report = check_op("conv2d", state.inputs(shape), {"stride": state.stride, "pad": state.pad},
                          h=GRADCHECK_STEP, max_per_input=GRADCHECK_SAMPLE)
    except OpInputError:
        return templates.TemplateResponse(request, "conv/gradcheck.html", {"report": None})
    ctx = {"report": report, "worst": figures.format_value(report.worst),
           "figure": figures.gradcheck_scatter(report.analytic, report.numeric)}
    return templates.TemplateResponse(request, "conv/gradcheck.html", ctx)


def _index(text: str) -> tuple[int, ...]:
    return tuple(int(i) for i in text.split(","))


@router.post("/conv/provenance")
async def conv_provenance(request: Request, settings: SettingsDep) -> Response:
    """Which cells a hovered cell was computed from: ``{"cells": {array: ["n,c,h,w", ...]}}``."""
    form = await request.form()
    array, index_text = str(form.get("array", "")), str(form.get("index", ""))
    if array not in PROVENANCE_ARRAYS:
        return JSONResponse({"detail": [{"loc": ["body", "array"], "msg": f"no provenance for {array!r}",
                                         "type": "value_error"}]}, status_code=422)
    state, errors = await _form_state(request, settings)
    if errors:
        return JSONResponse({"detail": [{"loc": ["body", e.field], "msg": e.message, "type": "value_error"}
                                        for e in errors]}, status_code=422)
    try:
        index = _index(index_text)
        inputs, params = state.inputs(out_shape(state)), {"stride": state.stride, "pad": state.pad}
        sources = op_provenance("conv2d", inputs, params, array, index)
        if array == "x_col":  # a cell's column is a window, its row a kernel offset: outline both
            _, _, oh_count, ow_count = out_shape(state)
            n, oh, ow = np.unravel_index(index[1], (state.x.shape[0], oh_count, ow_count))
            window = op_provenance("conv2d", inputs, params, "out", (int(n), 0, int(oh), int(ow)))
            F, C, KH, KW = state.w.shape
            c, kh, kw = row_to_offset(index[0], C, KH, KW)  # a row is one kernel offset of every filter
            sources = {**sources, "x_padded": window.get("x_padded", []),
                       "out": [(int(n), f, int(oh), int(ow)) for f in range(F)],
                       "w": [(f, c, kh, kw) for f in range(F)], "w_row": [(f, index[0]) for f in range(F)]}
    except (ValueError, OpInputError) as exc:
        msg = exc.message if isinstance(exc, OpInputError) else f"index {index_text!r} is not a cell of {array}"
        return JSONResponse({"detail": [{"loc": ["body", "index"], "msg": msg, "type": "value_error"}]},
                            status_code=422)
    cells = {name: [",".join(str(int(i)) for i in idx) for idx in idxs] for name, idxs in sources.items()}
    return JSONResponse({"array": array, "index": index_text, "cells": cells})


@router.post("/conv/window")
async def conv_window(request: Request, settings: SettingsDep) -> Response:
    """The sliding window moved by ``step_delta`` output positions (wrapping around)."""
    state, errors = await _form_state(request, settings)
    form = await request.form()
    try:
        delta = parse_int("step_delta", str(form.get("step_delta", "0")), -(10**6), 10**6)
    except LinkError as exc:
        errors = [*errors, exc]
    if errors:
        return form_errors(request, errors)
    shape = out_shape(state)
    if shape is None:
        return Response(status_code=204)
    state = replace(state, step=(state.step + delta) % int(np.prod(shape)))
    view = conv_view.build(state)
    return fragment(request, "conv/window.html", _context(view), canonical(state), _status(view))
