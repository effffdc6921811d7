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
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.gzip import GZipMiddleware, GZipResponder, IdentityResponder
from starlette.types import ASGIApp, Receive, Scope, Send


class SizedGZipResponder(GZipResponder):
    def __init__(self, app: ASGIApp, minimum_size: int, compresslevel: int, large_bytes: int, large_level: int,
                 **kwargs: object) -> None:
        super().__init__(app, minimum_size, compresslevel, **kwargs)  # type: ignore[arg-type]
        self.large_bytes, self.large_level = large_bytes, large_level

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
