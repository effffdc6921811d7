"""The convolution lab in real Chromium, driven the way a person uses it: keys, hover, links.

Expected numbers are worked by hand from the notes' example (002: x = [[1, 2, 4], [3, 2, 1],
[5, 2, 1]], w = [[1, −1], [2, 1]] → out = [[7, 3], [13, 6]]), not recomputed by the engine.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.grids import grid_text, type_into, wait_for_grid, wait_for_message

pytestmark = pytest.mark.browser

NOTES = "/conv/preset/notes-7-3-13-6"








def open_lab(page, base: str, path: str = NOTES) -> None:
    page.goto(base + path)
    page.wait_for_load_state("networkidle")
    page.wait_for_selector("#gradcheck .badge--ok")


def test_the_notes_example_opens_with_its_answer(page, live_server, page_errors):
    open_lab(page, live_server)
    assert grid_text(page, "out") == [["7", "3"], ["13", "6"]]
    # dout all ones: dx[i, j] sums the weights whose window covers (i, j)
    assert grid_text(page, "dx") == [["1", "0", "-1"], ["3", "3", "0"], ["2", "3", "1"]]
    assert "v=1" in page.url and "w=1x1x2x2:1,-1,2,1" in page.url
    assert page.locator(".katex-error").count() == 0
    assert not page_errors, page_errors


def test_editing_a_weight_updates_out_dx_and_the_link(page, live_server, page_errors):
    open_lab(page, live_server)
    type_into(page, "#w-0-0-0-0", "3")
    # out gains 2·(top-left of each window); dx is the sum of covering weights of [[3, −1], [2, 1]]
    wait_for_grid(page, "out", [["9", "7"], ["19", "10"]])
    wait_for_grid(page, "dx", [["3", "2", "-1"], ["5", "5", "0"], ["2", "3", "1"]])
    page.wait_for_function("() => location.search.includes('w=1x1x2x2:3,-1,2,1')")
    assert page.input_value("#w-0-0-0-0") == "3"
    assert not page_errors, page_errors


def test_every_keystroke_recomputes_and_focus_stays(page, live_server):
    open_lab(page, live_server)
    page.click("#x-0-0-0-0")
    page.keyboard.press("Control+A")
    page.keyboard.type("1")
    page.keyboard.type("1")  # x00 = 11: the first window gains 10·w00 = 10
    wait_for_grid(page, "out", [["17", "3"], ["13", "6"]])
    assert page.evaluate("() => document.activeElement.id") == "x-0-0-0-0"
    assert page.evaluate("() => document.activeElement.selectionStart") == 2


def test_the_gradient_check_keeps_its_place_while_typing(page, live_server):
    """An edit brings the check's one-line slot where its answer stood: it keeps the answer's height until the new
    answer comes, so nothing below it jumps up at the first key and back down when typing pauses."""
    open_lab(page, live_server)
    box = "() => document.getElementById('gradcheck').getBoundingClientRect().height"
    height = page.evaluate(box)  # the answer's: a table (a one-line badge is ~29 px)
    page.evaluate("() => document.documentElement.setAttribute('data-gradcheck-pause', '5000')")  # typing goes on
    type_into(page, "#w-0-0-0-0", "3")
    wait_for_grid(page, "out", [["9", "7"], ["19", "10"]])
    assert page.locator("#gradcheck[data-gradcheck]").count() == 1  # the slot, its check not asked yet
    assert page.text_content("#gradcheck .badge") == "The gradient check runs once you pause typing…"
    assert height > 60 and abs(page.evaluate(box) - height) < 0.5
    page.evaluate("() => Lens.gradcheckNow()")
    page.wait_for_selector("#gradcheck .badge--ok")
    assert page.locator("#gradcheck[style]").count() == 0  # the answer stands at its own height


def test_a_refused_value_holds_the_gradient_check(page, live_server):
    """Typing on into a bad value before the pause: the check is asked once with the bad form, refused (the form's
    message names the cell), and its slot says it waits for valid inputs — not "Checking…" for ever, nor asking
    again and again."""
    open_lab(page, live_server)
    page.evaluate("() => document.documentElement.setAttribute('data-gradcheck-pause', '5000')")
    type_into(page, "#w-0-0-0-0", "3")
    wait_for_grid(page, "out", [["9", "7"], ["19", "10"]])
    checks = []
    page.on("request", lambda r: checks.append(r.url) if r.url.endswith("/gradcheck") else None)
    page.click("#w-0-0-0-0")
    page.keyboard.press("End")
    page.keyboard.type("x")
    wait_for_message(page, "w[0, 0, 0, 0]", "'3x' is not a number")
    with page.expect_response(lambda r: r.url.endswith("/gradcheck")) as answer:
        page.evaluate("() => Lens.gradcheckNow()")
    assert answer.value.status == 422
    page.wait_for_function("() => document.querySelector('#gradcheck .badge').textContent.includes('valid again')")
    assert page.text_content("#gradcheck .badge") == "The gradient check runs once the inputs are valid again."
    page.evaluate("() => document.documentElement.setAttribute('data-gradcheck-pause', '50')")
    page.wait_for_timeout(400)
    assert len(checks) == 1, checks
    type_into(page, "#w-0-0-0-0", "3")  # valid again: a new slot, checked once typing pauses
    page.wait_for_selector("#gradcheck .badge--ok")


def test_a_bad_value_names_the_cell_and_stays_as_typed(page, live_server):
    open_lab(page, live_server)
    type_into(page, "#x-0-0-1-2", "abc")
    wait_for_message(page, "x[0, 0, 1, 2]", "'abc' is not a number")
    assert page.input_value("#x-0-0-1-2") == "abc"
    assert page.get_attribute("#x-0-0-1-2", "aria-invalid") == "true"
    assert grid_text(page, "out") == [["7", "3"], ["13", "6"]], "the last valid results stay"
    type_into(page, "#x-0-0-1-2", "2")  # x12 = 1 → 2: window (0, 1) gains w11 = +1, window (1, 1) gains w01 = −1
    wait_for_grid(page, "out", [["7", "4"], ["13", "5"]])
    assert page.get_attribute("#x-0-0-1-2", "aria-invalid") is None


def test_a_refused_value_is_said_where_the_reader_looks(page, live_server):
    """Wide, the message stays in sight under the site header while the cell typed in is a screen below the top of
    the results; on a phone (results below the inputs) the refused cell's line is written under its grid too."""
    page.set_viewport_size({"width": 1280, "height": 720})
    open_lab(page, live_server, "/conv")
    type_into(page, "#x-0-0-4-4", "7y")
    wait_for_message(page, "x[0, 0, 4, 4]", "'7y' is not a number")
    assert page.evaluate("() => scrollY") > 300  # the cell is low in the inputs: the page scrolled to it
    top = page.evaluate("() => document.getElementById('form-message').getBoundingClientRect().top")
    assert 0 < top < 200, top
    assert not page.locator(".cell-error").is_visible()
    page.set_viewport_size({"width": 390, "height": 844})
    type_into(page, "#x-0-0-4-4", "8z")
    wait_for_message(page, "x[0, 0, 4, 4]", "'8z' is not a number")
    note = page.locator(".cell-error")
    assert note.is_visible() and note.text_content() == "x[0, 0, 4, 4]: '8z' is not a number"
    type_into(page, "#x-0-0-4-4", "8")
    page.wait_for_selector("#form-message", state="hidden")
    assert page.locator(".cell-error").count() == 0


