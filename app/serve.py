"""How ``backprop-lens serve`` runs uvicorn in production: the HTTP protocol class and its settings.

:class:`LensH11Protocol` is uvicorn's h11 protocol with two changes:

* ``TCP_NODELAY`` on every accepted socket. asyncio sets it only on sockets created with
  ``proto=IPPROTO_TCP``; with ``--workers N`` uvicorn binds the shared listening socket with
  ``proto=0``, so each worker's connections kept Nagle's algorithm and every request on a
  kept-alive connection after the first waited ~40 ms for the delayed ACK (Kludex/uvicorn#3149).
* A request the server cannot read is refused in the app's one error body, with a status that
  says why: a request line over the limit answers 414 (the link is too long), headers over it
  431, anything else 400 — instead of uvicorn's plain-text 400.

Run it with uvicorn directly as ``uvicorn app.main:create_app --factory --http app.serve:LensH11Protocol
--no-server-header --h11-max-incomplete-event-size 49152``; ``backprop-lens serve`` sets all of it.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from app.errors import error_item
from app.settings import Settings

HEADERS_ALLOWANCE = 16 * 1024  # bytes of headers the server reads besides the longest URL the app accepts


def max_request_head(settings: Settings) -> int:
    """What the server reads of a request before its body (request line and headers): the app answers a URL
    up to this long itself (414 over ``max_url_bytes``, with a page for a browser)."""
    return settings.max_url_bytes + HEADERS_ALLOWANCE


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
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # a socket that cannot take it (not TCP after all): nothing to fix
                pass
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if not self._line_read and b"\n" in data:
            self._line_read = True
        super().data_received(data)

    def on_response_complete(self) -> None:
        self._line_read = False
        super().on_response_complete()

    def send_400_response(self, msg: str) -> None:
        limit = self.conn._max_incomplete_event_size if hasattr(self.conn, "_max_incomplete_event_size") else None
        too_long = self._refusal is not None and getattr(self._refusal, "error_status_hint", 400) == 431
        if too_long and not self._line_read:
            status, item = 414, error_item(["url"], f"the link is longer than this server reads ({limit:,} bytes); "
                                                    "a lab's own links stay far below it (long states are deflated "
                                                    "into z=)", "url_too_long")
        elif too_long:
            status, item = 431, error_item(["header"], f"the request's headers are over {limit:,} bytes",
                                           "headers_too_large")
        else:
            status, item = 400, error_item([], "the request is not valid HTTP/1.1", "bad_request")
        body = json.dumps({"detail": [item]}).encode()
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


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The uvicorn settings of a production server (besides host, port and workers)."""
    return {
        "http": "app.serve:LensH11Protocol",
        "server_header": False,  # do not say which server (and version) answers
        "h11_max_incomplete_event_size": max_request_head(settings),
        "timeout_keep_alive": 5,
        "proxy_headers": True,  # X-Forwarded-For/-Proto from the reverse proxy (trusted: --forwarded-allow-ips)
    }
