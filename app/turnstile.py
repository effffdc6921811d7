"""A turnstile in front of the router: at most ``Settings.routed_per_loop_turn`` requests enter it per turn of
the event loop.

Why: the event loop runs every task that is ready, one after the other, before it looks at its sockets again.
Three hundred students opening three hundred links at once are three hundred tasks ready together, and each
goes through the middleware, the router and the page route (~1 ms of the loop's time) before it first waits
(for its render thread). Run in one turn, that is 300 ms in which the loop reads no socket: a ``/healthz``
probe waited 228-317 ms (issue 13's target: 100 ms). Let through a few per turn, the loop reads its sockets
between them: each turn is a few milliseconds, and the burst is answered no later (the work is the same).

Used from the event loop only (no lock); one per app (``app.state.turnstile``). An app served by another event
loop (tests run one per client) starts the turnstile afresh: a turn scheduled on a closed loop never runs.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Turnstile:
    def __init__(self, per_turn: int) -> None:
        self.per_turn = per_turn
        self.waiting: deque[asyncio.Future[None]] = deque()
        self.passed = 0  # requests let through in this turn
        self.turning = False  # a next turn is scheduled
        self.loop: asyncio.AbstractEventLoop | None = None

    async def enter(self) -> None:
        """Return when this request may enter the router: at once if fewer than ``per_turn`` have this turn."""
        if self.per_turn < 1:
            return
        loop = asyncio.get_running_loop()
        if loop is not self.loop:
            self.loop, self.waiting, self.passed, self.turning = loop, deque(), 0, False
        if not self.waiting and self.passed < self.per_turn:
            self.passed += 1
            self._schedule()
            return
        future = loop.create_future()
        self.waiting.append(future)
        self._schedule()
        await future  # cancelled while waiting: the turn skips it

    def _schedule(self) -> None:
        if not self.turning:
            self.turning = True
            self.loop.call_soon(self._turn)  # runs in the next turn, after the sockets are read

    def _turn(self) -> None:
        self.turning, self.passed = False, 0
        while self.waiting and self.passed < self.per_turn:
            future = self.waiting.popleft()
            if not future.done():
                future.set_result(None)
                self.passed += 1
        if self.waiting or self.passed:
            self._schedule()
