"""The pooling lab in real Chromium, driven the way a person uses it: keys, hover, links.

Expected numbers are worked by hand from the notes' examples (001: x = [[2, 1, −11, 0], [0, 10, −15, −16],
[23, 100, 2, 3], [−23, 0, 7, 20]], 2×2 windows, stride 2 → out = [[10, 0], [100, 20]]), not recomputed
by the engine.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.grids import grid_text, seen, type_into, wait_for_grid, wait_for_message

pytestmark = pytest.mark.browser

NOTES = "/pool/preset/notes-4x4"
OVERLAP = "/pool/preset/overlap"








def open_lab(page, base: str, path: str = NOTES) -> None:
    page.goto(base + path)
    page.wait_for_load_state("networkidle")
    page.wait_for_selector("#gradcheck .gradcheck__badges")


def wait_settled(page) -> None:
    """htmx wires up swapped-in content when it settles (20 ms after the swap): a key pressed before that
    clicks a button htmx does not know yet. A person is never that fast; a test under load can be."""
    page.wait_for_function("() => !document.querySelector('.htmx-added, .htmx-settling, .htmx-swapping')")


def outlined(page) -> set[str]:
    return set(page.evaluate(
        "() => [...document.querySelectorAll('td.prov')].map(td => td.closest('table').dataset.arr"
        " + '[' + td.dataset.idx + ']')"))


def test_the_notes_example_opens_with_its_answer(page, live_server, page_errors):
    open_lab(page, live_server)
    assert grid_text(page, "out") == [["10", "0"], ["100", "20"]]
    # each window's maximum gets its dout (1): 10 at (1, 1), 0 at (0, 3), 100 at (2, 1), 20 at (3, 3)
    assert grid_text(page, "dx") == [["0", "0", "0", "1"], ["0", "1", "0", "0"], ["0", "1", "0", "0"],
                                     ["0", "0", "0", "1"]]
    assert grid_text(page, "window_argmax") == [["3", "1"], ["1", "3"]]
    assert page.locator("#gradcheck .badge--ok").count() == 1  # max pooling: no ties here
    assert "x = 0" in page.inner_text("#gradcheck")  # ReLU: x holds three zeros
    assert "v=1" in page.url and "x=1x1x4x4:2,1,-11,0,0,10,-15,-16,23,100,2,3,-23,0,7,20" in page.url
    page.wait_for_selector(".window__sum.is-rendered")
    assert page.locator(".katex-error").count() == 0
    assert not page_errors, page_errors


def test_editing_a_cell_moves_the_maximum_and_its_gradient(page, live_server, page_errors):
    open_lab(page, live_server)
    type_into(page, "#x-0-0-1-1", "1")  # the 10 becomes 1: window {2, 1, 0, 1} → its maximum 2 is at (0, 0)
    wait_for_grid(page, "out", [["2", "0"], ["100", "20"]])
    wait_for_grid(page, "dx", [["1", "0", "0", "1"], ["0", "0", "0", "0"], ["0", "1", "0", "0"],
                               ["0", "0", "0", "1"]])
    wait_for_grid(page, "window_argmax", [["0", "1"], ["1", "3"]])
    page.wait_for_function("() => location.search.includes('x=1x1x4x4:2,1,-11,0,0,1,')")
    assert page.input_value("#x-0-0-1-1") == "1"
    assert not page_errors, page_errors
    # (typing "-3" passes through "-", not a number yet: that keystroke answers 422 by design)
    type_into(page, "#x-0-0-0-1", "-3")  # ReLU: x[0,0,0,1] = −3 → out 0, mask 0
    wait_for_grid(page, "relu_out", [["2", "0", "0", "0"], ["0", "1", "0", "0"], ["23", "100", "2", "3"],
                                     ["0", "0", "7", "20"]])
    wait_for_grid(page, "relu_mask", [["1", "0", "0", "0"], ["0", "1", "0", "0"], ["1", "1", "1", "1"],
                                      ["0", "0", "1", "1"]])
    wait_for_grid(page, "out", [["2", "0"], ["100", "20"]])  # the −3 changes no window's maximum


def test_overlapping_windows_add_up_and_hovering_dx_outlines_its_dout_cells(page, live_server, page_errors):
    open_lab(page, live_server, OVERLAP)
    # the 9 at (1, 1) wins four windows; typed dout = 1…9: dx[1, 1] = 1 + 2 + 4 + 5 = 12
    assert grid_text(page, "dx")[1] == ["0", "12", "9", "0"]
    seen(page.locator("ul.routes"))
    assert "dout[0,0,1,1] = 1 + 2 + 4 + 5 = 12" in page.inner_text("ul.routes")
    page.hover('#results table[data-arr="dx"] td[data-idx="0,0,1,1"]')
    page.wait_for_function("() => [...document.querySelectorAll('td.prov')].some(td => "
                           "td.closest('table').dataset.arr === 'dout')")
    cells = outlined(page)
    assert {"dout[0,0,0,0]", "dout[0,0,0,1]", "dout[0,0,1,0]", "dout[0,0,1,1]"} <= cells
    assert not any(c.startswith("dout[") and c not in {"dout[0,0,0,0]", "dout[0,0,0,1]", "dout[0,0,1,0]",
                                                       "dout[0,0,1,1]"} for c in cells)
    # the other way: an out cell outlines its window in x and flags the winner
    page.hover('#results table[data-arr="out"] td[data-idx="0,0,1,2"]')
    page.wait_for_function("() => [...document.querySelectorAll('td.prov')].some(td => "
                           "td.closest('table').dataset.arr === 'x')")
    assert {"x[0,0,1,2]", "x[0,0,1,3]", "x[0,0,2,2]", "x[0,0,2,3]"} <= outlined(page)
    winners = page.evaluate("() => [...document.querySelectorAll('td.prov-win')].map(td => td.dataset.idx)")
    assert winners and set(winners) == {"0,0,1,2"}  # window {5, 1, 2, 3}: the 5
    assert not page_errors, page_errors


def test_a_copied_link_reopens_identical_numbers(page, live_server, context):
    open_lab(page, live_server, OVERLAP)
    page.click("#pool-avg")
    wait_for_grid(page, "out", [["4", "4.75", "2.25"], ["4.75", "5.5", "2.75"], ["1.75", "2.5", "2.75"]])
    wait_settled(page)  # the inputs were swapped too: their htmx triggers are wired when they settle
    type_into(page, "#dout-0-0-0-0", "8")
    page.wait_for_function("() => location.search.includes('dout=1x1x3x3:8,2,')")
    link = page.url
    fresh = context.new_page()
    fresh.goto(link)
    fresh.wait_for_load_state("networkidle")
    for array in ("out", "dx", "relu_dx"):
        assert grid_text(fresh, array) == grid_text(page, array), array
    # dx[0, 0] gets only window (0, 0): 8/4 = 2
    assert grid_text(fresh, "dx")[0][0] == "2"
    assert fresh.input_value("#dout-0-0-0-0") == "8"
    assert fresh.is_checked("#pool-avg")


def test_a_bad_value_names_the_cell_and_stays_as_typed(page, live_server):
    open_lab(page, live_server)
    type_into(page, "#x-0-0-1-2", ",5")  # no prefix is a number, so no keystroke recomputes
    wait_for_message(page, "x[0, 0, 1, 2]", "',5' is not a number")
    assert page.input_value("#x-0-0-1-2") == ",5"
    assert page.get_attribute("#x-0-0-1-2", "aria-invalid") == "true"
    assert grid_text(page, "out") == [["10", "0"], ["100", "20"]], "the last valid results stay"
    type_into(page, "#x-0-0-1-2", "1.5")  # window (0, 1) = {−11, 0, 1.5, −16}: 1.5 is its maximum now
    wait_for_grid(page, "out", [["10", "1.5"], ["100", "20"]])
    assert page.get_attribute("#x-0-0-1-2", "aria-invalid") is None


def test_the_window_steps_with_buttons_and_keys(page, live_server):
    open_lab(page, live_server)
    assert "out[0, 0, 0, 0]" in page.inner_text(".window__pos")
    page.click('[data-step="next"]')
    page.wait_for_function("() => document.querySelector('.window__pos').textContent.includes('out[0, 0, 0, 1]')")
    wait_settled(page)
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.querySelector('.window__pos').textContent.includes('out[0, 0, 1, 0]')")
    page.wait_for_selector(".window__sum.is-rendered")
    assert "100" in page.inner_text("#window .window__sum")  # max(23, 100, −23, 0) = 100
    page.wait_for_url(re.compile(r"step=2"))  # the address is written once the page is idle after the frame


def test_a_broken_link_explains_and_offers_the_default(page, live_server):
    response = page.goto(live_server + "/pool?v=1&x=1x1x4x4:1,2,3&pool=max&size=2&stride=2")
    assert response.status == 422
    assert "does not open" in page.inner_text("h1")
    assert "16 values" in page.inner_text(".error-box")
    page.click("text=Open the default example")
    page.wait_for_load_state("networkidle")
    assert grid_text(page, "out") == [["10", "0"], ["100", "20"]]


CELL_FIT = """(table) => [...table.querySelectorAll('input.cell')].map(
    (input) => [input.value, input.scrollWidth <= input.clientWidth, input.getBoundingClientRect().width])"""


def test_an_input_grid_shows_its_longest_number_whole(page, live_server):
    # every cell of x was 3.7rem wide: -12345.67 read "-1234" and -1.235e-05 "-1.23" (the rest hidden in the box)
    page.goto(live_server + "/pool?v=1&x=1x1x2x2:-1.235e-05,0.0008186,-12345.67,4&pool=max&size=2&stride=2&dout=ones")
    page.wait_for_load_state("networkidle")
    table = page.locator('#inputs table.heatmap.editable[data-arr="x"]')
    cells = table.evaluate(CELL_FIT)
    assert [value for value, _, _ in cells] == ["-1.235e-05", "0.0008186", "-12345.67", "4"]
    assert all(whole for _, whole, _ in cells), cells
    assert len({width for _, _, width in cells}) == 1  # one width: the grid stays a grid
    short = cells[0][2]
    type_into(page, "#x-0-0-1-1", "4.000000000001")  # typed longer: the grid widens with it once typing pauses
    page.wait_for_function("(short) => document.querySelector('#x-0-0-1-1').getBoundingClientRect().width > short",
                           arg=short)
    cells = table.evaluate(CELL_FIT)
    assert all(whole for _, whole, _ in cells) and cells[0][2] > short, cells
    assert len({width for _, _, width in cells}) == 1
