"""Presenter mode, embedding, fullscreen and the QR code in real Chromium at a projector's 1280×720 (issue 9):
no horizontal scroll and projector-sized type on every lab, P toggles presenter mode without a reload, an edit in
presenter mode recomputes and keeps the mode in the address bar, a page served from another origin embeds a lab
(embed=1), edits a cell in it and hears its height, and a page without embed=1 refuses to be framed."""

from __future__ import annotations

import http.server
import socket
import threading
from pathlib import Path

import pytest

from tests.browser.grids import wait_for_grid

pytestmark = pytest.mark.browser

LABS = ("conv", "pool", "norm", "softmax", "optim", "network")
PROJECTOR = {"viewport": {"width": 1280, "height": 720}}
NOTES_POOL = "/pool/preset/notes-4x4"  # out = [[10, 0], [100, 20]] (the notes' 4×4 max pool)

# What is too small on screen: visible table numbers (td, th) under 16 px, and visible SVG text and its parts
# (Plotly's figures with their exponents, the batch-norm graph, the pool routing) drawn under 16 px — the font
# size times the SVG's scale on screen.
TOO_SMALL = """() => {
  const shown = el => {
    const r = el.getBoundingClientRect();
    if (!(r.width > 0 && r.height > 0)) return false;
    for (let e = el; e; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (s.display === 'none' || s.visibility === 'hidden') return false;
    }
    return true;
  };
  const small = [];
  for (const el of document.querySelectorAll('main td, main th')) {
    if (!el.textContent.trim() || !shown(el)) continue;
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (size < 16) small.push(`${el.tagName.toLowerCase()} "${el.textContent.trim().slice(0, 12)}" ${size}px`);
  }
  for (const t of document.querySelectorAll('main svg text, main svg tspan')) {
    if (!t.textContent.trim() || !shown(t)) continue;
    const m = t.getScreenCTM();
    const size = parseFloat(getComputedStyle(t).fontSize) * (m ? Math.hypot(m.a, m.b) : 1);
    if (size < 15.95) small.push(`svg text "${t.textContent.trim().slice(0, 12)}" ${size.toFixed(1)}px`);
  }
  return [...new Set(small)].slice(0, 12);
}"""


@pytest.fixture
def projector(browser):
    context = browser.new_context(**PROJECTOR)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.errors = errors
    yield page
    context.close()


def opened(page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)  # figures drawn after the load (Plotly, KaTeX)


def classes(page) -> set[str]:
    return set(page.evaluate("() => [...document.documentElement.classList]"))


def overflow(page) -> int:
    """How many px the page is wider than the window (0: no horizontal scroll)."""
    return page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")


def body_px(page) -> float:
    return page.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)")


@pytest.mark.parametrize("lab", LABS)
def test_presenter_mode_fits_a_projector(projector, live_server, lab):
    opened(projector, f"{live_server}/{lab}?present=1")
    assert "is-present" in classes(projector) and "present=1" in projector.url
    assert body_px(projector) >= 24
    assert overflow(projector) <= 0
    assert projector.evaluate(TOO_SMALL) == []
    # the header slims to one line; the inputs are folded to their toggle
    assert projector.evaluate("() => document.querySelector('.site-header').getBoundingClientRect().height") <= 48
    toggle = projector.locator("[data-inputs-toggle]").first
    assert toggle.is_visible() and toggle.get_attribute("aria-expanded") == "false"
    assert not projector.locator(".lab__inputs input:not([type=hidden])").first.is_visible()
    toggle.click()  # opened: the inputs beside the results, still no horizontal scroll, still projector type
    assert toggle.get_attribute("aria-expanded") == "true"
    assert projector.locator(".lab__inputs input:not([type=hidden])").first.is_visible()
    assert overflow(projector) <= 0
    try:  # the figures refitted to the narrower column (at once; under load, give the browser a moment)
        projector.wait_for_function(f"() => ({TOO_SMALL})().length === 0", timeout=3000)
    except Exception:
        pass
    assert projector.evaluate(TOO_SMALL) == []
    assert not projector.errors, projector.errors


