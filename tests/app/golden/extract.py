"""The numbers a page shows, as a multiset: one extractor for the golden recorder and its test.

Sources: every text node outside ``<script>``/``<style>``, the ``value`` of ``<input>`` elements,
and every numeric leaf of JSON held in a ``data-*`` attribute (plotly's ``data-figure``,
``data-lazy-figure``, ...). Numbers in text may use the Unicode minus (``−6``), exponents
(``1e-07``, ``1e−7``) or ``1.84 × 10⁻⁴⁵`` / ``10⁻³``; ``inf`` and ``nan`` count too. Each is
normalised to a float rounded to 6 significant digits and written as ``f"{v:.6g}"``.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from html.parser import HTMLParser

SUPERSCRIPTS = str.maketrans("⁻⁺⁰¹²³⁴⁵⁶⁷⁸⁹", "-+0123456789")
_SUP = "[⁰¹²³⁴⁵⁶⁷⁸⁹]"

# A number not glued to a preceding word character or dot (so "conv5_block3" and "x1" give none).
NUMBER = re.compile(
    rf"""(?<![\w.])
    (?P<sign>[-−+]?)
    (?:
        (?P<inf>inf(?:inity)?\b) | (?P<nan>nan\b)
      | (?P<mant>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)
        (?:
            [eE](?P<exp>[-−+]?[0-9]+)
          | \s*×\s*10(?P<sup1>[⁻⁺]?{_SUP}+)
          | (?<=(?<![0-9.])10)(?P<sup2>[⁻⁺]?{_SUP}+)
        )?
    )""",
    re.VERBOSE,
)


def key(value: float) -> str:
    """The multiset key of a number: 6 significant digits, no ``-0``."""
    if math.isnan(value):
        return "nan"
    if value == 0:
        return "0"
    return f"{float(f'{value:.6g}'):.6g}"


def numbers_in_text(text: str) -> list[str]:
    out = []
    for m in NUMBER.finditer(text):
        negative = m["sign"] in ("-", "−")
        if m["nan"]:
            out.append("nan")
            continue
        if m["inf"]:
            value = math.inf
        else:
            sup = m["sup1"] or m["sup2"]
            if m["exp"] is not None:
                value = float(f"{m['mant']}e{m['exp'].replace('−', '-')}")
            elif m["sup1"]:
                value = float(m["mant"]) * 10.0 ** int(sup.translate(SUPERSCRIPTS))
            elif m["sup2"]:  # "10⁻³" on its own
                value = 10.0 ** int(sup.translate(SUPERSCRIPTS))
            else:
                value = float(m["mant"])
        out.append(key(-value if negative else value))
    return out


def numbers_in_json(node) -> list[str]:
    if isinstance(node, bool) or node is None or isinstance(node, str):
        return []
    if isinstance(node, int | float):
        return [key(float(node))]
    if isinstance(node, dict):
        return [k for v in node.values() for k in numbers_in_json(v)]
    if isinstance(node, list):
        return [k for v in node for k in numbers_in_json(v)]
    return []


def _json_attribute(value: str):
    text = value.strip()
    if not text or text[0] not in "[{":
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


class _Numbers(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.counts: Counter[str] = Counter()
        self._skip = 0  # depth inside <script>/<style>

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        self._attributes(tag, attrs)

    def handle_startendtag(self, tag, attrs):
        self._attributes(tag, attrs)

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.counts.update(numbers_in_text(data))

    def _attributes(self, tag, attrs):
        for name, value in attrs:
            if value is None:
                continue
            if tag == "input" and name == "value":
                self.counts.update(numbers_in_text(value))
            elif name.startswith("data-"):
                parsed = _json_attribute(value)
                if parsed is not None:
                    self.counts.update(numbers_in_json(parsed))


def page_numbers(html: str) -> Counter[str]:
    """Every number the page shows, with how often it appears."""
    parser = _Numbers()
    parser.feed(html)
    parser.close()
    return parser.counts


def missing(recorded: dict[str, int], page: Counter[str]) -> dict[str, int]:
    """The recorded numbers the page shows fewer times than recorded: {number: how many are missing}."""
    return {k: n - page[k] for k, n in sorted(recorded.items()) if page[k] < n}
