"""The training stream (SSE): events and ids, reconnects that continue without gaps or duplicates and with
the same numbers (deterministic replay), the terminating event, divergence, and a closed connection
stopping the work on the server. Also: the LeNet-like preset reaches > 90 % test accuracy on the fast path."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import replace

import httpx
import pytest
import uvicorn

from app.main import create_app
from app.web.labs.network import presets as network_presets
from app.web.labs.network import run as network_run
from engine.network import runs as nl


def events(client, url: str, headers: dict | None = None) -> list[dict]:
    out, ev = [], {}
    with client.stream("GET", url, headers=headers or {}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if not line:
                if ev:
                    out.append(ev)
                ev = {}
                continue
            key, _, value = line.partition(": ")
            ev[key] = value
    if ev:
        out.append(ev)
    return out


def steps_of(evs: list[dict]) -> list[tuple[int, float]]:
    return [(t, loss) for e in evs if e.get("event") == "steps"
            for t, loss in zip(json.loads(e["data"])["t"], json.loads(e["data"])["loss"], strict=True)]


def stream_url(state, **params) -> str:
    extra = "".join(f"&{k}={v}" for k, v in params.items())
    return f"/network/train/stream?{state.to_query()}{extra}"


NOTES = replace(network_presets.notes(0), until=30)


def test_a_run_streams_every_step_once_and_ends_with_done(client):
    evs = events(client, stream_url(NOTES, speed=0))
    assert evs[0]["event"] == "run" and "id" not in evs[0]
    assert json.loads(evs[0]["data"]) == {"from": 0, "until": 30, "eval_every": 2, "speed": 0}
    assert evs[-1]["event"] == "done" and evs[-1]["id"] == "30"
    done = json.loads(evs[-1]["data"])
    assert done["reason"] == "finished" and done["t"] == 30
    steps = steps_of(evs)
    assert [t for t, _ in steps] == list(range(1, 31))
    for e in evs[1:-1]:
        data = json.loads(e["data"])
        assert e["event"] == "steps" and e["id"] == str(data["t"][-1])  # the id is the last step it holds
    first = json.loads(evs[1]["data"])
    assert first["evals"][0]["t"] == 0  # the scores before training ride with the first steps
    filters = first["snap"]["filters"]  # the two 3×3 kernels side by side, one empty column between them
    assert first["snap"]["conv"] == "0" and len(filters) == 3 and len(filters[0]) == 7 and filters[0][3] is None
    # notes 004: the first step's loss is log(1 + e⁴), and gradient descent lowers it
    assert steps[0][1] == pytest.approx(4.01815, abs=1e-5) and steps[-1][1] < steps[0][1]


def test_a_reconnect_continues_after_the_last_event_id_with_the_same_numbers(client):
    whole = steps_of(events(client, stream_url(NOTES, speed=0)))
    resumed = events(client, stream_url(NOTES, speed=0, **{"from": 0}), {"Last-Event-ID": "12"})
    tail = steps_of(resumed)
    assert [t for t, _ in tail] == list(range(13, 31))  # no gap, no duplicate
    assert tail == whole[12:]  # replayed from the seed: identical numbers
    by_from = steps_of(events(client, stream_url(NOTES, speed=0, **{"from": 20})))
    assert by_from == whole[20:]
    finished = events(client, stream_url(NOTES, speed=0), {"Last-Event-ID": "30"})
    assert [e["event"] for e in finished] == ["run", "done"]


def test_evaluations_land_on_fixed_steps_whatever_the_chunking(client):
    state = replace(network_presets.lenet(0), until=60)  # evaluates every 5 steps
    evals = [ev["t"] for e in events(client, stream_url(state, speed=0)) if e.get("event") == "steps"
             for ev in json.loads(e["data"])["evals"]]
    assert evals == list(range(0, 61, 5))


def test_divergence_stops_training_and_says_where_it_started(client):
    model = nl.parse_structure({"input_shape": [1, 8, 8], "layers": [
        {"type": "flatten"}, {"type": "linear", "units": 32}, {"type": "linear", "units": 10}]})
    state = replace(network_presets.lenet(0), model=model, optimizer="sgd", hyperparams={"lr": 10.0}, until=300,
                    op="f:0")
    evs = events(client, stream_url(state, speed=0))
    done = json.loads(evs[-1]["data"])
    assert evs[-1]["event"] == "done" and done["reason"] == "diverged"
    assert done["step"] < 300 and f"step {done['step']}" in done["message"]
    assert done["phase"] == "forward" and "linear" in done["message"] and done["path"] in ("1", "2")
    assert max(t for t, _ in steps_of(evs)) == done["step"] - 1  # nothing after the last finite step


def test_a_network_that_cannot_run_answers_one_failed_done(client):
    model = nl.parse_structure({"input_shape": [1, 8, 8], "layers": [{"type": "linear", "units": 10}]})
    state = replace(network_presets.lenet(0), model=model, op="f:0")
    evs = events(client, stream_url(state))
    assert [e["event"] for e in evs] == ["done"]
    assert json.loads(evs[0]["data"])["reason"] == "failed"
    evs = events(client, "/network/train/stream?v=1&model=%7Bbad")
    assert json.loads(evs[0]["data"])["field"] == "model"


def test_the_lenet_preset_reaches_90_percent_test_accuracy_on_the_fast_path():
    spec = network_presets.lenet(0).spec()
    started = time.perf_counter()
    at, rep = nl.run_steps(spec, nl.start(spec), 300)
    scores = nl.score(spec, at)
    assert rep.divergence is None and scores.test_accuracy > 0.9, scores
    assert time.perf_counter() - started < 20
    assert rep.loss[-1] < rep.loss[0] / 3


@pytest.fixture
def server():
    """The app on a real uvicorn server in a thread (so a test can watch module state while it serves)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not srv.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def test_closing_the_connection_stops_the_work_on_the_server(server, monkeypatch):
    calls = []
    real = network_run.run_chunk

    def counting(*args, **kwargs):
        calls.append(time.monotonic())
        return real(*args, **kwargs)

    monkeypatch.setattr(network_run, "run_chunk", counting)
    state = replace(network_presets.notes(0), until=3000)
    url = server + stream_url(state, speed=30)  # paced: would run for 100 s
    with httpx.Client(timeout=10) as http, http.stream("GET", url) as r:
        seen = 0
        for line in r.iter_lines():
            seen += line.startswith("event: steps")
            if seen == 3:
                break
    # the client is gone; give the server time to notice, then no more work may start
    time.sleep(1.0)
    count = len(calls)
    assert count >= 3
    time.sleep(1.5)
    assert len(calls) == count, f"{len(calls) - count} chunks computed after the client left"
