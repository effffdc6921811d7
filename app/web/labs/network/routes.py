"""The network lab at /network: the page, its htmx fragments, the training stream, and its link state.

GET /network?<state> renders the whole page from a link. The page's form posts to the
fragment routes, which answer only what changed and put the canonical link in
``HX-Replace-Url`` so the address bar always holds the whole state. The training stream
(GET /network/train/stream?<state>&from=&speed=) is Server-Sent Events; the JSON API's
``POST /api/v1/networks/trace`` lives in :mod:`app.api.v1.v1.networks` and is included here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Annotated
from urllib.parse import parse_qsl, urlencode

import anyio
import numpy as np
from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent

from app.api.v1.networks import router as api_router
from app.web.kit.lab import broken_link, form_errors, form_fields, fragment, preset_redirect
from app.web.kit.link import LinkError, parse_int
from app.web.labs.network import run as network_run
from app.web.labs.network import view as network_view
from app.web.labs.network.presets import DEFAULT, PRESETS
from app.web.labs.network.state import MAX_STEP, NetworkState, first, from_form, from_link, timeline
from app.web.render import figures
from app.web.render.templating import render, templates
from engine.data import digits
from engine.records import OpInputError

pages = APIRouter(tags=["pages"])
router = APIRouter()  # what app/main.py includes: the pages below and the JSON API's trace (tag "networks")

STREAM_KEYS = ("from", "speed")  # the stream's own query parameters, besides the state's link
JUMP_KEYS = ("to",)


def canonical(state: NetworkState) -> str:
    return f"/network?{state.to_query()}"


def _default_link() -> str:
    return canonical(PRESETS[DEFAULT].make(0))


def _context(view: dict, **extra) -> dict:
    return {"view": view, "presets": PRESETS.values(), "link": canonical(view["state"]), **extra}


def _split(query: str, own: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """The state's link without the route's own parameters, and those parameters."""
    try:
        pairs = parse_qsl(query, keep_blank_values=True, max_num_fields=80)
    except ValueError as exc:
        raise LinkError("link", f"the query string does not parse ({exc})") from None
    mine = {k: v for k, v in pairs if k in own}
    rest = urlencode([(k, v) for k, v in pairs if k not in own])
    return rest, mine


@pages.get("/network")
def network_page(request: Request) -> Response:
    query = request.url.query
    if not query:
        return RedirectResponse(_default_link(), status_code=303)
    try:
        state = from_link(query)
    except LinkError as exc:
        return broken_link(request, "network", "network", exc, _default_link(), query)
    view = network_view.build(state)
    return render(request, "network/page.html", _context(view), partial="network/lab.html")


@pages.get("/network/preset/{key}")
def network_preset(key: str, seed: str = "0") -> Response:
    return preset_redirect(PRESETS, key, seed, canonical)


@pages.get("/network/jump")
def network_jump(request: Request) -> Response:
    """The same network opened at another training step (from the training card): 303 to its link."""
    try:
        rest, mine = _split(request.url.query, JUMP_KEYS)
        state = from_link(rest)
        to = parse_int("to", mine.get("to", "0"), 0, MAX_STEP)
    except LinkError as exc:
        return JSONResponse({"detail": [{"loc": ["query", exc.field], "msg": exc.message, "type": "value_error"}]},
                            status_code=422)
    return RedirectResponse(canonical(replace(state, step=to)), status_code=303)


async def _build(state: NetworkState) -> dict:
    """The view, computed in a worker thread: replaying training steps must not hold up other requests."""
    return await anyio.to_thread.run_sync(network_view.build, state)


async def _form(request: Request, action: str | None = None):
    fields = await form_fields(request)
    return fields, *from_form(fields, action)


@pages.post("/network/lab")
async def network_lab(request: Request) -> Response:
    """The whole lab after a change of the network, its data, optimizer or run settings (or a builder button)."""
    fields = await form_fields(request)
    state, errors = from_form(fields, first(fields, "action") or None)
    if errors:
        return form_errors(request, errors)
    view = await _build(state)
    return fragment(request, "network/lab.html", _context(view), canonical(view["state"]))


@pages.post("/network/results")
async def network_results(request: Request) -> Response:
    """The step-through and training card after an edit of a typed cell (the inputs are not swapped)."""
    _, state, errors = await _form(request)
    if errors:
        return form_errors(request, errors)
    view = await _build(state)
    return fragment(request, "network/results.html", _context(view), canonical(view["state"]))


@pages.post("/network/step")
async def network_step(request: Request) -> Response:
    """Another operation of the step: ``op_goto`` (a name), ``op_delta`` (±1, wrapping) or ``op_index``."""
    fields, state, errors = await _form(request)
    if errors:
        return form_errors(request, errors)
    if not network_view.builder(state.model)["ok"]:
        return Response(status_code=204)
    ops = timeline(state.model)
    current = ops.index(state.op) if state.op in ops else 0
    try:
        if first(fields, "op_goto"):
            goto = first(fields, "op_goto")
            if goto not in ops:
                raise LinkError("op_goto", f"{goto!r} is not an operation of this network's step")
            index = ops.index(goto)
        elif first(fields, "op_delta"):
            index = (current + parse_int("op_delta", first(fields, "op_delta"), -len(ops), len(ops))) % len(ops)
        else:
            index = parse_int("op_index", first(fields, "op_index", str(current)), 0, len(ops) - 1)
    except LinkError as exc:
        return form_errors(request, [exc])
    state = replace(state, op=ops[index])
    view = await _build(state)
    if "step" not in view:
        return fragment(request, "network/results.html", _context(view), canonical(view["state"]))
    return fragment(request, "network/step.html", _context(view), canonical(view["state"]))


@pages.post("/network/gradcheck")
async def network_gradcheck(request: Request) -> Response:
    """The whole-network numeric gradient check of the traced step (lazy: the page asks after it loads)."""
    _, state, errors = await _form(request)
    if errors:
        return form_errors(request, errors)
    ctx = {"report": None, "tol": network_view.GRADCHECK_TOL, "sample": network_view.GRADCHECK_SAMPLE}
    try:
        report, checked_x = await anyio.to_thread.run_sync(network_view.gradcheck, state)
    except OpInputError as err:
        ctx["error"] = err.message
        return templates.TemplateResponse(request, "network/gradcheck.html", ctx)
    ctx.update(report=report, worst=figures.format_value(report.worst), checked_x=checked_x,
               figure=figures.gradcheck_scatter(report.analytic, report.numeric))
    return templates.TemplateResponse(request, "network/gradcheck.html", ctx)


@pages.post("/network/predict")
async def network_predict(request: Request) -> Response:
    """What the network (after ``step`` training steps) sees in the digit drawn on the pad."""
    fields, state, errors = await _form(request)
    if errors:
        return form_errors(request, errors)
    texts = fields.get("pad", [])
    ctx: dict = {"result": None}
    try:
        if len(texts) != digits.SIDE * digits.SIDE:
            raise LinkError("pad", f"expected {digits.SIDE * digits.SIDE} pixels, got {len(texts)}")
        pixels = np.array([parse_int(f"pad[{i}]", t, 0, digits.PIXEL_MAX) for i, t in enumerate(texts)], float)
        if not pixels.any():
            ctx["error"] = "Draw a digit: the pad is empty."
        else:
            ctx["result"] = await anyio.to_thread.run_sync(network_view.predict, state,
                                                           pixels.reshape(digits.SIDE, digits.SIDE))
    except LinkError as exc:
        return form_errors(request, [exc])
    except OpInputError as err:
        ctx["error"] = f"The network cannot predict yet: {err.message}"
    return templates.TemplateResponse(request, "network/predict.html", ctx)


@pages.get("/network/train/stream", response_class=EventSourceResponse)
async def network_stream(request: Request,
                         last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None
                         ) -> AsyncIterator[ServerSentEvent]:
    """Training steps as Server-Sent Events (see app.pages.network_run): ``run``, then ``steps`` events whose
    id is the last step they hold, then ``done``. ``Last-Event-ID`` (a reconnect) wins over ``from``."""
    try:
        rest, mine = _split(request.url.query, STREAM_KEYS)
        state = from_link(rest)
        start = parse_int("from", mine.get("from", "0"), 0, MAX_STEP)
        if last_event_id:
            start = parse_int("Last-Event-ID", last_event_id, 0, MAX_STEP)
        speed = parse_int("speed", mine.get("speed", "100"), 0, 100_000)
        if not network_view.builder(state.model)["ok"]:
            raise LinkError("model", "the network cannot run: fix the layer the builder marks")
        spec = state.spec()
    except (LinkError, OpInputError) as exc:
        yield ServerSentEvent(event="done", data={"t": 0, "reason": "failed", "field": exc.field,
                                                  "message": f"{exc.field}: {exc.message}"})
        return
    async for event in network_run.train_events(spec, min(start, state.until), state.until, speed):
        yield event


router.include_router(pages)
router.include_router(api_router)
