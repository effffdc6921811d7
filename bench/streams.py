"""``python -m bench.streams [--no-browser] [--edits N]``: the two streamed labs' speed, measured in one run.

Network lab (targets of issue 5: ≥ 500 steps/s while streaming, ≥ 20 display updates/s, a traced
step under 50 ms):
- training steps/s of the LeNet-like digits preset on the fast path, without and with the per-step
  reports, and through the SSE stream of a real uvicorn server read to its end;
- in real Chromium while that stream runs as fast as it goes: chart updates drawn a second, main-thread ms per
  update (DevTools' TaskDuration: every task, events to paint) and the steps arriving, next to the same stream
  read without a browser;
- one traced step of the ResNet-block preset: engine.network.trace, and the lab's traced step.

Optimizer lab (targets of issue 4: an edit's server p95 < 15 ms; the stream delivers ≥ 60 steps/s
without falling behind):
- POST /optim/results with one gradient cell changed each time, p50/p95 per preset, next to
  GET /healthz timed in the same run (the HTTP floor on this machine);
- in real Chromium, the surface paths played at 60 and 240 steps/s: steps received and frames drawn
  per second, main-thread ms per frame, how far the drawing lags behind what arrived, duplicates and gaps.

``--reference REV`` times the stream clients' scripts of git revision REV too (Playwright serves them in place of
the tree's), interleaved with the tree's in the same run (ABBA, ``--rounds`` each): a before/after pair.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import Browser, sync_playwright

from app.web.kit.link import from_query, to_query
from app.web.labs.network import presets as network_presets
from bench.web import ROOT, form_fields, launch_chromium, percentile, start_server
from engine.network import runs as nl
from engine.network import trace as network

ENV_SET_BY_APP = ("OPENBLAS_THREAD_TIMEOUT",)  # app/__init__.py sets it when this process imports app
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


def served_from(rev: str, into: str) -> tuple[subprocess.Popen, str]:
    """A server of git revision ``rev`` (its tree unpacked into ``into``), started like :func:`start_server` but
    without the environment this process's ``import app`` set (OPENBLAS_THREAD_TIMEOUT): the revision sets its own."""
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", into], input=archive, check=True)
    return start_server(Path(into), {k: v for k, v in os.environ.items() if k not in ENV_SET_BY_APP})


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system, every thread) process ``pid`` has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_pair(rev: str, rounds: int) -> None:
    """The training stream read to its end (LeNet-like, 3,000 steps, as fast as it goes) from a server of revision
    ``rev`` and from the tree's, interleaved (ABBA) in one run: steps/s and the server's CPU seconds per step
    (every thread: spinning BLAS threads count); the engine's fast path timed once a round beside them."""
    with tempfile.TemporaryDirectory(prefix="streams-ref-") as into:
        servers = {"reference " + rev: served_from(rev, into), "this tree": start_server()}
        try:
            rows: dict[str, list[tuple[float, float]]] = {name: [] for name in servers}
            names = list(servers)
            spec, engine = network_presets.lenet(0).spec(), []
            for i in range(rounds):
                engine.append(600 / best_of(lambda: nl.run_steps(spec, nl.start(spec), 600, report=False), 1))
                for name in names if i % 2 == 0 else names[::-1]:
                    proc, base = servers[name]
                    url = base + lenet_link(base).replace("/network?", "/network/train/stream?") + "&from=0&speed=0"
                    c0 = cpu_seconds(proc.pid)
                    done, wall = read_steps(url, None, timeout=120)
                    rows[name].append((done / wall, 1000 * (cpu_seconds(proc.pid) - c0) / max(1, done)))
            print(f"load average (1, 5, 15 min): {os.getloadavg()}", flush=True)
            for name in names:
                rates = [r for r, _ in rows[name]]
                best = statistics.median(rates)
                line(f"network stream [{name}]: steps/s (median of {rounds})", f"{best:.0f} steps/s",
                     ">= 500 steps/s", best >= 500)
                line("  server CPU per step (every thread)", f"{statistics.median(c for _, c in rows[name]):.2f} ms")
                print(f"  rounds: {', '.join(f'{r:.0f}' for r in rates)} steps/s", flush=True)
            line("reference: the engine alone, this process (fast path, no reports)",
                 f"{statistics.median(engine):.0f} steps/s")
            print(f"  rounds: {', '.join(f'{r:.0f}' for r in engine)} steps/s", flush=True)
        finally:
            for proc, _ in servers.values():
                proc.terminate()
                proc.wait(timeout=10)


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


# ---------------------------------------------------------------- the client, paired with a reference

CLIENT_SCRIPTS = ("js/labs/network.js", "js/live-chart.js", "js/labs/optim.js", "js/labs/optim-overlay.js")


