"""Issue 13, bounded work: one limiter with a short queue (503 + Retry-After when full), and replays that
compute at most the per-request CPU budget, keep their progress and answer it."""

from __future__ import annotations

import re
import threading

import anyio
import pytest
from fastapi.testclient import TestClient

from app import work
from app.main import create_app
from app.settings import Settings
from app.web.kit.link import from_query, to_query
from tests.app.conftest import assert_error


def far_link(client: TestClient, seed: int, step: int) -> str:
    link = client.get("/network", follow_redirects=False).headers["location"]  # compact: v=1&z=…
    return "/network?" + to_query({**from_query(link.split("?", 1)[1]), "seed": str(seed), "step": str(step)})


def test_a_long_replay_answers_its_progress_and_the_retry_goes_on():
    settings = Settings(max_request_cpu_seconds=0.02)
    with TestClient(create_app(settings)) as c:
        link = far_link(c, seed=777, step=120)
        done = []
        for _ in range(200):
            r = c.get(link, headers={"accept": "text/html"})
            if r.status_code == 200:
                break
            assert r.status_code == 503 and r.headers["retry-after"] == "1"
            assert '<meta http-equiv="refresh" content="1">' in r.text  # the page reloads itself
            done.append(int(re.search(r"([\d,]+) of 120 done", r.text)[1].replace(",", "")))
        assert r.status_code == 200, r.text[:300]
        assert done and done == sorted(done) and len(set(done)) == len(done)  # every try went further
        api = c.get(far_link(c, seed=778, step=120), headers={"accept": "application/json"})
        item = assert_error(api, 503, [], "replaying the training run to step 120")
        assert item["type"] == "in_progress"


def test_the_replayed_page_is_the_page_of_one_long_replay():
    with TestClient(create_app(Settings(max_request_cpu_seconds=0.01))) as sliced, \
            TestClient(create_app(Settings(max_request_cpu_seconds=100))) as whole:
        link = far_link(whole, seed=31, step=60)
        r = sliced.get(link)
        while r.status_code == 503:
            r = sliced.get(link)
        assert r.status_code == 200
        assert r.text == whole.get(link).text  # bit for bit: slicing the replay changes no number


def test_a_full_queue_answers_503_with_retry_after():
    settings = Settings(work_threads=1, work_queue=1, retry_after_seconds=2)
    release = threading.Event()

    async def main() -> list:
        results: list = []

        async def job() -> None:
            try:
                results.append(await work.run(settings, release.wait, 5))
            except work.Busy as exc:
                results.append(exc)

        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(job)
                await anyio.sleep(0.05)
            release.set()
        return results

    results = anyio.run(main)
    busy = [r for r in results if isinstance(r, work.Busy)]
    assert len(busy) == 1 and busy[0].retry_after == 2 and "1 heavy requests running and 1 waiting" in busy[0].message
    assert results.count(True) == 2


@pytest.mark.parametrize("accept,html", [("application/json", False), ("text/html", True)])
def test_busy_is_a_503_in_the_one_shape(monkeypatch, accept, html):
    async def refuse(settings, job, *args, admit=True):
        raise work.Busy(settings.retry_after_seconds, 2, 16)

    monkeypatch.setattr(work, "run", refuse)
    with TestClient(create_app()) as c:
        r = c.post("/api/v1/networks/trace", json={"model": {"input_shape": [2], "layers": [{"type": "linear",
                                                                                           "units": 2}]},
                                                    "x": [[1, 2]], "labels": [0]})
        assert_error(r, 503, [], "busy", "try again in 1 s")
        assert r.headers["retry-after"] == "1"
        page = c.get(far_link(c, seed=5, step=3), headers={"accept": accept})
        assert page.status_code == 503 and page.headers["retry-after"] == "1"
        assert ("The server is busy" in page.text) == html


def test_an_htmx_edit_that_needs_a_long_replay_is_sent_to_the_page_that_shows_its_progress():
    from bench.pageforms import as_data, parse, replaced

    with TestClient(create_app(Settings(max_request_cpu_seconds=0.01))) as c:
        fields = parse("network", c.get("/network").text).fields
        data = as_data(replaced(replaced(fields, "seed", "91"), "step", "200"))
        r = c.post("/network/results", data=data, headers={"HX-Request": "true"})
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        assert r.headers["hx-redirect"].startswith("/network?")
    assert from_query(r.headers["hx-redirect"].split("?", 1)[1])["step"] == "200"


def test_a_network_gradient_check_over_its_budget_is_refused_by_its_named_limit():
    import json
    from urllib.parse import urlencode

    layers = [{"type": "conv2d", "filters": 8, "kernel": 3, "pad": 1}, {"type": "relu"}] * 11
    model = {"input_shape": [1, 8, 8], "layers": [*layers, {"type": "flatten"}, {"type": "linear", "units": 10}]}
    query = urlencode({"v": "1", "model": json.dumps(model), "data": "digits", "batch": "33", "seed": "0",
                       "opt": "sgd", "lr": "0.1", "step": "0"})
    from bench.pageforms import as_data, parse

    with TestClient(create_app(Settings(network_gradcheck_cpu_seconds=0.01))) as c:
        page = c.get("/network?" + query)
        assert page.status_code == 200
        r = c.post("/network/gradcheck", data=as_data(parse("network", page.text).fields))
        assert r.status_code == 200 and "Settings.network_gradcheck_cpu_seconds" in r.text
        assert "check a smaller batch" in r.text
