"""The surface paths streamed as Server-Sent Events: ``GET /optim/stream?<state>&from=<t>[&to=<u>]``.

One ``step`` event per update t (``id: t``; data ``{"t", "p": [[x, y, f] | null per run], "stopped": [...]}``),
paced at the state's ``speed`` steps per second, for t = from + 1 … to (default: the state's N). The stream
always ends with a ``done`` event (data ``{"t", "reason"}``): the page closes its EventSource on it, so the
browser never reconnects and replays. A reconnect after a dropped connection carries ``Last-Event-ID``,
and the stream resumes after that step: no update is sent twice or skipped. The paths are computed as they
are sent, by the engine, one update at a time; when the client goes away the stream stops computing.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterable, Iterator
from dataclasses import dataclass
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Header, HTTPException, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from app.errors import error_item
from app.settings import Settings, get_settings
from app.web.kit.fields import FieldError, parse_int
from app.web.kit.link import split_query
from app.web.labs.optim.state import OptimState, from_link
from engine.optim import runs as optim_lab

router = APIRouter(tags=["streams"])

STREAM_KEYS = ("from", "to")  # stream-only parameters; the rest of the query is the lab's link
RETRY_MS = 1000  # how long a browser waits before reconnecting after a dropped connection


@dataclass(frozen=True)
class StreamJob:
    state: OptimState
    start: int  # the client has updates 1 … start; the stream sends start + 1 …
    end: int  # … up to and including end


def _unprocessable(loc: list, msg: str) -> HTTPException:
    return HTTPException(422, detail=[error_item(loc, msg)])


def stream_job(request: Request, settings: Annotated[Settings, Depends(get_settings)],
               last_event_id: Annotated[str | None, Header()] = None) -> StreamJob:
    """The stream's state and range, validated before the first byte (422 naming the field)."""
    try:
        link, extra = split_query(request.url.query, STREAM_KEYS)
        state = from_link(link, settings)
        n = state.path_steps
        start = parse_int("from", extra.get("from", str(state.t)), 0, n)
        end = parse_int("to", extra.get("to", str(n)), 0, n)
    except FieldError as exc:
        raise _unprocessable(["query", exc.field], exc.message) from None
    if last_event_id is not None:  # a reconnect: resume after the last update the browser received
        try:
            start = max(start, parse_int("Last-Event-ID", last_event_id, 0, n))
        except FieldError as exc:
            raise _unprocessable(["header", "last-event-id"], exc.message) from None
    return StreamJob(state, start, end)


Paths = list[Iterator[optim_lab.PathStep]]


def open_paths(state: OptimState) -> Paths:
    return [optim_lab.path_steps(state.surface, spec.name, state.start, spec.hp) for spec in state.runs]


def advance(paths: Paths, stopped: list[dict | None], t: int) -> tuple[list[list[float] | None], list[dict]]:
    """Update t of every run still going: its point and loss, or None (and why it stopped)."""
    points: list[list[float] | None] = []
    newly: list[dict] = []
    for i, it in enumerate(paths):
        if stopped[i] is not None:
            points.append(None)
            continue
        step = next(it)
        if step.point is None:
            stopped[i] = {"run": i + 1, "t": step.t, "reason": step.reason}
            newly.append(stopped[i])
            points.append(None)
        else:
            points.append([float(step.point[0]), float(step.point[1]), step.loss])
    return points, newly


# Paths left where a paused stream stopped, keyed by everything they depend on and by the update
# they reached, so a resume from that step picks them up instead of recomputing every update so far.
_PARKED: OrderedDict[tuple, tuple[Paths, list[dict | None]]] = OrderedDict()
PARK_LIMIT = 32


def _path_key(state: OptimState, t: int) -> tuple:
    return state.surface, state.start, tuple(spec.text() for spec in state.runs), t


def park(state: OptimState, t: int, paths: Paths, stopped: list[dict | None]) -> None:
    _PARKED[_path_key(state, t)] = (paths, stopped)
    _PARKED.move_to_end(_path_key(state, t))
    while len(_PARKED) > PARK_LIMIT:
        _PARKED.popitem(last=False)


def take_parked(state: OptimState, t: int) -> tuple[Paths, list[dict | None]] | None:
    return _PARKED.pop(_path_key(state, t), None)


def fast_forward(paths: Paths, stopped: list[dict | None], steps: int) -> None:
    """Run every path through its first ``steps`` updates without sending them (a resume)."""
    for t in range(1, steps + 1):
        advance(paths, stopped, t)


@router.get("/optim/stream", response_class=EventSourceResponse)
async def optim_stream(request: Request, job: Annotated[StreamJob, Depends(stream_job)]) -> AsyncIterable[
        ServerSentEvent]:
    state = job.state
    parked = take_parked(state, job.start) if job.start else None
    if parked is not None:
        paths, stopped = parked
    else:
        paths = open_paths(state)
        stopped = [None] * len(paths)
        if job.start:  # recompute the updates the client already has (off the event loop: up to N of them)
            await anyio.to_thread.run_sync(fast_forward, paths, stopped, job.start)
    interval = 1.0 / state.speed
    due = anyio.current_time()
    t, reason = job.start, ""
    first, finished = True, False
    try:
        while True:
            if t >= job.end:
                reason = "reached N" if job.end == state.path_steps else "reached the requested step"
                break
            if all(s is not None for s in stopped):
                reason = "every path stopped"
                break
            if await request.is_disconnected():
                return
            t += 1
            points, newly = advance(paths, stopped, t)
            yield ServerSentEvent(event="step", id=str(t), data={"t": t, "p": points, "stopped": newly},
                                  retry=RETRY_MS if first else None)
            first = False
            due += interval
            await anyio.sleep(max(0.0, due - anyio.current_time()))
        finished = True
        stops = [s for s in stopped if s is not None]
        yield ServerSentEvent(event="done", data={"t": t, "reason": reason, "stopped": stops})
    finally:
        if not finished:  # paused (or the page went away): keep the paths where they are for a resume
            park(state, t, paths, stopped)