def reference_scripts(rev: str) -> dict[str, str]:
    """The stream clients' scripts as git revision ``rev`` has them ("" for one it does not have)."""
    out = {}
    for path in CLIENT_SCRIPTS:
        shown = subprocess.run(["git", "show", f"{rev}:static/{path}"], cwd=ROOT, capture_output=True, text=True)
        out[path] = shown.stdout if shown.returncode == 0 else ""
    return out


def serve(text: str):
    """A Playwright route handler answering with ``text`` as a script."""
    def handler(route, _request) -> None:
        route.fulfill(status=200, body=text, headers={"content-type": "text/javascript", "cache-control": "no-store"})
    return handler


def client_page(browser: Browser, scripts: dict[str, str] | None, width: int = 1400, height: int = 1000):
    """A page whose stream scripts are the reference's (``scripts``) or the tree's (None), and a DevTools session
    reading its main thread's busy time (Performance.getMetrics: TaskDuration)."""
    page = browser.new_page(viewport={"width": width, "height": height})
    for path, text in (scripts or {}).items():
        page.route(f"**/static/{path}*", serve(text))
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    return page, cdp


def task_seconds(cdp) -> float:
    return next(m["value"] for m in cdp.send("Performance.getMetrics")["metrics"] if m["name"] == "TaskDuration")


def read_steps(url: str, seconds: float | None, timeout: float = 60) -> tuple[int, float]:
    """A training stream read by a plain HTTP reader (no browser) to its end, or for ``seconds``: the last step
    it sent, and the wall seconds it took."""
    started, done = time.perf_counter(), 0
    with httpx.stream("GET", url, timeout=timeout) as r:
        for text in r.iter_lines():
            if text.startswith('data: {"t0"'):
                t = json.loads(text[6:])["t"]
                done = t[-1] if t else done
            if seconds is not None and time.perf_counter() - started > seconds:
                break
    return done, time.perf_counter() - started


def sse_rate(url: str, seconds: float) -> float:
    """Training steps a second the server streams to a plain HTTP reader (no browser), over ``seconds``."""
    done, wall = read_steps(url, seconds)
    return done / wall


def network_display(browser: Browser, base: str, scripts: dict[str, str] | None, seconds: float = 3.0) -> dict:
    """The LeNet-like preset trained as fast as it goes while Chromium draws it: chart updates drawn a second,
    main-thread ms per update (every task: events, drawing, style, layout, paint) and steps arriving a second."""
    page, cdp = client_page(browser, scripts)
    page.goto(base + lenet_link(base))
    page.wait_for_load_state("networkidle")
    page.select_option("[data-train-speed]", "0")
    page.click("[data-train-action=start]")
    page.wait_for_function("() => Number(document.querySelector('#net-train').dataset.step || 0) > 100", timeout=60000)
    read = lambda: (int(page.get_attribute("#net-train", "data-renders") or 0),  # noqa: E731
                    int(page.get_attribute("#net-train", "data-step") or 0), task_seconds(cdp), time.perf_counter())
    r0, s0, c0, t0 = read()
    page.wait_for_timeout(seconds * 1000)
    r1, s1, c1, t1 = read()
    if page.is_enabled("[data-train-action=pause]"):
        page.click("[data-train-action=pause]")
    page.close()
    dt = t1 - t0
    return {"updates": (r1 - r0) / dt, "ms": 1000 * (c1 - c0) / max(1, r1 - r0), "steps": (s1 - s0) / dt,
            "busy": (c1 - c0) / dt}


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


def optim_stream(browser: Browser, base: str, speed: int, scripts: dict[str, str] | None) -> dict:
    """The surface paths played at ``speed`` steps/s for 4 s: steps received and frames drawn a second, main-thread
    ms per frame, how far the drawing is behind what arrived, duplicates and gaps."""
    page, cdp = client_page(browser, scripts, 1400, 900)
    page.goto(base + OPTIM_STREAM.format(speed=speed))
    page.wait_for_load_state("networkidle")
    page.locator("#surface-view").scroll_into_view_if_needed()
    page.wait_for_function("() => { const gd = document.querySelector('#surface-fig .plot');"
                           " return gd && gd._fullLayout; }", timeout=20000)
    c0 = task_seconds(cdp)
    page.click("[data-surface-play]")
    lags = []
    for _ in range(16):  # 4 s: sample how far the drawing is behind what was received
        page.wait_for_timeout(250)
        s = page.evaluate("() => { const p = OptimLab.player(); return [p.lastT, p.have]; }")
        lags.append(s[0] - s[1])
    stats = page.evaluate("() => OptimLab.stats()")
    c1 = task_seconds(cdp)
    if stats["mode"] == "playing":  # (a quiet machine plays all N steps within the 4 s)
        page.click("[data-surface-play]")
    page.close()
    return {**stats, "ms": 1000 * (c1 - c0) / max(1, stats["frames"]), "lag_max": max(lags),
            "lag_median": statistics.median(lags)}


