"""The page's keys, listed (templates/kit/keys.html, static/js/keys.js): "?" or the footer's Keyboard button opens
the list; it shows the groups of keys that work on this page and no others; Esc or a click beside it closes it; a
"?" typed into a cell stays in the cell."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

SHOWN = "() => Array.from(document.querySelectorAll('#keys-help section')).filter((s) => !s.hidden)" \
        ".map((s) => s.getAttribute('aria-label'))"
OPEN = "() => document.getElementById('keys-help').open"
STEPS, INPUTS, RESULTS = "Stepping through a computation", "Typing in the inputs", "Reading the results"
DOWNLOAD = "Downloading a table or chart"  # not in presenter mode, which has no download bar


@pytest.mark.parametrize(("path", "groups"), [
    ("/conv/preset/edge", ["The lab", STEPS, INPUTS, RESULTS, DOWNLOAD, "This list"]),
    ("/conv/preset/mnist", ["The lab", STEPS, INPUTS, RESULTS, DOWNLOAD, "Images", "This list"]),
    ("/", ["This list"]),
    ("/pool/preset/notes-4x4?present=1", ["The lab", STEPS, RESULTS, "This list"]),  # its inputs folded away
])
def test_question_mark_lists_this_pages_keys(page, live_server, page_errors, path, groups):
    page.goto(live_server + path)
    page.keyboard.press("Shift+Slash")
    page.wait_for_function(OPEN)
    assert page.evaluate(SHOWN) == groups
    assert page.locator("#keys-help").is_visible()
    page.keyboard.press("Escape")
    page.wait_for_function(f"() => !({OPEN})()")
    assert not page_errors


def test_the_footer_opens_the_list_and_a_question_mark_typed_in_a_cell_stays_there(page, live_server, page_errors):
    page.goto(live_server + "/pool/preset/notes-4x4")
    page.locator("[data-keys-open]").click()
    page.wait_for_function(OPEN)
    box = page.locator("#keys-help").bounding_box()
    page.mouse.click(box["x"] / 2, box["y"] + box["height"] / 2)  # beside the list: on the backdrop
    page.wait_for_function(f"() => !({OPEN})()")
    assert not page_errors
    cell = page.locator("#inputs input.cell").first
    was = cell.input_value()
    cell.click()
    cell.press("End")
    page.keyboard.press("Shift+Slash")
    assert cell.input_value() == was + "?"  # not a number: the lab answers 422 naming the cell, as for any typo
    assert not page.evaluate(OPEN)
