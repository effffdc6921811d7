"""Large planes as images with the selected-cell inspector (app.web.render.plane, static/js/plane.js), in real
Chromium: a 28×28 digit in the conv and pool labs is drawn as images, a pixel is read and edited through the
inspector, a bad number is named, and dragging paints.

The expected numbers follow from the notes' convolution by hand: the MNIST preset's first filter is the
vertical edge [[1, 0, −1]] × 3 with padding 1, so raising x[0, 0, 14, 3] by d lowers out[0, 0, 14, 2] by d
(that window reads column 3 with weight −1) and raises out[0, 0, 14, 4] by d (weight +1).
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

MNIST = "/conv/preset/mnist"


def open_lab(page, base: str, path: str = MNIST) -> None:
    page.goto(base + path)
    page.wait_for_load_state("networkidle")
    page.wait_for_selector("#results .plane")


def click_pixel(page, selector: str, i: int, j: int) -> None:
    """Click the centre of pixel (i, j) of the image plane ``selector``, as a person would."""
    plane = page.locator(selector)
    plane.scroll_into_view_if_needed()
    box = plane.bounding_box()
    rows, cols = int(plane.get_attribute("data-rows")), int(plane.get_attribute("data-cols"))
    page.mouse.click(box["x"] + (j + 0.5) * box["width"] / cols, box["y"] + (i + 0.5) * box["height"] / rows)


def value_at(page, selector: str, i: int, j: int) -> str:
    """The text of pixel (i, j): an input's hidden field, or a result's value (data-f64) as JavaScript writes it."""
    return page.evaluate("""([selector, i, j]) => {
        const plane = document.querySelector(selector);
        const k = i * Number(plane.dataset.cols) + j;
        const field = plane.querySelector('input[type="hidden"]');
        if (field) return field.value.split(' ')[k];
        const bytes = Uint8Array.from(atob(plane.dataset.f64), ch => ch.charCodeAt(0));
        return String(new Float64Array(bytes.buffer)[k]);
    }""", [selector, i, j])


def unexpected(page_errors: list[str]) -> list[str]:
    """What went wrong besides the requests a newer keystroke replaced (hx-sync replace aborts them)."""
    return [e for e in page_errors if "ERR_ABORTED" not in e]


X = '.plane[data-edit="x"][data-prefix="0,0"]'
OUT = '#results .plane[data-arr="out"][data-prefix="0,0"]'


def test_a_digit_is_drawn_as_images_not_thousands_of_inputs(page, live_server, page_errors):
    open_lab(page, live_server)
    assert page.locator('input.cell[name="x"]').count() == 0
    assert page.locator('.plane[data-edit="x"] input[name="x_plane"]').count() == 1
    assert page.locator('#results .plane[data-arr="out"]').count() == 2  # two filters
    assert page.locator("input").count() < 60
    assert not page_errors, page_errors


def test_a_pixel_is_read_and_edited_through_the_inspector(page, live_server, page_errors):
    open_lab(page, live_server)
    click_pixel(page, X, 14, 3)
    assert "x[0, 0, 14, 3]" in page.inner_text("#inspect-where")
    old_x = float(value_at(page, X, 14, 3))
    assert page.input_value("#inspect-value") == value_at(page, X, 14, 3)
    left, right = float(value_at(page, OUT, 14, 2)), float(value_at(page, OUT, 14, 4))
    was = page.get_attribute(OUT, "data-f64")  # read before the edit: its answer may come before a later read
    page.click("#inspect-value")
    page.keyboard.press("Control+A")
    page.keyboard.type("5")
    changed = "([sel, was]) => { const p = document.querySelector(sel); return p && p.dataset.f64 !== was; }"
    page.wait_for_function(changed, arg=[OUT, was])
    d = 5 - old_x
    assert float(value_at(page, OUT, 14, 2)) == pytest.approx(left - d, abs=1e-12)
    assert float(value_at(page, OUT, 14, 4)) == pytest.approx(right + d, abs=1e-12)
    assert value_at(page, X, 14, 3) == "5"  # the redrawn input holds the edit
    assert page.input_value("#inspect-value") == "5"  # what was typed stays, focused
    assert page.evaluate("() => document.activeElement.id") == "inspect-value"
    assert page.locator(X + " .plane__sel").count() == 1  # and the pixel stays selected
    assert not page_errors, page_errors


def test_a_pixel_edit_is_patched_into_the_lab_in_place(page, live_server, page_errors):
    """The inspector's edit answers the whole lab, patched in place (static/js/patch.js): the #lab element stays and
    htmx cleans up next to nothing (swapped outerHTML, it dispatched two cleanup events per element: ~1,900 at MNIST
    size, 130 ms of the keystroke), while the input image and the results show the edit."""
    open_lab(page, live_server)
    page.evaluate("""() => {
        document.getElementById('lab').lensMark = true;
        window.__cleaned = 0;
        document.addEventListener('htmx:beforeCleanupElement', () => { window.__cleaned += 1; });
    }""")
    click_pixel(page, X, 5, 5)
    # the inputs' section (which present.js gives a toggle of its own) and the inspector (which plane.js owns) are
    # patched in place too, not replaced: replaced, they cost pool's CIFAR example a quarter of each keystroke
    kept = (".lab__inputs", "[data-inspector]", "#inspect-value", X)
    page.evaluate("(kept) => kept.forEach((s) => { document.querySelector(s).lensMark = true; })", kept)
    was = page.get_attribute(OUT, "data-f64")
    page.click("#inspect-value")
    page.keyboard.press("Control+A")
    page.keyboard.type("7")
    page.wait_for_function("([sel, was]) => document.querySelector(sel).dataset.f64 !== was", arg=[OUT, was])
    assert page.evaluate("() => document.getElementById('lab').lensMark") is True
    assert page.evaluate("(kept) => kept.filter((s) => !document.querySelector(s).lensMark)", kept) == []
    assert page.locator(".lab__inputs [data-inputs-toggle]").count() == 1
    assert page.evaluate("() => window.__cleaned") < 50
    assert value_at(page, X, 5, 5) == "7"
    assert page.input_value("#inspect-value") == "7"
    assert not unexpected(page_errors), page_errors


def test_a_bad_number_is_named_and_stays_as_typed(page, live_server, page_errors):
    open_lab(page, live_server)
    click_pixel(page, X, 2, 5)
    page.click("#inspect-value")
    page.keyboard.press("Control+A")
    page.keyboard.type("1.2.3")
    page.wait_for_function("() => !document.getElementById('form-message').hidden")
    assert "x[0, 0, 2, 5]" in page.inner_text("#form-message")
    assert page.get_attribute("#inspect-value", "aria-invalid") == "true"
    assert page.input_value("#inspect-value") == "1.2.3"
    # said in the inspector too (#form-message sits at the top of the results, a screen away on a phone)
    assert page.inner_text("#inspect-error") == "x[0, 0, 2, 5]: '1.2.3' is not a number"
    page.keyboard.press("Control+A")
    page.keyboard.type("2")
    page.wait_for_function("() => document.getElementById('inspect-error').hidden")
    assert page.get_attribute("#inspect-value", "aria-invalid") is None
    # the refusal itself is the point; a keystroke replaces (aborts) the request of the one before
    unexpected = [e for e in page_errors if "422" not in e and "ERR_ABORTED" not in e]
    assert not unexpected, unexpected


def test_the_arrow_keys_move_the_selected_pixel(page, live_server, page_errors):
    open_lab(page, live_server)
    click_pixel(page, X, 10, 10)
    page.focus(X)
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    assert "x[0, 0, 11, 11]" in page.inner_text("#inspect-where")
    click_pixel(page, OUT, 0, 0)  # a result: read only
    assert "out[0, 0, 0, 0]" in page.inner_text("#inspect-where")
    assert page.evaluate("() => document.getElementById('inspect-value').readOnly")
    assert not page_errors, page_errors


def test_dragging_paints_an_input_image(page, live_server, page_errors):
    open_lab(page, live_server, "/pool/preset/mnist")
    click_pixel(page, X, 1, 1)
    image = page.get_attribute(X + " img", "src")
    page.click("#inspect-value")
    page.keyboard.press("Control+A")
    page.keyboard.type("0.5")
    redrawn = "([sel, src]) => document.querySelector(sel + ' img').getAttribute('src') !== src"
    page.wait_for_function(redrawn, arg=[X, image])  # the server drew the edited pixel
    assert value_at(page, X, 1, 1) == "0.5"
    image = page.get_attribute(X + " img", "src")
    page.check("#inspect-paint")
    plane = page.locator(X)
    plane.scroll_into_view_if_needed()
    box = plane.bounding_box()
    y = box["y"] + 1.5 * box["height"] / 28
    page.mouse.move(box["x"] + 2.5 * box["width"] / 28, y)
    page.mouse.down()
    for j in range(3, 9):
        page.mouse.move(box["x"] + (j + 0.5) * box["width"] / 28, y)
    page.mouse.up()
    page.wait_for_function(redrawn, arg=[X, image])
    assert page.is_checked("#inspect-paint")  # the mode survives the redraw
    row = [value_at(page, X, 1, j) for j in range(1, 9)]
    assert row == ["0.5"] * 8, row
    assert not unexpected(page_errors), page_errors
