"""Many training streams send fewer, larger frames (Settings.stream_max_events a second all together), so the
event loop stays free for /healthz and pages; one stream keeps its own (~40 a second at a set speed, ~15 ms of
computing each as fast as it goes). Every step still arrives once, in order, whatever the frame size."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from app.web.labs.network import run as network_run
from tests.app.labs.test_network_stream import events, steps_of


def test_frames_grow_with_the_streams_running(monkeypatch):
    settings = Settings(stream_max_events=400)
    monkeypatch.setattr(network_run, "_streams", [1])
    assert network_run.frame_seconds(settings, 1000) == network_run.CHUNK_SECONDS
    assert network_run.frame_seconds(settings, 0) == network_run.FULL_SPEED_CHUNK_SECONDS
    monkeypatch.setattr(network_run, "_streams", [50])
    for speed in (1000, 0):  # 8 frames a second each, 400 in all
        assert network_run.frame_seconds(settings, speed) == pytest.approx(50 / 400)


def test_large_frames_still_carry_every_step_once(monkeypatch):
    monkeypatch.setattr(network_run, "_streams", [10_000])  # as if thousands of streams ran: frames of 25 s
    with TestClient(create_app(Settings())) as client:
        link = client.get("/network/preset/notes", follow_redirects=False).headers["location"]
        evs = events(client, "/network/train/stream?" + link.split("?", 1)[1] + "&speed=1000")
    steps = [t for t, _ in steps_of(evs)]
    assert steps == list(range(1, len(steps) + 1)) and evs[-1]["event"] == "done"
    assert network_run._streams == [10_000]  # the stream counted itself in and out
