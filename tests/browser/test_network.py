"""The network lab in real Chromium, driven the way a person uses it: build a network, step through one
training step with the keyboard, train it live and pause, draw a digit, open a shared link.

Expected numbers are worked by hand from notes 004's loop (a 4×4 input, a vertical- and a horizontal-edge
kernel, label 1): the pooled maxima 5 and 1 are the logits, L = log(1 + e⁴) = 4.018, and SGD with lr 0.1
moves K[0, 0, 0, 0] = 1 to 1 − 0.1·σ(4)·3 = 0.7054.
"""

from __future__ import annotations

import time

import httpx
import pytest

from app.web.kit.link import from_query
from tests.app.labs.test_network_page import LENET_STEP_40
from tests.browser.grids import type_into

pytestmark = pytest.mark.browser

NOTES = "/network/preset/notes"


def open_lab(page, base: str, path: str = NOTES) -> None:
    page.goto(base + path)
    page.wait_for_load_state("networkidle")
    page.wait_for_selector("#gradcheck .badge--ok")


def link_fields(page) -> dict[str, str]:
    """The fields of the page's link (the address bar holds a compact ``v=1&z=…``)."""
    return from_query(page.evaluate("() => location.search").lstrip("?"))


def wait_for_link(page, test, timeout: float = 30.0) -> None:
    """Wait until ``test(fields of the page's link)`` holds."""
    deadline = time.monotonic() + timeout
    while not test(link_fields(page)):
        assert time.monotonic() < deadline, f"the link never matched: {link_fields(page)}"
        page.wait_for_timeout(50)


def position(page) -> str:
    return page.text_content(".net-step__pos b:nth-of-type(2)").strip()


def wait_for_position(page, title: str) -> None:
    page.wait_for_function("(t) => document.querySelector('.net-step__pos b:nth-of-type(2)').textContent.trim() === t",
                           arg=title, timeout=5000)


def test_build_a_network_and_see_where_it_breaks(page, live_server, page_errors):
    open_lab(page, live_server)
    assert page.locator(".net-layer__error").count() == 0
    type_into(page, 'input[name="model.layers[0].kernel"]', "5")
    page.wait_for_selector(".net-layer__error")
    message = "⚠ conv2d 5×5 kernel needs an input at least 5×5, but the input is 4×4"
    assert page.text_content(".net-layer__error") == message
    assert page.locator("text=Nothing to step through yet").count() == 1
    assert page.input_value('input[name="model.layers[0].kernel"]') == "5"  # what was typed stays
    assert page.locator(".net-layer").count() == 5  # the rest stays as built (4 layers and the loss)
    type_into(page, 'input[name="model.layers[0].kernel"]', "3")
    page.wait_for_selector("#net-step")
    page.wait_for_function("() => !document.querySelector('.net-layer__error')")
    # add a ReLU at the end: one more layer, output still the 2 logits
    page.select_option('select[name="add_type"]', "relu")
    page.click("text=Add layer")
    page.wait_for_function("() => document.querySelectorAll('.net-layer').length === 6")
    assert page.text_content('.net-layer[data-path="4"] .net-layer__out').strip() == "→ 2"
    wait_for_link(page, lambda f: "relu" in f["model"])
    page.click('[aria-label="Remove layer 4"]')
    page.wait_for_function("() => document.querySelectorAll('.net-layer').length === 5")
    assert not page_errors, page_errors


