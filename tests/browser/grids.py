"""What browser tests of the labs share: read a heatmap as a person sees it, and type like one."""

from __future__ import annotations

READ_GRID = """([array, plane]) => {
    const table = [...document.querySelectorAll(`#results table[data-arr="${array}"]`)]
        .find(t => t.querySelector(`td[data-idx^="${plane},"]`));
    if (!table) return null;
    return [...table.querySelectorAll('tr')].map(tr =>
        [...tr.querySelectorAll('td[data-idx]')].map(td => td.firstChild.textContent.trim()))
        .filter(r => r.length);
}"""


def grid_text(page, array: str, plane: str = "0,0") -> list[list[str]] | None:
    """The numbers shown in the first heatmap of ``array`` for one plane, row by row (subscripts left out)."""
    return page.evaluate(READ_GRID, [array, plane])


def wait_for_grid(page, array: str, expected: list[list[str]], plane: str = "0,0", timeout: int = 5000) -> None:
    """Wait until that heatmap shows ``expected``."""
    page.wait_for_function(f"([array, plane, expected]) => JSON.stringify(({READ_GRID})([array, plane])) "
                           "=== JSON.stringify(expected)", arg=[array, plane, expected], timeout=timeout)


def type_into(page, selector: str, text: str) -> None:
    """Click the cell, select all, type, Tab — as a person does (fill() may skip htmx's trigger)."""
    page.click(selector)
    page.keyboard.press("Control+A")
    page.keyboard.type(text)
    page.keyboard.press("Tab")


def seen(locator) -> None:
    """Scroll ``locator`` into view and wait two frames, as a reader looks at it: a results card far off screen is
    not rendered (content-visibility: auto, cards.css), so its text has no innerText until it has been shown."""
    locator.scroll_into_view_if_needed()
    locator.page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")


def wait_for_message(page, *parts: str, timeout: int = 5000) -> str:
    """Wait until the form message shows every one of ``parts`` and return its text. Each keystroke posts, so the
    message of a prefix (``'a'`` of ``'abc'``) may show first: waiting for it to be visible alone would race."""
    page.wait_for_function("(parts) => { const m = document.querySelector('#form-message');"
                           " return !!m && m.offsetParent !== null && parts.every((p) => m.innerText.includes(p)); }",
                           arg=list(parts), timeout=timeout)
    return page.inner_text("#form-message")
