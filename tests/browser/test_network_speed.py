"""The network lab's speed figures (issue 5, "Speed"): a benchmark, not a timed test.

Run with ``BACKPROP_LENS_BENCH=1 .venv/bin/pytest -s tests/browser/test_network_speed.py``; it prints
    - training steps/s of the LeNet-like digits preset on the fast path, with the stream off and on
      (the SSE stream of a real uvicorn server, read to its end);
    - display updates/s in real Chromium while the stream runs as fast as it goes;
    - the time of one traced step of the ResNet-block preset (engine.network.trace).
Targets: ≥ 500 steps/s while streaming, ≥ 20 display updates/s, a trace under 50 ms.
"""

from __future__ import annotations

import json
import os
import time

import httpx
import pytest

from app.web.labs.network import presets as network_presets
from engine.network import runs as nl
from engine.network import trace as network

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not os.environ.get("BACKPROP_LENS_BENCH"),
                                                     reason="a benchmark: set BACKPROP_LENS_BENCH=1")]


def best_of(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def test_steps_per_second_with_the_stream_off_and_on(live_server):
    state = network_presets.lenet(0)
    spec = state.spec()
    n = 600
    off = n / best_of(lambda: nl.run_steps(spec, nl.start(spec), n, report=False), 3)
    reported = n / best_of(lambda: nl.run_steps(spec, nl.start(spec), n), 3)
    link = httpx.get(live_server + "/network/preset/lenet", follow_redirects=False).headers["location"]
    url = live_server + link.replace("/network?", "/network/train/stream?").replace("until=600", "until=3000")
    rates = []
    for _ in range(2):
        started, steps = time.perf_counter(), 0
        with httpx.stream("GET", url + "&from=0&speed=0", timeout=60) as r:
            for line in r.iter_lines():
                if line.startswith('data: {"t0"'):
                    data = json.loads(line[6:])
                    steps = data["t"][-1] if data["t"] else steps
        rates.append(steps / (time.perf_counter() - started))
    print(f"\nLeNet-like preset, batch 32, Adam: fast path {off:.0f} steps/s; with per-step reports {reported:.0f} "
          f"steps/s; streamed over SSE (evaluations and snapshots included) {max(rates):.0f} steps/s")


def test_display_updates_per_second_in_the_browser(page, live_server):
    link = httpx.get(live_server + "/network/preset/lenet", follow_redirects=False).headers["location"]
    page.goto(live_server + link.replace("until=600", "until=3000"))
    page.wait_for_load_state("networkidle")
    page.select_option("[data-train-speed]", "0")
    page.click("[data-train-action=start]")
    page.wait_for_function("() => Number(document.querySelector('#net-train').dataset.step || 0) > 100")
    r0 = int(page.get_attribute("#net-train", "data-renders"))
    s0 = int(page.get_attribute("#net-train", "data-step"))
    t0 = time.perf_counter()
    page.wait_for_timeout(1000)  # the run of 3000 steps lasts about 2 s at full speed
    r1 = int(page.get_attribute("#net-train", "data-renders"))
    s1 = int(page.get_attribute("#net-train", "data-step"))
    dt = time.perf_counter() - t0
    draw_ms = page.get_attribute("#net-train", "data-draw-ms")
    if page.is_enabled("[data-train-action=pause]"):
        page.click("[data-train-action=pause]")
    print(f"\nbrowser: {(r1 - r0) / dt:.1f} display updates/s while {(s1 - s0) / dt:.0f} steps/s arrived "
          f"(last frame drawn in {draw_ms} ms)")


def test_a_trace_of_one_resnet_block_step():
    state = network_presets.resnet(0)
    spec = state.spec()
    at = nl.replay(spec, 0)
    x, labels = nl.step_batch(spec, 0)
    seconds = best_of(lambda: network.trace(spec.model, at.params, x, labels, "train",
                                            {"name": "adam", "hyperparams": {"lr": 0.01}}, 0), 10)
    page = best_of(lambda: nl.step_trace(spec, at), 10)
    print(f"\nResNet-block preset, batch 32: engine.network.trace {seconds * 1000:.1f} ms; the lab's traced step "
          f"(trace + update from the run's state + the update's step records) {page * 1000:.1f} ms")
