"""``python -m bench.web [--edits N] [--lab conv]``: the web side's speed, measured in one run.

- server: the edit request of a lab (POST its results fragment, one cell changed each time)
  against a real uvicorn process, p50/p95, next to ``GET /healthz`` timed in the same run
  (the HTTP floor on this machine);
- browser: in real Chromium, keystroke → heatmap updated on screen (keydown to the first
  animation frame after htmx swapped the results), p50/p95 over N real keystrokes;
- first load: bytes transferred to open the lab in a fresh browser (gzip on).

Targets (issue 3): server p95 < 15 ms, keystroke → plot p95 < 50 ms, first load < 2 MB.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Playwright, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
LAB = "/conv/preset/random?seed=3"  # 1×2×5×5 input, 2 filters 3×3, pad 1: a lecture-size example


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def start_server() -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "1073741824", "MALLOC_TRIM_THRESHOLD_": "2147483648"}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--port", str(port),
                             "--log-level", "warning"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1)
            return proc, base
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the app did not start")


class _FormFields(HTMLParser):
    """The fields of one <form id=...> as a browser posts them: inputs (radios and checkboxes when
    checked), each select's selected option (else its first), textareas."""

    def __init__(self, form_id: str):
        super().__init__()
        self.form_id, self.depth, self.fields = form_id, 0, {}
        self.select: str | None = None
        self.first_option: str | None = None
        self.selected = False
        self.textarea: str | None = None

    def add(self, name: str, value: str) -> None:
        self.fields.setdefault(name, []).append(value)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            if self.depth or a.get("id") == self.form_id:
                self.depth += 1
            return
        if not self.depth or "disabled" in a:
            return
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "reset", "file"):
            if a.get("type") not in ("radio", "checkbox") or "checked" in a:
                self.add(name, a.get("value", "on" if a.get("type") in ("radio", "checkbox") else ""))
        elif tag == "select" and name:
            self.select, self.first_option, self.selected = name, None, False
        elif tag == "option" and self.select:
            value = a.get("value", "")
            if self.first_option is None:
                self.first_option = value
            if "selected" in a and not self.selected:
                self.add(self.select, value)
                self.selected = True
        elif tag == "textarea" and name:
            self.textarea = name
            self.add(name, "")

    def handle_data(self, data):
        if self.textarea:
            self.fields[self.textarea][-1] += data

    def handle_endtag(self, tag):
        if tag == "form" and self.depth:
            self.depth -= 1
        elif tag == "select" and self.select:
            if not self.selected and self.first_option is not None:
                self.add(self.select, self.first_option)
            self.select = None
        elif tag == "textarea":
            self.textarea = None


def form_fields(page: str, form_id: str) -> dict[str, list[str]]:
    """The fields of ``<form id=form_id>`` in ``page`` as a browser would post them."""
    parser = _FormFields(form_id)
    parser.feed(page)
    return parser.fields


def launch_chromium(p: Playwright) -> Browser:
    """$BACKPROP_LENS_CHROMIUM, else Debian's /usr/bin/chromium, else Playwright's own."""
    chromium = os.environ.get("BACKPROP_LENS_CHROMIUM", "/usr/bin/chromium")
    launch: dict = {"args": ["--disable-gpu", "--disable-dev-shm-usage"]}
    if Path(chromium).exists():
        launch["executable_path"] = chromium
    return p.chromium.launch(**launch)


def server_bench(base: str, edits: int) -> dict[str, float]:
    with httpx.Client(timeout=10) as client:
        form = form_fields(client.get(base + LAB, follow_redirects=True).text, "conv-form")
        edit_times, floor_times = [], []
        for i in range(edits + 10):
            form["x"][i % len(form["x"])] = str(round(0.1 * (i % 17) - 0.8, 1))
            t0 = time.perf_counter()
            r = client.post(base + "/conv/results", data=form, headers={"HX-Request": "true"})
            t1 = time.perf_counter()
            client.get(base + "/healthz")
            t2 = time.perf_counter()
            assert r.status_code == 200, r.text[:300]
            if i >= 10:  # warm-up
                edit_times.append((t1 - t0) * 1000)
                floor_times.append((t2 - t1) * 1000)
    return {"p50": statistics.median(edit_times), "p95": percentile(edit_times, 95),
            "floor_p50": statistics.median(floor_times), "floor_p95": percentile(floor_times, 95)}


KEY_TIMER = """() => {
  window.__lat = [];
  document.addEventListener('keydown', () => { window.__t0 = performance.now(); }, true);
  document.addEventListener('htmx:afterSwap', (e) => {
    if (!document.getElementById('results') || !e.detail.elt || e.detail.elt.id !== 'results') return;
    requestAnimationFrame(() => { window.__lat.push(performance.now() - window.__t0); });
  });
}"""


def browser_bench(base: str, edits: int) -> dict[str, float]:
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page()
        page.goto(base + LAB)
        page.wait_for_load_state("networkidle")
        first_load = page.evaluate(
            "() => performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))"
            ".reduce((s, e) => s + (e.transferSize || 0), 0)")
        page.evaluate(KEY_TIMER)
        page.click("#x-0-0-0-0")
        page.keyboard.press("Control+A")
        page.keyboard.type("12")
        page.wait_for_function("() => window.__lat.length >= 1")
        page.evaluate("() => { window.__lat = []; }")
        for i in range(edits):
            page.keyboard.press("Backspace" if i % 2 == 0 else "2")  # 12 → 1 → 12 → …: every value valid
            page.wait_for_function(f"() => window.__lat.length >= {i + 1}", timeout=5000)
        latencies = page.evaluate("() => window.__lat")
        browser.close()
    return {"p50": statistics.median(latencies), "p95": percentile(latencies, 95), "first_load_kb": first_load / 1024}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.web", description=__doc__.split("\n\n")[0])
    parser.add_argument("--edits", type=int, default=100, help="edits per measurement (default 100)")
    parser.add_argument("--no-browser", action="store_true", help="server only")
    args = parser.parse_args(argv)
    proc, base = start_server()
    try:
        server = server_bench(base, args.edits)
        print(f"{'case':44} {'p50':>9} {'p95':>9}  target      status")
        ok = server["p95"] < 15
        print(f"{'server: conv edit (POST /conv/results)':44} {server['p50']:7.2f}ms {server['p95']:7.2f}ms"
              f"  p95 < 15 ms {'PASS' if ok else 'MISS'}", flush=True)
        print(f"{'  reference: GET /healthz, same run':44} {server['floor_p50']:7.2f}ms {server['floor_p95']:7.2f}ms"
              f"  ratio p50 {server['p50'] / server['floor_p50']:.1f}x", flush=True)
        if not args.no_browser:
            web = browser_bench(base, args.edits)
            ok = web["p95"] < 50
            print(f"{'browser: keystroke -> heatmap on screen':44} {web['p50']:7.2f}ms {web['p95']:7.2f}ms"
                  f"  p95 < 50 ms {'PASS' if ok else 'MISS'}", flush=True)
            ok = web["first_load_kb"] < 2048
            print(f"{'browser: first load of /conv (transferred)':44} {web['first_load_kb']:7.0f}KB {'':>9}"
                  f"  < 2 MB      {'PASS' if ok else 'MISS'}", flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
