"""The softmax lab in real Chromium, driven the way a person uses it: keys, selects, hover, links.

Expected numbers are worked by hand here, never recomputed by the engine:
logits [0, 0] → p = [0.5, 0.5], L = ln 2 = 0.6931, dlogits = p − y = [−0.5, 0.5] (label 0);
logits [2, 0] at T = 2 → z = [1, 0], p = [e/(e + 1), 1/(e + 1)] = [0.7311, 0.2689].
"""

from __future__ import annotations

import pytest

from tests.browser.grids import type_into, wait_for_message

pytestmark = pytest.mark.browser

START = "/softmax?v=1&logits=1x2:3,0&labels=1:0&temperature=1"


def row(page, array: str, n: int = 0) -> list[str]:
    """The texts of row ``n`` of the first table of ``array`` in the results."""
    return page.evaluate(
        """([array, n]) => {
            const table = document.querySelector(`#results table[data-arr="${array}"]`);
            return [...table.querySelectorAll(`td[data-idx^="${n},"]`)].map(td => td.textContent.trim());
        }""",
        [array, n],
    )


def wait_for_row(page, array: str, expected: list[str], n: int = 0) -> None:
    page.wait_for_function(
        """([array, n, expected]) => {
            const table = document.querySelector(`#results table[data-arr="${array}"]`);
            if (!table) return false;
            const got = [...table.querySelectorAll(`td[data-idx^="${n},"]`)].map(td => td.textContent.trim());
            return JSON.stringify(got) === JSON.stringify(expected);
        }""",
        arg=[array, n, expected],
        timeout=15000,
    )


def open_lab(page, base: str, path: str = START) -> None:
    page.goto(base + path)
    page.wait_for_selector("#gradcheck .badge--ok")  # htmx is running and the numbers are checked


def loss_text(page) -> str:
    return page.inner_text("[data-loss]").strip()


def test_the_notes_example_opens_with_the_correct_numbers(page, live_server, page_errors):
    open_lab(page, live_server, "/softmax/preset/notes")
    # e^3, e^−2, e^−100 over 20.2209: 0.9933, 0.006693 (notes: 0.0066), 1.84e−45 (notes: 1.88e−45)
    assert row(page, "probs") == ["0.9933", "0.006693", "1.84e-45"]
    assert "1.88 × 10⁻⁴⁵" in page.inner_text(".notes-card")
    bars = page.locator("#probabilities .barchart__value")  # the bar chart, drawn by the server (kit/bars.html)
    assert bars.all_text_contents() == ["0.9933", "0.006693", "1.84e-45"]
    tall = page.locator("#probabilities .barchart__bar").first.bounding_box()["height"]
    assert 138 < tall < 140  # p = 0.9933 of a 140 px axis, drawn
    assert page.evaluate("() => window.Plotly === undefined")  # no figure in view: plotly.js was never loaded
    page.wait_for_selector(".formula.is-rendered")
    assert page.locator(".katex-error").count() == 0
    assert not page_errors, page_errors


def test_editing_a_logit_updates_probs_loss_dlogits_and_the_link(page, live_server, page_errors):
    open_lab(page, live_server)
    type_into(page, "#logits-0-0", "0")
    wait_for_row(page, "probs", ["0.5", "0.5"])
    assert loss_text(page) == "L = 0.6931"  # ln 2
    wait_for_row(page, "dlogits", ["-0.5", "0.5"])  # p − y, N = 1
    page.wait_for_function("() => location.search.includes('logits=1x2:0,0')")
    page.wait_for_selector("#gradcheck .badge--ok")
    assert not page_errors, page_errors


def test_changing_a_label_changes_dlogits(page, live_server):
    open_lab(page, live_server, "/softmax?v=1&logits=1x2:0,0&labels=1:0&temperature=1")
    page.select_option("#label-0", "1")
    wait_for_row(page, "dlogits", ["0.5", "-0.5"])  # [0.5, 0.5] − [0, 1]
    wait_for_row(page, "onehot", ["0", "1"])
    page.wait_for_function("() => location.search.includes('labels=1:1')")
    assert loss_text(page) == "L = 0.6931"


def test_the_temperature_field_and_slider(page, live_server):
    open_lab(page, live_server, "/softmax?v=1&logits=1x2:2,0&labels=1:0&temperature=1")
    type_into(page, "#temperature", "2")
    wait_for_row(page, "probs", ["0.7311", "0.2689"])
    # (p − y)/(N·T) = [(0.7311 − 1)/2, 0.2689/2]
    wait_for_row(page, "dlogits", ["-0.1345", "0.1345"])
    # the slider followed the field (log10 2 = 0.301); arrowing it down 6 steps of 0.05 gives T = 10^0.0 ≈ 1
    assert abs(float(page.input_value("#temperature-slider")) - 0.3) < 0.03
    page.focus("#temperature-slider")
    for _ in range(6):
        page.keyboard.press("ArrowLeft")
    page.wait_for_function("() => document.querySelector('#temperature').value === '1'")
    # T = 1: p = [e²/(e² + 1), 1/(e² + 1)] = [0.8808, 0.1192]
    wait_for_row(page, "probs", ["0.8808", "0.1192"])
    page.wait_for_function("() => location.search.includes('temperature=1')")