def test_step_through_one_training_step_with_the_keyboard(page, live_server, page_errors):
    open_lab(page, live_server)
    assert position(page) == "Forward · 0 conv2d"
    assert page.get_attribute(".net-box.is-current", "aria-current") == "step"
    page.click("h1")  # focus off the form, as a person clicking the page would
    # the keys drive the stepper in view (static/js/steps.js): bring the step-through into view
    page.evaluate("() => document.querySelector('.net-timeline').scrollIntoView({block: 'center'})")
    for title in ("Forward · 1 relu", "Forward · 2 maxpool2d", "Forward · 3 flatten", "Loss"):
        page.keyboard.press("ArrowRight")
        wait_for_position(page, title)
    assert page.text_content("[data-value='loss']").strip() == "4.018"  # log(1 + e⁴)
    wait_for_link(page, lambda fields: fields.get("op") == "loss")  # the address is written once the page is idle
    page.keyboard.press("ArrowLeft")
    wait_for_position(page, "Forward · 3 flatten")
    # scrub to the end: the update of the kernel
    page.focus("#op-index")
    page.keyboard.press("End")
    wait_for_position(page, "Update · 0 conv2d")
    assert page.locator("td", has_text="0.7054").count() >= 1  # 1 − 0.1·σ(4)·3
    assert page.locator(".net-box--update.is-current, .net-box.is-current.net-box--update").count() == 1
    # the drawing: click the relu box to jump to it
    page.click(".net-drawing button.net-box--relu")
    wait_for_position(page, "Forward · 1 relu")
    assert page.locator(".katex-error").count() == 0
    assert not page_errors, page_errors


def test_an_arrow_key_sends_its_step_before_writing_the_address(page, live_server, page_errors):
    """static/js/address.js writes the address once typing pauses, or at once on a person's click; → presses Next
    by script (steps.js), and that click must not write the last step's pending link between the key and its
    request (a history update: ~3 ms on /network)."""
    open_lab(page, live_server)
    page.click("h1")
    page.evaluate("() => document.querySelector('.net-timeline').scrollIntoView({block: 'center'})")
    page.evaluate("""() => {
      window.__writes = 0; window.__before = [];
      const own = history.replaceState;
      history.replaceState = function () { window.__writes++; return own.apply(history, arguments); };
      document.addEventListener('keydown', () => { window.__writes = 0; }, true);
      document.addEventListener('htmx:beforeRequest', (e) => {
        if (e.detail.requestConfig.path.endsWith('/network/step')) window.__before.push(window.__writes);
      });
    }""")
    for title in ("Forward · 1 relu", "Forward · 2 maxpool2d", "Forward · 3 flatten"):
        page.keyboard.press("ArrowRight")  # at once: the last step's link is still pending
        wait_for_position(page, title)
    assert page.evaluate("() => window.__before") == [0, 0, 0]
    wait_for_link(page, lambda fields: fields.get("op") == "f:3")  # written once the page is idle
    assert not page_errors, page_errors


def test_train_live_pause_and_resume(page, live_server, page_errors):
    link = httpx.get(live_server + "/network/preset/lenet", follow_redirects=False).headers["location"]
    page.goto(live_server + link.replace("until=600", "until=1000"))  # a run that does not end during the test
    page.wait_for_load_state("networkidle")
    page.select_option("[data-train-speed]", "100")
    page.click("[data-train-action=start]")
    page.wait_for_function("() => Number(document.querySelector('#net-train').dataset.step || 0) >= 120",
                           timeout=20000)
    page.click("[data-train-action=pause]")
    paused = int(page.get_attribute("#net-train", "data-step"))
    page.wait_for_timeout(600)
    assert int(page.get_attribute("#net-train", "data-step")) == paused  # paused means paused
    ys = page.evaluate("() => document.querySelector('[data-chart=loss]').data[0].y")
    assert sum(ys[-20:]) / 20 < 0.6 * sum(ys[:20]) / 20  # the loss falls
    assert page.get_attribute("[data-train-jump]", "href").endswith(f"&to={paused}")
    page.click("[data-train-action=resume]")
    page.wait_for_function("(t) => Number(document.querySelector('#net-train').dataset.step) >= t + 60",
                           arg=paused, timeout=20000)
    page.click("[data-train-action=pause]")
    xs = page.evaluate("() => document.querySelector('[data-chart=loss]').data[0].x")
    assert xs == list(range(1, len(xs) + 1))  # every step once: no gap, no duplicate across the pause
    test_acc = page.evaluate("() => document.querySelector('[data-chart=acc]').data[1].y")
    assert test_acc[-1] > test_acc[0]
    assert int(page.get_attribute("#net-train", "data-renders")) > 5
    # pausing closes the stream on purpose: the browser reports that request as aborted
    errors = [e for e in page_errors if not ("/network/train/stream" in e and "ERR_ABORTED" in e)]
    assert not errors, errors


