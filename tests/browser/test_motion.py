"""Motion where it explains (static/js/motion.js), in real Chromium: the conv and pool windows glide between positions,
the network drawing's active layer glides with the step, values an edit changed flash — and none of it happens when
the visitor prefers reduced motion."""

from __future__ import annotations

import pytest
from playwright.sync_api import Error as PlaywrightError

pytestmark = pytest.mark.browser

# Counts what moved since the page opened: a glide's outline (.glide, .glide--step for the network drawing) and a
# flashed value (.is-changed), each as it is added (they are gone again a moment later).
WATCH = """(() => {
    window.__motion = {glide: 0, step: 0, changed: 0};
    new MutationObserver(records => {
        for (const r of records) {
            if (r.type === 'childList') {
                for (const n of r.addedNodes) {
                    if (n.nodeType !== 1 || !n.classList.contains('glide')) continue;
                    window.__motion.glide += 1;
                    if (n.classList.contains('glide--step')) window.__motion.step += 1;
                }
            } else if (r.target.classList && r.target.classList.contains('is-changed')) {
                window.__motion.changed += 1;
            }
        }
    }).observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ['class']});
})();"""


@pytest.fixture(params=["no-preference", "reduce"])
def watched(request, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, reduced_motion=request.param)
    context.add_init_script(WATCH)
    page = context.new_page()
    page.reduced = request.param == "reduce"
    yield page
    context.close()


def motion(page) -> dict:
    return page.evaluate("() => window.__motion")


def step_window(page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    button = page.locator('#window [data-step="next"]')
    button.scroll_into_view_if_needed()
    before = page.get_attribute("#window [data-position]", "data-position")
    # what the page posted and got back: once in a loaded run the step was not shown within 30 s of the click, and
    # nothing said why (seen once, not reproduced); a failure now names the requests
    posts: list[str] = []
    page.on("requestfinished", lambda r: posts.append(
        f"{r.url.split('?')[0].split('/', 3)[3]} {r.response().status if r.response() else '?'}")
        if r.method == "POST" else None)
    page.on("requestfailed", lambda r: posts.append(f"{r.url.split('?')[0]} failed: {r.failure}"))
    button.click()
    try:
        page.wait_for_function("b => document.querySelector('#window [data-position]').dataset.position !== b",
                               arg=before)
    except PlaywrightError:
        pytest.fail(f"the window did not step from {before}; posted after the click: {posts}")
    page.wait_for_timeout(600)  # a glide lasts 260 ms


@pytest.mark.parametrize("lab", ["conv", "pool"])
def test_the_window_glides_to_its_next_position(watched, live_server, lab):
    step_window(watched, f"{live_server}/{lab}")
    moved = motion(watched)["glide"]
    assert (moved == 0) if watched.reduced else (moved >= 1), motion(watched)


def test_the_network_drawings_active_layer_glides_with_the_step(watched, live_server):
    watched.goto(live_server + "/network")
    watched.wait_for_load_state("networkidle")
    button = watched.locator('.net-timeline [data-step="next"]')
    button.scroll_into_view_if_needed()
    button.click()
    watched.wait_for_function("() => document.querySelector('#net-step').getAttribute('data-op-index') === '1'")
    watched.wait_for_timeout(600)
    moved = motion(watched)["step"]
    assert (moved == 0) if watched.reduced else (moved >= 1), motion(watched)


def test_a_value_an_edit_changed_flashes(watched, live_server):
    watched.goto(live_server + "/conv")
    watched.wait_for_load_state("networkidle")
    cell = watched.locator("table.editable input.cell").first
    cell.click()
    watched.keyboard.press("Control+A")
    watched.keyboard.type("97")
    watched.wait_for_function("() => location.search.includes('97')")
    watched.wait_for_load_state("networkidle")
    watched.wait_for_timeout(300)
    flashed = motion(watched)["changed"]
    assert (flashed == 0) if watched.reduced else (flashed >= 1), motion(watched)


def test_in_a_quick_run_of_steps_the_window_jumps_and_a_step_alone_glides(watched, live_server):
    # a step asked for within 300 ms of the input before it (Lens.inRun) — a held arrow key — jumps: a glide the next
    # answer would cut short shows nothing, and reading the old box would lay the page out before each swap
    if watched.reduced:
        pytest.skip("nothing glides for a visitor who prefers reduced motion (the tests above)")
    step_window(watched, f"{live_server}/conv")  # alone: it glides
    alone = motion(watched)["glide"]
    assert alone >= 1, motion(watched)
    position = watched.get_attribute("#window [data-position]", "data-position")
    watched.evaluate("""() => {  // two inputs at once, then the step: the step's answer comes in a run
      for (let i = 0; i < 2; i++) document.dispatchEvent(new KeyboardEvent('keydown', {bubbles: true}));
      document.querySelector('#window [data-step="next"]').click();
    }""")
    watched.wait_for_function("b => document.querySelector('#window [data-position]').dataset.position !== b",
                              arg=position)
    watched.wait_for_timeout(600)
    assert motion(watched)["glide"] == alone, motion(watched)  # it jumped
