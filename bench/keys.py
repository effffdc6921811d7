"""How a benchmark types into a cell, the same in ``bench.web``, ``bench.profile_edit`` and ``bench.floor``.

The i-th keystroke appends a digit (0.0001 → 0.00013 → 0.000135 → …), and every 8th first sets a new prefix
without a request, so every keystroke types a value not seen before: no answer comes from a cache.
"""

from __future__ import annotations

from typing import Any

NEW_PREFIX = "(el, v) => { el.value = v; el.focus(); el.setSelectionRange(v.length, v.length); }"


def press_digit(page: Any, cell: Any, i: int, tag: str = "") -> None:
    """The i-th keystroke in ``cell`` (a Playwright locator); ``tag`` ends each prefix (another run's values)."""
    if i % 8 == 0:
        cell.evaluate(NEW_PREFIX, f"0.{i // 8:03d}{tag}")
    page.keyboard.press(str(1 + (i * 7) % 9))
