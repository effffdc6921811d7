"""The normalization lab in real Chromium, driven the way a person uses it: keys, clicks, hover, links.

Expected numbers are worked by hand on tiny batches (one feature, three samples), not recomputed
by the engine.
"""

from __future__ import annotations

import pytest

from tests.browser.grids import type_into, wait_for_message

pytestmark = pytest.mark.browser

# x = (0, 2, 4), γ = 1, β = 0, dout = (1, 0, 0), running μ = 1, σ² = 4 coming in.
TINY = ("/norm?v=1&tab=bn&x=3x1:0,2,4&gamma=1:1&beta=1:0&running_mean=1:1&running_var=1:4&dout=3x1:1,0,0"
        "&mode=train&eps=1e-05&convention=pytorch&c=0")


def grid_text(page, array: str) -> list[str]:
    """The numbers of the first heatmap of ``array`` in the results, in order."""
    return page.evaluate(
        """(array) => {
            const t = document.querySelector(`#results table.heatmap[data-arr="${array}"]`);
            return t ? [...t.querySelectorAll('td[data-idx]')].map(td => td.textContent.trim()) : [];
        }""", array)


def wait_for_grid(page, array: str, expected: list[str]) -> None:
    page.wait_for_function(
        """([array, expected]) => {
            const t = document.querySelector(`#results table.heatmap[data-arr="${array}"]`);
            if (!t) return false;
            const got = [...t.querySelectorAll('td[data-idx]')].map(td => td.textContent.trim());
            return JSON.stringify(got) === JSON.stringify(expected);
        }""", arg=[array, expected], timeout=5000)


def open_lab(page, base: str, path: str = TINY) -> None:
    page.goto(base + path)
    page.wait_for_selector("#gradcheck .badge--ok")  # htmx is up and has loaded the lazy badge


def test_the_notes_two_sample_batch_opens_with_dx_nearly_zero(page, live_server, page_errors):
    page.goto(live_server + "/norm/preset/two-sample")
    page.wait_for_selector("#gradcheck .badge--ok")
    page.wait_for_selector(".formula.is-rendered")
    # feature 0: x = (1, 3), dout = (0.3, −1.2), γ = 2: dx = ±2·1.5·ε/(2(1 + ε)^{3/2}) ≈ ±1.5e-5
    assert grid_text(page, "dx")[0::3] == ["1.5e-5", "-1.5e-5"]
    assert "Two samples: why dx ≈ 0 here" in page.inner_text("#bn-two")
    assert page.locator("svg.norm-graph .norm-node").count() == 7
    assert page.locator(".katex-error").count() == 0
    assert not page_errors, page_errors


def test_editing_a_cell_recomputes_out_and_dx(page, live_server, page_errors):
    open_lab(page, live_server)
    assert grid_text(page, "out") == ["-1.225", "0", "1.225"]
    # x = (0, 2, 1): μ = 1, σ² = 2/3, σ = 0.8165, x̂ = (−1.225, 1.225, 0);
    # dx = (3·dout − Σdout − x̂·Σ dout·x̂)/(3σ) = ((3 − 1 − 1.5), (−1 + 1.5), −1)/2.449 = (0.2041, 0.2041, −0.4082)
    type_into(page, "#x-2-0", "1")
    wait_for_grid(page, "out", ["-1.225", "1.225", "0"])
    wait_for_grid(page, "dx", ["0.2041", "0.2041", "-0.4082"])
    wait_for_grid(page, "mean", ["1"])
    page.wait_for_function("() => location.search.includes('x=3x1:0,2,1')")
    assert page.input_value("#x-2-0") == "1"
    assert not page_errors, page_errors


def test_every_keystroke_recomputes_and_focus_stays(page, live_server):
    open_lab(page, live_server)
    page.click("#gamma-0")
    page.keyboard.press("Control+A")
    page.keyboard.type("2")
    page.keyboard.type("0")  # γ = 20: y = 20·x̂
    wait_for_grid(page, "out", ["-24.49", "0", "24.49"])
    assert page.evaluate("() => document.activeElement.id") == "gamma-0"


def test_eval_mode_uses_the_running_statistics(page, live_server, page_errors):
    open_lab(page, live_server)
    page.click("#mode-eval")
    # μ_run = 1, σ²_run = 4: x̂ = (x − 1)/√(4 + ε) = (−0.5, 0.5, 1.5); dx = dout·γ/√(4 + ε) = (0.5, 0, 0)
    wait_for_grid(page, "out", ["-0.5", "0.5", "1.5"])
    wait_for_grid(page, "dx", ["0.5", "0", "0"])
    wait_for_grid(page, "mean", ["1"])
    page.wait_for_function("() => location.search.includes('mode=eval')")
    page.click("#mode-train")
    wait_for_grid(page, "out", ["-1.225", "0", "1.225"])
    assert not page_errors, page_errors


