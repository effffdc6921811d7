"""Draw static/favicon.png from static/favicon.svg: 64×64, in Chromium, transparent outside the rounded square.

    .venv/bin/python scripts/favicon.py

The page's icon link is the PNG (templates/base.html), not the SVG: Chromium builds a new SVG document for an SVG
icon on every ``history.replaceState`` (each edit's link, static/js/address.js), ~7 ms of the page's main thread
an edit on this machine, where a PNG icon costs nothing. tests/browser/test_favicon.py checks that the PNG is
the SVG drawn at this size, so a changed SVG needs this script run again.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.web import launch_chromium  # noqa: E402

SIZE = 64
PAGE = ("<style>html, body {{ margin: 0; background: transparent; }} svg {{ display: block; width: {size}px; "
        "height: {size}px; }}</style>{svg}")


def main() -> int:
    svg = (ROOT / "static" / "favicon.svg").read_text()
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page(viewport={"width": SIZE, "height": SIZE})
        page.set_content(PAGE.format(size=SIZE, svg=svg))
        page.screenshot(path=str(ROOT / "static" / "favicon.png"), omit_background=True)
        browser.close()
    print(f"wrote static/favicon.png ({SIZE}×{SIZE}) from static/favicon.svg")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
