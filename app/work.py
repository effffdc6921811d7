"""Bounded work: the one limiter that heavy jobs (replays, traces, gradient checks) run under.

A request's heavy job runs in a worker thread holding one of ``Settings.work_threads`` tokens; at
most ``Settings.work_queue`` more wait their turn. One more is refused at once with :class:`Busy`
(503 with ``Retry-After`` and the one error body), rather than queued for ever behind the rest:
a lecture hall of requests degrades into quick refusals that retry, not into timeouts.
A stream already admitted waits its turn for each chunk without being refused.

A job that cannot finish within ``Settings.max_request_cpu_seconds`` of CPU (a replay of thousands
of training steps) stops there with :class:`InProgress`: what it computed is cached (checkpoints),
so the retry that its 503 asks for continues where it stopped, and no request costs more.

The limiter is per event loop (an :class:`anyio.lowlevel.RunVar`), its size read from the settings
at every call, so an app made with other settings (a test's) gets them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio
from anyio.lowlevel import RunVar

from app.settings import Settings

T = TypeVar("T")


class Busy(Exception):
    """Every worker is busy and the queue is full: 503, try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: int, running: int, waiting: int) -> None:
        super().__init__(f"busy: {running} jobs running, {waiting} waiting")
        self.retry_after = retry_after
        self.message = (f"the server is busy computing ({running} heavy requests running and {waiting} waiting, "
                        f"the limit); try again in {retry_after} s")


class InProgress(Exception):
    """A job stopped at its CPU budget with its progress cached: 503, the retry continues from ``done``."""

    def __init__(self, what: str, done: int, total: int, retry_after: int = 1) -> None:
        super().__init__(f"{what}: {done} of {total}")
        self.what, self.done, self.total, self.retry_after = what, done, total, retry_after
        self.link: str | None = None  # the page that shows this progress (set by the lab kit)
        self.message = (f"{what}: {done:,} of {total:,} done so far. Each request computes a slice and keeps it "
                        "for the next, so asking again goes on from here")


@dataclass
class _Pool:
    limiter: anyio.CapacityLimiter
    streams: anyio.CapacityLimiter  # the streams' share: all tokens but one, kept for requests
    running: int = 0
    waiting: int = 0


_pool: RunVar[_Pool] = RunVar("backprop_lens_work")


def pool(settings: Settings) -> _Pool:
    """This event loop's limiter, sized by ``settings``."""
    try:
        current = _pool.get()
    except LookupError:
        current = _Pool(anyio.CapacityLimiter(settings.work_threads), anyio.CapacityLimiter(1))
        _pool.set(current)
    if current.limiter.total_tokens != settings.work_threads:
        current.limiter.total_tokens = settings.work_threads
    if current.streams.total_tokens != max(1, settings.work_threads - 1):
        current.streams.total_tokens = max(1, settings.work_threads - 1)
    return current


async def run(settings: Settings, job: Callable[..., T], *args: object, admit: bool = True) -> T:
    """``job(*args)`` in a worker thread under the limiter; :class:`Busy` when ``admit`` and the queue is full.

    A stream's chunk (``admit=False``) also takes one of the streams' tokens (all but one of the threads): fifty
    training streams never leave a request's replay or trace waiting behind all of their chunks."""
    p = pool(settings)
    if not admit:
        async with p.streams:
            await _after_renders(settings)
            return await _run(settings, p, job, args, admit)
    return await _run(settings, p, job, args, admit)


async def _after_renders(settings: Settings) -> None:
    """A stream's next chunk waits while pages wait for a render thread, at most ``Settings.stream_yield_seconds``:
    a student opening a link goes before the next frame of a training animation. In a burst of 300 new links
    with 50 streams running, the streams' steps took a third of the interpreter and the last page came after
    10.6-12.1 s (issue 13's target: none over 10 s); alone, a page never waits for a render thread, nor a stream
    for it. Nor while requests wait for a page another request renders (a burst on one link, app.web.kit.cache).
    The stream waits holding its token: the other streams wait for the token, none polls."""
    try:
        renders = _renders.get()
    except LookupError:
        return
    waited = 0.0
    while (renders.statistics().tasks_waiting or waiting_for_pages[0]) and waited < settings.stream_yield_seconds:
        await anyio.sleep(0.02)
        waited += 0.02


async def _run(settings: Settings, p: _Pool, job: Callable[..., T], args: tuple, admit: bool) -> T:
    if admit:  # only requests count in the queue: the chunks of streams already running wait without a bound
        if p.running >= settings.work_threads and p.waiting >= settings.work_queue:
            raise Busy(settings.retry_after_seconds, p.running, p.waiting)
        p.waiting += 1
    try:
        await p.limiter.acquire()
    finally:
        p.waiting -= admit
    p.running += 1
    try:
        return await anyio.to_thread.run_sync(job, *args, limiter=_unbounded())
    finally:
        p.running -= 1
        p.limiter.release()


_threads: RunVar[anyio.CapacityLimiter] = RunVar("backprop_lens_work_threads")


def _unbounded() -> anyio.CapacityLimiter:
    """The thread pool the admitted jobs run in: its own, so page renders in the default pool (40 threads)
    never hold up a job that already holds a token, nor the other way round."""
    try:
        return _threads.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(64)
        _threads.set(limiter)
        return limiter


_renders: RunVar[anyio.CapacityLimiter] = RunVar("backprop_lens_renders")
waiting_for_pages = [0]  # requests waiting for a page another request is rendering (app.web.kit.cache.waiting)


async def render(settings: Settings, job: Callable[..., T], *args: object) -> T:
    """``job(*args)`` (reading a link, rendering a page: bounded, cheap work) in one of
    ``Settings.render_threads`` threads; the others wait their turn without a bound. Few threads keep the
    event loop's share of the interpreter lock large, so /healthz and cached pages answer during a burst."""
    try:
        limiter = _renders.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(settings.render_threads)
        _renders.set(limiter)
    if limiter.total_tokens != settings.render_threads:
        limiter.total_tokens = settings.render_threads
    return await anyio.to_thread.run_sync(job, *args, limiter=limiter)
