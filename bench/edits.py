"""``python -m bench.edits [--edits N] [--lab LAB ...] [--preset KEY ...]``: the server's time for an edit, every
preset of every lab, in process (issue 12, target 2: edit request p95 ≤ 15 ms of server time).

For each preset (seed 3, as ``bench.web``) the page's own form is posted N times to ``/<lab>/results`` the way a
keystroke posts it, one value changed each time (a cell — ``x``, ``logits``, ``g``, ``gc`` — or, on an image
plane, one pixel of ``x_plane``), so no answer comes from the page cache; a preset without a typed cell (the
network's digits) steps its traced operation on (``/network/step``) instead. Through Starlette's TestClient, in
this process, reported per case:

- ``server``: p50/p95 of ``Server-Timing: app;dur`` (the app's own wall time for the request);
- ``cpu``: p50/p95 of this process's CPU time over the request (``time.process_time``: the server's work plus
  the in-process client's, a little more than the server's alone). On the shared 2-core machine the wall time
  grows with the load average while the CPU time barely moves: read ``cpu`` as the work an edit costs and
  ``server`` as what it cost at this load;
- ``GET /healthz`` after every edit, its round trip through the in-process client (it has no Server-Timing): the
  floor of a request through the app at this load.

``--ab`` times each edit twice, paired (in alternating order): as the app writes it, and with every table written
at once (``app.web.render.heatmap.DEFER`` off: how views wrote their tables before ``batched``), and reports both.

Unlike ``python -m bench.web --no-browser`` (a real uvicorn process, round trips included) it needs no port and
measures the image-plane presets (MNIST, CIFAR) too.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import statistics
import time

from bench.pageforms import LABS, as_data, parse, replaced

TARGET_MS = 15.0
# what a benchmark's request for a network step says: built anew, not answered from the page cache, which keeps the
# operations a stepper revisits (app.web.kit.cache). Here, not in bench.keys: bench.edits_reference runs this file
# against an older tree's bench package.
FRESH = {"Cache-Control": "no-cache"}


def asked(url: str) -> dict[str, str]:
    """The headers of an edit's request to ``url`` as a benchmark sends it: htmx's, and FRESH for a network step."""
    return {"HX-Request": "true", **(FRESH if url.endswith("/step") else {})}


CELLS = ("x", "logits", "g", "gc")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def server_ms(response) -> float:
    match = re.search(r"app;dur=([0-9.]+)", response.headers.get("server-timing", ""))
    return float(match.group(1)) if match else float("nan")


def edit_of(lab: str, fields: list[tuple[str, str]]):
    """A function i -> (url, fields) making the i-th edit of this form, or None when it has nothing to edit."""
    names = [k for k, _ in fields]
    cell = next((n for n in CELLS if n in names), None)
    if cell is not None:
        return lambda i: (f"/{lab}/results", replaced(fields, cell, f"{0.0137 * i - 0.8:.4f}"))
    if "x_plane" in names:
        at = names.index("x_plane")
        tokens = fields[at][1].split(" ")

        def pixel(i: int):
            tokens[(37 * i) % len(tokens)] = f"{0.0137 * i - 0.4:.4f}"
            return f"/{lab}/results", [*fields[:at], ("x_plane", " ".join(tokens)), *fields[at + 1:]]
        return pixel
    if lab == "network":
        return lambda i: ("/network/step", [*fields, ("op_delta", "1")])
    return None


def measure(client, lab: str, link: str, edits: int, warmup: int = 5, ab: bool = False, start: int = 0) -> dict:
    fields = parse(lab, client.get(link).text).fields
    make = edit_of(lab, fields)
    if make is None:
        return {"error": "no cell to edit"}
    if ab:
        return {**paired(client, make, edits, warmup), "url": make(0)[0]}
    server, cpu, floor = [], [], []
    for i in range(start, start + edits + warmup):
        url, data = make(i)
        c0 = time.process_time()
        r = client.post(url, data=as_data(data), headers=asked(url))
        c1 = time.process_time()
        t0 = time.perf_counter()
        h = client.get("/healthz")
        floor_ms = (time.perf_counter() - t0) * 1000
        if r.status_code != 200:
            text = " ".join(re.sub(r"<[^>]+>", " ", r.text).split())
            return {"error": f"{url} answered {r.status_code}: {text[:120]}"}
        if i >= start + warmup:
            server.append(server_ms(r))
            cpu.append((c1 - c0) * 1000)
            floor.append(server_ms(h) if "app;dur" in h.headers.get("server-timing", "") else floor_ms)
    return {"server": server, "cpu": cpu, "floor": floor, "bytes": len(r.content), "url": url}


def paired(client, make, edits: int, warmup: int) -> dict:
    """CPU ms of each edit as written now ("cpu") and with every table written at once ("eager"), paired."""
    from app.web.render import heatmap

    out: dict[str, list[float]] = {"cpu": [], "eager": [], "server": [], "server_eager": []}
    r = None
    try:
        for i in range(edits + warmup):
            for defer in ((True, False) if i % 2 else (False, True)):
                heatmap.DEFER = defer
                url, data = make(2 * i + defer)  # a value not posted before: no answer from the page cache
                c0 = time.process_time()
                r = client.post(url, data=as_data(data), headers=asked(url))
                c1 = time.process_time()
                if r.status_code != 200:
                    return {"error": f"{url} answered {r.status_code}"}
                if i >= warmup:
                    out["cpu" if defer else "eager"].append((c1 - c0) * 1000)
                    out["server" if defer else "server_eager"].append(server_ms(r))
    finally:
        heatmap.DEFER = True
    return {**out, "floor": [], "bytes": len(r.content)}


def line(values: list[float]) -> str:
    return f"{statistics.median(values):6.1f} {percentile(values, 95):6.1f}"


def floor_line(m: dict) -> str:
    """The healthz floor, or under --ab the paired eager CPU (what the same edits cost writing each table at once)."""
    return line(m["floor"]) if m["floor"] else "eager " + line(m["eager"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.edits", description=__doc__.split("\n\n")[0])
    parser.add_argument("--edits", type=int, default=30, help="edits per preset (default 30)")
    parser.add_argument("--lab", nargs="+", choices=LABS, default=list(LABS))
    parser.add_argument("--preset", nargs="+", help="only these presets")
    parser.add_argument("--ab", action="store_true", help="each edit also with every table written at once, paired")
    args = parser.parse_args(argv)
    from fastapi.testclient import TestClient

    from app.main import create_app

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"edits: {args.edits} per preset posted in process (TestClient); load average {load} ({os.cpu_count()} CPUs)")
    print(f"{'case':34} {'server p50 p95':>15} {'cpu p50 p95':>15} {'healthz p50 p95':>16} {'fragment':>9}")
    per_lab: dict[str, dict[str, list[float]]] = {}
    with TestClient(create_app()) as client:
        for lab in args.lab:
            for key in importlib.import_module(f"app.web.labs.{lab}.presets").PRESETS:
                if args.preset and key not in args.preset:
                    continue
                link = client.get(f"/{lab}/preset/{key}?seed=3", follow_redirects=False).headers["location"]
                m = measure(client, lab, link, args.edits, ab=args.ab)
                name = f"{lab} {key}"
                if "error" in m:
                    print(f"{name:34} not measured: {m['error']}", flush=True)
                    continue
                mine = per_lab.setdefault(lab, {k: [] for k in ("server", "cpu", "floor", "eager", "server_eager")})
                for k in mine:
                    mine[k] += m.get(k, [])
                step = " (step)" if m["url"].endswith("/step") else ""
                print(f"{name + step:34} {line(m['server']):>15} {line(m['cpu']):>15} {floor_line(m):>16}"
                      f" {m['bytes'] / 1024:6.1f}KiB", flush=True)
    print(f"\n{'lab (every preset)':34} {'server p50 p95':>15} {'cpu p50 p95':>15} {'healthz p50 p95':>16}  "
          f"target: server p95 <= {TARGET_MS:g} ms")
    for lab, m in per_lab.items():
        verdict = "PASS" if percentile(m["server"], 95) <= TARGET_MS else "MISS"
        print(f"{lab:34} {line(m['server']):>15} {line(m['cpu']):>15} {floor_line(m):>16}  {verdict}")
        if m["eager"]:
            print(f"{'  every table at once (--ab)':34} {line(m['server_eager']):>15} {line(m['eager']):>15}"
                  f"  cpu p50 now {statistics.median(m['cpu']) / statistics.median(m['eager']):.2f}x of it")
    print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
