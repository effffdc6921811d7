"""The normalization lab at /norm: batch norm, its running statistics, layer norm and dropout.

GET /norm?<state> renders the whole page from a link (the section shown is part of the state).
The page's form posts to the fragment routes, which answer only what changed and put the
canonical link in ``HX-Replace-Url`` so the address bar always holds the whole state.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from app.settings import Settings, get_settings
from app.web.kit.lab import broken_link, form_errors, form_fields, fragment, preset_redirect
from app.web.kit.link import LinkError
from app.web.labs.norm import view as norm_view
from app.web.labs.norm.presets import DEFAULT, PRESETS
from app.web.labs.norm.state import TAB_TITLES, NormState, from_form, from_link
from app.web.render import figures
from app.web.render.templating import render, templates
from engine.explain.norm import scaled_errors
from engine.gradcheck import check_op
from engine.ops.norm import BATCHNORM_ARRAYS, LAYERNORM_ARRAYS
from engine.records import OpInputError
from engine.registry import op_provenance

router = APIRouter(tags=["pages"])
SettingsDep = Annotated[Settings, Depends(get_settings)]

GRADCHECK_SAMPLE = 24  # entries checked per input; all of them when an input is smaller
GRADCHECK_STEP = 1e-5  # central differences: truncation ~h², rounding ~1e-16/h; 1e-5 balances them here
GRADCHECK_TOL = 1e-5  # on the error relative to each gradient's size (engine.norm_lab.scaled_errors)
GRADCHECK_DOUT_STREAM = 0xC4  # the random dout a check uses when dout is all ones
INPUTS = {"x", "gamma", "beta", "dout", "running_mean_before", "running_var_before"}
PREFIXES = {"ln_": "layernorm", "drop_": "dropout"}
DISPLAY_ONLY = {  # table -> its sources (x's cell itself, the mask of the other reading of p)
    "drop_mean": lambda i: {"x": [i]},
    "drop_other_out": lambda i: {"x": [i], "drop_other_mask": [i]},
    "drop_other_mask": lambda i: {},
}


def canonical(state: NormState) -> str:
    return f"/norm?{state.to_query()}"


def _context(view: dict, **extra) -> dict:
    return {"view": view, "presets": PRESETS.values(), "link": canonical(view["state"]), "tabs": TAB_TITLES,
            **extra}


def _status(view: dict) -> int:
    return 422 if "error" in view else 200


def _default_link() -> str:
    return canonical(PRESETS[DEFAULT].make(0))


@router.get("/norm")
def norm_page(request: Request, settings: SettingsDep) -> Response:
    query = request.url.query
    if not query:
        return RedirectResponse(_default_link(), status_code=303)
    try:
        state = from_link(query, settings)
    except LinkError as exc:
        return broken_link(request, "norm", "normalization", exc, _default_link(), query)
    view = norm_view.build(state)
    return render(request, "norm/page.html", _context(view), partial="norm/lab.html", status_code=_status(view))


@router.get("/norm/preset/{key}")
def norm_preset(key: str, seed: str = "0") -> Response:
    return preset_redirect(PRESETS, key, seed, canonical)


async def _form_state(request: Request, settings: Settings):
    return from_form(await form_fields(request), settings)


@router.post("/norm/results")
async def norm_results(request: Request, settings: SettingsDep) -> Response:
    """The results after an edit of any cell or setting (the inputs themselves are not swapped)."""
    state, errors = await _form_state(request, settings)
    if errors:
        return form_errors(request, errors)
    view = norm_view.build(state)
    return fragment(request, "norm/results.html", _context(view), canonical(state), _status(view))


@router.post("/norm/lab")
async def norm_lab(request: Request, settings: SettingsDep) -> Response:
    """The inputs and results after a change of section, layout, size or dout mode."""
    state, errors = await _form_state(request, settings)
    if errors:
        return form_errors(request, errors)
    view = norm_view.build(state)
    return fragment(request, "norm/lab.html", _context(view), canonical(state), _status(view))


def _check_inputs(state: NormState, inputs: dict) -> tuple[dict, bool]:
    """With dout all ones, dx and dγ of a normalisation are exactly 0 (Σ x̂ = 0): check with a random dout."""
    if state.dout_mode != "ones" or state.tab == "dropout":
        return inputs, False
    rng = np.random.default_rng([state.dout_seed, GRADCHECK_DOUT_STREAM])
    return {**inputs, "dout": np.round(rng.standard_normal(state.x.shape), 1)}, True


@router.post("/norm/gradcheck")
async def norm_gradcheck(request: Request, settings: SettingsDep) -> Response:
    """The numeric gradient check of the section's op: the worst relative error and a scatter."""
    state, errors = await _form_state(request, settings)
    if errors:
        return form_errors(request, errors)
    ctx: dict = {"report": None, "tol": GRADCHECK_TOL}
    if state.tab == "bn":
        name, inputs, params = "batchnorm", state.bn_inputs(), state.bn_params("train")
    elif state.tab == "ln":
        name, inputs, params = "layernorm", state.ln_inputs(), {"eps": state.eps}
    elif state.tab == "dropout":
        name, inputs, params = "dropout", {"x": state.x, "dout": state.dout()}, state.dropout_params()
    else:
        return templates.TemplateResponse(request, "norm/gradcheck.html", ctx)
    inputs, random_dout = _check_inputs(state, inputs)
    try:
        report = check_op(name, inputs, params, h=GRADCHECK_STEP, max_per_input=GRADCHECK_SAMPLE)
    except OpInputError as exc:
        ctx["refused"] = exc.message
        return templates.TemplateResponse(request, "norm/gradcheck.html", ctx)
    scaled = scaled_errors(report.analytic, report.numeric)
    worst_scaled = max(scaled.values(), default=0.0)
    ctx.update({"report": report, "op": name, "worst": figures.format_value(report.worst), "random_dout": random_dout,
                "scaled": figures.format_value(worst_scaled), "ok": worst_scaled < GRADCHECK_TOL,
                "scaled_at": max(scaled, key=scaled.get) if scaled else "",
                "wrt": ", ".join(report.per_input), "train_only": name == "batchnorm" and state.mode == "eval",
                "figure": figures.gradcheck_scatter(report.analytic, report.numeric)})
    return templates.TemplateResponse(request, "norm/gradcheck.html", ctx)


