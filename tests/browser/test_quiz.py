"""Quiz mode in real Chromium on /conv: a lecturer's link hides two dx cells; one answered right, one wrong,
graded ✓/✗ with the score; an edit of a neighbouring input keeps the typed answers and the quiz in the link;
a hint with the numbers but not the answer; reveal; and a cell hidden by clicking it goes into the link.

By hand (the edge filter on 1..25, dout = ones): dx[0,0,0,0] = w[0,0,0,0] = 1, dx[0,0,2,2] = Σ w = 0.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

CONV = ("/conv?v=1&x=1x1x5x5:1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25"
        "&w=1x1x3x3:1,0,-1,1,0,-1,1,0,-1&b=1:0&stride=1&pad=0&dout=ones&tab=backward")
QUIZ = "quiz=dx:0,0,0,0;dx:0,0,2,2"
FIRST = 'table[data-arr="dx"] td[data-idx="0,0,0,0"] .quiz-answer'
CENTRE = 'table[data-arr="dx"] td[data-idx="0,0,2,2"] .quiz-answer'


def test_a_quiz_on_conv_answered_right_and_wrong(page, live_server, page_errors):
    page.goto(f"{live_server}{CONV}&{QUIZ}")
    page.wait_for_selector(FIRST)
    page.fill(FIRST, "1")
    page.click(CENTRE)
    page.keyboard.type("0.5")
    page.click("[data-quiz-check]")
    page.wait_for_selector(".quiz-item--ok")
    assert page.inner_text("[data-quiz-score]") == "1 of 2 right"
    assert page.locator(".quiz-item--wrong").count() == 1
    assert "quiz-wrong" in page.get_attribute('table[data-arr="dx"] td[data-idx="0,0,2,2"]', "class")
    page.screenshot(path="/tmp/e_shots/conv_quiz_graded.png", full_page=False)

    page.click("#b-0")  # a neighbouring input: the results are swapped, the answers stay
    page.keyboard.press("Control+A")
    page.keyboard.type("2")
    page.keyboard.press("Tab")
    page.wait_for_url("**b=1:2**")
    page.wait_for_function("() => location.search.includes('quiz=dx:0,0,0,0;dx:0,0,2,2')")
    page.wait_for_selector(FIRST)
    assert page.input_value(FIRST) == "1" and page.input_value(CENTRE) == "0.5"
    # the numbers changed, so the grades went, the score with them (the answers stay, to check again)
    assert page.locator(".quiz-item--ok, .quiz-item--wrong").count() == 0
    assert page.inner_text("[data-quiz-score]") == ""

    page.click('[data-quiz-hint="dx:0,0,2,2"]')
    page.wait_for_selector(".quiz-item__hinttext")
    hint = page.inner_text(".quiz-item__hinttext")
    assert hint.startswith("dx[0, 0, 2, 2] = Σ of 9 terms") and hint.endswith("= ?")

    page.click("[data-quiz-reveal]")
    page.wait_for_selector('table[data-arr="dx"] td.quiz-revealed')
    assert page.inner_text('table[data-arr="dx"] td[data-idx="0,0,2,2"]').strip() == "0"
    assert not page_errors


def test_a_step_of_a_stepper_keeps_the_verdicts(page, live_server, page_errors):
    """A step shows another part of the same numbers: the grades still hold (an edit is what clears them)."""
    page.goto(f"{live_server}{CONV}&{QUIZ}")
    page.wait_for_selector(FIRST)
    page.fill(FIRST, "1")
    page.fill(CENTRE, "0.5")
    page.click("[data-quiz-check]")
    page.wait_for_selector(".quiz-item--ok")
    position = page.inner_text("#walk .window__pos")
    page.click('#walk [data-step="next"]')
    page.wait_for_function("(p) => document.querySelector('#walk .window__pos').innerText !== p", arg=position)
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)))")
    assert page.locator(".quiz-item--ok").count() == 1 and page.locator(".quiz-item--wrong").count() == 1
    assert "quiz-wrong" in page.get_attribute('table[data-arr="dx"] td[data-idx="0,0,2,2"]', "class")
    assert page.inner_text("[data-quiz-score]") == "1 of 2 right"
    assert not page_errors


def test_clicking_a_cell_hides_it_and_puts_it_in_the_link(page, live_server, page_errors):
    page.goto(f"{live_server}{CONV}")
    page.click("[data-quiz-open]")
    page.click('table[data-arr="dx"] td[data-idx="0,0,1,1"]')
    page.wait_for_function("() => location.search.includes('quiz=dx:0,0,1,1')")
    page.wait_for_selector('table[data-arr="dx"] td[data-idx="0,0,1,1"] .quiz-answer')
    page.click("[data-quiz-end]")
    page.wait_for_function("() => !location.search.includes('quiz=')")
    assert page.locator(".quiz-answer").count() == 0
    assert not page_errors
