"""Gzip for every answer the page cache did not compress already, at a level chosen by the answer's size.

Starlette's :class:`~starlette.middleware.gzip.GZipMiddleware` at ``Settings.gzip_level`` (6), except that an
answer whose first chunk is ``Settings.gzip_large_bytes`` (64 KiB) or more is compressed at
``Settings.gzip_large_level`` (1):

- an edit's largest fragments (a CIFAR input's, a network step's: 100-210 KiB), compressed for the one request
  while its user waits, take a third to a half of the time, for 12-18 % more bytes (a page the page cache keeps is
  compressed once, at ``gzip_level``, and sent many times: app.web.kit.cache);
- the JSON API's largest answers are megabytes of numbers: the trace of a 24-layer network at batch 4 is 12.9 MB,
  Adam over 500 steps 7.3 MB. At level 6 their compression alone cost 0.83 and 0.70 CPU-s, over the 0.5 CPU-s a
  request may cost (issue 13); at level 1 it costs 0.19 and 0.14 CPU-s for answers ~12 % larger (4.9 MB instead
  of 4.4).

Compression of a large answer runs in a worker thread (zlib lets go of the interpreter lock), never on the event
loop.

Every gzip the app writes for the wire is zlib-ng's (:func:`compressor`, :func:`gzip_bytes`: this middleware and the
page cache's kept bytes), a drop-in deflate that any gzip reader takes. Measured against CPython's zlib on this
machine (one run, load ~1): at level 2 it is both faster and smaller than zlib at level 1 — a pool CIFAR edit's
182 KiB 1.14 ms and 55.6 KiB against 1.74 ms and 58.0 KiB, a network page's 163 KiB 0.66 ms and 34.9 KiB against
1.15 ms and 36.7 KiB, a 3.7 MB network trace 35 ms and 1.53 MB against 41 ms and 1.59 MB — and at level 6 half
the time for the same bytes (a page: 1.5 ms against 3.0). Links (app.web.kit.link's z=) keep CPython's zlib: a
link's text is its identity, and the same state must keep the same link.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import Headers
from starlette.middleware.gzip import GZipMiddleware, GZipResponder, IdentityResponder
from starlette.types import ASGIApp, Receive, Scope, Send
from zlib_ng import gzip_ng, zlib_ng


def compressor(level: int) -> Any:
    """A streaming gzip compressor (zlib-ng) at ``level``: an answer's chunks in, a gzip member out."""
    return zlib_ng.compressobj(level, zlib_ng.DEFLATED, 16 + zlib_ng.MAX_WBITS)


def gzip_bytes(body: bytes, level: int) -> bytes:
    """``body`` as one gzip member (zlib-ng) at ``level``, its header's time 0: the same bytes whenever written."""
    return gzip_ng.compress(body, compresslevel=level, mtime=0)


class SizedGZipResponder(GZipResponder):
    def __init__(self, app: ASGIApp, minimum_size: int, compresslevel: int, large_bytes: int, large_level: int,
                 **kwargs: object) -> None:
        super().__init__(app, minimum_size, compresslevel, **kwargs)  # type: ignore[arg-type]
        self.large_bytes, self.large_level = large_bytes, large_level

    @property
    def compressor(self) -> Any:
        if self._compressor is None:
            self._compressor = compressor(self.compresslevel)
        return self._compressor

    async def apply_compression(self, body: bytes, *, more_body: bool) -> bytes:
        if self._compressor is None and len(body) >= self.large_bytes:  # the level is chosen once, by the first chunk
            self.compresslevel = self.large_level
        return await super().apply_compression(body, more_body=more_body)


class SizedGZipMiddleware(GZipMiddleware):
    def __init__(self, app: ASGIApp, minimum_size: int, compresslevel: int, large_bytes: int,
                 large_level: int) -> None:
        super().__init__(app, minimum_size=minimum_size, compresslevel=compresslevel)
        self.large_bytes, self.large_level = large_bytes, large_level

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "gzip" in Headers(scope=scope).get("accept-encoding", ""):
            responder: ASGIApp = SizedGZipResponder(
                self.app, self.minimum_size, self.compresslevel, self.large_bytes, self.large_level,
                thread_minimum_size=self.thread_minimum_size, exclude_content_types=self.exclude_content_types)
        else:
            responder = IdentityResponder(self.app, self.minimum_size, exclude_content_types=self.exclude_content_types)
        await responder(scope, receive, send)
