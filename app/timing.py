"""``Server-Timing: app;dur=<ms>`` on every answer the app routes: the server's share of a request.

The time runs from the request reaching the routes (under every other middleware) to the start of
the answer: reading the form, computing, rendering the template (a TemplateResponse renders when it
is made). Compression and the network are not in it. Browsers show it in their developer tools
(and ``PerformanceResourceTiming.serverTiming``); ``python -m bench.web`` reads it for every edit.
A streamed answer (SSE) reports the time to its first byte.
"""

from __future__ import annotations

import time

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ServerTimingMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def send_timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                ms = (time.perf_counter() - started) * 1000
                MutableHeaders(scope=message).append("Server-Timing", f"app;dur={ms:.2f}")
            await send(message)

        await self.app(scope, receive, send_timed)
