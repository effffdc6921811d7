"""The project's own docs (docs/CONVENTIONS.md) as HTML, through markdown-it-py.

CommonMark plus pipe tables; raw HTML in the source is escaped, never passed through. Two
additions keep the page's links and look: every heading gets an ``id`` slugged from its source
text (``/conventions#the-json-api-…`` links point at them), and every table sits in a
``<div class="table-wrap">`` (it scrolls sideways on a narrow screen).
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _heading_ids(state: StateCore) -> None:
    tokens = state.tokens
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            token.attrSet("id", slugify(tokens[i + 1].content))


_md = MarkdownIt("commonmark", {"html": False}).enable("table")
_md.core.ruler.push("heading_ids", _heading_ids)
_md.add_render_rule("table_open", lambda self, tokens, idx, options, env: '<div class="table-wrap"><table>\n')
_md.add_render_rule("table_close", lambda self, tokens, idx, options, env: "</table></div>\n")


def to_html(source: str) -> str:
    return _md.render(source)
