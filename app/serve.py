"""How ``backprop-lens serve`` runs uvicorn in production: the HTTP protocol classes and their settings.

:class:`LensHttpToolsProtocol` (the default: httptools' C parser on uvloop, the fastest uvicorn has) and
:class:`LensH11Protocol` (pure Python, when httptools is not installed) are uvicorn's own protocols with
two changes:

* ``TCP_NODELAY`` on every accepted socket. asyncio sets it only on sockets created with
  ``proto=IPPROTO_TCP``; with ``--workers N`` uvicorn binds the shared listening socket with
  ``proto=0``, so each worker's connections kept Nagle's algorithm and every request on a
  kept-alive connection after the first waited ~40 ms for the delayed ACK (Kludex/uvicorn#3149).
* A request the server cannot read is refused in the app's one error body, with a status that
  says why: a request line over the limit answers 414 (the link is too long), headers over it
  431, anything else 400 — instead of uvicorn's plain-text 400 (or, with httptools, no limit at all).

Run it with uvicorn directly as ``uvicorn app.main:create_app --factory --http app.serve:LensHttpToolsProtocol
--loop uvloop --no-server-header --h11-max-incomplete-event-size 49152`` (the last is the request-head limit
of both classes); ``backprop-lens serve`` sets all of it.
"""

from __future__ import annotations

import json
import socket
from importlib.util import find_spec
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from app.errors import error_item
from app.settings import Settings

HEADERS_ALLOWANCE = 16 * 1024  # bytes of headers the server reads besides the longest URL the app accepts
FAST = find_spec("httptools") is not None and find_spec("uvloop") is not None


def max_request_head(settings: Settings) -> int:
    """What the server reads of a request before its body (request line and headers): the app answers a URL
    up to this long itself (414 over ``max_url_bytes``, with a page for a browser)."""
    return settings.max_url_bytes + HEADERS_ALLOWANCE


def set_nodelay(transport: Any) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # a socket that cannot take it (not TCP after all): nothing to fix
            pass


def refusal(status: int, limit: int) -> tuple[int, bytes]:
    """The body of a request refused before the app saw it: 414, 431 or 400, in the one error shape."""
    if status == 414:
        item = error_item(["url"], f"the link is longer than this server reads ({limit:,} bytes); a lab's own links "
                                   "stay far below it (long states are deflated into z=)", "url_too_long")
    elif status == 431:
        item = error_item(["header"], f"the request's headers are over {limit:,} bytes", "headers_too_large")
    else:
        item = error_item([], "the request is not valid HTTP/1.1", "bad_request")
    return status, json.dumps({"detail": [item]}).encode()


REASONS = {400: b"Bad Request", 414: b"URI Too Long", 431: b"Request Header Fields Too Large"}


class LensH11Protocol(H11Protocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._line_read = False  # the current request's line has been received whole
        self._refusal: h11.RemoteProtocolError | None = None
        next_event = self.conn.next_event

        def remembered_next_event() -> Any:
            try:
                return next_event()
            except h11.RemoteProtocolError as exc:
                self._refusal = exc
                raise

        self.conn.next_event = remembered_next_event  # type: ignore[method-assign]

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        set_nodelay(transport)
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if not self._line_read and b"\n" in data:
            self._line_read = True
        super().data_received(data)

    def on_response_complete(self) -> None:
        self._line_read = False
        super().on_response_complete()

    def send_400_response(self, msg: str) -> None:
        too_long = self._refusal is not None and getattr(self._refusal, "error_status_hint", 400) == 431
        status = (431 if self._line_read else 414) if too_long else 400
        status, body = refusal(status, self.conn._max_incomplete_event_size)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   (b"connection", b"close"), (b"x-content-type-options", b"nosniff")]
        try:
            self.transport.write(self.conn.send(h11.Response(status_code=status, headers=headers)))
            self.transport.write(self.conn.send(h11.Data(data=body)))
            self.transport.write(self.conn.send(h11.EndOfMessage()))
        except h11.LocalProtocolError:  # h11 will not answer in this state: fall back to uvicorn's own
            super().send_400_response(msg)
            return
        self.transport.close()


if FAST:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class _TooLarge(Exception):
        """Raised in a parser callback to stop reading a request over the limit (httptools reports it as a
        parser error, which uvicorn answers with send_400_response)."""

    class LensHttpToolsProtocol(HttpToolsProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._limit = self.config.h11_max_incomplete_event_size or max_request_head(Settings())
            self._head_bytes = 0
            self._status = 400

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            set_nodelay(transport)
            super().connection_made(transport)

        def on_message_begin(self) -> None:
            self._head_bytes, self._status = 0, 400
            super().on_message_begin()

        def on_url(self, url: bytes) -> None:
            super().on_url(url)
            if len(self.url) > self._limit:
                self._status = 414
                raise _TooLarge

        def on_header(self, name: bytes, value: bytes) -> None:
            self._head_bytes += len(name) + len(value) + 4
            if self._head_bytes + len(self.url) > self._limit:
                self._status = 431
                raise _TooLarge
            super().on_header(name, value)

        def send_400_response(self, msg: str) -> None:
            status, body = refusal(self._status, self._limit)
            self.transport.write(b"".join([
                b"HTTP/1.1 %d %s\r\n" % (status, REASONS[status]),
                b"content-type: application/json\r\ncontent-length: %d\r\n" % len(body),
                b"connection: close\r\nx-content-type-options: nosniff\r\n\r\n", body]))
            self.transport.close()


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The uvicorn settings of a production server (besides host, port and workers)."""
    return {
        "http": "app.serve:LensHttpToolsProtocol" if FAST else "app.serve:LensH11Protocol",
        "loop": "uvloop" if FAST else "asyncio",
        "server_header": False,  # do not say which server (and version) answers
        "h11_max_incomplete_event_size": max_request_head(settings),  # both classes' request-head limit
        "timeout_keep_alive": 5,
        "proxy_headers": True,  # X-Forwarded-For/-Proto from the reverse proxy (trusted: --forwarded-allow-ips)
    }
