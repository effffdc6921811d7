"""A quiz page's text without its hidden values: the last pass over a page or fragment drawn for a quiz.

THE heatmap writer already draws a hidden cell blank (app.web.render.hidden). The same number can also be written
elsewhere on the page: a formula with the numbers plugged in (``S_1 = 0.1353 + 1 + … = 1.248``), the batch-norm
graph's node, a summary card (``L = 1.519``), the window stepper's sum, a cell of a table that shows the same
quantity a second way (dx by col2im and by the full convolution), a tooltip, a figure's data. :func:`masked`
takes every text of a hidden value out of the HTML, whichever formatter wrote it (THE number formatter's
``cell_text``, ``exact_text``/repr, ``prose_text``, ``power_text``, the engine's ``tex_number``): each becomes
``?``, and a figure's data (``data-figure='…'`` JSON) drops that point (``null``).

A value is masked by its text only when the text is distinctive: a non-integer with at least
``DISTINCT_DIGITS`` significant digits (``0.3192``, ``1.248``, ``5.25e-3``). A whole number or a short one (``7``,
``0.5``) is too common to take out of every formula without blanking unrelated numbers (an input's ``0.5``, the
ε of a norm), so only its own cell is hidden. Input values (``<input value=…>``), links (an attribute holding a
path) and pixel data are never touched: a max-pool's answer is one of its inputs, and the form must post (and the
links keep) what the user typed.
"""

from __future__ import annotations

import bisect
import json
import math
import re
from collections.abc import Iterable

from jinja2.utils import htmlsafe_json_dumps
from starlette.responses import Response

from app.web.render.numbers import cell_text, exact_text, power_text, prose_text, tex_number

DISTINCT_DIGITS = 3  # significant digits a value's text needs to be masked wherever it is written
_SKIP = (r"<input\b[^>]*>|data-f64=\"[^\"]*\"|src=\"data:[^\"]*\"|=\"/[^\"]*\"|='/[^']*'"  # inputs, pixels, links
         r"|data-figure='(?P<figure>[^']*)'")
_SKIP_RE = re.compile(_SKIP)


def _whole(html: str, i: int, j: int) -> bool:
    """Whether html[i:j] is a whole number there, not a piece of a longer one or of a word."""
    before, after, next_ = html[i - 1:i], html[j:j + 1], html[j + 1:j + 2]
    if before.isalnum() or (before and before in "._") or after.isalnum():  # 12.34, x0.5, 0.5e-3, 1.25em
        return False
    return not (after == "." and next_.isdigit())


def _significant(text: str) -> int:
    mantissa = re.split(r"e|\s*\\times|\s*×", text.lstrip("-−"))[0]
    return len(mantissa.replace(".", "").lstrip("0"))


def texts(value: float) -> set[str]:
    """The distinctive texts of ``|value|`` as the page's formatters write it (none for a common number)."""
    v = abs(float(value))
    if not math.isfinite(v) or v.is_integer():
        return set()
    written = {cell_text(v), exact_text(v), prose_text(v).replace("\u2212", "-"), power_text(v),
               *(tex_number(v, d) for d in (3, 4, 5, 6)), *(f"{v:.{d}g}" for d in (3, 4, 5, 6))}
    return {t for t in written if ("." in t or "e" in t) and _significant(t) >= DISTINCT_DIGITS}


class Mask:
    """The texts and exact magnitudes of a quiz's hidden values, ready to take out of a page."""

    def __init__(self, values: Iterable[float]) -> None:
        values = [float(v) for v in values]
        self.magnitudes = {abs(v) for v in values if math.isfinite(v) and not float(v).is_integer()}
        # ... and as a figure may round them (a snapshot's 0.08752): to any decimals that keep them distinctive
        self.rounded = {r for m in self.magnitudes for d in range(1, 12)
                        if (r := round(m, d)) != m and _significant(f"{r:.12g}") >= DISTINCT_DIGITS}
        self.texts = {t for v in values for t in texts(v)}

    def text(self, html: str) -> str:
        """``html`` with every distinctive text of a hidden value as ``?`` (a figure's point as null). Each text is
        found by a plain search (a C scan) and kept only where it is a whole number outside what is never touched:
        ~10× faster than one regular expression of every text."""
        if not self.texts:
            return html
        regions = [(m.start(), m.end(), m.group("figure")) for m in _SKIP_RE.finditer(html)]
        starts = [r[0] for r in regions]
        hits: list[tuple[int, int, str]] = []
        for t in self.texts:
            i = html.find(t)
            while i >= 0:
                j = i + len(t)
                if _whole(html, i, j):
                    k = bisect.bisect_right(starts, i) - 1
                    if k < 0 or regions[k][1] <= i:
                        hits.append((i, j, "?"))
                i = html.find(t, i + 1)
        hits += [(a, b, f"data-figure='{self.figure(fig)}'") for a, b, fig in regions if fig is not None]
        hits.sort(key=lambda h: (h[0], h[0] - h[1]))  # by start, the longer text first
        out, at = [], 0
        for a, b, new in hits:
            if a >= at:  # a shorter text inside one already replaced: skipped
                out += [html[at:a], new]
                at = b
        out.append(html[at:])
        return "".join(out)

    def figure(self, text: str) -> str:
        """A figure's JSON with every hidden value's point dropped (null), written as Jinja's tojson writes it."""
        try:
            data = json.loads(text)
        except ValueError:
            return text

        def walk(node):
            if isinstance(node, float) and (abs(node) in self.magnitudes or abs(node) in self.rounded):
                return None
            if isinstance(node, list):
                return [walk(v) for v in node]
            if isinstance(node, dict):
                return {k: walk(v) for k, v in node.items()}
            return node

        return str(htmlsafe_json_dumps(walk(data)))


def masked(response: Response, values: Iterable[float]) -> Response:
    """``response`` (an HTML page or fragment) with the hidden ``values`` taken out of its text."""
    mask = Mask(values)
    if not mask.texts or not getattr(response, "body", None):
        return response
    body = mask.text(response.body.decode("utf-8")).encode("utf-8")
    response.body = body
    response.headers["content-length"] = str(len(body))
    return response
