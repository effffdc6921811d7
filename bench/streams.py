"""``python -m bench.streams [--no-browser] [--edits N]``: the two streamed labs' speed, measured in one run.

Network lab (targets of issue 5: ≥ 500 steps/s while streaming, ≥ 20 display updates/s, a traced
step under 50 ms):
- training steps/s of the LeNet-like digits preset on the fast path, without and with the per-step
  reports, and through the SSE stream of a real uvicorn server read to its end;
- display updates/s in real Chromium while that stream runs as fast as it goes;
- one traced step of the ResNet-block preset: engine.network.trace, and the lab's traced step.

Optimizer lab (targets of issue 4: an edit's server p95 < 15 ms; the stream delivers ≥ 60 steps/s
without falling behind):
- POST /optim/results with one gradient cell changed each time, p50/p95 per preset, next to
  GET /healthz timed in the same run (the HTTP floor on this machine);
- in real Chromium, the surface paths played at 60 and 240 steps/s: steps received and frames drawn
  per second, how far the drawing lags behind what arrived, duplicates and gaps.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import httpx
from playwright.sync_api import Browser, sync_playwright

from app.web.kit.link import from_query, to_query
from app.web.labs.network import presets as network_presets
from bench.web import form_fields, launch_chromium, percentile, start_server
from engine.network import runs as nl
from engine.network import trace as network

OPTIM_PRESETS = ("notes-001", "notes-001-steps", "random")
OPTIM_STREAM = ("/optim?v=1&opt=sgd,lr:0.01&names=w&theta=1:1&gmode=typed&g=1x1:1&k=1&j=0&surface=rosenbrock"
                "&start=-1.2,1&r1=sgd,lr:0.001&r2=momentum,lr:0.001,momentum:0.9,form:pytorch&r3=rmsprop,lr:0.01"
                "&r4=adam,lr:0.05&N=1000&speed={speed}&t=0")


def best_of(fn: Callable[[], object], repeat: int) -> float:
    """The fastest of ``repeat`` runs of ``fn``, in seconds."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def line(case: str, value: str, target: str = "", ok: bool | None = None) -> None:
    status = "" if ok is None else ("PASS" if ok else "MISS")
    print(f"{case:62} {value:>22}  {target:16} {status}", flush=True)


# ---------------------------------------------------------------- network lab


def lenet_link(base: str) -> str:
    """The LeNet-like preset's canonical link, its run 3000 steps long (about 2 s at full speed)."""
    link = httpx.get(base + "/network/preset/lenet", follow_redirects=False).headers["location"]
    fields = from_query(link.split("?", 1)[1])  # the network's links are compact (v=1&z=…)
    return "/network?" + to_query({**fields, "until": "3000"})


def network_steps(base: str, steps: int = 600) -> None:
    spec = network_presets.lenet(0).spec()
    off = steps / best_of(lambda: nl.run_steps(spec, nl.start(spec), steps, report=False), 3)
    reported = steps / best_of(lambda: nl.run_steps(spec, nl.start(spec), steps), 3)
    url = base + lenet_link(base).replace("/network?", "/network/train/stream?") + "&from=0&speed=0"
    rates = []
    for _ in range(2):
        started, done = time.perf_counter(), 0
        with httpx.stream("GET", url, timeout=60) as r:
            for text in r.iter_lines():
                if text.startswith('data: {"t0"'):
                    data = json.loads(text[6:])
                    done = data["t"][-1] if data["t"] else done
        rates.append(done / (time.perf_counter() - started))
    line("network: LeNet-like, batch 32, Adam: fast path", f"{off:.0f} steps/s")
    line("  with per-step reports", f"{reported:.0f} steps/s")
    best = max(rates)
    line("  streamed over SSE (evaluations, snapshots)", f"{best:.0f} steps/s", ">= 500 steps/s", best >= 500)


def network_trace() -> None:
    spec = network_presets.resnet(0).spec()
    at = nl.replay(spec, 0)
    x, labels = nl.step_batch(spec, 0)
    seconds = best_of(lambda: network.trace(spec.model, at.params, x, labels, "train",
                                            {"name": "adam", "hyperparams": {"lr": 0.01}}, 0), 10)
    lab = best_of(lambda: nl.step_trace(spec, at), 10)
    line("network: ResNet block, batch 32: engine.network.trace", f"{seconds * 1000:.1f} ms", "< 50 ms",
         seconds < 0.05)
    line("  the lab's traced step (trace, update, step records)", f"{lab * 1000:.1f} ms")