def paired(browser: Browser, base: str, reference: dict[str, str] | None, rounds: int) -> None:
    """Each case with the reference's scripts and the tree's, interleaved (ABBA) in one run, the load printed."""
    sides = [("reference", reference), ("this tree", None)] if reference is not None else [("this tree", None)]
    url = base + lenet_link(base).replace("/network?", "/network/train/stream?") + "&from=0&speed=0"
    results: dict[tuple[str, str], list[dict]] = {}
    for i in range(rounds):
        order = sides if i % 2 == 0 else sides[::-1]
        for name, scripts in order:
            results.setdefault(("server", name), []).append({"steps": sse_rate(url, 2.0)})  # no browser: the floor
            results.setdefault(("network", name), []).append(network_display(browser, base, scripts))
            for speed in (60, 240):
                results.setdefault((f"optim {speed}", name), []).append(optim_stream(browser, base, speed, scripts))
    med = lambda rows, key: statistics.median(r[key] for r in rows)  # noqa: E731
    print(f"load average (1, 5, 15 min): {os.getloadavg()}", flush=True)
    for name, _ in sides:
        rows = results[("network", name)]
        updates = med(rows, "updates")
        line(f"network [{name}]: chart updates drawn while training", f"{updates:.1f} /s", ">= 20 /s", updates >= 20)
        line("  main-thread ms per update (every task)", f"{med(rows, 'ms'):.1f} ms")
        line("  main thread busy", f"{100 * med(rows, 'busy'):.0f} %")
        steps = med(rows, "steps")
        line("  steps arriving in Chromium", f"{steps:.0f} steps/s", ">= 500 steps/s", steps >= 500)
        floor = med(results[("server", name)], "steps")
        line("  reference: the same stream read without a browser", f"{floor:.0f} steps/s")
        for speed in (60, 240):
            rows = results[(f"optim {speed}", name)]
            fps = med(rows, "framesPerSecond")
            line(f"optim [{name}]: paths played at {speed}/s, frames drawn", f"{fps:.1f} /s", ">= 20 /s", fps >= 20)
            line("  steps received", f"{med(rows, 'stepsPerSecond'):.1f} steps/s")
            line("  main-thread ms per frame (every task)", f"{med(rows, 'ms'):.1f} ms")
            line("  drawing behind what arrived (max, median)", f"{max(r['lag_max'] for r in rows)}, "
                 f"{med(rows, 'lag_median')} steps")
            dup, gaps = sum(r["duplicates"] for r in rows), sum(r["gaps"] for r in rows)
            line("  duplicates, gaps", f"{dup}, {gaps}", "0, 0", dup == 0 and gaps == 0)
    for name, _ in sides:
        net = ", ".join(f"{r['updates']:.1f}" for r in results[("network", name)])
        opt = ", ".join(f"{r['framesPerSecond']:.1f}" for r in results[("optim 240", name)])
        print(f"rounds [{name}]: network updates/s {net}; optim at 240/s frames/s {opt}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.streams", description=__doc__.split("\n\n")[0])
    parser.add_argument("--edits", type=int, default=200, help="optimizer edits per preset (default 200)")
    parser.add_argument("--no-browser", action="store_true", help="server and engine only")
    parser.add_argument("--reference", metavar="REV", help="also time the stream clients' scripts of git revision "
                        "REV (served in place of the tree's), interleaved with the tree's in the same run")
    parser.add_argument("--rounds", type=int, default=3, help="browser rounds per side (default 3)")
    parser.add_argument("--browser-only", action="store_true", help="only the browser cases")
    parser.add_argument("--server-reference", metavar="REV", help="only the training stream without a browser: a "
                        "server of git revision REV and the tree's, interleaved in one run (--rounds each)")
    args = parser.parse_args(argv)
    if args.server_reference:
        print(f"load average (1, 5, 15 min): {os.getloadavg()}", flush=True)
        server_pair(args.server_reference, args.rounds)
        return 0
    proc, base = start_server()
    try:
        print(f"load average (1, 5, 15 min): {os.getloadavg()}", flush=True)
        if not args.browser_only:
            network_steps(base)
            network_trace()
            optim_edits(base, args.edits)
        if not args.no_browser:
            reference = reference_scripts(args.reference) if args.reference else None
            with sync_playwright() as p:
                browser = launch_chromium(p)
                paired(browser, base, reference, args.rounds)
                browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
