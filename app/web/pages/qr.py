"""``GET /qr.svg?link=/conv?v=1…``: a QR code of a lab link, drawn server-side as SVG by segno.

Presenter mode shows it large (static/js/present.js), so students open the same computation on their phones.
Only a link of this site is drawn — a known page path and a query, nothing else — so the code can never send a
phone somewhere else; the phone gets it absolute, on the origin the page was asked from. A long readable link is
drawn in its compact ``z=`` form when that is shorter (fewer modules: a projected code a phone can still read).
Display parameters (``present``, ``embed``) are dropped: a phone opens the computation, not the projector's view.
"""

from __future__ import annotations

import io
import re
from functools import lru_cache

import segno
from fastapi import APIRouter, Request
from starlette.responses import Response

from app.settings import Settings
from app.web.kit.display import split_display
from app.web.kit.fields import FieldError
from app.web.kit.link import from_query, to_query
from app.web.kit.responses import field_errors
from app.web.kit.routes import SettingsDep
from app.web.nav import LABS

router = APIRouter()

PATHS = frozenset({lab.path for lab in LABS if lab.available} | {"/deck"})  # the pages whose links may be drawn
QUERY = re.compile(r"[A-Za-z0-9\-._~:/?@!$&'()*+,;=%]+")  # a query as this site writes one (no spaces, no #)
INK = "#14181f"  # --ink of base.css


def same_origin_link(link: str, settings: Settings) -> str:
    """``link`` checked as a link of this site (a known page path and a query), without present/embed, in its
    shorter form (readable or compact ``z=``); raises FieldError naming ``link``."""
    if len(link) > settings.qr_max_link:
        raise FieldError("link", f"is {len(link):,} characters long; a QR code here holds at most "
                                 f"{settings.qr_max_link:,} (Settings.qr_max_link: a projected code a phone can read)")
    path, sep, query = link.partition("?")
    if path not in PATHS:
        raise FieldError("link", f"must be a link of this site's labs ({', '.join(sorted(PATHS))}), "
                                 f"starting with the path, got {link[:60]!r}")
    if not sep or not query or QUERY.fullmatch(query) is None:
        raise FieldError("link", "must hold the page's query (?v=1&…) written as this site writes it")
    query, _ = split_display(query)
    return path + "?" + (query if path == "/deck" else shorter(query))


def shorter(query: str) -> str:
    """The query or its compact ``z=`` form, whichever is shorter (the same computation either way)."""
    try:
        compact = to_query(from_query(query), readable_limit=0)
    except FieldError:  # not a lab link's query (a deck's): drawn as it came
        return query
    return compact if len(compact) < len(query) else query


@router.get("/qr.svg", include_in_schema=False)
def qr_svg(request: Request, settings: SettingsDep, link: str = "") -> Response:
    """The QR code of ``link`` (a path and query of this site) as an absolute URL on this origin."""
    try:
        checked = same_origin_link(link, settings)
    except FieldError as exc:
        return field_errors([exc], where="query")
    try:
        svg = qr_svg_bytes(str(request.base_url).rstrip("/") + checked)
    except segno.DataOverflowError:
        return field_errors([FieldError("link", "is too long for a QR code")], where="query")
    return Response(svg, media_type="image/svg+xml",
                    headers={"Cache-Control": "public, max-age=86400", "Vary": "Host"})


@lru_cache(maxsize=128)
def qr_svg_bytes(url: str) -> bytes:
    """The SVG of ``url``'s QR code (20-80 ms of pure Python each: a lecturer asking again gets it kept)."""
    code = segno.make(url, error="l", boost_error=False, micro=False)
    out = io.BytesIO()
    code.save(out, kind="svg", border=4, xmldecl=False, omitsize=True, dark=INK, light="#ffffff",
              svgclass="qr-code", lineclass=None, title="QR code of a Backprop Lens link")
    return out.getvalue()
