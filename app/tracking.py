"""Parameters that sharing adds to a link, taken off before any page reads it.

A lab's link holds its whole state and is read as strictly as a form: a parameter the lab does not know answers
422 naming it. But a link shared through a social network, a newsletter or an ad comes back with the sharer's
parameters appended (``&fbclid=…``, ``&utm_source=…``), and a student who follows a lecturer's link would meet a
broken-link page for a parameter neither of them wrote. :class:`SharedLinkMiddleware` answers such a page request
303 to the same link without them, byte for byte the rest (its order and encoding kept), so the address bar shows
the link as it was made, and a copy of it is clean. Only these names are taken off; any other unknown parameter is
still the lab's 422. The JSON API (``/api/``) and the static files are left alone: nobody shares those.
"""

from __future__ import annotations

from urllib.parse import unquote_plus

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["SharedLinkMiddleware", "is_tracking", "without_tracking"]

# what social networks, mail and ad platforms append (Facebook, Google, Microsoft, Instagram, Yandex, X, LinkedIn,
# Mailchimp, HubSpot, Marketo); utm_* is a prefix. None of these is a field of any page of ours.
TRACKING = frozenset({"fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "igshid", "yclid",
                      "twclid", "li_fat_id", "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok"})
UNTOUCHED = ("/api/", "/static/")


def is_tracking(name: str) -> bool:
    return name in TRACKING or name.startswith("utm_")


def without_tracking(query: bytes) -> bytes | None:
    """``query`` without the sharers' parameters, its other parts as they were; None when it has none."""
    parts = query.split(b"&")
    kept = [part for part in parts
            if not is_tracking(unquote_plus(part.split(b"=", 1)[0].decode("latin-1")))]
    return None if len(kept) == len(parts) else b"&".join(kept)


class SharedLinkMiddleware:
    """A page asked for (GET or HEAD) with a sharer's parameters answers 303 to its link without them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = scope.get("query_string", b"")
        if (scope["type"] == "http" and query and scope["method"] in ("GET", "HEAD")
                and not scope["path"].startswith(UNTOUCHED)):
            kept = without_tracking(query)
            path = scope.get("raw_path") or scope["path"].encode()
            if kept is not None and not path.startswith(b"//"):  # //host would send the browser to another site
                location = path + (b"?" + kept if kept else b"")
                await send({"type": "http.response.start", "status": 303,
                            "headers": [(b"location", location), (b"content-length", b"0")]})
                await send({"type": "http.response.body", "body": b""})
                return
        await self.app(scope, receive, send)
