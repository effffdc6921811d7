"""The optimizer lab's stream (GET /optim/stream, Server-Sent Events): event ids, the terminating event,
resuming from a step or a Last-Event-ID with no duplicates and no gaps, the numbers (the engine's own
trajectories), 422 for a bad stream URL, and that the server stops computing when the client goes away."""

from __future__ import annotations

import json
import socket
import threading
import time

import httpx
import numpy as np
import pytest
import uvicorn
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from app.web.labs.optim import stream as optim_stream
from app.web.labs.optim.presets import PRESETS
from app.web.labs.optim.state import from_link
from engine.optim.surfaces import trajectory

# Four optimizers on the ill-conditioned quadratic, 30 updates, streamed as fast as the server allows.
LINK = ("v=1&opt=sgd,lr:0.01&names=w&theta=1:1&gmode=typed&g=1x1:1&k=1&j=0&surface=ill_conditioned&start=-4.5,1.5"
        "&r1=sgd,lr:0.075&r2=momentum,lr:0.02,momentum:0.9,form:pytorch&r3=rmsprop,lr:0.05&r4=adam,lr:0.3"
        "&N=30&speed=1000&t=0")


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app())


def parse(text: str) -> list[dict]:
    """SSE text -> [{"event", "id", "data"}], comments (keep-alive pings) skipped."""
    out = []
    for block in text.strip().split("\n\n"):
        ev: dict = {}
        for line in block.split("\n"):
            if line.startswith(":") or not line:
                continue
            key, _, value = line.partition(": ")
            ev[key] = json.loads(value) if key == "data" else value
        if ev:
            out.append(ev)
    return out


def stream(client, query: str, headers: dict | None = None) -> list[dict]:
    r = client.get(f"/optim/stream?{query}", headers=headers or {})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/event-stream")
    return parse(r.text)


def test_one_event_per_update_then_a_done_event(client):
    events = stream(client, LINK)
    steps, done = events[:-1], events[-1]
    assert [e["event"] for e in steps] == ["step"] * 30
    assert [e["id"] for e in steps] == [str(t) for t in range(1, 31)]
    assert [e["data"]["t"] for e in steps] == list(range(1, 31))
    assert done["event"] == "done" and "id" not in done
    assert done["data"] == {"t": 30, "reason": "reached N", "stopped": []}
    assert steps[0]["retry"] == "1000"


def test_the_streamed_points_are_the_engines_trajectories(client):
    state = from_link(LINK, Settings())
    events = stream(client, LINK)[:-1]
    for i, spec in enumerate(state.runs):
        tr = trajectory(state.surface, spec.name, list(state.start), spec.hp, 30)
        got = np.array([e["data"]["p"][i] for e in events])
        np.testing.assert_array_equal(got[:, :2], tr.points[1:])
        np.testing.assert_array_equal(got[:, 2], tr.losses[1:])


def test_resuming_from_a_step_has_no_duplicates_and_no_gaps(client):
    whole = stream(client, LINK)[:-1]
    first = stream(client, LINK + "&from=0&to=12")
    rest = stream(client, LINK + "&from=12")
    assert first[-1]["event"] == "done" and first[-1]["data"]["reason"] == "reached the requested step"
    ids = [e["id"] for e in first[:-1] + rest[:-1]]
    assert ids == [str(t) for t in range(1, 31)]
    assert [e["data"] for e in first[:-1] + rest[:-1]] == [e["data"] for e in whole]


def test_a_single_step(client):
    events = stream(client, LINK + "&from=7&to=8")
    assert [(e["event"], e.get("id")) for e in events] == [("step", "8"), ("done", None)]


def test_last_event_id_is_honoured(client):
    """A browser that lost the connection reconnects to the same URL with the last id it received."""
    events = stream(client, LINK + "&from=0", headers={"Last-Event-ID": "25"})
    assert [e.get("id") for e in events] == ["26", "27", "28", "29", "30", None]
    events = stream(client, LINK + "&from=30")
    assert [e["event"] for e in events] == ["done"]


def test_a_compact_link_streams_too(client):
    """A long state travels deflated (z=…); the stream's own from= and to= ride along outside it."""
    from dataclasses import replace

    state = replace(PRESETS["random"].make(0), names=tuple(f"w{i}" for i in range(8)),
                    theta=np.linspace(-1, 1, 8) + 1e-9, grads=np.linspace(-1, 1, 160).reshape(20, 8) + 1e-9,
                    steps=20, speed=1000, path_steps=10)
    query = state.to_query()
    assert query.startswith("v=1&z=")
    events = stream(client, query + "&from=3&to=5")
    assert [e.get("id") for e in events] == ["4", "5", None]


