"""The network lab at /network: its spec for the shared lab routes (:mod:`app.web.kit.routes`), and its own.

Its own routes: another training step opened by link (/network/jump), another operation of the
traced step (/network/step), what the network sees in a drawn digit (/network/predict), and the
training stream (GET /network/train/stream?<state>&from=&speed=, Server-Sent Events). The JSON
API's ``POST /api/v1/networks/trace`` lives in :mod:`app.api.v1.networks` and is included here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Annotated

import anyio
import numpy as np
from fastapi import APIRouter, Header, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent

from app import work
from app.api.v1.networks import router as api_router
from app.settings import Settings
from app.web.kit import bugs, quiz
from app.web.kit.bug_sites import SITES
from app.web.kit.cache import fragment_answer
from app.web.kit.display import split_display
from app.web.kit.fields import FieldError, parse_int
from app.web.kit.form import Form, collect, first
from app.web.kit.link import split_query
from app.web.kit.responses import field_errors, form_errors, fragment
from app.web.kit.routes import LabSpec, SettingsDep, Shown, lab_router, posted, prepare, shown_view
from app.web.labs.network import explain as network_explain
from app.web.labs.network import run as network_run
from app.web.labs.network import view as network_view
from app.web.labs.network.export import EXPORT
from app.web.labs.network.form import from_form
from app.web.labs.network.presets import DEFAULT, PRESETS
from app.web.labs.network.state import NetworkState, form_limits, from_link, timeline
from app.web.render import figures
from app.web.render.numbers import cell_text
from app.web.render.templating import templates
from engine.data import digits
from engine.network.runs import RunSpec
from engine.records import OpInputError

STREAM_KEYS = ("from", "speed")  # the stream's own query parameters, besides the state's link
JUMP_KEYS = ("to",)


def lab_form(form: Form, settings: Settings) -> tuple[NetworkState | None, list[FieldError]]:
    """The whole lab's form, after the builder button (or the drawing pad's "Trace it") that posted it."""
    return from_form(form, settings, first(form, "action") or None)


def gradcheck(state: NetworkState, form: Form, settings: Settings) -> dict:
    """The whole-network numeric gradient check of the traced step (lazy: the page asks after it loads)."""
    ctx = {"report": None, "tol": network_run.GRADCHECK_TOL, "sample": network_run.GRADCHECK_SAMPLE}
    try:
        report, checked_x = network_run.gradcheck(state, settings.network_gradcheck_cpu_seconds)
    except OpInputError as err:
        return {**ctx, "error": err.message}
    return {**ctx, "report": report, "worst": cell_text(report.worst), "checked_x": checked_x,
            "figure": figures.gradcheck_scatter(report.analytic, report.numeric)}


def heavy(state: NetworkState, settings: Settings):
    """A state's replay to its step, under the one limiter and the per-request CPU budget (app.work)."""
    return network_run.replay_job(state, settings.max_request_cpu_seconds)


LAB = LabSpec(export=EXPORT, slug="network", noun="network", presets=PRESETS, default=DEFAULT, from_link=from_link,
              from_form=from_form, show=shown_view(network_view.build), limits=form_limits, gradcheck=gradcheck,
              lab_form=lab_form, heavy=heavy, provenance=network_explain.provenance, terms=network_explain.terms,
              bug_sites=SITES["network"])
pages = lab_router(LAB)
router = APIRouter()  # what app/main.py includes: the pages and the JSON API's trace (tag "networks")


@pages.get("/network/jump")
def network_jump(request: Request, settings: SettingsDep) -> Response:
    """The same network opened at another training step (from the training card): 303 to its link."""
    try:
        rest, mine = split_query(request.url.query, JUMP_KEYS)
        rest, display = split_display(rest)  # presenter mode (or a frame) stays on at the other step
        rest, plant = bugs.from_query(LAB.slug, LAB.bug_sites, rest, settings.bug_secret)  # and a planted bug
        state = from_link(rest, settings)
        to = parse_int("to", mine.get("to", "0"), 0, settings.network_max_step)
    except FieldError as exc:
        return field_errors([exc], where="query")
    return RedirectResponse(display.link(bugs.link(plant, LAB.canonical(replace(state, step=to)))), status_code=303)


@pages.post("/network/step")
async def network_step(request: Request, settings: SettingsDep) -> Response:
    """Another operation of the step: ``op_goto`` (a name), ``op_delta`` (±1; it stops at the first and the last
    operation rather than wrapping round unnoticed) or ``op_index``. A planted bug (the form's ``bug``) is in every
    operation, and in the link; a quiz's cells (the form's ``quiz``) are hidden in whichever operation is shown, their
    values nowhere in the answer, as on the page."""
    fields, state, errors = await posted(request, from_form, settings)
    plant = collect(errors, bugs.from_form, LAB.slug, LAB.bug_sites, fields, settings.bug_secret)
    cells = collect(errors, quiz.from_form, fields, settings.quiz_max_cells)
    if errors:
        return form_errors(request, errors)
    if not network_view.runnable(state.model):
        return Response(status_code=204)
    ops = timeline(state.model)
    current = ops.index(state.op) if state.op in ops else 0
    try:
        if first(fields, "op_goto"):
            goto = first(fields, "op_goto")
            if goto not in ops:
                raise FieldError("op_goto", f"{goto!r} is not an operation of this network's step")
            index = ops.index(goto)
        elif first(fields, "op_delta"):
            delta = parse_int("op_delta", first(fields, "op_delta"), -len(ops), len(ops))
            index = min(max(current + delta, 0), len(ops) - 1)
        else:
            index = parse_int("op_index", first(fields, "op_index", str(current)), 0, len(ops) - 1)
    except FieldError as exc:
        return form_errors(request, [exc])
    state = replace(state, op=ops[index])

    async def make() -> Response:
        await prepare(LAB, state, settings)
        view = await anyio.to_thread.run_sync(quiz.hiding(cells, bugs.planted(plant, network_view.step_build)), state)
        template = "network/step.html" if "step" in view else "network/results.html"
        shown = Shown({"view": view}, view["state"])
        answer = fragment(request, template, LAB.context(shown, settings), bugs.link(plant, LAB.canonical(shown.state)))
        return quiz.masked_from(answer, cells, shown.context)

    # an operation seen before in this example (a lecturer stepping back, a class on one link) comes from the page
    # cache, kept by its canonical link as an edit's answer is (app.web.kit.routes)
    return await fragment_answer(request, ("step", LAB.canonical(state), bugs.key(plant), cells, settings), make,
                                 settings)


