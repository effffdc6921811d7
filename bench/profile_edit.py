"""``python -m bench.profile_edit [--lab LAB ...] [--preset KEY ...] [--edits N] [--pace MS] [--base URL]``: where an
edit's milliseconds go in Chromium, from the keystroke to the frame that shows it (issue 12, target 1).

For each case it types N keystrokes (as ``bench.web`` does) and reports, p50 over the keystrokes:

- spans from page events: keydown → the request sent (htmx:beforeRequest) → its answer in (htmx:beforeSwap;
  of which the server's own time from ``Server-Timing``) → swapped (htmx:afterSwap: the patch, static/js/patch.js)
  → drawn (Lens's lens:drawn: Plotly and KaTeX, static/js/lens.js) → the next frame (requestAnimationFrame then a
  task: style, layout, paint);
- the renderer's main thread over the same keystrokes, from a DevTools trace (``Tracing`` over CDP): the total ms
  per keystroke of script, style recalculation, layout (and how many layouts a script forced), paint, HTML parse;
- the JavaScript functions with the most self time (the CDP ``Profiler``, sampled every 100 µs).

Both count only what runs between a keystroke and the frame that shows it (:func:`key_windows`): the work a page
leaves for when it is idle (a stepper's next step asked for and parsed ahead, static/js/prefetch.js; formulas off
screen; the address bar) is not in what the reader waits for. ``--whole``: every moment of the typing, as before.
``--pace MS``: a pause after each keystroke is drawn, as a person types or steps (bench.web's --pace), so that
work done ahead has the time it has in use.

Load average before and after: read it next to the figures (2 cores shared with other work).
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics

from playwright.sync_api import sync_playwright

from bench.keys import FRESH_PAGE, press_digit, press_step, select_pixel
from bench.web import Case, cases, launch_chromium, percentile, start_server

SPANS = """(target) => {
  window.__spans = []; let cur = null;
  const now = () => performance.now();
  document.addEventListener('keydown', () => { cur = {key: now()}; }, true);
  const mark = (name) => (e) => { if (cur && !(name in cur)) cur[name] = now(); };
  document.addEventListener('htmx:beforeRequest', (e) => {
    if (cur && e.detail.target && e.detail.target.id === target && !('sent' in cur)) cur.sent = now();
  });
  document.addEventListener('htmx:beforeSwap', (e) => {
    if (!cur || !e.detail.target || e.detail.target.id !== target) return;
    cur.answered = now();
    const t = e.detail.xhr && e.detail.xhr.getResponseHeader('server-timing');
    const m = t && /app;dur=([0-9.]+)/.exec(t);
    cur.server = m ? Number(m[1]) : null;
  });
  document.addEventListener('htmx:afterSwap', (e) => {
    if (cur && e.detail.target && ('answered' in cur) && !('swapped' in cur)) cur.swapped = now();
  });
  document.addEventListener('htmx:afterSettle', mark('settled'));
  document.addEventListener('lens:drawn', (e) => {
    const root = e.detail && e.detail.root;
    if (!cur || !root || root.id !== target || !('answered' in cur)) return;
    const c = cur; cur = null; c.drawn = now();
    requestAnimationFrame(() => { c.raf = now(); setTimeout(() => { c.frame = now(); window.__spans.push(c); }, 0); });
  });
}"""

STAGES = (("request", "key", "sent"), ("answer", "sent", "answered"), ("swap", "answered", "swapped"),
          ("draw", "swapped", "drawn"), ("to rAF", "drawn", "raf"), ("frame", "raf", "frame"))

TIMELINE = {"FunctionCall": "script", "EvaluateScript": "script", "TimerFire": "script", "FireAnimationFrame": "script",
            "EventDispatch": "script", "XHRReadyStateChange": "script", "V8.Execute": "script",
            "UpdateLayoutTree": "style", "Layout": "layout", "Paint": "paint", "PrePaint": "paint",
            "Layerize": "paint", "UpdateLayer": "paint", "ParseHTML": "parse", "ParseAuthorStyleSheet": "parse",
            "HitTest": "hit test", "Commit": "paint"}


def type_keys(page, case: Case, edits: int, cell, tag: str = "", pace: int = 0) -> None:
    """``cell``: where the keys type (a cell, or the inspector's box); ``tag``: the variant's run types values of
    its own (bench.keys), none answered from the page cache; ``pace``: ms waited after each keystroke is drawn."""
    direction = 1
    for i in range(edits):
        if case.kind in ("cell", "plane"):
            press_digit(page, cell, i, tag)
        else:  # → to the last operation, then ← back (only → timed out there: a press at the last sends nothing)
            direction = press_step(page, direction)
        page.wait_for_function(f"() => window.__spans.length >= {i + 1}", timeout=15000)
        if pace:
            page.wait_for_timeout(pace)


Window = tuple[float, float]  # (start, end) in the trace's and the profiler's clock, µs


def main_thread(events: list[dict]) -> tuple[int, int] | None:
    """(pid, tid) of the renderer's main thread: the one that recalculates style."""
    main = collections.Counter((e.get("pid"), e.get("tid")) for e in events if e.get("name") == "UpdateLayoutTree")
    return main.most_common(1)[0][0] if main else None


def key_windows(events: list[dict], spans: list[dict]) -> list[Window]:
    """Each timed keystroke's stretch of the renderer's clock: from its keydown (the trace's keydown dispatch on the
    main thread) for as long as the page measured it to its frame (``frame − key``, ms). The last len(spans)
    keydowns are the timed ones (the trace may hold none before them, or a warm-up's)."""
    where = main_thread(events)
    keys = sorted(e["ts"] for e in events if (e.get("pid"), e.get("tid")) == where and e.get("name") == "EventDispatch"
                  and (e.get("args", {}).get("data") or {}).get("type") == "keydown")
    keys = keys[-len(spans):] if spans else []
    return [(t, t + (s["frame"] - s["key"]) * 1000) for t, s in zip(keys, spans[-len(keys):] if keys else [],
                                                                      strict=True)]


def within(t: float, windows: list[Window] | None) -> bool:
    """Whether the moment t falls in a window (every moment does when there are no windows: the whole run)."""
    return windows is None or any(a <= t <= b for a, b in windows)


def timeline(events: list[dict], edits: int, windows: list[Window] | None = None) -> dict[str, float]:
    """ms per keystroke by kind on the renderer's main thread (outermost events only, so nothing counts twice); with
    ``windows``, only the events that start in one."""
    where = main_thread(events)
    if where is None:
        return {}
    pid, tid = where
    spans = sorted((e for e in events if e.get("pid") == pid and e.get("tid") == tid and e.get("ph") == "X"
                    and e.get("name") in TIMELINE and within(e["ts"], windows)), key=lambda e: e["ts"])
    out: dict[str, float] = collections.defaultdict(float)
    forced = 0
    stack: list[tuple[float, str]] = []  # (end, kind) of the enclosing events
    for e in spans:
        start, end, kind = e["ts"], e["ts"] + e.get("dur", 0), TIMELINE[e["name"]]
        while stack and stack[-1][0] <= start:
            stack.pop()
        if stack and stack[-1][1] == "script" and kind in ("layout", "style"):
            forced += kind == "layout"
            out[kind + " (forced by script)"] += e.get("dur", 0) / 1000
            out["script"] -= e.get("dur", 0) / 1000
        elif not stack:
            out[kind] += e.get("dur", 0) / 1000
        stack.append((end, kind))
    result = {k: v / edits for k, v in out.items()}
    result["forced layouts"] = forced / edits
    return result


def hot_functions(profile: dict, top: int, windows: list[Window] | None = None) -> list[tuple[float, str]]:
    """Self time by function; a browser built-in (no script URL: getBoundingClientRect, a forced layout) is
    named with the page function that called it. With ``windows``, only the samples taken in one (a sample's time:
    the profile's startTime plus the deltas so far, the trace's clock)."""
    nodes = {n["id"]: n for n in profile["nodes"]}
    parent = {c: n["id"] for n in profile["nodes"] for c in n.get("children", [])}
    self_us: dict[str, float] = collections.defaultdict(float)
    deltas = profile.get("timeDeltas", [])
    at = profile.get("startTime", 0)

    def where(node: dict) -> str:
        frame = node["callFrame"]
        url = frame.get("url", "").split("/")[-1].split("?")[0]
        return f"{frame.get('functionName') or '(anonymous)'} {url}:{frame.get('lineNumber', 0) + 1}"

    for sample, step, dt in zip(profile.get("samples", []), deltas, deltas[1:] + [0], strict=False):
        at += step
        if not within(at, windows):
            continue
        node = nodes[sample]
        name = node["callFrame"].get("functionName") or "(anonymous)"
        if name in ("(idle)", "(program)", "(root)"):
            continue
        label = where(node)
        if not node["callFrame"].get("url"):
            up = nodes.get(parent.get(sample))
            while up is not None and not up["callFrame"].get("url") and up["id"] in parent:
                up = nodes.get(parent[up["id"]])
            if up is not None and up["callFrame"].get("url"):
                label = f"{name} <- {where(up)}"
        self_us[label] += dt
    return sorted(((us / 1000, k) for k, us in self_us.items()), reverse=True)[:top]


def profile_case(browser, base: str, case: Case, edits: int, top: int, reduced: bool = False,
                 setup: str | None = None, *, pace: int = 0, whole: bool = False) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000},
                            reduced_motion="reduce" if reduced else "no-preference")
    page.goto(base + case.link)
    page.wait_for_load_state("networkidle")
    if setup:  # a variant of the page's scripts (--variant)
        page.evaluate(f"() => {{ {setup}; }}")
    cell = page.locator("[data-lab] .cells input.cell").first
    if case.kind == "cell":
        target = (cell.evaluate("(el) => el.closest('[hx-target]').getAttribute('hx-target')") or "#results")[1:]
        cell.click()
    elif case.kind == "plane":  # a pixel of the input image selected, then typed in the inspector (as bench.web)
        target = "lab"
        cell = select_pixel(page)
    else:
        target = "net-step"
        page.evaluate(FRESH_PAGE)
        page.locator("#net-step").scroll_into_view_if_needed()  # → steps the stepper in view (steps.js)
        page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.evaluate(SPANS, target)
    page.wait_for_timeout(1200)
    tag = "7" if setup else ""
    type_keys(page, case, 3, cell, tag, pace)  # warm: plotly.js loaded, KaTeX's fonts in
    page.evaluate("() => { window.__spans = []; }")
    cdp = page.context.new_cdp_session(page)
    cdp.send("Profiler.enable")
    cdp.send("Profiler.setSamplingInterval", {"interval": 100})
    events: list[dict] = []
    cdp.on("Tracing.dataCollected", lambda ev: events.extend(ev["value"]))
    cdp.send("Tracing.start", {"categories": "devtools.timeline,v8", "transferMode": "ReportEvents"})
    cdp.send("Profiler.start")
    type_keys(page, case, edits, cell, tag, pace)
    prof = cdp.send("Profiler.stop")["profile"]
    done = []
    cdp.on("Tracing.tracingComplete", lambda ev: done.append(1))
    cdp.send("Tracing.end")
    while not done:
        page.wait_for_timeout(100)
    spans = page.evaluate("() => window.__spans")
    page.close()
    total = [s["frame"] - s["key"] for s in spans]
    name = f"{case.lab} {case.preset} ({case.kind})" + (f" with {setup}" if setup else "")
    print(f"\n{name}: keystroke -> frame p50 {statistics.median(total):.1f}"
          f" p95 {percentile(total, 95):.1f} ms over {len(spans)}" + (f", {pace} ms between keys" if pace else ""))
    parts = []
    for name, a, b in STAGES:
        values = [s[b] - s[a] for s in spans if a in s and b in s]
        if values:
            parts.append(f"{name} {statistics.median(values):.1f}")
    server = [s["server"] for s in spans if s.get("server") is not None]
    if server:
        parts.append(f"(server {statistics.median(server):.1f})")
    print("  spans p50 ms: " + ", ".join(parts))
    windows = None if whole else key_windows(events, spans)
    when = "the whole run" if whole else "keystroke to frame only"
    per_key = timeline(events, len(spans) or edits, windows)
    print(f"  main thread ms/keystroke ({when}): " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(
        per_key.items(), key=lambda kv: -kv[1]) if v >= 0.05))
    print(f"  hottest JS (self ms per keystroke, {when}):")
    for ms, name in hot_functions(prof, top, windows):
        print(f"    {ms / max(1, len(spans)):7.2f}  {name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_edit", description=__doc__.split("\n\n")[0])
    parser.add_argument("--lab", nargs="+", default=["conv", "pool", "norm", "softmax", "optim", "network"])
    parser.add_argument("--preset", nargs="+")
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--base", help="a server already running there (default: start one)")
    parser.add_argument("--reduced-motion", action="store_true", help="as a visitor who prefers reduced motion")
    parser.add_argument("--variant", help="also each case with this script run on the page after it loads (e.g. "
                        "'Lens.figuresFirst = false'), right after it")
    parser.add_argument("--pace", type=int, default=0, metavar="MS",
                        help="wait MS after each keystroke is drawn, as a person types or steps (default 0: at once)")
    parser.add_argument("--whole", action="store_true",
                        help="count the main thread's work over the whole run, idle time included, not only from "
                        "each keystroke to its frame")
    args = parser.parse_args(argv)
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()), flush=True)
    proc, base = (None, args.base.rstrip("/")) if args.base else start_server()
    try:
        found = [c for c in cases(base, args.lab, args.preset) if c.kind != "skip"
                 and (args.preset or c.preset not in ("mnist", "cifar", "resnet"))]  # the image presets when asked
        with sync_playwright() as p:
            browser = launch_chromium(p)
            for case in found:
                profile_case(browser, base, case, args.edits, args.top, args.reduced_motion, pace=args.pace,
                             whole=args.whole)
                if args.variant:
                    profile_case(browser, base, case, args.edits, args.top, args.reduced_motion, args.variant,
                                 pace=args.pace, whole=args.whole)
            browser.close()
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
    print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