def network_display(browser: Browser, base: str) -> None:
    page = browser.new_page()
    page.goto(base + lenet_link(base))
    page.wait_for_load_state("networkidle")
    page.select_option("[data-train-speed]", "0")
    page.click("[data-train-action=start]")
    page.wait_for_function("() => Number(document.querySelector('#net-train').dataset.step || 0) > 100")
    r0, s0 = int(page.get_attribute("#net-train", "data-renders")), int(page.get_attribute("#net-train", "data-step"))
    t0 = time.perf_counter()
    page.wait_for_timeout(1000)
    r1, s1 = int(page.get_attribute("#net-train", "data-renders")), int(page.get_attribute("#net-train", "data-step"))
    dt = time.perf_counter() - t0
    draw_ms = page.get_attribute("#net-train", "data-draw-ms")
    if page.is_enabled("[data-train-action=pause]"):
        page.click("[data-train-action=pause]")
    page.close()
    updates = (r1 - r0) / dt
    line("network, browser: display updates while training", f"{updates:.1f} /s", ">= 20 /s", updates >= 20)
    line(f"  steps arriving meanwhile (last frame drawn in {draw_ms} ms)", f"{(s1 - s0) / dt:.0f} steps/s")


# ---------------------------------------------------------------- optimizer lab


def optim_edits(base: str, edits: int) -> None:
    with httpx.Client(base_url=base, timeout=10) as client:
        for preset in OPTIM_PRESETS:
            page = client.get(f"/optim/preset/{preset}?seed=3", follow_redirects=True).text
            data = form_fields(page, "optim-form")
            key = "g" if "g" in data else "gc"
            times, floor = [], []
            for i in range(edits + 30):
                cells = list(data[key])
                cells[i % len(cells)] = str(round(0.01 * (i % 17) - 0.08, 2))
                data[key] = cells
                t0 = time.perf_counter()
                r = client.post("/optim/results", data=data, headers={"HX-Request": "true"})
                t1 = time.perf_counter()
                client.get("/healthz")
                t2 = time.perf_counter()
                assert r.status_code == 200, r.text[:300]
                if i >= 30:  # warm-up
                    times.append((t1 - t0) * 1000)
                    floor.append((t2 - t1) * 1000)
            p95 = percentile(times, 95)
            line(f"optim: edit of {preset} (POST /optim/results, {len(r.content)} B)",
                 f"p50 {statistics.median(times):.1f} p95 {p95:.1f} ms", "p95 < 15 ms", p95 < 15)
            line("  reference: GET /healthz, same run",
                 f"p50 {statistics.median(floor):.1f} p95 {percentile(floor, 95):.1f} ms")


def optim_stream(browser: Browser, base: str, speed: int) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(base + OPTIM_STREAM.format(speed=speed))
    page.wait_for_load_state("networkidle")
    page.locator("#surface-view").scroll_into_view_if_needed()
    page.wait_for_function("() => { const gd = document.querySelector('#surface-fig .plot');"
                           " return gd && gd._fullLayout; }", timeout=20000)
    page.click("[data-surface-play]")
    lags = []
    for _ in range(16):  # 4 s: sample how far the drawing is behind what was received
        page.wait_for_timeout(250)
        s = page.evaluate("() => { const p = OptimLab.player(); return [p.lastT, p.have]; }")
        lags.append(s[0] - s[1])
    stats = page.evaluate("() => OptimLab.stats()")
    page.click("[data-surface-play]")
    page.close()
    ok = stats["stepsPerSecond"] >= 0.9 * min(speed, 60)
    line(f"optim, browser: surface paths played at {speed}/s, received", f"{stats['stepsPerSecond']:.1f} steps/s",
         f">= {0.9 * min(speed, 60):g} steps/s", ok)
    line("  frames drawn", f"{stats['framesPerSecond']:.1f} /s")
    line("  drawing behind what arrived (max, median)", f"{max(lags)}, {statistics.median(lags)} steps")
    line("  duplicates, gaps", f"{stats['duplicates']}, {stats['gaps']}", "0, 0",
         stats["duplicates"] == 0 and stats["gaps"] == 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.streams", description=__doc__.split("\n\n")[0])
    parser.add_argument("--edits", type=int, default=200, help="optimizer edits per preset (default 200)")
    parser.add_argument("--no-browser", action="store_true", help="server and engine only")
    args = parser.parse_args(argv)
    proc, base = start_server()
    try:
        network_steps(base)
        network_trace()
        optim_edits(base, args.edits)
        if not args.no_browser:
            with sync_playwright() as p:
                browser = launch_chromium(p)
                network_display(browser, base)
                for speed in (60, 240):
                    optim_stream(browser, base, speed)
                browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
