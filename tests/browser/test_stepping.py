"""Step what is on screen (issue 9), in real Chromium at 1280×720: → ← PageDown PageUp drive the stepper in view
and never an off-screen one; the driven stepper is outlined; Lens.advance(±1) steps without wrapping and answers
false at an end or with no stepper in view; five quick presses are five steps.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

OPTIM_STEPS = "/optim/preset/notes-001-steps"  # Adam, ten steps: the t stepper and the update's stages
SOFTMAX = "/softmax?v=1&logits=1x3:1000,0,-1&labels=1:0&temperature=1"
NORM = ("/norm?v=1&tab=bn&x=3x1:0,2,4&gamma=1:1&beta=1:0&running_mean=1:1&running_var=1:4&dout=3x1:1,0,0"
        "&mode=train&eps=1e-05&convention=pytorch")


@pytest.fixture
def sized(page):
    page.set_viewport_size({"width": 1280, "height": 720})
    return page


def opened(page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.locator("h1").click()  # focus off the inputs, as a person clicking the page would


def at_top(page, selector: str) -> None:
    """Scroll ``selector`` to just below the sticky header, and let the outline follow."""
    page.evaluate("(s) => { const el = document.querySelector(s); window.scrollTo(0, el.getBoundingClientRect().top"
                  " + window.scrollY - 80); }", selector)
    page.wait_for_timeout(150)


def position(page, key: str) -> int:
    return int(page.get_attribute(f'[data-stepper="{key}"]', "data-position"))


def wait_position(page, key: str, value: int) -> None:
    page.wait_for_function("([k, v]) => { const g = document.querySelector(`[data-stepper=\"${k}\"]`);"
                           " return g && g.getAttribute('data-position') === String(v); }", arg=[key, value])


def driven(page) -> list[str]:
    return page.evaluate("() => [...document.querySelectorAll('[data-stepper].is-driven')]"
                         ".map(g => g.getAttribute('data-stepper'))")


def test_the_keys_step_the_stepper_in_view_and_not_another(sized, live_server, page_errors):
    opened(sized, live_server + OPTIM_STEPS)
    at_top(sized, "#optim-stages")
    assert driven(sized) == ["#optim-stages"]
    t_before = position(sized, "#step-rows")
    sized.keyboard.press("ArrowRight")
    wait_position(sized, "#optim-stages", 1)
    sized.wait_for_function("() => location.search.includes('stage=1')")
    assert position(sized, "#step-rows") == t_before  # the t stepper, off the centre, did not move
    assert "stage 1 of 6" in sized.inner_text("#optim-stages .window__pos")
    # back to the step table: now the keys drive t, and the stage stays
    at_top(sized, "#formulas")
    assert driven(sized) == ["#step-rows"]
    sized.keyboard.press("ArrowRight")
    wait_position(sized, "#step-rows", t_before + 1)
    sized.wait_for_function("() => document.querySelector('#formulas h2').textContent.includes('Step t = 2')")
    assert position(sized, "#optim-stages") == 1
    assert not page_errors, page_errors


def test_an_off_screen_stepper_is_never_driven(sized, live_server, page_errors):
    opened(sized, live_server + "/pool")
    at_top(sized, "#relu")
    assert driven(sized) == []
    before = position(sized, "#window")
    for key in ("ArrowRight", "ArrowRight", "ArrowLeft"):
        sized.keyboard.press(key)
    sized.wait_for_timeout(600)
    assert position(sized, "#window") == before
    assert sized.evaluate("() => Lens.advance(1)") is False
    assert position(sized, "#window") == before
    y = sized.evaluate("() => window.scrollY")
    sized.keyboard.press("PageDown")  # nothing in view: the page scrolls, as it always does
    sized.wait_for_function("(y) => window.scrollY > y", arg=y)
    assert position(sized, "#window") == before
    assert not page_errors, page_errors


def test_page_down_and_up_walk_the_stages_then_the_page_scrolls_on(sized, live_server, page_errors):
    opened(sized, live_server + NORM)
    at_top(sized, "#stage")
    assert driven(sized) == ["#stage"]
    for _ in range(3):  # quicker than the server answers: each press is a step
        sized.keyboard.press("PageDown")
    wait_position(sized, "#stage", 3)
    sized.wait_for_function("() => location.search.includes('stage=3')")
    sized.keyboard.press("PageUp")
    wait_position(sized, "#stage", 2)
    for _ in range(4):
        sized.keyboard.press("PageDown")
    wait_position(sized, "#stage", 6)  # ⑥, the last stage
    assert "stage ⑥" in sized.inner_text("#stage .window__pos")
    y = sized.evaluate("() => window.scrollY")
    sized.keyboard.press("PageDown")  # at the end: no wrap, the page scrolls
    sized.wait_for_function("(y) => window.scrollY > y", arg=y)
    sized.wait_for_timeout(400)
    assert position(sized, "#stage") == 6
    assert not page_errors, page_errors


def test_lens_advance_steps_without_wrapping_and_says_false_at_the_ends(sized, live_server, page_errors):
    opened(sized, live_server + SOFTMAX + "&stage=4")
    at_top(sized, "#stable")
    assert sized.evaluate("() => Lens.stepperInView()") == {"key": "#stable", "position": 4, "count": 6}
    assert sized.evaluate("() => Lens.advance(1)") is True
    assert position(sized, "#stable") == 5  # resolved after the swap settled
    assert "divide by the sum" in sized.inner_text("#stable .window__pos")
    assert "inf / inf has no value" in sized.inner_text("#stable")
    assert sized.evaluate("() => Lens.advance(1)") is False  # the last stage: no wrap to the whole view
    assert position(sized, "#stable") == 5
    assert sized.evaluate("() => Promise.all([Lens.advance(-1), Lens.advance(-1)])") == [True, True]
    assert position(sized, "#stable") == 3
    sized.wait_for_function("() => location.search.includes('stage=3')")
    for _ in range(3):
        sized.evaluate("() => Lens.advance(-1)")
    assert position(sized, "#stable") == 0
    assert sized.evaluate("() => Lens.advance(-1)") is False  # the first position
    assert not page_errors, page_errors


def test_five_quick_presses_are_five_steps_and_space_plays_the_stepper_in_view(sized, live_server, page_errors):
    opened(sized, live_server + "/conv")
    at_top(sized, "#window")
    for _ in range(5):
        sized.keyboard.press("ArrowRight")
    wait_position(sized, "#window", 5)
    sized.wait_for_timeout(500)
    assert position(sized, "#window") == 5
    sized.keyboard.press(" ")
    assert sized.get_attribute('#window [data-play]', "aria-pressed") == "true"
    sized.wait_for_function("() => Number(document.querySelector('#window [data-stepper]')"
                            ".getAttribute('data-position')) >= 7")
    sized.keyboard.press(" ")
    assert sized.get_attribute('#window [data-play]', "aria-pressed") == "false"
    assert not page_errors, page_errors
