"""A step keeps its stepper in view (static/js/steps.js): the network's step view is swapped whole, and its panels
range from 3,118 to 861 px tall at 1400×1000; a reader deep in a tall one who presses → must still find the stepper
there for the next key (before: after five presses the page's end clamped the scroll, the step view left the
screen, and → did nothing)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

AT = "() => Number(document.querySelector('#op-index').value)"


def test_arrow_keys_step_through_every_operation_without_losing_the_stepper(page, live_server, page_errors):
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(live_server + "/network/preset/lenet")
    page.wait_for_load_state("networkidle")
    page.locator("#net-step").scroll_into_view_if_needed()  # the middle of a tall panel: its controls above
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    start = page.evaluate(AT)
    for k in range(1, 9):
        page.keyboard.press("ArrowRight")
        page.wait_for_function(f"() => Number(document.querySelector('#op-index').value) === {start + k}")
        page.wait_for_function("() => Lens.stepperInView() && Lens.stepperInView().key === '#net-step'")
    assert not page_errors, page_errors


def test_a_step_that_shrinks_the_panel_under_a_reader_deep_in_it_brings_the_stepper_back(page, live_server,
                                                                                          page_errors):
    """The step view's tables are lazy (heatmap.css .grid-fig--lazy): in the frame that shows a step, those near the
    screen still have their guessed size, and the panel may shrink out of view only once they are drawn. The group
    norm example at 1280×720, read near the end of its first, 7,900 px panel: two → and the step view is still on
    screen, so the next key steps it."""
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(live_server + "/network/preset/svm-groupnorm")
    page.wait_for_load_state("networkidle")
    page.locator("#net-step").scroll_into_view_if_needed()
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    assert page.locator("#net-step .grid-fig--lazy").count() > 0
    start = page.evaluate(AT)
    for k in (1, 2):
        page.keyboard.press("ArrowRight")
        page.wait_for_function(f"() => Number(document.querySelector('#op-index').value) === {start + k}")
        page.wait_for_timeout(300)  # the frames after the swap: the tables near the screen drawn, the view restored
        box = page.locator("#net-step").bounding_box()
        assert box is not None and box["y"] + box["height"] > 40 and box["y"] < 720, (k, box)
        assert page.evaluate("() => Lens.stepperInView() && Lens.stepperInView().key") == "#net-step", k
    assert not page_errors, page_errors
