"""The optimizer lab in real Chromium, driven the way a person uses it: keys, clicks, hover, links, play.

Expected numbers are worked by hand from the notes' example (001: w = 0.5, 0.3, 0.2, −0.1, 0.8;
g = 0.02, 0.01, 0.01, −0.03, 0.05; β1 = 0.9, β2 = 0.995, lr = 0.01, ε = 1e−7 inside the root, no bias
correction), not recomputed by the engine.
"""

from __future__ import annotations

import pytest

from tests.browser.grids import seen, type_into, wait_for_message

pytestmark = pytest.mark.browser

NOTES = "/optim/preset/notes-001-form"  # the notes' form; the lab opens in PyTorch's
# The ill-conditioned quadratic with four optimizers, 240 updates streamed at 120 per second.
PLAY = ("/optim?v=1&opt=sgd,lr:0.01&names=w&theta=1:1&gmode=typed&g=1x1:1&k=1&j=0&surface=ill_conditioned"
        "&start=-4.5,1.5&r1=sgd,lr:0.075&r2=momentum,lr:0.02,momentum:0.9,form:pytorch&r3=rmsprop,lr:0.05"
        "&r4=adam,lr:0.3&N=240&speed=120&t=0")


def row(page, array: str) -> list[str]:
    """The numbers of one quantity in the selected step's table, a cell per parameter."""
    return page.evaluate(
        """(array) => [...document.querySelectorAll(`#step-rows table[data-arr="${array}"] td`)]
            .map(td => td.textContent.trim())""", array)


def wait_for_row(page, array: str, expected: list[str]) -> None:
    page.wait_for_function(
        """([array, expected]) => JSON.stringify([...document.querySelectorAll(
            `#step-rows table[data-arr="${array}"] td`)].map(td => td.textContent.trim()))
            === JSON.stringify(expected)""",
        arg=[array, expected], timeout=5000)


def open_lab(page, base: str, path: str = NOTES) -> None:
    page.goto(base + path)
    page.wait_for_load_state("networkidle")
    page.wait_for_selector("#surface-gradcheck .badge--ok")


def open_surface(page, base: str, path: str = PLAY) -> None:
    """The lab scrolled to the surface explorer, its plot drawn (plots are drawn as they come into view)."""
    open_lab(page, base, path)
    seen(page.locator("#surface-view"))
    page.wait_for_function("() => { const gd = document.querySelector('#surface-fig .plot');"
                           " return gd && gd.data && gd._fullLayout; }", timeout=15000)


def traces(page) -> list[list[int]]:
    """The step index t of every point of each path in plotly (customdata[0])."""
    return page.evaluate("""() => document.querySelector('#surface-fig .plot').data
        .filter(t => t.customdata && t.mode === 'lines+markers').map(t => t.customdata.map(c => c[0]))""")


def test_the_notes_example_opens_with_its_numbers(page, live_server, page_errors):
    open_lab(page, live_server)
    assert row(page, "m") == ["0.002", "0.001", "0.001", "-0.003", "0.005"]  # 0.1·g
    assert row(page, "v") == ["2e-6", "5e-7", "5e-7", "4.5e-6", "1.25e-5"]  # 0.005·g²
    # Δθ_w2 = −0.01·0.001/√(5e−7 + 1e−7) = −0.0129099
    assert row(page, "update")[1] == "-0.01291"
    # the notes' two slips are marked, with the right numbers beside them
    slips = page.locator("tr.printed td.slip")
    assert slips.count() == 2
    seen(slips.nth(0))
    assert "-0.004" in slips.nth(0).inner_text() and "0.001" in slips.nth(0).inner_text()
    assert "8e-6" in slips.nth(1).inner_text() and "5e-7" in slips.nth(1).inner_text()
    page.wait_for_selector("#formulas .formula--plugged.is-rendered")
    assert page.locator(".katex-error").count() == 0
    seen(page.locator("#surface-view"))  # the plots draw as they come into view
    page.wait_for_selector("#surface-fig .js-plotly-plot")
    assert not page_errors, page_errors