def test_a_data_edit_patches_the_training_cards_and_ends_the_run_that_drew_them(page, live_server, page_errors):
    """The typed data is the training set: an edit is another run. Its cards are patched in place (their charts not
    drawn again from nothing), and a run that was drawing into them stops, its curves cleared."""
    open_lab(page, live_server)
    page.select_option("[data-train-speed]", "10")  # 100 steps at 10/s: still running when the edit comes
    page.evaluate("() => { document.querySelector('#net-train').__before = true;"
                  " document.querySelector('[data-chart=loss]').__before = true; }")
    page.click("[data-train-action=start]")
    page.wait_for_function("() => Number(document.querySelector('#net-train').dataset.step || 0) >= 3", timeout=20000)
    type_into(page, "#x-0-0-0-0", "4")
    page.wait_for_function("() => window.NetworkLab.run === null", timeout=5000)
    wait_for_link(page, lambda f: f.get("x", "").startswith("1x1x4x4:4,"))
    page.wait_for_function("() => (document.querySelector('[data-chart=loss]').data || [])"
                           ".every((trace) => !(trace.y || []).length)", timeout=5000)
    assert page.evaluate("() => document.querySelector('#net-train').__before === true"
                         " && document.querySelector('[data-chart=loss]').__before === true"), "patched, not replaced"
    assert "Press ▶ Start" in page.inner_text("[data-train-status]")
    assert page.is_enabled("[data-train-action=start]") and page.is_disabled("[data-train-action=pause]")
    assert page.get_attribute("#net-train", "data-step") is None
    assert page.input_value("[data-train-speed]") == "10", "the chosen speed stays"
    assert page.evaluate("() => window.NetworkLab.run") is None, "no stream reopened by itself"
    page.click("[data-train-action=start]")  # the new run trains on the edited data, from step 0
    page.wait_for_function("() => Number(document.querySelector('#net-train').dataset.step || 0) >= 2", timeout=20000)
    xs = page.evaluate("() => document.querySelector('[data-chart=loss]').data[0].x")
    assert xs[0] == 1, xs
    errors = [e for e in page_errors if not ("/network/train/stream" in e and "ERR_ABORTED" in e)]
    assert not errors, errors


def test_a_shared_link_to_a_step_in_the_middle_of_training(page, live_server, page_errors):
    page.goto(live_server + LENET_STEP_40)
    page.wait_for_load_state("networkidle")
    assert position(page) == "Loss"
    assert page.text_content("[data-value='loss']").strip() == "0.6634"
    assert "after 40 steps" in page.text_content(".net-step__pos")
    page.click("h1")
    # the keys drive the stepper in view (static/js/steps.js)
    page.evaluate("() => document.querySelector('.net-timeline').scrollIntoView({block: 'center'})")
    page.keyboard.press("ArrowRight")
    wait_for_position(page, "Backward · 6 linear")
    wait_for_link(page, lambda f: f["op"] == "b:6")
    assert not page_errors, page_errors


def test_draw_a_digit_and_trace_the_step_on_it(page, live_server, page_errors):
    page.goto(live_server + "/network/preset/lenet")
    page.wait_for_load_state("networkidle")
    pad = page.locator("[data-pad]")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    x, y = box["x"] + box["width"] * 0.55, box["y"] + 8
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, 12):
        page.mouse.move(x, y + i * (box["height"] - 16) / 11)
    page.mouse.up()
    page.wait_for_selector("[data-predicted]")
    drawn = page.evaluate("() => [...document.querySelectorAll('input[name=pad]')].filter(e => e.value !== '0').length")
    assert drawn >= 8
    page.select_option("#pad-label", "1")
    page.click("#pad-use")
    wait_for_link(page, lambda f: f.get("on") == "own" and f.get("labels") == "1:1")
    assert "your own example" in page.text_content(".net-step__pos")
    assert not page_errors, page_errors