@pages.post("/network/predict")
async def network_predict(request: Request, settings: SettingsDep) -> Response:
    """What the network sees in the digit drawn on the pad: with the weights of the latest training step the page
    streamed (``pad_weights=latest``, ``pad_trained``: that step; none yet: the traced step's), or after
    ``pad_step`` steps (``pad_weights=step``); with a planted bug, the weights its training made."""
    fields, state, errors = await posted(request, from_form, settings)
    plant = collect(errors, bugs.from_form, LAB.slug, LAB.bug_sites, fields, settings.bug_secret)
    if errors:
        return form_errors(request, errors)
    texts = fields.get("pad", [])
    ctx: dict = {"result": None}
    try:
        if len(texts) != digits.SIDE * digits.SIDE:
            raise FieldError("pad", f"expected {digits.SIDE * digits.SIDE} pixels, got {len(texts)}")
        pixels = np.array([parse_int(f"pad[{i}]", t, 0, digits.PIXEL_MAX) for i, t in enumerate(texts)], float)
        step, weights = pad_weights(fields, state, settings)
        if not pixels.any():
            ctx["error"] = "Draw a digit: the pad is empty."
        else:
            state = replace(state, step=step)
            await prepare(LAB, state, settings)
            ctx["result"] = await anyio.to_thread.run_sync(bugs.planted(plant, network_view.predict), state,
                                                           pixels.reshape(digits.SIDE, digits.SIDE))
            ctx["weights"] = weights
    except FieldError as exc:
        return form_errors(request, [exc])
    except OpInputError as err:
        ctx["error"] = f"The network cannot predict yet: {err.message}"
    return templates.TemplateResponse(request, "network/predict.html", ctx)


def pad_weights(fields: Form, state: NetworkState, settings: Settings) -> tuple[int, str]:
    """(the training step whose weights predict, and which: ``latest`` trained, ``untrained`` (no run yet: the
    traced step's weights) or ``step`` as asked)."""
    last = settings.network_max_step
    if first(fields, "pad_weights", "latest") == "step":
        return parse_int("pad_step", first(fields, "pad_step", str(state.step)), 0, last), "step"
    trained = first(fields, "pad_trained", "")
    if not trained:
        return state.step, "untrained"
    return parse_int("pad_trained", trained, 0, last), "latest"


def _stream_run(query: str, last_event_id: str | None, settings: Settings
                ) -> tuple[NetworkState, RunSpec, int, int, bugs.Plant | None]:
    """(state, its run, the step to start from, speed, the planted bug or None) of a stream's query: reading the link,
    checking the model and making its run cost ~50 ms of CPU, so a render thread does it (fifty streams opened at once
    would otherwise hold the event loop, and /healthz with it, for seconds)."""
    rest, mine = split_query(query, STREAM_KEYS)
    rest = split_display(rest)[0]  # the address bar's link: present/embed change nothing, a planted bug trains
    rest, plant = bugs.from_query(LAB.slug, LAB.bug_sites, rest, settings.bug_secret)
    state = from_link(rest, settings)
    start = parse_int("from", mine.get("from", "0"), 0, settings.network_max_step)
    if last_event_id:
        start = parse_int("Last-Event-ID", last_event_id, 0, settings.network_max_step)
    speed = parse_int("speed", mine.get("speed", "100"), 0, settings.network_max_speed)
    if not network_view.runnable(state.model):
        raise FieldError("model", "the network cannot run: fix the layer the builder marks")
    return state, state.spec(), start, speed, plant


@pages.get("/network/train/stream", response_class=EventSourceResponse)
async def network_stream(request: Request, settings: SettingsDep,
                         last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None
                         ) -> AsyncIterator[ServerSentEvent]:
    """Training steps as Server-Sent Events (see app.web.labs.network.run): ``run``, then ``steps`` events whose
    id is the last step they hold, then ``done``. ``Last-Event-ID`` (a reconnect) wins over ``from``."""
    try:
        state, spec, start, speed, plant = await work.render(settings, _stream_run, request.url.query,
                                                             last_event_id, settings)
    except (FieldError, OpInputError) as exc:
        yield ServerSentEvent(event="done", data={"t": 0, "reason": "failed", "field": exc.field,
                                                  "message": f"{exc.field}: {exc.message}"})
        return
    async for event in network_run.train_events(spec, min(start, state.until), state.until, speed, settings,
                                                plant=plant):
        yield event


router.include_router(pages)
router.include_router(api_router)
