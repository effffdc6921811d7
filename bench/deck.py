"""``python -m bench.deck [--n N]``: decks, measured in one run against a real uvicorn process.

- server: ``GET /deck`` of the sample lecture (8 slides, each opened by its lab's own link reader), of a
  deck of 20 slides (the cap), and ``POST /deck/link`` of those 20 — p50/p95 of the round trip next to
  ``GET /healthz`` timed in the same run, interleaved (the HTTP floor on this machine);
- browser: in real Chromium at 1280×720, the sample lecture walked to its end: each PageDown step
  (``Deck.step(1)``, what the key calls) timed in the page to ``Deck.settled()`` (every queued step done and
  the slide's frame loaded), split into steps inside a slide (the frame's ``Lens.advance``) and slide changes
  (the next slide, preloaded in the spare frame while the last one was shown), ``--pause-ms`` between presses.

The load average is printed before and after: the machine is shared, read the percentiles next to it.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

from app.main import LABS
from app.web.pages.deck_link import Deck, Slide, sample_deck
from bench.web import launch_chromium

ROOT = Path(__file__).resolve().parents[1]
SPECS = {lab.LAB.slug: lab.LAB for lab in LABS}
WHERE = """() => {
    let s = null;
    try { const l = document.querySelector('[data-deck-frame]').contentWindow.Lens; s = l.stepperInView(); }
    catch (e) { s = null; }
    return [Deck.at(), s ? s.key + ':' + s.position : null];
}"""
# what PageDown does (static/js/deck.js: the frame's Lens.advance, else the next slide), timed in the page: from the
# call to every queued step done and the slide's frame loaded
STEP = ("async () => { const t = performance.now(); await Deck.step(1); await Deck.settled(); "
        "return performance.now() - t; }")


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms   (n={len(ordered)})"


def twenty() -> Deck:
    """The cap: the sample's slides again and again, each a different state (the window's step)."""
    slides = []
    for k in range(20):
        slide = sample_deck(SPECS).slides[k % 8]
        slides.append(Slide(slide.link, f"{slide.title} ({k + 1})", slide.note))
    return Deck(tuple(slides))


def serve() -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--port", str(port),
                             "--log-level", "warning"], cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz").status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the app did not start")


def server(base: str, n: int) -> None:
    sample, full = sample_deck(SPECS), twenty()
    body = {"slides": [{"link": s.link, "title": s.title, "note": s.note} for s in full.slides]}
    jobs = {
        "GET /healthz (reference)": lambda c: c.get("/healthz"),
        "GET /deck, sample (8 slides)": lambda c: c.get(sample.link()),
        "GET /deck, 20 slides": lambda c: c.get(full.link()),
        "POST /deck/link, 20 slides": lambda c: c.post("/deck/link", json=body),
    }
    times: dict[str, list[float]] = {name: [] for name in jobs}
    with httpx.Client(base_url=base) as client:
        for job in jobs.values():  # warm: templates, the labs' first reads
            assert job(client).status_code == 200
        for _ in range(n):
            for name, job in jobs.items():  # interleaved: each round sees the same machine
                start = time.perf_counter()
                response = job(client)
                times[name].append(time.perf_counter() - start)
                assert response.status_code == 200, (name, response.status_code)
    print(f"link of the sample deck: {len(sample.to_query())} characters; of 20 slides: {len(full.to_query())}")
    for name, values in times.items():
        print(f"{name:32s} {percentiles(values)}")


def browser(base: str, rounds: int, pause_ms: int) -> None:
    steps: list[float] = []
    changes: list[float] = []
    with sync_playwright() as p:
        chromium = launch_chromium(p)
        page = chromium.new_page(viewport={"width": 1280, "height": 720})
        for _ in range(rounds):
            page.goto(base + sample_deck(SPECS).link())
            page.wait_for_function("() => window.Deck !== undefined")
            page.evaluate("() => Deck.settled()")
            for _ in range(60):
                before = page.evaluate(WHERE)
                page.wait_for_timeout(pause_ms)  # a lecturer talks between presses: the next slide preloads
                elapsed = page.evaluate(STEP) / 1000
                after = page.evaluate(WHERE)
                if after == before:
                    break  # the last stage of the last slide
                (changes if after[0] != before[0] else steps).append(elapsed)
        chromium.close()
    print(f"{'PageDown: a step inside a slide':32s} {percentiles(steps)}")
    print(f"{'PageDown: the next slide':32s} {percentiles(changes)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=30, help="requests of each kind")
    parser.add_argument("--rounds", type=int, default=2, help="walks through the sample lecture in Chromium")
    parser.add_argument("--pause-ms", type=int, default=1000, help="between presses (the lecturer talks)")
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    print("load average before:", os.getloadavg())
    proc, base = serve()
    try:
        server(base, args.n)
        if not args.no_browser:
            browser(base, args.rounds, args.pause_ms)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print("load average after:", os.getloadavg())


if __name__ == "__main__":
    main()