@router.post("/norm/expectation")
async def norm_expectation(request: Request, settings: SettingsDep) -> Response:
    """Dropout's expectation: the mean of out over many seeded masks, converging to x (loaded lazily)."""
    state, errors = await _form_state(request, settings)
    if errors:
        return form_errors(request, errors)
    try:
        view = norm_view.expectation_view(state)
    except OpInputError as exc:
        view = {"error": exc.message}
    return templates.TemplateResponse(request, "norm/expectation.html", {"ex": view, "state": state})


def _index(text: str) -> tuple[int, ...]:
    return tuple(int(i) for i in text.split(","))


def _op_for(array: str) -> tuple[str, str, str]:
    """(op, the op's own array name, the prefix its tables carry) for a table's data-arr."""
    for prefix, op in PREFIXES.items():
        if array.startswith(prefix):
            return op, array[len(prefix):], prefix
    return "batchnorm", array, ""


def _sources(state: NormState, array: str, index: tuple[int, ...]) -> dict[str, list[tuple[int, ...]]]:
    if array in DISPLAY_ONLY:  # tables drawn from engine helpers, not from one op call
        if len(index) != state.x.ndim or any(not 0 <= i < n for i, n in zip(index, state.x.shape, strict=True)):
            raise ValueError(array)
        return DISPLAY_ONLY[array](index)
    if array.startswith("seq_"):  # a running statistic after the sequence: where it started, and the batches
        if len(index) != 1 or not 0 <= index[0] < state.channels:
            raise ValueError(array)
        start = "running_var_before" if array.endswith("_var") else "running_mean_before"
        column = [i for i in np.ndindex(state.x.shape) if i[1] == index[0]] if state.source == "repeat" else []
        return {start: [index], **({"x": column} if column else {})}
    op, name, prefix = _op_for(array)
    if op == "batchnorm":
        if name not in BATCHNORM_ARRAYS:
            raise ValueError(array)
        return op_provenance(op, state.bn_inputs(), state.bn_params(), name, index)
    if op == "layernorm":
        if name not in LAYERNORM_ARRAYS:
            raise ValueError(array)
        found = op_provenance(op, state.ln_inputs(), {"eps": state.eps}, name, index)
    else:
        if name not in ("out", "dx", "mask"):
            raise ValueError(array)
        found = op_provenance(op, {"x": state.x, "dout": state.dout()}, state.dropout_params(), name, index)
    out: dict[str, list[tuple[int, ...]]] = {}
    for source, idxs in found.items():
        if source in ("gamma", "beta") and state.x.ndim == 4:  # layer norm's γ_c over H×W: the γ cell c
            idxs = sorted({(i[0],) for i in idxs})
        out[source if source in INPUTS else prefix + source] = idxs
    return out


@router.post("/norm/provenance")
async def norm_provenance(request: Request, settings: SettingsDep) -> Response:
    """Which cells a hovered cell was computed from: ``{"cells": {table: ["n,c", ...]}}``."""
    form = await request.form()
    array, index_text = str(form.get("array", "")), str(form.get("index", ""))
    state, errors = await _form_state(request, settings)
    if errors:
        return JSONResponse({"detail": [{"loc": ["body", e.field], "msg": e.message, "type": "value_error"}
                                        for e in errors]}, status_code=422)
    try:
        sources = _sources(state, array, _index(index_text))
    except OpInputError as exc:
        return JSONResponse({"detail": [{"loc": ["body", "index"], "msg": exc.message, "type": "value_error"}]},
                            status_code=422)
    except ValueError:
        return JSONResponse({"detail": [{"loc": ["body", "array"], "msg": f"no provenance for {array!r} "
                                         f"at {index_text!r}", "type": "value_error"}]}, status_code=422)
    cells = {name: [",".join(str(int(i)) for i in idx) for idx in idxs] for name, idxs in sources.items()}
    return JSONResponse({"array": array, "index": index_text, "cells": cells})