def test_editing_a_gradient_recomputes_m_v_and_the_update(page, live_server, page_errors):
    open_lab(page, live_server)
    type_into(page, "#g-0-1", "-0.04")  # dw2 = −0.04: the gradient the notes' printed moments need
    wait_for_row(page, "m", ["0.002", "-0.004", "0.001", "-0.003", "0.005"])  # 0.1·(−0.04)
    wait_for_row(page, "v", ["2e-6", "8e-6", "5e-7", "4.5e-6", "1.25e-5"])  # 0.005·0.0016
    # Δθ_w2 = −0.01·(−0.004)/√(8e−6 + 1e−7) = 4e−5/0.00284605 = 0.0140546
    assert row(page, "update")[1] == "0.01405"
    page.wait_for_function("() => location.search.includes('g=1x5:0.02,-0.04,0.01,-0.03,0.05')")
    assert page.input_value("#g-0-1") == "-0.04"
    # each keystroke posts: "-" alone is not a number yet (a 422 that names the cell, then cleared), and the
    # form's hx-sync="this:replace" aborts the post before a newer one (htmx logs the abort)
    assert page.is_hidden("#form-message")
    expected = ("htmx:sendAbort", "htmx:afterRequest", "net::ERR_ABORTED", "HTTP 422: ", "status of 422")
    assert not [e for e in page_errors if not any(a in e for a in expected)], page_errors


def test_bias_correction_changes_the_first_update(page, live_server):
    open_lab(page, live_server)
    assert row(page, "update")[1] == "-0.01291"  # no bias correction: m/√(v + ε) with m = 0.001, v = 5e−7
    page.click("#hp-bias_correction-on")
    # t = 1: m̂ = 0.001/(1 − 0.9) = 0.01 = g, v̂ = 5e−7/(1 − 0.995) = 1e−4 = g²; Δθ = −0.01·0.01/√(1e−4 + 1e−7)
    wait_for_row(page, "m_hat", ["0.02", "0.01", "0.01", "-0.03", "0.05"])
    assert row(page, "update")[1] == "-0.009995"
    page.click("#hp-eps_placement-outside")  # PyTorch's form: −0.01·0.01/(0.01 + 1e−7) = −0.0099999
    wait_for_row(page, "update", ["-0.01", "-0.01", "-0.01", "0.01", "-0.01"])
    page.wait_for_function("() => location.search.includes('eps_placement:outside,bias_correction:on')")


def test_a_bad_value_names_the_field_and_stays_as_typed(page, live_server):
    open_lab(page, live_server)
    type_into(page, "#hp-beta1", "1.5")
    wait_for_message(page, "hyperparams.beta1", "must be between 0 and 0.999999, got 1.5")  # "1" was out of range too
    assert page.input_value("#hp-beta1") == "1.5"
    assert page.get_attribute("#hp-beta1", "aria-invalid") == "true"
    assert row(page, "m")[1] == "0.001", "the last valid results stay"
    type_into(page, "#hp-beta1", "0.5")  # m = 0.5·0 + 0.5·0.01 = 0.005
    wait_for_row(page, "m", ["0.01", "0.005", "0.005", "-0.015", "0.025"])
    assert page.get_attribute("#hp-beta1", "aria-invalid") is None


def test_a_copied_link_reopens_identical_numbers(page, live_server, context):
    open_lab(page, live_server)
    type_into(page, "#theta0-4", "1.8")  # conv1 = 1.8: Δθ is the same, θ1 = 1.8 − 0.0140869 = 1.785913
    wait_for_row(page, "theta", ["0.4862", "0.2871", "0.1871", "-0.08601", "1.786"])
    page.wait_for_function("() => location.search.includes('theta=5:0.5,0.3,0.2,-0.1,1.8')")
    fresh = context.new_page()
    fresh.goto(page.url)
    fresh.wait_for_load_state("networkidle")
    for array in ("g", "m", "v", "m_hat", "v_hat", "denom", "effective_step", "update", "theta"):
        assert row(fresh, array) == row(page, array), array
    assert fresh.input_value("#theta0-4") == "1.8"


def test_hovering_an_update_outlines_what_it_came_from(page, live_server):
    open_lab(page, live_server)
    page.hover('#step-rows table[data-arr="update"] td[data-idx="1,0"]')
    page.wait_for_function("() => document.querySelectorAll('#step-rows td.prov').length >= 2")
    outlined = page.evaluate("() => [...document.querySelectorAll('#step-rows td.prov')]"
                             ".map(td => td.closest('table').dataset.arr + '[' + td.dataset.idx + ']').sort()")
    assert outlined == ["effective_step[1,0]", "m_hat[1,0]"]