def test_a_bad_value_names_the_cell_and_stays_as_typed(page, live_server):
    open_lab(page, live_server)
    type_into(page, "#x-1-0", "2x")
    wait_for_message(page, "x[1, 0]", "'2x' is not a number")
    assert page.input_value("#x-1-0") == "2x"
    assert page.get_attribute("#x-1-0", "aria-invalid") == "true"
    assert grid_text(page, "out") == ["-1.225", "0", "1.225"], "the last valid results stay"
    type_into(page, "#eps", "0")
    page.wait_for_function("() => document.querySelector('#form-message').textContent.includes('eps')")
    type_into(page, "#eps", "1e-5")
    type_into(page, "#x-1-0", "3")  # x = (0, 3, 4): μ = 7/3
    wait_for_grid(page, "mean", ["2.333"])
    assert page.get_attribute("#x-1-0", "aria-invalid") is None


def test_a_copied_link_reopens_identical_numbers(page, live_server, context):
    open_lab(page, live_server)
    type_into(page, "#beta-0", "0.5")
    wait_for_grid(page, "out", ["-0.7247", "0.5", "1.725"])
    page.wait_for_function("() => location.search.includes('beta=1:0.5')")
    fresh = context.new_page()
    fresh.goto(page.url)
    fresh.wait_for_selector("#gradcheck .badge--ok")
    for array in ("out", "dx", "x_hat", "dgamma", "running_var"):
        assert grid_text(fresh, array) == grid_text(page, array), array
    assert fresh.input_value("#beta-0") == "0.5"


def test_hovering_dx_outlines_its_column(page, live_server):
    open_lab(page, live_server, TINY.replace("x=3x1:0,2,4", "x=3x2:0,1,2,1,4,1").replace("gamma=1:1", "gamma=2:1,1")
             .replace("beta=1:0", "beta=2:0,0").replace("running_mean=1:1", "running_mean=2:1,1")
             .replace("running_var=1:4", "running_var=2:4,4").replace("dout=3x1:1,0,0", "dout=random:2"))
    page.hover('#results table.heatmap[data-arr="dx"] td[data-idx="1,1"]')
    page.wait_for_function("() => document.querySelectorAll('td.prov').length > 0")
    outlined = set(page.evaluate(
        "() => [...document.querySelectorAll('td.prov')].map(td => td.closest('table').dataset.arr"
        " + '[' + td.dataset.idx + ']')"))
    assert {"x[0,1]", "x[1,1]", "x[2,1]", "dout[0,1]", "gamma[1]"} <= outlined
    assert not any(c.startswith("x[") and c.endswith(",0]") for c in outlined)


def test_sections_switch_and_keep_the_state(page, live_server, page_errors):
    open_lab(page, live_server, TINY + "&draws=40&batches=20")
    page.click("label[for='tab-ln']")
    page.wait_for_selector("#axes")
    page.wait_for_function("() => location.search.includes('tab=ln')")
    # layer norm of one feature: every sample is its own group of one value, x̂ = 0
    wait_for_grid(page, "ln_x_hat", ["0", "0", "0"])
    page.click("label[for='tab-running']")
    page.wait_for_selector("#running .js-plotly-plot")  # plotly loads on demand and draws the plot
    page.click("label[for='tab-dropout']")
    page.wait_for_selector("#expectation .js-plotly-plot", timeout=10000)
    page.click("label[for='tab-bn']")
    wait_for_grid(page, "out", ["-1.225", "0", "1.225"])
    assert page.input_value("#gamma-0") == "1"
    assert not page_errors, page_errors


def test_switching_to_images(page, live_server):
    open_lab(page, live_server)
    page.click("#layout-nchw")
    page.wait_for_selector("#x-0-0-1-1")
    # each feature spread over a 2×2 plane: the channel statistics are the feature's
    wait_for_grid(page, "mean", ["2"])
    assert page.input_value("#x-2-0-1-1") == "4"
    page.wait_for_function("() => location.search.includes('x=3x1x2x2:')")


def test_a_broken_link_explains_and_offers_the_default(page, live_server):
    response = page.goto(live_server + "/norm?v=1&x=2x3:1,2,3,4,5,6&gamma=2:1,1")
    assert response.status == 422
    assert "does not open" in page.inner_text("h1")
    assert "gamma" in page.inner_text(".error-box")
    page.click("text=Open the default example")
    page.wait_for_selector('#results table.heatmap[data-arr="dx"]')
