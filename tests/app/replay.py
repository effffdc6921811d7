"""A network link past step 0 replays its training run first. Over the per-request CPU budget (a fresh server, a
loaded machine) the answer is 503 with the replay's progress, and asking again goes on from there (app.work): the page
does so, and so do the tests, through :func:`get`."""

from __future__ import annotations

import time
from typing import Any


def get(client: Any, url: str, *, tries: int = 300, pause: float = 0.1, **kwargs: Any) -> Any:
    """``client.get(url, **kwargs)``, asked again while it answers 503 (the last answer when it never opens)."""
    for _ in range(tries):
        r = client.get(url, **kwargs)
        if r.status_code != 503:
            return r
        time.sleep(pause)
    return r