def test_the_arrow_keys_step_through_t(page, live_server):
    open_lab(page, live_server, "/optim/preset/notes-001-steps")
    assert "Step t = 1" in page.inner_text("#formulas h2")
    page.click("#formulas .hint")  # focus off the inputs
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.querySelector('#formulas h2').textContent.includes('Step t = 2')")
    # the same gradients twice: m_2 = 0.9·0.1·g + 0.1·g = 0.19·g, for w2 0.0019
    assert row(page, "m")[1] == "0.0019"
    page.wait_for_function("() => location.search.includes('k=2')")


def test_step_play_pause_resume_without_duplicates_or_gaps(page, live_server, page_errors):
    open_surface(page, live_server)
    assert traces(page) == [[0]] * 4
    # Step +1, twice: one update each, every path
    page.click("[data-surface-step]")
    page.wait_for_function("() => OptimLab.stats().have === 1 && OptimLab.stats().mode === 'paused'")
    page.click("[data-surface-step]")
    page.wait_for_function("() => OptimLab.stats().have === 2 && OptimLab.stats().mode === 'paused'")
    assert traces(page) == [[0, 1, 2]] * 4
    # SGD (lr 0.075) from (−4.5, 1.5): x ← x − 0.075·x, y ← y − 0.075·25y; after two steps
    # x = −4.5·0.925² = −3.850313, y = 1.5·(−0.875)² = 1.148438 (shown to 4 significant digits)
    assert page.inner_text('tr[data-run="1"] [data-cell="x"]') == "-3.85"
    assert page.inner_text('tr[data-run="1"] [data-cell="y"]') == "1.148"
    # Play: the paths grow; Pause: they stop
    page.click("[data-surface-play]")
    page.wait_for_function("() => OptimLab.stats().have >= 30", timeout=10000)
    page.click("[data-surface-play]")
    paused = page.evaluate("() => OptimLab.stats()")
    assert paused["mode"] == "paused" and 30 <= paused["have"] < 240
    lengths = [len(t) for t in traces(page)]
    assert lengths == [paused["have"] + 1] * 4, "the paused plot holds every update received"
    page.wait_for_timeout(400)
    assert page.evaluate("() => OptimLab.stats().have") == paused["have"], "pause stops the stream"
    page.wait_for_function(f"() => location.search.includes('t={paused['have']}')")
    # Play again: it resumes from the step the page has, to the end
    page.click("[data-surface-play]")
    page.wait_for_function("() => OptimLab.stats().mode === 'done'", timeout=15000)
    stats = page.evaluate("() => OptimLab.stats()")
    assert stats["have"] == 240 and stats["duplicates"] == 0 and stats["gaps"] == 0
    assert traces(page) == [list(range(241))] * 4, "every update once, in order"
    assert page.is_disabled("[data-surface-play]")
    assert page.inner_text("[data-surface-t]") == "240"
    page.wait_for_function("() => location.search.includes('t=240')")
    # pausing closes the EventSource: the browser reports that request as aborted, nothing else may fail
    assert not [e for e in page_errors if "/optim/stream?" not in e], page_errors


def test_a_refused_race_setting_is_said_beside_its_box(page, live_server, page_errors):
    """The race's boxes lie a screen below the message at the top of the results: a refused one's line is written
    beside it (static/js/lab.js sayBeside); the race's part holds its own boxes, so it is not dimmed with it."""
    page.goto(live_server + "/optim")
    box = page.locator('input[data-label="run1.lr"]')
    box.fill("abc")
    box.press("Tab")
    note = page.locator('.field-error:has-text("run1.lr")')
    note.wait_for()
    assert "is not a number" in note.inner_text() and box.input_value() == "abc"
    assert page.evaluate("() => [...document.querySelectorAll('.stale')].map((e) => e.id)") == ["results"]
    box.fill("0.1")
    box.press("Tab")
    note.wait_for(state="detached")
    assert not [e for e in page_errors if "422" not in e], page_errors