def test_p_toggles_presenter_mode_without_a_reload(projector, live_server):
    opened(projector, live_server + "/softmax")
    projector.evaluate("() => { window.notReloaded = true; }")
    before = body_px(projector)
    projector.keyboard.press("p")
    projector.wait_for_function("() => document.documentElement.classList.contains('is-present')")
    assert "present=1" in projector.url and body_px(projector) >= 24 > before
    assert projector.get_attribute("[data-present-toggle]", "aria-pressed") == "true"
    projector.wait_for_timeout(400)  # the figures redrawn at projector size
    assert projector.evaluate(TOO_SMALL) == []
    projector.keyboard.press("P")
    projector.wait_for_function("() => !document.documentElement.classList.contains('is-present')")
    assert "present=" not in projector.url and body_px(projector) == before
    assert projector.evaluate("() => window.notReloaded") is True
    projector.click("[data-present-toggle]")  # the button does the same
    projector.wait_for_function("() => document.documentElement.classList.contains('is-present')")
    assert "present=1" in projector.url
    assert not projector.errors, projector.errors
    # a p typed into a cell is typed there (then named as not a number, by design): the key is not taken from it
    projector.click("[data-inputs-toggle]")
    cell = projector.locator(".lab__inputs input.cell").first
    cell.click()
    projector.keyboard.press("End")
    projector.keyboard.press("p")
    assert cell.input_value().endswith("p") and "is-present" in classes(projector)


def test_an_edit_in_presenter_mode_recomputes_and_keeps_the_mode(projector, live_server):
    opened(projector, live_server + NOTES_POOL)
    projector.click("[data-present-toggle]")
    projector.wait_for_function("() => location.search.includes('present=1')")
    projector.click("[data-inputs-toggle]")
    projector.click("#x-0-0-1-1")  # the 10: its window's maximum becomes the 2 at (0, 0)
    projector.keyboard.press("Control+A")
    projector.keyboard.type("1")
    projector.keyboard.press("Tab")
    wait_for_grid(projector, "out", [["2", "0"], ["100", "20"]])
    projector.wait_for_function("() => location.search.includes('x=1x1x4x4:2,1,-11,0,0,1,')")
    assert projector.url.endswith("&present=1") and "is-present" in classes(projector)
    projector.reload()
    projector.wait_for_load_state("networkidle")
    assert "is-present" in classes(projector)
    wait_for_grid(projector, "out", [["2", "0"], ["100", "20"]])
    assert not projector.errors, projector.errors


def test_the_qr_code_opens_the_lab_link_without_the_display(projector, live_server):
    opened(projector, live_server + "/conv?present=1")
    assert projector.locator("[data-embed-code]").is_hidden()  # the embed code is not a presenter's button
    projector.click("[data-qr]")
    dialog = projector.locator("[data-qr-dialog]")
    dialog.wait_for(state="visible")
    src = projector.get_attribute("[data-qr-image]", "src")
    assert src.startswith("/qr.svg?link=%2Fconv%3Fv%3D1") and "present" not in src
    projector.wait_for_function("() => document.querySelector('[data-qr-image]').naturalWidth > 0")
    box = projector.locator("[data-qr-image]").bounding_box()
    assert box["width"] >= 400 and box["height"] >= 400  # large: read from the back of a room
    projector.keyboard.press("Escape")
    dialog.wait_for(state="hidden")