def test_paths_that_stop_are_reported_and_end_the_stream(client):
    # SGD with lr 0.01 overflows on Rosenbrock at update 6; Adam goes on
    query = LINK.replace("surface=ill_conditioned&start=-4.5,1.5", "surface=rosenbrock&start=-1.2,1")
    one = query.split("&r2=")[0] + "&N=30&speed=1000&t=0"
    one = one.replace("r1=sgd,lr:0.075", "r1=sgd,lr:0.01")
    events = stream(client, one)
    assert [e.get("id") for e in events] == ["1", "2", "3", "4", "5", "6", None]
    assert events[5]["data"]["p"] == [None]
    stop = {"run": 1, "t": 6, "reason": "diverged: update 6 gave a point or loss that is not finite"}
    assert events[5]["data"]["stopped"] == [stop]
    assert events[-1]["data"] == {"t": 6, "reason": "every path stopped", "stopped": [stop]}
    # resumed after the stop: nothing left to send
    assert stream(client, one + "&from=6")[-1]["data"]["reason"] == "every path stopped"


@pytest.mark.parametrize("extra,loc,words", [
    ("&from=31", ["query", "from"], "between 0 and 30"),
    ("&from=1&from=2", ["query", "from"], "twice"),
    ("&to=x", ["query", "to"], "not a number"),
])
def test_a_bad_stream_url_is_refused_with_the_field(client, extra, loc, words):
    r = client.get(f"/optim/stream?{LINK}{extra}")
    assert r.status_code == 422
    item = r.json()["detail"][0]
    assert item["loc"] == loc and words in item["msg"]


def test_a_bad_state_or_header_is_refused_with_the_field(client):
    r = client.get("/optim/stream?" + LINK.replace("r4=adam,lr:0.3", "r4=adam,beta2:2"))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "run4.beta2"]
    r = client.get(f"/optim/stream?{LINK}", headers={"Last-Event-ID": "soon"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["header", "last-event-id"]


def test_the_stream_is_paced_at_the_state_speed(client):
    slow = LINK.replace("speed=1000", "speed=100")
    t0 = time.perf_counter()
    events = stream(client, slow + "&from=0&to=20")
    elapsed = time.perf_counter() - t0
    assert len(events) == 21
    assert elapsed >= 19 / 100 * 0.9  # 20 events, 10 ms apart


# ---------------------------------------------------------------- a real server: the client goes away


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live():
    optim_stream._PARKED.clear()  # paths parked by other tests' streams
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_the_server_stops_computing_when_the_client_goes_away(live, monkeypatch):
    computed: list[int] = []
    real = optim_stream.advance

    def counting(paths, stopped, t):
        computed.append(t)
        return real(paths, stopped, t)

    monkeypatch.setattr(optim_stream, "advance", counting)
    query = LINK.replace("N=30&speed=1000", "N=1000&speed=20")
    received = 0
    with httpx.stream("GET", f"{live}/optim/stream?{query}", timeout=10) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("id: "):
                received += 1
                if received == 3:
                    break
    # the connection is closed: the server notices within a step or two and computes nothing more
    time.sleep(0.5)
    settled = len(computed)
    time.sleep(0.8)
    assert len(computed) == settled, f"still computing after the client left: {settled} -> {len(computed)}"
    # noticed within about a second of steps (20 a second), not at the run's end (1,000): on a quiet machine within
    # a step or two; CI on a loaded one took 6 more (sse-starlette polls for the disconnect between sends)
    assert 3 <= settled <= 3 + 20, computed
    # it left the paths where they stopped, so a resume from there recomputes nothing
    state = from_link(query, Settings())
    assert optim_stream.take_parked(state, computed[-1]) is not None


def test_a_resume_picks_up_the_parked_paths(live, monkeypatch):
    query = LINK.replace("N=30&speed=1000", "N=40&speed=50")
    got = []
    with httpx.stream("GET", f"{live}/optim/stream?{query}", timeout=10) as r:
        for line in r.iter_lines():
            if line.startswith("data: "):
                got.append(json.loads(line[6:]))
                if len(got) == 5:
                    break
    time.sleep(0.3)
    state = from_link(query, Settings())
    parked = [key[-1] for key in optim_stream._PARKED if key[:-1] == optim_stream._path_key(state, 0)[:-1]]
    assert len(parked) == 1 and parked[0] >= 5
    t = parked[0]  # the server may have computed one update more than this client read
    calls: list[int] = []
    real_ff = optim_stream.fast_forward
    monkeypatch.setattr(optim_stream, "fast_forward", lambda *a: (calls.append(a[2]), real_ff(*a))[1])
    fast = query.replace("speed=50", "speed=1000")  # the parked paths do not depend on the speed
    with httpx.stream("GET", f"{live}/optim/stream?{fast}&from={t}", timeout=10) as r:
        rest = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: ")]
    assert calls == [], "the resume recomputed the updates it already had"
    assert [d["t"] for d in rest[:-1]] == list(range(t + 1, 41))
    with TestClient(create_app()) as c:
        whole = stream(c, fast)[:-1]
    assert [d["p"] for d in rest[:-1]] == [e["data"]["p"] for e in whole[t:]]
    assert [d["p"] for d in got] == [e["data"]["p"] for e in whole[:5]]
