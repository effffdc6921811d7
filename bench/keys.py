"""How a benchmark types into a cell, the same in ``bench.web``, ``bench.profile_edit`` and ``bench.floor``, how it
selects a pixel of an input image to type in the inspector, and how it steps a stepper (``bench.web`` and
``bench.profile_edit``).

The i-th keystroke appends a digit (0.0001 → 0.00013 → 0.000135 → …), and every 8th first sets a new prefix
without a request, so every keystroke types a value not seen before: no answer comes from a cache.
"""

from __future__ import annotations

from typing import Any

NEW_PREFIX = "(el, v) => { el.value = v; el.focus(); el.setSelectionRange(v.length, v.length); }"
# A step of the network's stepper revisits operations (→ to the last, ← back), which the page cache keeps by their
# link (app.web.labs.network.routes): a benchmark asks for each anew, so it times the work, not the cache: the
# page's step requests say bench.edits.FRESH (and only they: the training cards' requests are as a user's).
FRESH_PAGE = """() => document.addEventListener('htmx:configRequest', (e) => {
  if (e.detail.path.endsWith('/network/step')) e.detail.headers['Cache-Control'] = 'no-cache';
})"""


def press_digit(page: Any, cell: Any, i: int, tag: str = "") -> None:
    """The i-th keystroke in ``cell`` (a Playwright locator); ``tag`` ends each prefix (another run's values)."""
    if i % 8 == 0:
        cell.evaluate(NEW_PREFIX, f"0.{i // 8:03d}{tag}")
    page.keyboard.press(str(1 + (i * 7) % 9))


def select_pixel(page: Any) -> Any:
    """The inspector's value box (static/js/plane.js), focused on the first input image's first pixel: what a
    keystroke types on an image preset. Its edit swaps the whole lab (``#lab``)."""
    page.locator(".plane[data-edit]").first.click()
    box = page.locator("#inspect-value")
    box.click()
    return box


def press_step(page: Any, direction: int) -> int:
    """One step of the stepper in view (static/js/steps.js): → until its last position, then ← back to its first,
    and so on (Next is disabled at the last: a press there would send nothing). Returns the direction to go on in."""
    at = page.evaluate("() => Lens.stepperInView()") or {"position": 0, "count": 2}
    if direction > 0 and at["position"] >= at["count"] - 1:
        direction = -1
    elif direction < 0 and at["position"] <= 0:
        direction = 1
    page.keyboard.press("ArrowRight" if direction > 0 else "ArrowLeft")
    return direction
