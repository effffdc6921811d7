"""What THE heatmap writer wrote, kept by everything it was written from: an edit writes again only what changed.

An edit changes a few numbers, and most tables and images of its answer are the ones the last answer drew: a
pool CIFAR pixel leaves 23 of its 38 tables and images as they were. The writer (app.web.render.heatmap) asks
here before it colours and writes one, by a key of everything its HTML is written from: the values' bytes, the
colour scale, every option, the quiz it is drawn for (a key of None: it cannot be told, and it is written as
before). The same key writes the same bytes whoever asks, so what is kept serves every visitor: nothing here is
a visitor's state. Bounded by size (``LIMIT_BYTES``), the least recently used out first; safe across threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")
LIMIT_BYTES = 24 << 20  # 24 MiB of HTML and values: ~1,000 CIFAR planes, ~3,000 tables of 16 × 16


class Memo:
    """A bounded map of key -> what was made from it (the least recently used out first when over ``limit`` bytes):
    the writer's HTML here, a network layer's "Open in its lab" link (app.web.labs.network.step)."""

    def __init__(self, limit: int = LIMIT_BYTES) -> None:
        self.limit = limit
        self.size = 0
        self.hits = self.misses = 0
        self._kept: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._kept)

    def get(self, key: Hashable | None) -> Any:
        if key is None:
            return None
        with self._lock:
            found = self._kept.get(key)
            if found is None:
                self.misses += 1
                return None
            self._kept.move_to_end(key)
            self.hits += 1
            return found[0]

    def put(self, key: Hashable | None, value: Any, size: int) -> None:
        """Keep ``value`` under ``key`` (None is not kept); ``size``: its bytes and its key's, roughly (what it holds
        in memory)."""
        if key is None or value is None or size > self.limit:
            return
        with self._lock:
            old = self._kept.pop(key, None)
            if old is not None:
                self.size -= old[1]
            self._kept[key] = (value, size)
            self.size += size
            while self.size > self.limit:
                _, (_, dropped) = self._kept.popitem(last=False)
                self.size -= dropped

    def made(self, key: Hashable, make: Callable[[], T], size: Callable[[T], int]) -> T:
        """What is kept under ``key``, else ``make()``, kept with ``size`` of it (its bytes and its key's, roughly)."""
        found = self.get(key)
        if found is None:
            found = make()
            self.put(key, found, size(found))
        return found

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
            self.size = self.hits = self.misses = 0


WRITTEN = Memo()  # the writer's one memo
