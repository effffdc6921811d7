"""The security headers every response carries (pages, fragments, JSON, errors — a 500 included).

Set by :class:`app.middleware.HeadersMiddleware`, and by :func:`app.errors.internal_error` for the
500 that Starlette answers outside every middleware.

Every document refuses to be framed (``frame-ancestors 'none'``) except a lab page opened with ``embed=1``: it
answers :func:`embed_csp`, whose ``frame-ancestors`` are ``Settings.embed_frame_ancestors``. The page route sets
that header itself; the middleware leaves a Content-Security-Policy a route set and adds the default to the rest.
"""

from __future__ import annotations

import re


def csp(frame_ancestors: str = "'none'") -> str:
    """The one Content-Security-Policy, with who may frame the document."""
    return ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
            f"frame-ancestors {frame_ancestors}")


# a frame-ancestors source list: '*', 'self', 'none' or origins (scheme://host[:port], a *. host wildcard allowed)
_SOURCE = re.compile(r"\*|'self'|'none'|[a-z][a-z0-9+.-]*://(\*\.)?[a-z0-9.-]+(:(\d+|\*))?", re.IGNORECASE)


def embed_csp(frame_ancestors: str) -> str:
    """The CSP of an ``embed=1`` document: framed by ``frame_ancestors`` (a setting: ``*`` for any origin, or
    origins separated by spaces). A value that is not a source list raises ValueError (never a header injection)."""
    sources = frame_ancestors.split()
    if not sources or not all(_SOURCE.fullmatch(s) for s in sources):
        raise ValueError(f"embed_frame_ancestors must be '*' or origins separated by spaces, got {frame_ancestors!r}")
    return csp(" ".join(sources))


CSP = csp()
# the browser features no page of this app uses, switched off for it and anything it frames
PERMISSIONS_POLICY = ", ".join(f"{feature}=()" for feature in (
    "accelerometer", "camera", "geolocation", "gyroscope", "magnetometer", "microphone", "payment", "usb",
    "interest-cohort"))
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": PERMISSIONS_POLICY,
    "Cross-Origin-Opener-Policy": "same-origin",
}
