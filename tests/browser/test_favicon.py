"""The page's icon is static/favicon.png, drawn from static/favicon.svg by scripts/favicon.py: the two must agree."""

from __future__ import annotations

import pytest

from app.web.render.templating import static_url

pytestmark = pytest.mark.browser

# both images drawn on 64×64 canvases by this Chromium; what differs beyond the edges' anti-aliasing
COMPARE = """async ([svg, png]) => {
  const load = (src) => new Promise((ok, bad) => { const i = new Image(); i.onload = () => ok(i); i.onerror = bad;
    i.src = src; });
  const pixels = (img) => { const c = document.createElement('canvas'); c.width = c.height = 64;
    const g = c.getContext('2d'); g.drawImage(img, 0, 0, 64, 64); return g.getImageData(0, 0, 64, 64).data; };
  const [a, b] = [pixels(await load(svg)), pixels(await load(png))];
  let off = 0, worst = 0;
  for (let i = 0; i < a.length; i += 4) {
    const d = Math.max(...[0, 1, 2, 3].map((k) => Math.abs(a[i + k] - b[i + k])));
    worst = Math.max(worst, d);
    if (d > 24) off += 1;
  }
  return {off, worst, png: [b[32 * 256 + 4 * 4], b[32 * 256 + 4 * 4 + 1], b[32 * 256 + 4 * 4 + 2]]};
}"""


def test_the_png_icon_is_the_svg_drawn_at_64_pixels(page, live_server):
    page.goto(live_server + "/healthz")
    found = page.evaluate(COMPARE, [live_server + static_url("favicon.svg"), live_server + static_url("favicon.png")])
    assert found["png"] == [11, 46, 79], found  # the square's navy (#0b2e4f), not a blank image
    assert found["off"] <= 40, f"{found['off']} of 4096 pixels differ: run scripts/favicon.py ({found})"


def test_the_page_names_the_png_as_its_icon(page, live_server):
    page.goto(live_server + "/conv")
    icon = page.locator('link[rel="icon"]')
    assert icon.get_attribute("type") == "image/png"
    assert icon.get_attribute("href").startswith("data:image/png;base64,")
