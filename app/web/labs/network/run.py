"""Training runs for the network lab: checkpoints by replay, and the SSE stream of training steps.

The server keeps no per-user state. A run is fully determined by its :class:`RunSpec`
(model, data, seed, optimizer, batch, typed initial parameters), so the parameters after
step t are recomputed from the seed (:func:`engine.network.trace.runs.replay`). To make that cheap,
checkpoints are cached — keyed by the run's full fingerprint and t, bounded, shared by every
request — which is a cache of pure results, never state a request depends on: an evicted
checkpoint is just recomputed, bit for bit.

The stream (:func:`train_events`) sends, per chunk of steps, one ``steps`` event whose id is
the last step it holds, so a reconnect with ``Last-Event-ID: t`` continues at step t + 1 with
no duplicates and no gaps; evaluations and snapshots ride in the same event as the step they
belong to. It ends with a ``done`` event (finished, diverged, or failed). Closing the
connection cancels the generator at its next await: the work stops.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import numpy as np
from fastapi.sse import ServerSentEvent

from app import work
from app.settings import Settings
from app.web.kit import bugs
from app.web.labs.network.state import NetworkState
from app.web.render import figures
from app.web.render.memo import Memo
from app.work import InProgress
from engine.data import digits
from engine.network import runs as nl
from engine.network import trace as network_trace
from engine.records import OpInputError

GRADCHECK_SAMPLE = 6  # entries checked per parameter array and of x
GRADCHECK_TOL = 1e-6
CHECKPOINT_EVERY = 50  # replay stores a checkpoint every this many steps
_MAX_RUNS, _MAX_PER_RUN = 24, 80
_lock = threading.Lock()
_cache: OrderedDict[tuple, OrderedDict[int, nl.Checkpoint]] = OrderedDict()

CHUNK_SECONDS = 0.025  # the run's seconds one event carries at a set speed: ~40 events a second
# As fast as it goes, an event carries ~15 ms of computing. With Chromium drawing the charts on the same two cores, an
# event came every ~2x its computing: at 25 ms, 19-22 events (chart updates) a second; at 15 ms, 31 (bench.streams,
# load ~1), the steps a second the same (947 against 952).
FULL_SPEED_CHUNK_SECONDS = 0.015
SPEEDS = (0, 10, 30, 100, 300, 1000)  # steps per second; 0 = as fast as the server can
T = TypeVar("T")


def run_key(spec: nl.RunSpec) -> tuple:
    """What a run's checkpoints are cached by: its fingerprint, and what the engine computes differently in this
    context (a planted bug's swapped fork or op, engine.network.trace.variant): a run trained with a bug never
    shares checkpoints with the true one."""
    return spec.key, network_trace.variant()


def remember(spec: nl.RunSpec, ck: nl.Checkpoint) -> None:
    key = run_key(spec)
    with _lock:
        run = _cache.get(key)
        if run is None:
            run = _cache[key] = OrderedDict()
            while len(_cache) > _MAX_RUNS:
                _cache.popitem(last=False)
        else:
            _cache.move_to_end(key)
        run[ck.t] = ck
        run.move_to_end(ck.t)
        while len(run) > _MAX_PER_RUN:
            run.popitem(last=False)


def nearest(spec: nl.RunSpec, t: int) -> nl.Checkpoint | None:
    """The cached checkpoint of this run closest at or before step ``t``."""
    key = run_key(spec)
    with _lock:
        run = _cache.get(key)
        if not run:
            return None
        best = max((s for s in run if s <= t), default=None)
        return None if best is None else run[best]


def checkpoint(spec: nl.RunSpec, t: int, budget: float | None = None) -> nl.Checkpoint:
    """The parameters and optimizer state after ``t`` steps (replayed; cached along the way).

    With a ``budget`` (CPU seconds of this thread), a replay that has not reached ``t`` by then keeps
    where it got to and raises :class:`app.work.InProgress`: the next call continues from there.
    Raises OpInputError("step", ...) when the run diverges before step ``t``.
    """
    at = nearest(spec, t) or nl.start(spec)
    if at.t == 0:
        remember(spec, at)
    started, chunk = time.thread_time(), 5
    while at.t < t:
        spent = time.thread_time() - started
        if budget is not None and at.t > 0 and spent >= budget:
            remember(spec, at)
            raise InProgress(f"replaying the training run to step {t:,}", at.t, t)
        n = min(t - at.t, CHECKPOINT_EVERY - at.t % CHECKPOINT_EVERY, chunk)
        before = time.thread_time()
        at, rep = nl.run_steps(spec, at, n, report=False)
        if rep.divergence is not None:
            raise OpInputError("step", f"this run diverges before step {t}: {rep.divergence.message}")
        if at.t % CHECKPOINT_EVERY == 0 or at.t == t:
            remember(spec, at)
        if budget is not None:  # as many steps as the budget left is likely to pay for
            per_step = max(time.thread_time() - before, 1e-6) / n
            chunk = max(1, int((budget - (time.thread_time() - started)) / per_step))
        else:
            chunk = CHECKPOINT_EVERY
    return at


def replay_job(state: NetworkState, budget: float):
    """The replay a state's step needs before its page can be drawn (None: cached, or nothing to replay),
    as a job for :func:`app.work.run`: it replays for at most ``budget`` CPU seconds."""
    try:
        spec = state.spec()
    except OpInputError:
        return None  # the view says why the network cannot run
    near = nearest(spec, state.step)
    if state.step == 0 or (near is not None and near.t == state.step):
        return None

    def job() -> None:
        try:
            checkpoint(spec, state.step, budget)
        except OpInputError:
            pass  # a divergence: the view replays to it (within the budget) and says so

    return job


_traced: OrderedDict[tuple, tuple[nl.Checkpoint, nl.StepTrace]] = OrderedDict()  # the last few traced steps
_MAX_TRACED = 8


def trace_key(spec: nl.RunSpec, state: NetworkState) -> tuple:
    """What the traced step of ``state`` (whose run is ``spec``) is kept by: its run, its step and its own example."""
    own = (state.x.tobytes(), state.x.shape, str(state.x.dtype), state.labels.tobytes()) if state.own_example else None
    return run_key(spec), state.step, own


def traced_step(state: NetworkState) -> tuple[nl.RunSpec, nl.Checkpoint, nl.StepTrace]:
    """(run, checkpoint after state.step steps, the traced step) — OpInputError when it cannot run.

    The last few are kept by run, step and example: stepping through one step's operations (and hovering its
    cells) traces it once. Nothing downstream writes into a trace's arrays."""
    spec = state.spec()
    key = trace_key(spec, state)
    with _lock:
        found = _traced.get(key)
        if found is not None:
            _traced.move_to_end(key)
            return spec, *found
    at = checkpoint(spec, state.step)
    if state.own_example:
        st = nl.step_trace(spec, at, state.x, state.labels.astype(np.int64))
    else:
        st = nl.step_trace(spec, at)
    with _lock:
        _traced[key] = (at, st)
        while len(_traced) > _MAX_TRACED:
            _traced.popitem(last=False)
    return spec, at, st


