"""``python -m bench.web [--edits N] [--lab LAB ...] [--preset KEY ...] [--no-browser]``: an edit, measured in one run.

Every lab at every preset's size (issue 12, targets 1 and 2), against a real uvicorn process:

- server: the edit request (POST /<lab>/results with one cell changed; on the network lab's digits
  presets, whose data is not typed, POST /network/step one operation on), p50/p95 of the server's own
  time (its ``Server-Timing: app;dur=`` header, app/timing.py) and of the round trip, the fragment's
  bytes (as sent, gzip, and decoded) and how many ``<input>``s it holds (the inputs are never re-sent),
  next to ``GET /healthz`` timed in the same run (the HTTP floor on this machine). Each edit says what the
  page holds (``Lens-Have``: the tables of the last answer, app.web.kit.changed) as the browser does; every
  other edit does not, and its server time and bytes are beside them (paired, in turn in one run);
- browser: in real Chromium, a keystroke in a cell (→ on the network's step view) to the first
  animation frame after the swapped content's formulas and figures are drawn: keydown → Lens's
  ``lens:drawn`` for the swapped element (static/js/lens.js) → requestAnimationFrame → a task after
  that frame (so the frame that shows it has been produced). p50/p95 over N keystrokes, and the
  requests the keystrokes sent (one each: the gradient check waits until typing pauses);
- the floor, in the same browser before and after the labs (``bench.floor``): a keystroke in an empty htmx page
  that swaps in ``GET /healthz``, timed the same way; each lab's p50 and p95 are also given over it;
- first load: bytes transferred to open each lab's default page in a fresh browser (gzip on).

The load average (``os.getloadavg``) is printed before and after: the machine has 2 cores shared with
other work, so read percentiles next to it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Playwright, sync_playwright

from bench.edits import asked
from bench.floor import floor_latencies
from bench.forms import form_fields
from bench.keys import FRESH_PAGE, press_digit, press_step, select_pixel
from bench.pageforms import LABS, parse, replaced

ROOT = Path(__file__).resolve().parents[1]
CELL_NAMES = ("x", "logits", "g", "gc")  # the cell an edit changes, the first of these a lab's form has
__all__ = ["form_fields", "launch_chromium", "percentile", "start_server"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def start_server(root: Path = ROOT, environ: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """A uvicorn server of the app in ``root`` (the tree; bench.streams --server-reference: an unpacked revision),
    with ``environ`` (default: this process's environment)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**(os.environ if environ is None else environ),
           "MALLOC_MMAP_THRESHOLD_": "1073741824", "MALLOC_TRIM_THRESHOLD_": "2147483648"}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--port", str(port),
                             "--log-level", "warning"], cwd=root, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120  # start-up warms every lab: slow on a loaded machine
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1)
            return proc, base
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the app did not start")


def launch_chromium(p: Playwright) -> Browser:
    """$BACKPROP_LENS_CHROMIUM, else Debian's /usr/bin/chromium, else Playwright's own."""
    chromium = os.environ.get("BACKPROP_LENS_CHROMIUM", "/usr/bin/chromium")
    launch: dict = {"args": ["--disable-gpu", "--disable-dev-shm-usage"]}
    if Path(chromium).exists():
        launch["executable_path"] = chromium
    return p.chromium.launch(**launch)


def server_timing(headers: httpx.Headers) -> float | None:
    match = re.search(r"app;dur=([0-9.]+)", headers.get("server-timing", ""))
    return float(match.group(1)) if match else None


@dataclass
class Case:
    lab: str
    preset: str
    link: str = ""  # the preset's canonical link (seed 3)
    kind: str = "cell"  # "cell": type into a cell; "plane": into the inspector of a plane drawn as an image (a
    #                     large input: the form posts one field per plane); "step": → on the step view; "skip": failed

    @property
    def what(self) -> str:
        """The case's edit as its rows name it: a pixel typed, a step taken or a cell edited."""
        return {"step": "step", "plane": "pixel"}.get(self.kind, "edit")


