"""The optimizer lab at /optim: its spec for the shared lab routes (:mod:`app.web.kit.routes`), and its own.

Its own routes: the step table's stepper (/optim/step), the surface explorer (/optim/surface), the
canonical link of the form (/optim/link, asked when a play pauses), and the surface paths played
over Server-Sent Events (:mod:`app.web.labs.optim.stream`, included here).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from fastapi import Request
from fastapi.responses import JSONResponse, Response

from app.settings import Settings
from app.web.kit.bug_sites import SITES
from app.web.kit.fields import parse_int
from app.web.kit.form import Form, collect, first
from app.web.kit.responses import field_errors, form_errors, fragment
from app.web.kit.routes import LabSpec, SettingsDep, Shown, Stepper, lab_router, posted
from app.web.labs.optim import run as optim_run
from app.web.labs.optim import stages
from app.web.labs.optim import stream as optim_stream
from app.web.labs.optim import view as optim_view
from app.web.labs.optim.export import EXPORT
from app.web.labs.optim.presets import DEFAULT, PRESETS
from app.web.labs.optim.state import OptimState, form_limits, from_form, from_link
from app.web.render.numbers import cell_text
from engine.explain.terms import optim as optim_terms
from engine.optim import rules as optim
from engine.optim import runs as optim_lab
from engine.optim import surfaces

TABLE_ARRAYS = set(optim_view.BANDS)


def show(state: OptimState, settings: Settings, part: str) -> Shown:
    """The page: the step table and the surface explorer; "lab" and "results": the table; "surface": the surface."""
    ctx: dict = {"state": state, "fragment": part != "page", "titles": optim.TITLES, "surfaces": surfaces.SURFACES,
                 "hp_fields": optim_view.hp_fields, "forms": optim_view.forms}
    if part != "surface":
        ctx["view"] = optim_view.build_table(state)
    if part in ("page", "surface"):
        ctx["sview"] = optim_view.build_surface(state, f"/optim/stream?{state.to_query()}")
    return Shown(ctx, state)


def gradcheck(state: OptimState, form: Form, settings: Settings) -> dict | None:
    """∇f of the surface against central differences: where the paths went (or where the table's steps were)."""
    which = first(form, "which", "surface")
    if which == "table":
        if state.gmode != "surface":
            return None
        surface = state.gsurface
        points = optim_run.path_points(optim_run.run(state))
    else:
        surface, points = state.surface, optim_run.check_points(state)
    points = points[np.all(np.isfinite(points), axis=1)]
    report = optim_lab.check_surface_gradient(surface, points)
    return {"report": report, "worst": cell_text(report.worst), "which": which, "t": state.t,
            "where": ", ".join(cell_text(v) for v in report.where)}


def provenance(state: OptimState, array: str, index_text: str) -> dict[str, list[tuple[int, int]]]:
    """Which cells a cell of the step table was computed from.

    Step-table cells are indexed (parameter, column) with column = t − 1; the starting vector
    ``theta0`` is (0, parameter) and the typed gradients ``g_in`` (row, parameter).
    """
    i, col = (int(s) for s in index_text.split(","))
    if not (0 <= i < state.P and 0 <= col < state.steps):
        raise ValueError(index_text)
    sources = optim_lab.provenance(state.opt.name, state.opt.hp, array, col + 1, i, state.gmode, state.P)
    cells = {}
    for name, idxs in sources.items():
        if name == "theta0":
            cells[name] = [(0, p) for _, p in idxs]
        elif name == "g_in":
            cells[name] = [(t, p) for t, p in idxs]
        else:
            cells[name] = [(p, t - 1) for t, p in idxs]
    return cells


def terms(state: OptimState, array: str, index_text: str):
    """The terms of a step-table cell (m, v, s, m̂, v̂, the update, θ) laid out as the table: (parameter, t − 1)."""
    if array not in optim_terms.QUANTITIES:
        return None
    i, col = (int(s) for s in index_text.split(","))
    tab = optim_lab.table(optim_run.run(state))
    start = state.starting
    found = optim_terms.optimizer_terms(state.opt.name, state.opt.hp, tab, np.asarray(state.theta, float), array,
                                        col + 1, i, t0=start.t if start else 0,
                                        slots0=start.slots if start else None)
    return found.moved(lambda name, idx: (name, idx if name == "theta0" else (idx[1], idx[0] - 1)))


LAB = LabSpec(export=EXPORT, slug="optim", noun="optimizer", presets=PRESETS, default=DEFAULT, from_link=from_link,
              bug_sites=SITES["optim"],
              from_form=from_form, show=show, limits=form_limits, gradcheck=gradcheck, provenance=provenance,
              provenance_arrays=TABLE_ARRAYS, templates={"lab": "optim/table.html", "stages": "optim/stages.html"},
              terms=terms, steppers=(Stepper("stages", lambda state: stages.stage_count(state.opt.name, state.opt.hp),
                                             "stage"),))
router = lab_router(LAB)
router.include_router(optim_stream.router)


def _fragment(request: Request, state: OptimState, settings: Settings, part: str) -> Response:
    return fragment(request, LAB.template(part), LAB.context(show(state, settings, part), settings),
                    LAB.canonical(state))


@router.post("/optim/step")
async def optim_step(request: Request, settings: SettingsDep) -> Response:
    """The results with another step selected: ``k_delta`` (wrapping around) or ``k_to``."""
    fields, state, errors = await posted(request, from_form, settings)
    if first(fields, "k_to"):
        k = collect(errors, parse_int, "k_to", first(fields, "k_to"), 1, state.steps if state else 1)
    else:
        bound = settings.optim_max_k_delta
        delta = collect(errors, parse_int, "k_delta", first(fields, "k_delta", "0"), -bound, bound)
        k = ((state.k - 1 + delta) % state.steps) + 1 if state and delta is not None else 1
    if errors:
        return form_errors(request, errors)
    return _fragment(request, replace(state, k=k), settings, "results")


@router.post("/optim/surface")
async def optim_surface(request: Request, settings: SettingsDep) -> Response:
    """The surface explorer after a change of surface, start, optimizers or their hyperparameters."""
    _, state, errors = await posted(request, from_form, settings)
    if errors:  # the message both at the top of the results (which marks the cells) and by the surface
        return form_errors(request, errors, template="optim/errors.html")
    return _fragment(request, state, settings, "surface")


@router.post("/optim/link")
async def optim_link(request: Request, settings: SettingsDep) -> Response:
    """The canonical link of the posted form (the page asks when a play pauses: the step index moved)."""
    _, state, errors = await posted(request, from_form, settings)
    if errors:
        return field_errors(errors)
    return JSONResponse({"url": LAB.canonical(state)})



@router.post("/optim/continue")
async def optim_continue(request: Request, settings: SettingsDep) -> Response:
    """"Continue from here": the step table restarted from θ and the optimizer state after the selected step."""
    _, state, errors = await posted(request, from_form, settings)
    if not errors:
        state = collect(errors, optim_run.continued, state)
    if errors:
        return form_errors(request, errors)
    return _fragment(request, state, settings, "lab")