PARTS = Memo(limit=8 << 20)  # what the panels make of a traced step, by its trace_key and the part (kept_part)


def kept_part(key: tuple, make: Callable[[], T], size: Callable[[T], int]) -> T:
    """``make()``, made once for ``key`` — a trace_key, then which part of the traced step it is (a layer's step
    records, element formulas, a chain card) — and kept (roughly ``size`` bytes of it) while its step is visited:
    a panel's other phase (f:k, b:k, u:k) and its revisits read it. What is kept is shared: nobody writes into it."""
    return PARTS.made(key, make, lambda part: size(part) + _bytes_in(key))


def _bytes_in(key: tuple) -> int:
    """The bytes a key holds: a typed or drawn example's values (a run's fingerprint, a trace's own example)."""
    return sum(len(part) if isinstance(part, bytes) else _bytes_in(part) if isinstance(part, tuple) else 0
               for part in key)


def gradcheck(state: NetworkState, budget: float | None = None):
    """The whole-network numeric gradient check of the traced step: (report, whether x was checked).

    Every learnable parameter is checked (a sample of each array's entries). The input x is
    checked for typed or drawn examples only: the digits' flat background makes exactly tied
    maxima in max-pooling, where the loss has no derivative, and a difference quotient across
    the tie is not a gradient. With a ``budget`` (CPU seconds), one loss evaluation is timed first and
    a check that would take longer is refused (OpInputError naming the limit) before it starts.
    """
    spec = state.spec()
    at = checkpoint(spec, state.step)
    if state.own_example:
        x, labels = state.x, state.labels.astype(np.int64)
    else:
        x, labels = nl.step_batch(spec, at.t)
    check_x = state.own_example  # typed or drawn examples: also dL/dx
    seed = nl.step_seed(spec.seed, at.t)
    labels = np.asarray(labels, np.int64)
    if budget is not None:
        per_eval = math.inf
        for _ in range(2):  # the faster of two: the first pays for cold caches
            started = time.thread_time()
            network_trace.forward(spec.model, at.params, x, labels, "train", seed)  # as the check evaluates it
            per_eval = min(per_eval, time.thread_time() - started)
        sizes = [at.params[name].size for group in nl.layer_groups(spec.model).values() for name in group]
        evals = 2 * (sum(min(GRADCHECK_SAMPLE, n) for n in sizes) + (min(GRADCHECK_SAMPLE, x.size) if check_x else 0))
        if per_eval * evals > budget:
            raise OpInputError("batch", f"checking this network's gradients on {len(x)} examples would take about "
                                        f"{per_eval * evals:.1f} CPU-s ({evals} loss evaluations of "
                                        f"{per_eval * 1000:.0f} ms); one request may take {budget:g} "
                                        "(Settings.network_gradcheck_cpu_seconds): check a smaller batch")
    report = nl.check_gradients(spec.model, at.params, x, labels, seed, GRADCHECK_SAMPLE, check_x)
    return report, check_x


