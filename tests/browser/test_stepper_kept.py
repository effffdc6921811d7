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