def test_hovering_dx_and_dw_outlines_their_sources(page, live_server):
    open_lab(page, live_server)

    def outlined():
        return sorted(page.evaluate(
            "() => [...document.querySelectorAll('td.prov')].map(td => td.closest('table').dataset.arr"
            " + '[' + td.dataset.idx + ']')"))

    # dx[0,0,1,1] (the centre) is reached by all four dout cells, each through a different weight
    page.hover('#results table[data-arr="dx"] td[data-idx="0,0,1,1"]')
    page.wait_for_function("() => document.querySelectorAll('td.prov').length > 0")
    cells = set(outlined())
    assert {f"dout[0,0,{i},{j}]" for i in range(2) for j in range(2)} <= cells
    assert {f"w[0,0,{i},{j}]" for i in range(2) for j in range(2)} <= cells
    assert not any(c.startswith("x[") for c in cells)
    # dw[0,0,0,0] sums x over the top-left of each window, times dout (on the Backward tab)
    page.click("#tab-backward")
    page.wait_for_selector('#results table[data-arr="dw"]')
    page.hover('#results table[data-arr="dw"] td[data-idx="0,0,0,0"]')
    page.wait_for_function("() => [...document.querySelectorAll('td.prov')].some(td => "
                           "td.closest('table').dataset.arr === 'x')")
    cells = set(outlined())
    assert {"x[0,0,0,0]", "x[0,0,0,1]", "x[0,0,1,0]", "x[0,0,1,1]"} <= cells
    assert "x[0,0,2,2]" not in cells