def probabilities(state: NetworkState, pixels: np.ndarray) -> tuple[np.ndarray, int, np.ndarray]:
    """(class probabilities, t, x) of a drawn digit, with the parameters after state.step steps."""
    spec = state.spec()
    at = checkpoint(spec, state.step)
    x = digits.split(nl.DIGITS_SPLIT_SEED).normalise(pixels)[None, None]
    return nl.predict(spec.model, at.params, x)[0], at.t, x


def eval_every(until: int) -> int:
    """Evaluate (loss and accuracy on the train sample and the test split) every this many steps."""
    return max(1, min(50, until // 12))


@dataclass
class Chunk:
    """What one event carries."""

    t0: int  # steps done before it
    report: nl.Report
    evals: list[nl.Scores]
    snap: nl.Snapshot | None
    seconds: float


def _snapshot_image(spec: nl.RunSpec) -> np.ndarray:
    if spec.data == "typed":
        return spec.x[0]
    return digits.split(nl.DIGITS_SPLIT_SEED).x_test[0]


def run_chunk(spec: nl.RunSpec, at: nl.Checkpoint, n: int, every: int, until: int
              ) -> tuple[nl.Checkpoint, Chunk]:
    """Up to ``n`` steps from ``at`` (a worker thread's job), evaluating at multiples of ``every`` and at ``until``."""
    started = time.perf_counter()
    t0 = at.t
    evals: list[nl.Scores] = []
    snap = None
    if t0 == 0:
        evals.append(nl.score(spec, at))
        snap = nl.snapshot(spec.model, at.params, _snapshot_image(spec))
    total = nl.Report(grad_norm={}, update_ratio={})
    end = min(until, t0 + n)
    while at.t < end:
        boundary = min(end, (at.t // every + 1) * every)
        at, rep = nl.run_steps(spec, at, boundary - at.t)
        total.steps += rep.steps
        total.loss += rep.loss
        for path, values in rep.grad_norm.items():
            total.grad_norm.setdefault(path, []).extend(values)
        for path, values in rep.update_ratio.items():
            total.update_ratio.setdefault(path, []).extend(values)
        if rep.divergence is not None:
            total.divergence = rep.divergence
            break
        if at.t % every == 0 or at.t == until:
            evals.append(nl.score(spec, at))
            snap = nl.snapshot(spec.model, at.params, _snapshot_image(spec))
            if at.t % CHECKPOINT_EVERY == 0:
                remember(spec, at)
    return at, Chunk(t0, total, evals, snap, time.perf_counter() - started)


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None


def _round(values: list[float]) -> list[float | None]:
    return [_finite(float(f"{v:.6g}")) for v in values]


def chunk_payload(chunk: Chunk) -> dict[str, Any]:
    rep = chunk.report
    out: dict[str, Any] = {"t0": chunk.t0, "t": rep.steps, "loss": _round(rep.loss),
                           "gnorm": {p: _round(v) for p, v in rep.grad_norm.items()},
                           "ratio": {p: _round(v) for p, v in rep.update_ratio.items()},
                           "evals": [{"t": e.t, "train_loss": _finite(e.train_loss), "train_acc": e.train_accuracy,
                                      "test_loss": _finite(e.test_loss), "test_acc": e.test_accuracy}
                                     for e in chunk.evals],
                           "ms": round(chunk.seconds * 1000, 2)}
    if chunk.snap is not None and chunk.snap.filters is not None:
        s = chunk.snap
        out["snap"] = {"t": chunk.evals[-1].t if chunk.evals else None, "conv": s.conv_path, "maps_of": s.maps_path,
                       "filters": figures.tile(s.filters), "maps": figures.tile(s.maps)}
    return out


def divergence_path(d: nl.Divergence) -> str | None:
    """The layer path a divergence points at (a layer field or a parameter name), if any."""
    if d.field.startswith("model.layers"):
        return nl.error_path(OpInputError(d.field, ""))
    if d.field.startswith("model"):
        return None
    return d.field.rsplit(".", 1)[0]


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float as None (JSON has no NaN), as FastAPI writes an event's data."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _chunk_as_json(spec: nl.RunSpec, at: nl.Checkpoint, n: int, every: int, until: int
                   ) -> tuple[nl.Checkpoint, Chunk, str]:
    """:func:`run_chunk` and its event's data already written as JSON, in the worker thread: 50 streams' payloads
    encoded on the event loop would hold up every other request. The payload is plain Python (floats, ints,
    strings, lists, dicts), so ``json.dumps`` writes it as FastAPI's ``jsonable_encoder`` + ``json.dumps`` did, byte
    for byte (tests/app/labs/test_network_stream_golden.py), without the encoder's walk over every number (~2 ms
    an event with an evaluation's snapshot: 0.1 ms a step at ~20 steps an event)."""
    at, chunk = run_chunk(spec, at, n, every, until)
    return at, chunk, json.dumps(_finite(chunk_payload(chunk)))


_streams = [0]  # training streams this process is sending now


def frame_seconds(settings: Settings, speed: int) -> float:
    """The steps one event carries, in seconds of the run (of computing, at ``speed`` 0: as fast as it goes):
    CHUNK_SECONDS (FULL_SPEED_CHUNK_SECONDS) while few streams run; with many, longer, so that all of them together
    send at most ``Settings.stream_max_events`` a second — fewer, larger frames, and the event loop's time for every
    other request (/healthz, pages) stays bounded."""
    return max(CHUNK_SECONDS if speed else FULL_SPEED_CHUNK_SECONDS, _streams[0] / settings.stream_max_events)


def _event(name: str, data: Any, t: int | None = None) -> ServerSentEvent:
    return ServerSentEvent(event=name, data=data, id=None if t is None else str(t))


async def train_events(spec: nl.RunSpec, start: int, until: int, speed: int, settings: Settings,
                       plant: bugs.Plant | None = None) -> AsyncIterator[ServerSentEvent]:
    """The SSE events of a run from step ``start`` (steps done) to ``until``; its work runs under the one limiter
    (:mod:`app.work`), a replay to ``start`` in slices of the per-request CPU budget. ``plant``: a planted bug, which
    every job computes with as the page does (app.web.kit.bugs.planted; its checkpoints are its own, run_key)."""
    every = eval_every(until)
    replay, chunk_of = bugs.planted(plant, checkpoint), bugs.planted(plant, _chunk_as_json)
    yield ServerSentEvent(event="run", data={"from": start, "until": until, "eval_every": every, "speed": speed},
                          retry=1000)
    if start >= until:
        yield _event("done", {"t": start, "reason": "finished", "message": f"Trained {until} steps."}, start)
        return
    try:
        while True:
            try:
                at = await work.run(settings, replay, spec, start, settings.max_request_cpu_seconds, admit=False)
                break
            except InProgress:
                continue  # its progress is cached: the next slice goes on from there
    except OpInputError as err:
        yield _event("done", {"t": start, "reason": "diverged", "message": err.message}, start)
        return
    n = max(1, round(speed * frame_seconds(settings, speed))) if speed else 8
    began, done_at_start = time.perf_counter(), at.t
    _streams[0] += 1
    try:
        while at.t < until:
            at, chunk, data = await work.run(settings, chunk_of, spec, at, n, every, until, admit=False)
            last = chunk.report.steps[-1] if chunk.report.steps else at.t
            yield ServerSentEvent(event="steps", raw_data=data, id=str(last))
            if chunk.report.divergence is not None:
                d = chunk.report.divergence
                yield _event("done", {"t": last, "reason": "diverged", "message": d.message, "phase": d.phase,
                                      "where": d.where, "field": d.field, "path": divergence_path(d),
                                      "step": d.step + 1}, last)
                return
            if speed:
                n = max(1, round(speed * frame_seconds(settings, speed)))
                ahead = (at.t - done_at_start) / speed - (time.perf_counter() - began)
                if ahead > 0:
                    await anyio.sleep(ahead)
            else:  # as fast as possible: size chunks to about a frame's time of work
                per_step = chunk.seconds / max(1, len(chunk.report.steps))
                n = max(1, min(2000, int(frame_seconds(settings, speed) / max(per_step, 1e-5))))
                await anyio.sleep(0)
    finally:
        _streams[0] -= 1
    rate = (at.t - done_at_start) / max(1e-9, time.perf_counter() - began)
    yield _event("done", {"t": at.t, "reason": "finished", "message": f"Trained {until} steps.",
                          "steps_per_s": round(rate, 1)}, at.t)
