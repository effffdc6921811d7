"""Pure ASGI middleware (no BaseHTTPMiddleware, so streamed responses stay streamed).

* :class:`HeadersMiddleware` — the security headers (:mod:`app.security`) on every response, and
  caching: ``/static/*`` with ``?v=`` and everything under ``/static/vendor/`` is immutable for a
  year; any other response without its own Cache-Control gets ``no-cache`` (revalidate).
* :class:`BodyLimitMiddleware` — request bodies over the limit answer 413 before parsing.
* :class:`UrlLimitMiddleware` — a path and query over the limit answer 414 before routing.
"""

from __future__ import annotations

import json

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import error_item
from app.security import CSP, SECURITY_HEADERS
from app.web.pages.errors import error_page

__all__ = ["CSP", "BodyLimitMiddleware", "HeadersMiddleware", "UrlLimitMiddleware", "is_immutable"]


def is_immutable(path: str, query_string: bytes) -> bool:
    """Files whose URL changes whenever their content does."""
    if not path.startswith("/static/"):
        return False
    if path.startswith("/static/vendor/"):
        return True
    return any(part.startswith(b"v=") for part in query_string.split(b"&"))


class HeadersMiddleware:
    def __init__(self, app: ASGIApp, max_age: int) -> None:
        self.app = app
        self.immutable = f"public, max-age={max_age}, immutable"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        immutable = is_immutable(scope["path"], scope.get("query_string", b""))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name == "Content-Security-Policy" and name in headers:
                        continue  # a route's own (an embed=1 page's, app.security.embed_csp)
                    headers[name] = value
                if immutable and message["status"] == 200:
                    headers["Cache-Control"] = self.immutable
                else:
                    headers.setdefault("Cache-Control", "no-cache")
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def send_error(send: Send, status: int, item: dict, headers: list[tuple[bytes, bytes]] = ()) -> None:
    """An error answered by a middleware, before the app: the one body, ``{"detail": [item]}``."""
    body = json.dumps({"detail": [item]}, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await send_error(send, 413, TooLarge(self.max_bytes).detail[0])
                return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise TooLarge(self.max_bytes)
            return message

        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except TooLarge:
            if started:
                raise
            await send_error(send, 413, TooLarge(self.max_bytes).detail[0])


class TooLarge(HTTPException):
    """A streamed body went over the limit (an HTTPException, so the app's handler answers 413)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, [error_item(["body"], f"the request body is over the limit of {max_bytes} bytes",
                                          "too_large")])


def url_too_long(length: int, max_bytes: int) -> dict:
    """The 414's one error item (also what :mod:`app.serve` answers for a request line the server refuses)."""
    return error_item(["url"], f"the link is {length:,} bytes long; the limit is {max_bytes:,}. A lab's own "
                               "links stay far below it (long states are deflated into z=): it may have been "
                               "pasted twice or edited by hand", "url_too_long")


class UrlLimitMiddleware:
    """A path and query string over ``max_bytes`` answers 414 (a page that says why for a browser)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            length = len(scope.get("raw_path") or scope["path"].encode()) + len(scope.get("query_string", b""))
            if length > self.max_bytes:
                item = url_too_long(length, self.max_bytes)
                accept = Headers(scope=scope).get("accept", "")
                if "text/html" in accept and not scope["path"].startswith("/api/"):
                    response = error_page(414, "This link is too long", item["msg"])
                    await response(scope, receive, send)
                    return
                await send_error(send, 414, item, [(b"connection", b"close")])
                return
        await self.app(scope, receive, send)