def test_a_copied_link_reopens_identical_numbers(page, live_server, context):
    open_lab(page, live_server)
    type_into(page, "#b-0", "0.5")
    wait_for_grid(page, "out", [["7.5", "3.5"], ["13.5", "6.5"]])
    page.wait_for_function("() => location.search.includes('b=1:0.5')")
    link = page.url
    fresh = context.new_page()
    fresh.goto(link)
    fresh.wait_for_load_state("networkidle")
    for array in ("out", "dx"):
        assert grid_text(fresh, array) == grid_text(page, array), array
    assert fresh.input_value("#b-0") == "0.5"


def test_the_sliding_window_steps_with_buttons_and_keys(page, live_server):
    open_lab(page, live_server)
    assert "out[0, 0, 0, 0]" in page.inner_text(".window__pos")
    page.click('[data-step="next"]')
    page.wait_for_function("() => document.querySelector('.window__pos').textContent.includes('out[0, 0, 0, 1]')")
    page.keyboard.press("ArrowRight")  # focus is on the button; arrows step too
    page.wait_for_function("() => document.querySelector('.window__pos').textContent.includes('out[0, 0, 1, 0]')")
    # the notes' third window: 3·1 + 2·(−1) + 5·2 + 2·1 = 13
    page.wait_for_selector(".window__sum.is-rendered")
    formula = page.inner_text(".window__sum")
    assert "13" in formula
    page.wait_for_url(re.compile(r"step=2"))  # the address is written once the page is idle after the frame


def test_an_impossible_kernel_says_why_and_keeps_the_inputs(page, live_server):
    open_lab(page, live_server)
    type_into(page, "#dim-KH", "5")
    page.wait_for_selector(".error-box")
    text = page.inner_text(".error-box")
    assert "No output" in text
    assert page.input_value("#dim-KH") == "5"
    assert page.input_value("#x-0-0-0-0") == "1"


def test_resizing_keeps_the_values_that_fit(page, live_server):
    open_lab(page, live_server)
    type_into(page, "#dim-W", "4")
    page.wait_for_selector("#x-0-0-0-3")
    assert [page.input_value(f"#x-0-0-0-{j}") for j in range(4)] == ["1", "2", "4", "0"]
    assert page.input_value("#w-0-0-1-0") == "2"


def test_a_broken_link_explains_and_offers_the_default(page, live_server):
    response = page.goto(live_server + "/conv?v=1&x=2x2:1,2,3&w=1x1x1x1:1&b=1:0")
    assert response.status == 422
    assert "does not open" in page.inner_text("h1")
    assert "x" in page.inner_text("[role=alert]")
    page.click("text=Open the default example")
    page.wait_for_load_state("networkidle")
    assert page.locator('#results table[data-arr="out"]').count() >= 1


def test_tabs_show_one_section_and_are_part_of_the_link(page, live_server):
    open_lab(page, live_server)
    assert page.locator("#section-window").count() == 1 and page.locator("#section-im2col").count() == 0
    page.click("#tab-im2col")
    page.wait_for_selector("#section-im2col")
    page.wait_for_function("() => location.search.includes('tab=im2col')")
    # row 0 of x_col is each window's top-left: 1 2 3 2 for the notes' x
    row0 = page.evaluate("""() => [...document.querySelectorAll('#section-im2col table[data-arr="x_col"] tbody tr')[0]
        .querySelectorAll('td[data-idx]')].map(td => td.textContent)""")
    assert row0 == ["1", "2", "3", "2"]
    type_into(page, "#x-0-0-0-0", "5")  # an edit keeps the tab open
    wait_for_grid(page, "out", [["11", "3"], ["13", "6"]])
    assert page.locator("#section-im2col").count() == 1
    assert page.get_attribute("#tab-im2col", "aria-selected") == "true"
