"""Issue 13, what a lecture hall costs per request: a burst on one new link enters the router once (the others
wait at the door, app.web.kit.cache.answer_cached), the settings reach a route without a thread hop, and the
largest answers are gzipped at Settings.gzip_large_level (app/compression.py)."""

from __future__ import annotations

import asyncio
import gzip

import anyio
import httpx
from fastapi.testclient import TestClient
from starlette.responses import Response

from app.compression import SizedGZipMiddleware, compressor
from app.main import app_settings, create_app
from app.settings import Settings, get_settings
from app.turnstile import Turnstile
from app.web.kit.cache import PageCache


def test_a_burst_on_one_new_link_enters_the_router_once(monkeypatch):
    calls = []
    by_url = PageCache.by_url

    async def counting_by_url(self, *args, **kwargs):
        calls.append(args[1])
        return await by_url(self, *args, **kwargs)

    monkeypatch.setattr(PageCache, "by_url", counting_by_url)
    app = create_app()
    with TestClient(app) as c:
        link = c.get("/pool", follow_redirects=False).headers["location"]
    calls.clear()

    async def burst() -> list[tuple[int, bytes]]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as ac:
            answers: list[tuple[int, bytes]] = []

            async def one() -> None:
                r = await ac.get(link)
                answers.append((r.status_code, r.content))

            async with anyio.create_task_group() as tg:
                for _ in range(20):
                    tg.start_soon(one)
            return answers

    answers = anyio.run(burst)
    assert [status for status, _ in answers] == [200] * 20 and len({body for _, body in answers}) == 1
    assert len(calls) == 1  # the first request read the link; 19 waited at the door for its page
    assert not app.state.page_cache.pending  # every claim released


def test_a_link_that_redirects_still_answers_every_request_of_its_burst():
    app = create_app()
    with TestClient(app) as c:
        link = c.get("/softmax", follow_redirects=False).headers["location"]
    partial = link.split("&", 1)[0]  # /softmax?v=1: the rest is filled in by a redirect (no page to keep)

    async def burst() -> list[int]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as ac:
            return [r.status_code for r in await asyncio.gather(*(ac.get(partial) for _ in range(8)))]

    assert anyio.run(burst) == [303] * 8
    assert not app.state.page_cache.pending


def test_the_settings_reach_a_route_without_a_thread_hop():
    settings = Settings(max_batch=3)
    app = create_app(settings)
    dependency = app.dependency_overrides[get_settings]
    assert asyncio.iscoroutinefunction(dependency)  # FastAPI calls a plain function dependency in its thread pool
    assert app_settings(app) is settings
    app.dependency_overrides[get_settings] = lambda: Settings(max_batch=2)  # a test's override, a plain function
    assert app_settings(app).max_batch == 2


def served(body: bytes, accept: str = "gzip") -> httpx.Response:
    async def answer(scope, receive, send):
        await Response(body, media_type="application/json")(scope, receive, send)

    S = Settings()
    app = SizedGZipMiddleware(answer, S.gzip_minimum_size, S.gzip_level, S.gzip_large_bytes, S.gzip_large_level)

    async def get() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as ac:
            return await ac.get("/", headers={"accept-encoding": accept})

    return anyio.run(get)


def one_member(body: bytes, level: int) -> bytes:
    """``body`` through the middleware's own compressor (zlib-ng) at ``level``, in one chunk."""
    squeeze = compressor(level)
    return squeeze.compress(body) + squeeze.flush()


