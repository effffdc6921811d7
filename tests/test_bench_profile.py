"""bench.profile_edit: the main thread's work and the hottest functions, counted from each keystroke to its frame."""

from __future__ import annotations

from bench import profile_edit as pe

MAIN, OTHER = (1, 10), (1, 20)


def event(name: str, ts: float, dur: float = 0, where=MAIN, **data) -> dict:
    return {"name": name, "ts": ts, "dur": dur, "ph": "X", "pid": where[0], "tid": where[1],
            "args": {"data": data} if data else {}}


def keydown(ts: float, where=MAIN) -> dict:
    return event("EventDispatch", ts, 100, where, type="keydown")


EVENTS = [
    event("UpdateLayoutTree", 0, 50),  # marks the main thread
    keydown(1_000),  # a warm-up key, before the timed ones
    keydown(10_000), keydown(30_000, where=OTHER),  # another thread's keydown is not a key of the page
    keydown(50_000),
    event("Layout", 12_000, 2_000),  # in the first key's window
    event("Layout", 40_000, 5_000),  # between the keys: idle work
    event("Paint", 51_000, 3_000),  # in the second key's window
]
SPANS = [{"key": 0.0, "frame": 8.0}, {"key": 100.0, "frame": 104.0}]  # 8 ms and 4 ms to their frames


def test_the_windows_are_the_timed_keystrokes_on_the_main_thread():
    assert pe.key_windows(EVENTS, SPANS) == [(10_000, 18_000), (50_000, 54_000)]
    assert pe.key_windows(EVENTS, []) == []


def test_the_timeline_counts_only_what_starts_in_a_window():
    windows = pe.key_windows(EVENTS, SPANS)
    kept = pe.timeline(EVENTS, 2, windows)
    assert kept["layout"] == 1.0 and kept["paint"] == 1.5  # ms per keystroke: 2 ms of layout, 3 of paint, two keys
    assert pe.timeline(EVENTS, 2)["layout"] == 3.5  # the whole run: the idle layout too


def test_the_hottest_functions_count_only_the_samples_in_a_window():
    def node(i: int, name: str) -> dict:
        return {"id": i, "callFrame": {"functionName": name, "url": "http://x/static/js/a.js", "lineNumber": 0}}

    profile = {"nodes": [{"id": 1, "callFrame": {"functionName": "(root)"}, "children": [2, 3]},
                         node(2, "inKey"), node(3, "idle")],
               "startTime": 9_000, "samples": [2, 2, 3, 3], "timeDeltas": [2_000, 1_000, 30_000, 1_000]}
    # samples at 11,000 and 12,000 (in the first window), 42,000 and 43,000 (between the keys)
    windowed = dict((name, ms) for ms, name in pe.hot_functions(profile, 5, [(10_000, 18_000)]))
    assert list(windowed) == ["inKey a.js:1"]
    whole = dict((name, ms) for ms, name in pe.hot_functions(profile, 5))
    assert set(whole) == {"inKey a.js:1", "idle a.js:1"}
