"""An edit's formulas and figures are drawn at once near the screen, the others once the page is idle
(static/js/lens.js: Lens.seen, Lens.drawLater).

After a keystroke, every formula and figure within a screen of the viewport shows its new source when lens:drawn
is said; soon after, every one does (none is left with old numbers), and a page scrolled to its end shows them new.
No timing is asserted: only what the page shows, and in which order.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

# every drawn part of the results (not in a closed fold: drawn when it opens) as {near: within a screen of the
# viewport, fresh: drawn from its current source}
PARTS = """() => [...document.querySelectorAll('#results [data-latex], #results [data-figure]')]
  .filter(el => !el.closest('details:not([open])')).map(el => {
    const box = el.getBoundingClientRect(), h = window.innerHeight, figure = el.hasAttribute('data-figure');
    const source = el.getAttribute(figure ? 'data-figure' : 'data-latex');
    const drawn = figure ? el.lensFigure : el.lensMath && el.lensMath.slice(1);
    return {figure, near: box.bottom >= -h && box.top <= 2 * h, fresh: drawn === source};
  })"""

ALL_FRESH = "() => (" + PARTS + ")().every(part => part.fresh)"

# (lab preset, cell, keystrokes before, the keystroke measured): the measured one keeps the results' structure
EDITS = [("/norm/preset/two-sample", "#x-0-0", "2.", "5"),
         ("/softmax/preset/notes", "#logits-0-0", "1", "5")]  # (3, −2, −100) → (1, …) → (15, …)


@pytest.mark.parametrize(("path", "cell", "before", "key"), EDITS, ids=["norm", "softmax"])
def test_parts_near_the_screen_first_then_every_one(page, live_server, page_errors, path, cell, before, key):
    # tall enough that the first formulas are within a screen of the cell typed in (norm's lie 1,600 px below it,
    # with the gradient check keeping its place while typing: static/js/gradcheck.js), and others far below
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.goto(live_server + path)
    page.wait_for_selector("#gradcheck .badge--ok")
    page.wait_for_function(ALL_FRESH)
    page.click(cell)
    page.keyboard.press("Control+A")
    # the first keystrokes answered and drawn before the measured one: the gradient check asked once they paused
    # (on a busy machine their answer can come after the listeners below, and it changes the results' structure)
    page.evaluate("() => document.getElementById('gradcheck').setAttribute('data-old', '')")
    page.keyboard.type(before)
    page.wait_for_selector("#gradcheck:not([data-old]) .badge--ok", timeout=30000)
    page.wait_for_function(ALL_FRESH)
    # at the moment the edit is drawn: what the parts show
    # what the parts show in the first frame after the patch, and when the edit is said drawn
    page.evaluate("() => { window.__atDrawn = null; window.__atFrame = null; const parts = " + PARTS + """;
        document.addEventListener('htmx:afterSwap', (e) => {
          if (e.detail.target.id === 'results') requestAnimationFrame(() => { window.__atFrame = parts(); }); });
        document.addEventListener('lens:drawn', (e) => {
          if (e.detail.root.id === 'results' && !window.__atDrawn) window.__atDrawn = parts(); }); }""")
    page.keyboard.type(key)
    page.wait_for_function("() => window.__atDrawn && window.__atFrame")
    at_drawn, at_frame = page.evaluate("() => [window.__atDrawn, window.__atFrame]")
    near = [p for p in at_drawn if p["near"]]
    assert near and all(p["fresh"] for p in near), at_drawn
    # far below, a changed part waited past that frame: the keystroke did not pay for what nobody sees yet
    assert any(not p["near"] and not p["fresh"] for p in at_frame), at_frame
    page.wait_for_function(ALL_FRESH, timeout=5000)  # the rest once the page is idle: none is left stale
    page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
    page.wait_for_function(ALL_FRESH)
    assert page.locator(".katex-error").count() == 0
    assert not page_errors, page_errors


# the network's step view: a step puts in a new panel (its formulas are new elements, not changed ones)
STEP_PARTS = PARTS.replace("#results [data-latex], #results [data-figure]", "#net-step [data-latex]")


def test_a_new_panel_typesets_its_formulas_near_the_screen_first_then_every_one(page, live_server, page_errors):
    """A step of the ResNet block's backward pass puts in 20-30 formulas, a few within a screen: those are typeset
    when the step is said drawn, the others once typing pauses (static/js/lens.js: loaded, typesetPending)."""
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(live_server + "/network/preset/resnet?seed=3")
    page.wait_for_selector("#net-step .net-panel__title")
    page.locator("#net-step").scroll_into_view_if_needed()
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.wait_for_function("() => (" + STEP_PARTS + ")().every(part => part.fresh)")
    page.evaluate("() => { window.__atDrawn = null; const parts = " + STEP_PARTS + """;
        document.addEventListener('lens:drawn', (e) => {
          if (e.detail.root.id === 'net-step' && !window.__atDrawn) window.__atDrawn = parts(); }); }""")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => window.__atDrawn")
    at_drawn = page.evaluate("() => window.__atDrawn")
    near = [p for p in at_drawn if p["near"]]
    assert near and all(p["fresh"] for p in near), at_drawn
    # far below, formulas wait (some were near before those above them were typeset, or kept by the patch)
    assert sum(not p["near"] and not p["fresh"] for p in at_drawn) >= 10, at_drawn
    page.wait_for_function("() => (" + STEP_PARTS + ")().every(part => part.fresh)", timeout=5000)
    assert page.locator("#net-step .katex-error").count() == 0
    assert not page_errors, page_errors