@pytest.fixture
def other_origin(tmp_path: Path):
    """A tiny static server on another port (another origin): the course page that embeds the labs."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port),
                                             lambda *a, **k: Quiet(*a, directory=str(tmp_path), **k))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()


COURSE_PAGE = """<!doctype html><title>A course page</title>
<h1>Week 4: max pooling</h1>
{snippet}
<iframe id="plain" src="{plain}" width="900" height="300"></iframe>
<script>
window.heights = [];
addEventListener("message", function (e) {{
  if (e.data && e.data.type === "backprop-lens:height") window.heights.push(e.data.height);
}});
</script>"""


def test_a_page_of_another_origin_embeds_a_lab_and_edits_it(projector, live_server, other_origin):
    folder, origin = other_origin
    opened(projector, live_server + NOTES_POOL)  # the lab's own "Copy embed code" snippet, as a course page gets it
    snippet = projector.evaluate("() => window.LensDisplay.embedCode()")
    link = projector.url.partition(live_server)[2]
    assert snippet.startswith('<iframe src="' + live_server + link.replace("&", "&amp;") + '&amp;embed=1"')
    (folder / "course.html").write_text(COURSE_PAGE.format(snippet=snippet, plain=live_server + link))
    projector.goto(origin + "/course.html")
    projector.wait_for_load_state("networkidle")
    frame = projector.frame_locator("iframe[src*='embed=1']")
    frame.locator("#results").wait_for()
    lab = next(f for f in projector.frames if "embed=1" in f.url)
    assert "is-embed" in lab.evaluate("() => document.documentElement.className")
    assert lab.locator(".site-header, .site-footer").count() == 0  # no site chrome
    assert lab.locator("[data-open-lab]").is_visible()
    projector.wait_for_function("() => window.heights.length > 0")
    height = projector.evaluate("() => window.heights[window.heights.length - 1]")
    assert height > 760  # taller than the snippet's first guess: the snippet's script fits the frame to it
    projector.wait_for_function("h => document.querySelector(\"iframe[src*='embed=1']\").offsetHeight === h",
                                arg=height)
    frame.locator("#x-0-0-1-1").click()  # an edit inside the frame recomputes there
    projector.keyboard.press("Control+A")
    projector.keyboard.type("1")
    projector.keyboard.press("Tab")
    wait_for_grid(lab, "out", [["2", "0"], ["100", "20"]])
    lab.wait_for_function("() => location.search.includes('x=1x1x4x4:2,1,-11,0,0,1,')")
    assert lab.evaluate("() => location.search").endswith("&embed=1")
    # the same lab without embed=1 refuses to be framed (frame-ancestors 'none'): its frame shows no lab
    assert projector.locator("#plain").is_visible()
    plain_frame = next(f for f in projector.frames if f is not lab and f is not projector.main_frame)
    assert plain_frame.url.startswith("chrome-error://") or plain_frame.locator("#results").count() == 0


@pytest.mark.parametrize("present", ["", "&present=1"])
def test_anchors_and_the_sticky_inputs_land_below_the_header(projector, live_server, present):
    link = projector.request.get(live_server + NOTES_POOL, max_redirects=0).headers["location"]
    opened(projector, live_server + link + present + "#backward")
    header = projector.evaluate("() => document.querySelector('.site-header').getBoundingClientRect().bottom")
    top = projector.evaluate("() => document.getElementById('backward').getBoundingClientRect().top")
    assert header <= top <= header + 40, (header, top)  # the section's title is not under the header
    if not present:  # the inputs column is sticky beside the results: its top stays below the header
        projector.set_viewport_size({"width": 1400, "height": 1000})
        projector.evaluate("() => window.scrollTo(0, 1800)")
        projector.wait_for_timeout(200)
        inputs = projector.evaluate("() => document.querySelector('.lab__inputs').getBoundingClientRect().top")
        header = projector.evaluate("() => document.querySelector('.site-header').getBoundingClientRect().bottom")
        assert inputs >= header, (header, inputs)


def test_fullscreen_button_fills_the_screen_and_gives_it_back(projector, live_server):
    opened(projector, live_server + "/norm?present=1")
    button = projector.locator("[data-fullscreen]")
    assert button.is_visible() and button.get_attribute("aria-pressed") == "false"
    # the button follows fullscreenchange, which comes a frame after document.fullscreenElement has changed (on a
    # loaded machine the label was read in between): wait for the event's work, then read what it wrote
    pressed = "(p) => document.querySelector('[data-fullscreen]').getAttribute('aria-pressed') === p"
    button.click()
    projector.wait_for_function("() => document.fullscreenElement === document.documentElement")
    projector.wait_for_function(pressed, arg="true")
    assert button.inner_text() == "Exit fullscreen"
    button.click()
    projector.wait_for_function("() => !document.fullscreenElement")
    projector.wait_for_function(pressed, arg="false")
    assert button.inner_text() == "Fullscreen"
    assert not projector.errors, projector.errors