def test_a_copied_link_reopens_identical_numbers(page, live_server, context):
    open_lab(page, live_server, "/softmax/preset/batch")
    type_into(page, "#logits-1-2", "1.5")
    page.select_option("#label-2", "1")
    page.wait_for_function("() => location.search.includes('labels=3:0,3,1') && location.search.includes(',1.5,')")
    wait_for_row(page, "onehot", ["0", "1", "0", "0"], n=2)
    link = page.url
    fresh = context.new_page()
    fresh.goto(link)
    fresh.wait_for_selector("#gradcheck .badge--ok")
    for array in ("probs", "dlogits", "nll", "dlogits_via_jacobian", "naive_probs"):
        for n in range(3):
            assert row(fresh, array, n) == row(page, array, n), (array, n)
    assert loss_text(fresh) == loss_text(page)
    assert fresh.input_value("#logits-1-2") == "1.5"
    assert fresh.input_value("#label-2") == "1"


def test_a_bad_value_names_the_cell_and_stays_as_typed(page, live_server):
    open_lab(page, live_server)
    type_into(page, "#logits-0-1", "abc")
    wait_for_message(page, "logits[0, 1]", "'abc' is not a number")
    assert page.input_value("#logits-0-1") == "abc"
    assert page.get_attribute("#logits-0-1", "aria-invalid") == "true"
    assert row(page, "probs") == ["0.9526", "0.04743"], "the last valid results stay"  # e³/(e³ + 1)
    type_into(page, "#temperature", "50")
    page.wait_for_function("() => document.querySelector('#form-message').innerText.includes('between 0.05 and 20')")
    assert page.get_attribute("#temperature", "aria-invalid") == "true"
    type_into(page, "#temperature", "1")
    type_into(page, "#logits-0-1", "3")
    wait_for_row(page, "probs", ["0.5", "0.5"])
    assert page.get_attribute("#logits-0-1", "aria-invalid") is None


def test_big_logits_show_inf_and_nan_in_the_naive_route(page, live_server, page_errors):
    open_lab(page, live_server, "/softmax/preset/big")
    assert row(page, "naive_exp", 0) == ["inf", "inf", "inf"]
    assert row(page, "naive_probs", 0) == ["NaN", "NaN", "NaN"]
    # shifted [0, −1, −10]: S = 1 + 0.367879 + 0.0000454 = 1.367925 → p = [0.731, 0.2689, 3.319e−5]
    assert row(page, "probs", 0) == ["0.731", "0.2689", "3.319e-5"]
    # read where a reader would: its card is drawn only near the screen (cards.css), and until then its innerText
    # is empty (at 1280×720 it is below that margin since the inputs column is 30rem wide)
    page.locator("[data-naive]").scroll_into_view_if_needed()
    page.wait_for_function("() => document.querySelector('[data-naive]').innerText"
                           ".includes('breaks on samples 0, 1, 2')")
    page.wait_for_selector(".formula.is-rendered")
    assert page.locator(".katex-error").count() == 0
    assert not page_errors, page_errors


def test_hovering_probs_and_dlogits_outlines_their_sources(page, live_server):
    open_lab(page, live_server, "/softmax/preset/batch")

    def outlined():
        return set(page.evaluate(
            "() => [...document.querySelectorAll('td.prov')].map(td => td.closest('table').dataset.arr"
            " + '[' + td.dataset.idx + ']')"))

    page.hover('#probabilities table[data-arr="probs"] td[data-idx="1,2"]')
    page.wait_for_function("() => [...document.querySelectorAll('td.prov')].some(td => "
                           "td.closest('table').dataset.arr === 'logits')")
    cells = outlined()
    assert {f"logits[1,{k}]" for k in range(4)} <= cells  # the whole row of logits
    assert not any(c.startswith("logits[0,") for c in cells)
    page.hover('#backward table[data-arr="dlogits"] td[data-idx="2,0"]')
    page.wait_for_function("() => [...document.querySelectorAll('td.prov')].some(td => "
                           "td.closest('table').dataset.arr === 'labels')")
    cells = outlined()
    assert {"probs[2,0]", "onehot[2,0]", "labels[2]"} <= cells


def test_resizing_adds_a_sample_with_a_label(page, live_server):
    open_lab(page, live_server)
    type_into(page, "#dim-N", "2")
    page.wait_for_selector("#label-1")
    assert page.input_value("#logits-0-0") == "3" and page.input_value("#logits-1-0") == "0"
    wait_for_row(page, "probs", ["0.5", "0.5"], n=1)
    page.wait_for_function("() => location.search.includes('logits=2x2:3,0,0,0&labels=2:0,0')")


def test_a_broken_link_explains_and_offers_the_default(page, live_server):
    response = page.goto(live_server + "/softmax?v=1&logits=1x3:1,2,3&labels=1:7")
    assert response.status == 422
    assert "does not open" in page.inner_text("h1")
    assert "labels[0]" in page.inner_text(".error-box")
    page.click("text=Open the default example")
    page.wait_for_selector("#gradcheck .badge--ok")
    assert row(page, "probs") == ["0.9933", "0.006693", "1.84e-45"]