def cases(base: str, labs: list[str], only: list[str] | None) -> list[Case]:
    found = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for lab in labs:
            for key in importlib.import_module(f"app.web.labs.{lab}.presets").PRESETS:
                if only and key not in only:
                    continue
                r = client.get(f"/{lab}/preset/{key}?seed=3")
                link = r.headers["location"]
                page = parse(lab, client.get(link).text)
                names = [name for name, _ in page.fields]
                kind = ("cell" if any(n in CELL_NAMES for n in names) else
                        "plane" if any(n.endswith("_plane") for n in names) else "step")
                found.append(Case(lab, key, link, kind))
    return found


def summary(values: list[float]) -> str:
    return f"p50 {statistics.median(values):6.1f} p95 {percentile(values, 95):6.1f} ms" if values else "—"


# ---------------------------------------------------------------- server


def server_case(client: httpx.Client, case: Case, edits: int) -> dict:
    page = parse(case.lab, client.get(case.link).text)
    fields = page.fields
    name = next((n for n in CELL_NAMES if any(k == n for k, _ in fields)), None)
    plane = next((k for k, _ in fields if k.endswith("_plane")), None)
    app_ms, wall_ms, floor_ms = [], [], []
    whole_ms: list[float] = []  # the same edits without Lens-Have, interleaved (every other request)
    held: list[str] = []  # what the page holds: every table of the last answer (sent whole or as a stub)
    r = None
    wire = size = whole_wire = whole_size = 0
    for i in range(2 * edits + 10):
        if case.kind == "cell":
            fields = replaced(fields, name, f"{0.0137 * i - 0.8:.4f}")  # a new value each time: no cached answer
            url, data = f"/{case.lab}/results", fields
        elif case.kind == "plane":  # the inspector's edit of one pixel (static/js/plane.js): the form to /<lab>/lab
            fields = replaced(fields, plane, pixel_set(dict(fields)[plane], f"{0.0137 * i - 0.8:.4f}"))
            url, data = f"/{case.lab}/lab", fields
        else:
            url, data = "/network/step", [*fields, ("op_delta", "1")]
        body = [(k, v) for k, v in data]
        cut = i % 2 == 0  # as the page asks (Lens-Have: app.web.kit.changed), or everything, in turn
        headers = {**asked(url), **({"Lens-Have": " ".join(held)} if cut and held else {})}
        t0 = time.perf_counter()
        r = client.post(url, data=dict_of(body), headers=headers)
        t1 = time.perf_counter()
        client.get("/healthz")
        t2 = time.perf_counter()
        if r.status_code != 200:
            return {"error": f"{r.status_code} {re.sub(r'<[^>]+>', ' ', r.text)[:160].split()}"}
        held = re.findall(r'data-h="([0-9a-f]{12})"', r.text)
        if i >= 10 and cut:  # warm-up
            wall_ms.append((t1 - t0) * 1000)
            floor_ms.append((t2 - t1) * 1000)
            app_ms.append(server_timing(r.headers) or float("nan"))
            wire, size = wire + r.num_bytes_downloaded, size + len(r.content)
        elif i >= 10:
            whole_ms.append(server_timing(r.headers) or float("nan"))
            whole_wire, whole_size = whole_wire + r.num_bytes_downloaded, whole_size + len(r.content)
    n = max(1, len(app_ms))
    return {"app": app_ms, "whole_app": whole_ms, "wall": wall_ms, "floor": floor_ms, "wire": wire / n,
            "bytes": size / n, "whole_wire": whole_wire / n, "whole_bytes": whole_size / n,
            "inputs": len(re.findall(r"<input\b(?![^>]*type=\"hidden\")", r.text))}


