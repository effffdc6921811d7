"""Pure ASGI middleware (no BaseHTTPMiddleware, so streamed responses stay streamed).

* :class:`HeadersMiddleware` — security headers on every HTML response, and caching:
  ``/static/*`` with ``?v=`` and everything under ``/static/vendor/`` is immutable for a
  year; any other response without its own Cache-Control gets ``no-cache`` (revalidate).
* :class:`BodyLimitMiddleware` — request bodies over the limit answer 413 before parsing.
"""

from __future__ import annotations

import json

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import error_item

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


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
                headers.setdefault("X-Content-Type-Options", "nosniff")
                if headers.get("content-type", "").startswith("text/html"):
                    for name, value in SECURITY_HEADERS.items():
                        headers[name] = value
                if immutable and message["status"] == 200:
                    headers["Cache-Control"] = self.immutable
                else:
                    headers.setdefault("Cache-Control", "no-cache")
            await send(message)

        await self.app(scope, receive, send_with_headers)


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
                await self._too_large(send)
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
            await self._too_large(send)

    async def _too_large(self, send: Send) -> None:
        body = json.dumps({"detail": TooLarge(self.max_bytes).detail}).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class TooLarge(HTTPException):
    """A streamed body went over the limit (an HTTPException, so the app's handler answers 413)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, [error_item(["body"], f"the request body is over the limit of {max_bytes} bytes",
                                          "too_large")])
