"""The floor of a keystroke on this machine: what any server-rendered htmx page pays, timed like a lab's edit.

``floor_latencies(browser, base, edits)`` opens a page with nothing on it but the app's htmx (its own copy, with
the labs' settle delay, 0, and history, off) and one text box. Each keystroke in the box sends
``GET /healthz`` to the same server (~2 ms of work) and swaps its answer, a line of text, into a ``<div>``. It is
timed as ``bench.web`` times a lab's edit: keydown → the swap → requestAnimationFrame → a task after that frame.
The same digits are typed, N keystrokes, in the same Chromium, in the same run.

So a lab's keystroke → drawn, over this, is what the lab itself costs: its server's work, its bigger answer,
the patch, the formulas and figures, and the frame that paints them. The page is served by Playwright
(``page.route``) at an address of the app's origin that the app does not have, so the app is unchanged.
"""

from __future__ import annotations

from playwright.sync_api import Browser

from app.web.render.templating import VENDOR
from bench.keys import press_digit

PATH = "/bench-floor"
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>keystroke floor</title>
<meta name="htmx-config" content='{{"defaultSettleDelay": 0, "historyEnabled": false, "historyCacheSize": 0}}'>
<script src="{htmx}"></script></head>
<body><input id="cell" name="q" autocomplete="off" hx-get="/healthz" hx-trigger="input" hx-target="#out">
<div id="out"></div></body></html>"""
TIMER = """() => {
  window.__lat = []; window.__t0 = null;
  document.addEventListener('keydown', () => { window.__t0 = performance.now(); }, true);
  document.addEventListener('htmx:afterSwap', (e) => {
    if (e.detail.target.id !== 'out' || window.__t0 === null) return;
    const t0 = window.__t0; window.__t0 = null;
    requestAnimationFrame(() => setTimeout(() => window.__lat.push(performance.now() - t0), 0));
  });
}"""


def floor_latencies(browser: Browser, base: str, edits: int) -> list[float]:
    """ms from keydown to the frame after a /healthz answer is swapped in, ``edits`` keystrokes."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.route(base + PATH, lambda route: route.fulfill(
        status=200, content_type="text/html; charset=utf-8", body=PAGE.format(htmx=VENDOR["htmx"])))
    page.goto(base + PATH)
    page.wait_for_load_state("networkidle")
    page.evaluate(TIMER)
    cell = page.locator("#cell")
    cell.click()
    for counted, keys in ((False, 3), (True, edits)):  # three to warm up, then the ones timed
        page.evaluate("() => { window.__lat = []; }")
        for i in range(keys):
            press_digit(page, cell, i, tag=str(int(counted)))  # as bench.web types a cell
            page.wait_for_function(f"() => window.__lat.length >= {i + 1}", timeout=10000)
    latencies = page.evaluate("() => window.__lat")
    page.close()
    return latencies