def pixel_set(plane: str, text: str) -> str:
    """A plane field (one number per pixel, spaces between) with its middle pixel set to ``text``."""
    values = plane.split(" ")
    values[len(values) // 2] = text
    return " ".join(values)


def dict_of(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in pairs:
        out.setdefault(k, []).append(v)
    return out


def server_bench(base: str, found: list[Case], edits: int) -> dict[str, list[float]]:
    print(f"\nserver: one edit per request, {edits} per case (Server-Timing app;dur, then the round trip)", flush=True)
    print(f"{'case':34} {'server time':>26} {'round trip':>26} {'fragment':>18} {'inputs':>6}"
          f"  {'without Lens-Have: server time':>30} {'fragment':>18}")
    per_lab: dict[str, list[float]] = {}
    floor: list[float] = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for case in found:
            m = server_case(client, case, edits)
            if "error" in m:
                print(f"{case.lab + ' ' + case.preset:34} not measured: the edit answered {m['error']}", flush=True)
                case.kind = "skip"
                continue
            per_lab.setdefault(case.lab, []).extend(m["app"])
            floor += m["floor"]
            name = f"{case.lab} {case.preset} ({case.what})"
            print(f"{name:34} {summary(m['app']):>26} {summary(m['wall']):>26}"
                  f" {m['wire'] / 1024:6.1f}/{m['bytes'] / 1024:5.1f} KiB {m['inputs']:6}"
                  f"  {summary(m['whole_app']):>30} {m['whole_wire'] / 1024:6.1f}/{m['whole_bytes'] / 1024:5.1f} KiB",
                  flush=True)
    print(f"{'  reference: GET /healthz, same run':34} {summary(floor):>26}")
    print(f"\n{'lab: server time per edit':34} {'p50':>8} {'p95':>8}  target        status")
    for lab, values in per_lab.items():
        p95 = percentile(values, 95)
        status = "PASS" if p95 <= 15 else "MISS"
        print(f"{lab:34} {statistics.median(values):6.1f}ms {p95:6.1f}ms  p95 <= 15 ms  {status}")
    return per_lab


# ---------------------------------------------------------------- browser

KEY_TIMER = """(target) => {
  window.__lat = []; window.__t0 = null;
  document.addEventListener('keydown', () => { window.__t0 = performance.now(); }, true);
  document.addEventListener('lens:drawn', (e) => {
    const root = e.detail && e.detail.root;
    if (!root || root.id !== target || window.__t0 === null) return;
    const t0 = window.__t0; window.__t0 = null;
    requestAnimationFrame(() => setTimeout(() => window.__lat.push(performance.now() - t0), 0));
  });
}"""
SENT = """(lab) => performance.getEntriesByType('resource').filter(
  (e) => e.initiatorType === 'xmlhttprequest' && new URL(e.name).pathname.startsWith('/' + lab + '/')).length"""


# how an edit was drawn before issue 12: htmx's default settle delay and history snapshots, the results
# swapped whole (outerHTML), for an A/B in the same run (--compare)
BEFORE = """() => {
  document.querySelectorAll('[hx-swap="patch"]').forEach((el) => el.setAttribute('hx-swap', 'outerHTML'));
  htmx.config.defaultSettleDelay = 20; htmx.config.historyCacheSize = 10;
  document.body.removeAttribute('hx-history');
}"""


def browser_case(browser: Browser, base: str, case: Case, edits: int, before: bool = False,
                 setup: str | None = None, alternate: str | None = None, tag: str = "", pace: int = 0) -> dict:
    """One case's keystrokes in a fresh page. ``tag`` ends the typed values' prefix (bench.keys): a second run on
    the same server (--variant, --compare) types values of its own, so none of its answers come from the page
    cache the first run filled. ``pace``: ms waited after each keystroke is drawn before the next (0: at once)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(base + case.link)
    page.wait_for_load_state("networkidle")
    if before:
        page.evaluate(BEFORE)
    if setup:  # a variant of the page's scripts (--variant)
        page.evaluate(f"() => {{ {setup}; }}")
    cell = page.locator("[data-lab] .cells input.cell").first
    if case.kind == "cell":
        target = (cell.evaluate("(el) => el.closest('[hx-target]').getAttribute('hx-target')") or "#results")[1:]
        page.evaluate(KEY_TIMER, target)
        cell.click()
    elif case.kind == "plane":  # a pixel of the input image selected, then typed in the inspector (swaps #lab)
        target = "lab"
        page.evaluate(KEY_TIMER, target)
        cell = select_pixel(page)
    else:
        target = "net-step"
        page.evaluate(KEY_TIMER, target)
        page.evaluate(FRESH_PAGE)
        # → steps the stepper in view (static/js/steps.js): the step view's, in view, with no input focused
        page.locator("#net-step").scroll_into_view_if_needed()
        page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.wait_for_timeout(1200)  # the first load's gradient check is done
    page.evaluate("() => { window.__lat = []; performance.clearResourceTimings(); }")
    page.evaluate("() => performance.setResourceTimingBufferSize(10000)")
    direction = 1  # the step view's (bench.keys.press_step)
    for i in range(edits):
        if alternate:  # every other keystroke with the script's `on` true (--alternate): paired in one page
            page.evaluate(f"(on) => {{ {alternate}; }}", i % 2 == 1)
        if case.kind in ("cell", "plane"):
            press_digit(page, cell, i, tag)
        else:  # → to the last operation, then ← back
            direction = press_step(page, direction)
        page.wait_for_function(f"() => window.__lat.length >= {i + 1}", timeout=10000)
        if pace:
            page.wait_for_timeout(pace)
    latencies = page.evaluate("() => window.__lat")
    sent = page.evaluate(SENT, case.lab)
    page.close()
    return {"lat": latencies, "sent": sent, "errors": errors}


def browser_bench(base: str, found: list[Case], edits: int, compare: bool = False, against: str | None = None,
                  variant: str | None = None, alternate: str | None = None, pace: int = 0) -> None:
    print(f"\nbrowser: keystroke -> swapped content drawn (figures and formulas) -> next frame, {edits} per case"
          + (f", {pace} ms between one drawn and the next keystroke" if pace else ", each key as soon as the last "
             "is drawn"), flush=True)
    print(f"{'case':34} {'keystroke -> drawn':>26} {'requests/keystroke':>20}")
    per_lab: dict[str, list[float]] = {}
    other: dict[str, list[float]] = {}
    with sync_playwright() as p:
        browser = launch_chromium(p)
        floor = floor_latencies(browser, base, edits)  # before the labs and after them: the load drifts
        for k, case in enumerate(found):
            if case.kind == "skip":
                continue
            # --against: each case's pair timed back to back, the other server first on every other case: the first
            # of a pair ran faster (conv random read 1.27x slower with the reference always first, 0.75x in whole
            # runs alternated by hand; with the order alternated, the first of each pair was again the faster)
            ref = browser_case(browser, against, case, edits, pace=pace) if against and k % 2 == 0 else None
            alt = (browser_case(browser, base, case, edits, setup=variant, tag="7", pace=pace)
                   if variant and k % 2 else None)
            m = browser_case(browser, base, case, edits, alternate=alternate, pace=pace)
            if against:
                ref = ref or browser_case(browser, against, case, edits, pace=pace)
                other.setdefault(case.lab, []).extend(ref["lat"])
            if alternate:  # the keystrokes in turn: `on` false, then true
                m["lat"], off = m["lat"][1::2], m["lat"][0::2]
                other.setdefault(case.lab, []).extend(off)
            per_lab.setdefault(case.lab, []).extend(m["lat"])
            print(f"{case.lab + ' ' + case.preset + ' (' + case.what + ')':34} {summary(m['lat']):>26}"
                  f" {m['sent'] / edits:20.2f}" + (f"  page errors: {m['errors'][:2]}" if m["errors"] else ""),
                  flush=True)
            if alternate:
                ratio = statistics.median(off) / statistics.median(m["lat"])
                print(f"{'  every other key, on = false':34} {summary(off):>26}  p50 now {1 / ratio:.2f}x of it",
                      flush=True)
            if against:
                ratio = statistics.median(ref["lat"]) / statistics.median(m["lat"])
                print(f"{'  ' + against:34} {summary(ref['lat']):>26}  p50 now {1 / ratio:.2f}x of it", flush=True)
            if variant:  # the same case with the variant, back to back (before it on every other case)
                alt = alt or browser_case(browser, base, case, edits, setup=variant, tag="7", pace=pace)
                other.setdefault(case.lab, []).extend(alt["lat"])
                ratio = statistics.median(alt["lat"]) / statistics.median(m["lat"])
                print(f"{'  with ' + variant[:32]:34} {summary(alt['lat']):>26}  p50 now {1 / ratio:.2f}x of it",
                      flush=True)
            if compare:
                old = browser_case(browser, base, case, edits, before=True, tag="8", pace=pace)
                ratio = statistics.median(old["lat"]) / statistics.median(m["lat"])
                print(f"{'  before (settle 20 ms, snapshots, outerHTML)':34} {summary(old['lat']):>26}"
                      f"  p50 now {1 / ratio:.2f}x of before", flush=True)
        floor += floor_latencies(browser, base, edits)
        print(f"{'  reference: the floor (bench.floor)':34} {summary(floor):>26}  a keystroke → GET /healthz swapped "
              "into an empty htmx page → next frame, before and after the labs", flush=True)
        print(f"\n{'lab: keystroke -> drawn':34} {'p50':>8} {'p95':>8}  target        status  over the floor p50/p95")
        for lab, values in per_lab.items():
            p95 = percentile(values, 95)
            print(f"{lab:34} {statistics.median(values):6.1f}ms {p95:6.1f}ms  p95 <= 50 ms  "
                  f"{'PASS' if p95 <= 50 else 'MISS'}    {statistics.median(values) / statistics.median(floor):5.2f}x"
                  f" {p95 / percentile(floor, 95):5.2f}x", flush=True)
            if lab in other:
                ref = other[lab]
                name = against or (f"with {variant}"[:29] if variant else "keys with on = false")
                print(f"{'  ' + name:34} {statistics.median(ref):6.1f}ms"
                      f" {percentile(ref, 95):6.1f}ms", flush=True)
        print(f"\n{'first load (fresh browser, transferred)':44} {'bytes':>10}  plotly.js loaded")
        for lab in {c.lab for c in found}:
            context = browser.new_context()
            page = context.new_page()
            page.goto(f"{base}/{lab}")
            page.wait_for_load_state("networkidle")
            sizes = page.evaluate(
                "() => performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))"
                ".map((e) => [e.name, e.transferSize || 0])")
            total = sum(s for _, s in sizes)
            plotly = any("plotly" in name for name, _ in sizes)
            print(f"{'/' + lab:44} {total / 1024:8.0f}KB  {'yes' if plotly else 'no (on demand)'}", flush=True)
            context.close()
        browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.web", description=__doc__.split("\n\n")[0])
    parser.add_argument("--edits", type=int, default=40, help="edits per case (default 40)")
    parser.add_argument("--lab", nargs="+", choices=LABS, default=list(LABS), help="only these labs")
    parser.add_argument("--preset", nargs="+", help="only these presets")
    parser.add_argument("--no-browser", action="store_true", help="server only")
    parser.add_argument("--pace", type=int, default=0, metavar="MS",
                        help="in Chromium, wait MS after each keystroke is drawn before the next, as a person types or "
                        "steps (default 0: at once, so a key meets the work the last one left for the idle page)")
    parser.add_argument("--base", help="measure a server already running there (default: start one)")
    parser.add_argument("--against", help="in Chromium, also each case on the server running there (e.g. an older "
                        "tree: `git archive <rev> | tar -x -C DIR` and uvicorn from DIR), back to back in the same "
                        "run, first on every other case")
    parser.add_argument("--variant", help="in Chromium, also each case with this script run on the page after it "
                        "loads (e.g. 'Lens.figuresFirst = false': figures drawn after the patch), back to back")
    parser.add_argument("--alternate", help="in Chromium, run this script before every keystroke with `on` false, "
                        "then true, in turn (e.g. 'Lens.onlyChanged = on'): the two halves of one page's keys, paired")
    parser.add_argument("--compare", action="store_true",
                        help="in Chromium, also each case as edits were drawn before issue 12 (same run)")
    args = parser.parse_args(argv)
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()), f"({os.cpu_count()} CPUs)", flush=True)
    proc, base = (None, args.base.rstrip("/")) if args.base else start_server()
    try:
        found = cases(base, args.lab, args.preset)
        server_bench(base, found, args.edits)
        if not args.no_browser:
            browser_bench(base, found, args.edits, args.compare, args.against and args.against.rstrip("/"),
                          args.variant, args.alternate, args.pace)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
    print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
