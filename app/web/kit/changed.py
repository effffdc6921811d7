"""An edit's fragment without the tables (and rows) the page already holds: ``Lens-Have``.

Every table, row of cells and result image THE heatmap writer draws carries ``data-h``, a hash of its HTML
(app.web.render.heatmap.signed). On an edit patched in place (hx-swap="patch"), static/js/patch.js sends the
hashes of the ones it holds in the target in one request header, ``Lens-Have: h1 h2 …``; the answer then
writes each table whose hash is among them as an empty stub, ``<table data-h="h1" data-keep></table>``, and
patch.js keeps its old element for it; in a table that changed, each row the page holds is such a stub
(``<tr data-h="h2" data-keep></tr>``). A wrong or unknown hash is just not among the answer's: that table comes
whole.

The server keeps nothing: the fragment is rendered (and kept in the page cache) whole, the same for every
request, and cut per request from the header (:func:`kept`). Full pages, links, exports and the JSON API never
read the header. A quiz's fragment is never cut (a quiz's page is rewritten after it is drawn, and its tables'
hashes are others: app.web.render.heatmap.signed).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.responses import Response

HEADER = "lens-have"
MAX_HASHES = 1024  # more than this (a header of ~13 KB): everything is sent
VARY = "HX-Request, Accept-Encoding, Lens-Have"  # a fragment's answer: it may leave out what the client holds
_HASH = re.compile(r"[0-9a-f]{12}")
# a signed element's opening tag (a heatmap's <table>, a row of its cells, an image's <div class="plane">) ends in
# data-h, its last attribute; none holds an element of its own tag, so its first closing tag of that name closes it
_MARK = re.compile(rb' data-h="([0-9a-f]{12})">')
_TAGS = frozenset((b"table", b"tr", b"div"))


def have(headers: Headers) -> frozenset[str]:
    """The hashes the client holds (empty: no header, too many, or none well-formed)."""
    text = headers.get(HEADER)
    if not text:
        return frozenset()
    hashes = text.split()
    if len(hashes) > MAX_HASHES:
        return frozenset()
    return frozenset(h for h in hashes if _HASH.fullmatch(h))


def kept(body: bytes, held: frozenset[str]) -> bytes:
    """``body`` with every signed element whose hash is in ``held`` written as an empty stub."""
    if not held:
        return body
    mine = {h.encode() for h in held}
    out, at = [], 0
    for match in _MARK.finditer(body):
        digest = match.group(1)
        if digest not in mine or match.start() < at:
            continue
        start = body.rfind(b"<", at, match.start())
        tag = body[start + 1:match.start()].split(b" ", 1)[0]
        end = body.find(b"</" + tag + b">", match.end()) if start >= 0 and tag in _TAGS else -1
        if end < 0:
            continue
        out += (body[at:start], b"<" + tag + b' data-h="' + digest + b'" data-keep></' + tag + b">")
        at = end + len(tag) + 3
    if not out:
        return body
    out.append(body[at:])
    return b"".join(out)


def cutter(headers: Headers, quiz: object = None) -> Callable[[bytes], bytes] | None:
    """What cuts this request's fragment (None: it gets everything — no header, or a quiz's fragment)."""
    held = have(headers)
    if not held or quiz:
        return None
    return functools.partial(kept, held=held)


def cut(response: Response, by: Callable[[bytes], bytes] | None) -> Response:
    """``response`` (rendered now, not cached) as cut by ``by``."""
    body = getattr(response, "body", None)
    if by is None or not isinstance(body, bytes):
        return response
    mine = by(body)
    if mine is body:
        return response
    headers = {k: v for k, v in response.headers.items() if k != "content-length"}
    headers.update({"cache-control": "no-store", "vary": VARY})
    return Response(mine, status_code=response.status_code, headers=headers)