def test_large_answers_are_gzipped_at_the_large_level_and_the_rest_at_the_usual_one():
    S = Settings()
    numbers = b"[" + b",".join(b"%.6f" % (i * 0.37 % 1) for i in range(300_000)) + b"]"
    large = served(numbers)
    assert len(numbers) >= S.gzip_large_bytes and large.headers["content-encoding"] == "gzip"
    assert large.content == numbers  # httpx unzipped it
    small = numbers[:S.gzip_large_bytes // 4]
    assert served(small).content == small
    raw_large = one_member(numbers, S.gzip_large_level)
    raw_small = one_member(small, S.gzip_level)
    assert int(large.headers["content-length"]) == len(raw_large)
    assert int(served(small).headers["content-length"]) == len(raw_small)
    assert gzip.decompress(raw_large) == numbers
    identity = served(numbers, accept="identity")
    assert "content-encoding" not in identity.headers and identity.content == numbers


def test_the_turnstile_lets_a_few_requests_into_the_router_per_turn_of_the_loop():
    async def main() -> list:
        turnstile, log = Turnstile(2), []
        loop = asyncio.get_running_loop()

        def turn(left: int) -> None:  # what the loop does between turns: read its sockets (a /healthz probe)
            log.append("turn")
            if left:
                loop.call_soon(turn, left - 1)

        async def request(i: int) -> None:
            await turnstile.enter()
            log.append(i)

        loop.call_soon(turn, 8)
        await asyncio.gather(*(request(i) for i in range(7)))
        return log

    log = anyio.run(main)
    assert sorted(x for x in log if x != "turn") == list(range(7))
    runs = "".join("t" if x == "turn" else "r" for x in log).split("t")
    assert max(len(run) for run in runs) <= 2, log  # never more than two requests without the loop turning


def test_a_turnstile_survives_its_event_loop():
    turnstile = Turnstile(1)

    async def burst() -> None:
        with anyio.fail_after(10):
            await asyncio.gather(*(turnstile.enter() for _ in range(3)))

    anyio.run(burst)
    anyio.run(burst)  # another loop (another test client): the first loop's scheduled turn never ran there


def stream_sleeps(monkeypatch) -> tuple[list[float], object]:
    """app.work's sleeps counted (and not slept: each only yields to the loop); the real sleep, for the test."""
    from app import work

    sleeps: list[float] = []
    sleep = anyio.sleep

    async def counted_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        await sleep(0)

    monkeypatch.setattr(work.anyio, "sleep", counted_sleep)
    return sleeps, sleep


def test_a_stream_chunk_waits_while_pages_wait_for_a_render_thread(monkeypatch):
    import threading

    from app import work

    settings = Settings(render_threads=1, stream_yield_seconds=0.1)
    sleeps, sleep = stream_sleeps(monkeypatch)

    async def main() -> tuple[int, int]:
        alone = await work.run(settings, lambda: len(sleeps), admit=False)  # no page waiting: at once
        release = threading.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(work.render, settings, release.wait)  # the one render thread, busy
            tg.start_soon(work.render, settings, lambda: None)  # a page waiting for it
            await sleep(0.05)  # the real one: the page is queued
            behind = await work.run(settings, lambda: len(sleeps), admit=False)
            release.set()
        return alone, behind

    alone, behind = anyio.run(main)
    assert alone == 0
    assert behind == round(settings.stream_yield_seconds / 0.02)  # waited its most, then went on


def test_requests_waiting_for_a_page_are_counted_and_streams_wait_with_them(monkeypatch):
    from app import work
    from app.web.kit.cache import waiting

    settings = Settings(stream_yield_seconds=0.06)
    sleeps, sleep = stream_sleeps(monkeypatch)

    async def main() -> tuple[int, int, int]:
        await work.render(settings, lambda: None)  # this loop's render limiter exists, idle
        page = asyncio.get_running_loop().create_future()
        waiters = [asyncio.create_task(waiting(page)) for _ in range(3)]
        await sleep(0.01)
        counted = work.waiting_for_pages[0]
        behind = await work.run(settings, lambda: len(sleeps), admit=False)
        page.set_result("the page")
        assert await asyncio.gather(*waiters) == ["the page"] * 3
        return counted, behind, work.waiting_for_pages[0]

    counted, behind, after = anyio.run(main)
    assert counted == 3 and after == 0
    assert behind == round(settings.stream_yield_seconds / 0.02)
