"""bench.floor, the reference every lab's keystroke is read against in bench.web, runs in this Chromium."""

from __future__ import annotations

import pytest

from bench.floor import floor_latencies

pytestmark = pytest.mark.browser


def test_the_floor_times_each_keystroke_to_the_frame_after_its_swap(browser, live_server):
    latencies = floor_latencies(browser, live_server, 4)
    assert len(latencies) == 4  # one each: the app's htmx loaded, /healthz answered and swapped in
    assert all(0 < ms < 10_000 for ms in latencies), latencies
