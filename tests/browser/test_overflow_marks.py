"""A box wider than its screen says which side has more (static/js/lens.js: data-overflow, which fit.css fades),
and the boxes are measured once a typing pause comes, not once per keystroke typed before it."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

# lens.js's SCROLLERS start so: a query for them is one measuring pass over the boxes
COUNT_PASSES = """() => {
  window.__passes = 0;
  const own = Element.prototype.querySelectorAll;
  Element.prototype.querySelectorAll = function (selector) {
    if (typeof selector === 'string' && selector.startsWith('.formula, .katex-display')) window.__passes += 1;
    return own.call(this, selector);
  };
}"""

# the formulas of the results wider than their box on a phone (not in a closed fold)
WIDE = """[...document.querySelectorAll('#results .formula, #results .katex-display')]
  .filter(el => el.scrollWidth > el.clientWidth + 1 && !el.closest('details:not([open])'))"""
# ... each one laid out (in a card near the screen) marked as having more on its right
WIDE_MARKED = ("() => { const wide = " + WIDE + ".filter(el => el.checkVisibility({contentVisibilityAuto: true}));"
               " return wide.length > 0 && wide.every(el => el.dataset.overflow === 'right'); }")


def open_phone(page, live_server):
    """/norm on a phone, its first wide formula scrolled into view (a card far off screen is not measured: it is
    not laid out, cards.css) and marked."""
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server + "/norm/preset/two-sample")
    page.wait_for_selector("#gradcheck .badge--ok")
    page.evaluate("() => " + WIDE + "[0].scrollIntoView()")
    page.wait_for_function(WIDE_MARKED)


def test_a_formula_wider_than_a_phone_fades_on_its_side_with_more(page, live_server, page_errors):
    open_phone(page, live_server)
    assert page.evaluate("() => " + WIDE + "[0].scrollLeft") == 0  # at its start: its right side has more
    assert not page_errors


def test_a_pause_measures_the_boxes_once_for_all_the_answers_drawn_before_it(page, live_server, page_errors):
    # While someone types, every answer drawn asks for its boxes to be marked once typing pauses (lens.js announce):
    # the asks made before one pause are one measuring pass, the boxes of a root inside another measured once.
    open_phone(page, live_server)
    page.wait_for_timeout(1000)  # the load's own passes done
    page.evaluate(COUNT_PASSES)
    page.evaluate("""() => {
      for (const el of document.querySelectorAll('[data-overflow]')) el.removeAttribute('data-overflow');
      const results = document.getElementById('results'), card = """ + WIDE + """[0].closest('section');
      for (let i = 0; i < 12; i++) { Lens.markOverflowSoon(results); Lens.markOverflowSoon(card); }
    }""")
    page.wait_for_function(WIDE_MARKED)  # marked again: the pass ran, after the pause
    page.wait_for_timeout(1000)  # (a pass per ask would all have run by now)
    assert page.evaluate("() => window.__passes") == 1
    assert not page_errors
