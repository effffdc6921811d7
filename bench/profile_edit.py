"""``python -m bench.profile_edit [--lab LAB ...] [--preset KEY ...] [--edits N] [--base URL]``: where an edit's
milliseconds go in Chromium, from the keystroke to the frame that shows it (issue 12, target 1).

For each case it types N keystrokes (as ``bench.web`` does) and reports, p50 over the keystrokes:

- spans from page events: keydown → the request sent (htmx:beforeRequest) → its answer in (htmx:beforeSwap;
  of which the server's own time from ``Server-Timing``) → swapped (htmx:afterSwap: the patch, static/js/patch.js)
  → drawn (Lens's lens:drawn: Plotly and KaTeX, static/js/lens.js) → the next frame (requestAnimationFrame then a
  task: style, layout, paint);
- the renderer's main thread over the same keystrokes, from a DevTools trace (``Tracing`` over CDP): the total ms
  per keystroke of script, style recalculation, layout (and how many layouts a script forced), paint, HTML parse;
- the JavaScript functions with the most self time (the CDP ``Profiler``, sampled every 100 µs).

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


def type_keys(page, case: Case, edits: int, cell, tag: str = "") -> None:
    """``cell``: where the keys type (a cell, or the inspector's box); ``tag``: the variant's run types values of
    its own (bench.keys), none answered from the page cache."""
    direction = 1
    for i in range(edits):
        if case.kind in ("cell", "plane"):
            press_digit(page, cell, i, tag)
        else:  # → to the last operation, then ← back (only → timed out there: a press at the last sends nothing)
            direction = press_step(page, direction)
        page.wait_for_function(f"() => window.__spans.length >= {i + 1}", timeout=15000)


def timeline(events: list[dict], edits: int) -> dict[str, float]:
    """ms per keystroke by kind on the renderer's main thread (outermost events only, so nothing counts twice)."""
    main = collections.Counter((e.get("pid"), e.get("tid")) for e in events if e.get("name") == "UpdateLayoutTree")
    if not main:
        return {}
    pid, tid = main.most_common(1)[0][0]
    spans = sorted((e for e in events if e.get("pid") == pid and e.get("tid") == tid and e.get("ph") == "X"
                    and e.get("name") in TIMELINE), key=lambda e: e["ts"])
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


def hot_functions(profile: dict, top: int) -> list[tuple[float, str]]:
    """Self time by function; a browser built-in (no script URL: getBoundingClientRect, a forced layout) is
    named with the page function that called it."""
    nodes = {n["id"]: n for n in profile["nodes"]}
    parent = {c: n["id"] for n in profile["nodes"] for c in n.get("children", [])}
    self_us: dict[str, float] = collections.defaultdict(float)
    deltas = profile.get("timeDeltas", [])

    def where(node: dict) -> str:
        frame = node["callFrame"]
        url = frame.get("url", "").split("/")[-1].split("?")[0]
        return f"{frame.get('functionName') or '(anonymous)'} {url}:{frame.get('lineNumber', 0) + 1}"

    for sample, dt in zip(profile.get("samples", []), deltas[1:] + [0], strict=False):
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
                 setup: str | None = None) -> None:
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
    type_keys(page, case, 3, cell, tag)  # warm: plotly.js loaded, KaTeX's fonts in
    page.evaluate("() => { window.__spans = []; }")
    cdp = page.context.new_cdp_session(page)
    cdp.send("Profiler.enable")
    cdp.send("Profiler.setSamplingInterval", {"interval": 100})
    events: list[dict] = []
    cdp.on("Tracing.dataCollected", lambda ev: events.extend(ev["value"]))
    cdp.send("Tracing.start", {"categories": "devtools.timeline,v8", "transferMode": "ReportEvents"})
    cdp.send("Profiler.start")
    type_keys(page, case, edits, cell, tag)
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
          f" p95 {percentile(total, 95):.1f} ms over {len(spans)}")
    parts = []
    for name, a, b in STAGES:
        values = [s[b] - s[a] for s in spans if a in s and b in s]
        if values:
            parts.append(f"{name} {statistics.median(values):.1f}")
    server = [s["server"] for s in spans if s.get("server") is not None]
    if server:
        parts.append(f"(server {statistics.median(server):.1f})")
    print("  spans p50 ms: " + ", ".join(parts))
    per_key = timeline(events, edits)
    print("  main thread ms/keystroke: " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(
        per_key.items(), key=lambda kv: -kv[1]) if v >= 0.05))
    print("  hottest JS (self ms over all keystrokes):")
    for ms, name in hot_functions(prof, top):
        print(f"    {ms:7.1f}  {name}")


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
    args = parser.parse_args(argv)
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()), flush=True)
    proc, base = (None, args.base.rstrip("/")) if args.base else start_server()
    try:
        found = [c for c in cases(base, args.lab, args.preset) if c.kind != "skip"
                 and (args.preset or c.preset not in ("mnist", "cifar", "resnet"))]  # the image presets when asked
        with sync_playwright() as p:
            browser = launch_chromium(p)
            for case in found:
                profile_case(browser, base, case, args.edits, args.top, args.reduced_motion)
                if args.variant:
                    profile_case(browser, base, case, args.edits, args.top, args.reduced_motion, args.variant)
            browser.close()
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
    print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
