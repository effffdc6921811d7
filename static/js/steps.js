/* Backprop Lens: step what is on screen (issue 9).
 *
 * A stepper is a group of controls marked data-stepper="<selector of the region it re-renders>" with
 * data-position (0-based) and data-count, holding [data-step="prev"|"next"] buttons (htmx posts) and
 * optionally a [data-play] button (templates/kit/stepper.html writes one; the optimizer's t and the
 * network's operations are hand-written groups with the same attributes).
 *
 * The keys drive the stepper IN VIEW: the one whose controls and region are visible below the sticky
 * header and nearest the viewport's centre (a stepper holding the focus wins); none visible, nothing:
 *   → ←           next / previous (the server wraps around, as the buttons do);
 *   PageDown/Up   next / previous without wrapping — at the last (first) position the key scrolls as usual,
 *                 so a presentation clicker walks the stages, then the page;
 *   space         plays / pauses the stepper in view (autoplay clicks Next until pressed again).
 * Cells (inputs, result cells, ranges, selects) keep their own keys. The stepper the keys drive is
 * outlined (class is-driven), kept current on scroll, resize and every swap; when the keys come to drive another
 * stepper, it says "lens:driven" (detail.key: its data-stepper), on which prefetch.js asks for its next step.
 *
 * window.Lens.advance(dir) (dir +1 or −1) → Promise<boolean>: steps the stepper in view one position
 * without wrapping; false (and nothing done) at its last (+1) or first (−1) position or with no stepper
 * in view; true once the step's swap has settled. Decks call it inside a slide's iframe.
 *
 * Steps are done one at a time: a key pressed while a step is on its way (its request in flight or its
 * swap not settled) waits in a queue, so five quick presses are five steps.
 */
(function () {
  "use strict";

  const SETTLE_TIMEOUT = 3000; // a step that never settles (an error, HX-Reswap: none) releases the queue
  const MIN_VISIBLE = 40; // px of a stepper's region that must show for it to count as in view

  // --- which stepper is in view ---
  function groups() {
    return Array.prototype.filter.call(document.querySelectorAll("[data-stepper]"), function (g) {
      // not in a hidden tab, and with somewhere to go (the optimizer's t with one step has not)
      return g.getClientRects().length > 0 && !(parseInt(g.getAttribute("data-count"), 10) <= 1);
    });
  }
  function byKey(key) {
    return groups().find(function (g) { return g.getAttribute("data-stepper") === key; }) || null;
  }
  function headerBottom() {
    const header = document.querySelector(".site-header");
    if (!header) return 0;
    const pos = getComputedStyle(header).position;
    return pos === "sticky" || pos === "fixed" ? Math.max(0, header.getBoundingClientRect().bottom) : 0;
  }
  function extent(g) { // the controls and the region they re-render, as one vertical span
    const box = g.getBoundingClientRect();
    let top = box.top, bottom = box.bottom;
    let region = null;
    try { region = document.querySelector(g.getAttribute("data-stepper")); } catch (e) { region = null; }
    if (region && region.getClientRects().length) {
      const r = region.getBoundingClientRect();
      top = Math.min(top, r.top);
      bottom = Math.max(bottom, r.bottom);
    }
    return { top: top, bottom: bottom, controls: box };
  }
  function inView() {
    const top = headerBottom(), bottom = window.innerHeight;
    const centre = (top + bottom) / 2;
    const focused = document.activeElement && document.activeElement.closest &&
      document.activeElement.closest("[data-stepper]");
    let best = null, bestScore = Infinity;
    groups().forEach(function (g) {
      const e = extent(g);
      const shown = Math.min(bottom, e.bottom) - Math.max(top, e.top);
      if (shown < Math.min(MIN_VISIBLE, e.bottom - e.top)) return;
      if (g === focused) { best = g; bestScore = -1; return; }
      const score = centre < e.top ? e.top - centre : centre > e.bottom ? centre - e.bottom : 0;
      // a tie (both span the centre): the one whose controls are nearer the centre
      const tie = Math.abs((e.controls.top + e.controls.bottom) / 2 - centre) / 1e6;
      if (score + tie < bestScore) { best = g; bestScore = score + tie; }
    });
    return best;
  }
  function where(g) {
    return { position: parseInt(g.getAttribute("data-position"), 10) || 0,
             count: parseInt(g.getAttribute("data-count"), 10) || 0 };
  }

  // --- the outline on the stepper the keys drive ---
  let marked = null;
  function mark() {
    const g = inView();
    if (g === marked && (!g || g.classList.contains("is-driven"))) return;
    document.querySelectorAll("[data-stepper].is-driven").forEach(function (el) { el.classList.remove("is-driven"); });
    const was = marked;
    marked = g;
    if (g && groups().length) {
      g.classList.add("is-driven");
      // the keys drive another stepper now: prefetch.js asks for its next step
      if (g !== was) {
        g.dispatchEvent(new CustomEvent("lens:driven", { bubbles: true, detail: { key: g.getAttribute("data-stepper") } }));
      }
    }
  }
  let frame = 0;
  function markSoon() {
    if (frame) return;
    frame = requestAnimationFrame(function () { frame = 0; mark(); });
  }
  window.addEventListener("scroll", markSoon, { passive: true });
  window.addEventListener("resize", markSoon);
  document.addEventListener("focusin", markSoon);
  document.addEventListener("click", markSoon); // a tab opened
  document.addEventListener("DOMContentLoaded", markSoon);
  if (document.readyState !== "loading") markSoon();

  // --- one step at a time: a queue of jobs {key, delta, wrap, resolve} ---
  let busy = false; // a request of a step in flight, or any swap not yet settled
  let current = null; // the job whose step is on its way
  const pending = [];
  let release = null;

  function enqueue(key, delta, wrap) {
    return new Promise(function (resolve) {
      pending.push({ key: key, delta: delta, wrap: wrap, resolve: resolve });
      pump();
    });
  }
  function queuedDelta(key) {
    let d = current && current.key === key ? current.delta : 0;
    pending.forEach(function (j) { if (j.key === key) d += j.delta; });
    return d;
  }
  function pump() {
    while (!busy && pending.length) {
      const job = pending.shift();
      const g = byKey(job.key);
      if (!g) { job.resolve(false); continue; }
      const at = where(g);
      const to = at.position + job.delta;
      if (!at.count || (!job.wrap && (to < 0 || to >= at.count))) { job.resolve(false); continue; }
      const btn = g.querySelector('[data-step="' + (job.delta > 0 ? "next" : "prev") + '"]');
      if (!btn || btn.disabled) { job.resolve(false); continue; }
      current = job;
      hold();
      btn.click();
    }
  }
  function hold() {
    busy = true;
    clearTimeout(release);
    release = setTimeout(function () { finish(false); }, SETTLE_TIMEOUT);
  }
  function finish(ok) {
    busy = false;
    clearTimeout(release);
    const job = current;
    current = null;
    if (job) job.resolve(ok);
    markSoon();
    pump();
  }
  // A step keeps its stepper where it was on screen. Its region is swapped whole: the browser's scroll anchoring
  // loses its anchor, and a shorter panel near the page's end clamps the scroll, so the stepper could leave the
  // view (the network's step view at 1400×1000 did after five → presses: 3,118 px → 861) and the next key find
  // none; then its controls are brought to the top of the screen.
  let kept = null; // {key, top} of the stepper whose step is on its way
  document.addEventListener("htmx:beforeRequest", function (ev) {
    const elt = ev.detail && ev.detail.elt;
    const g = elt && elt.matches && elt.matches("[data-step]") && elt.closest("[data-stepper]");
    if (g) kept = { key: g.getAttribute("data-stepper"), top: g.getBoundingClientRect().top };
  });
  function stepper(key) {
    try { return document.querySelector('[data-stepper="' + CSS.escape(key) + '"]'); } catch (e) { return null; }
  }
  // a much shorter region (a reader deep in a tall panel) can be out of view: its controls come to the top
  function bringBack(g, key) {
    const e = extent(g), top = headerBottom();
    if (Math.min(window.innerHeight, e.bottom) - Math.max(top, e.top) < Math.min(MIN_VISIBLE, e.bottom - e.top)) {
      window.scrollBy(0, e.controls.top - top - 8);
    }
    // a queued step sent since measured the controls before this scroll: it measures from here instead
    if (kept && kept.key === key) kept.top = g.getBoundingClientRect().top;
  }
  function restore(was) { // in the frame that shows the step: its layout is done once, for the paint as well
    const g = stepper(was.key);
    if (!g || !g.getClientRects().length) return;
    const moved = g.getBoundingClientRect().top - was.top;
    if (Math.abs(moved) >= 1) window.scrollBy(0, moved);
    bringBack(g, was.key);
    // Once more after that frame: a lazy table (heatmap.css .grid-fig--lazy) that frame drew near the screen has its
    // own size now, no longer the guess it had here, and the region may have shrunk out of view after all. Read
    // first thing in the next frame, the layout is most often still the last frame's: a read costs little.
    requestAnimationFrame(function () {
      const again = stepper(was.key);
      if (again && again.getClientRects().length) bringBack(again, was.key);
    });
  }
  document.addEventListener("htmx:afterSettle", function () {
    const was = kept;
    kept = null;
    if (was) requestAnimationFrame(function () { restore(was); });
  });

  document.addEventListener("htmx:beforeRequest", function (ev) {
    const elt = ev.detail && ev.detail.elt;
    if (elt && elt.matches && elt.matches("[data-step]")) hold();
  });
  document.addEventListener("htmx:beforeSwap", hold);
  document.addEventListener("htmx:afterRequest", function (ev) {
    const xhr = ev.detail && ev.detail.xhr;
    if (!ev.detail.successful || (xhr && xhr.status === 204)) finish(false); // nothing will be swapped
  });
  document.addEventListener("htmx:afterSettle", function () { finish(true); });

  // --- keys ---
  const STEP_KEYS = { ArrowRight: 1, ArrowLeft: -1, PageDown: 1, PageUp: -1 };
  document.addEventListener("keydown", function (ev) {
    const t = ev.target;
    if (ev.defaultPrevented || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    if (window.Lens.takesKeys(t)) return; // cells keep their keys
    const delta = STEP_KEYS[ev.key];
    if (t.tagName === "BUTTON" && !delta) return; // space and Enter press the button
    if (ev.key === " ") {
      const g = inView();
      const play = g && g.querySelector("[data-play]");
      if (play) { ev.preventDefault(); play.click(); }
      return;
    }
    if (!delta) return;
    const g = inView();
    if (!g) return; // nothing in view: the key does what it always does
    const key = g.getAttribute("data-stepper");
    if (ev.key === "PageDown" || ev.key === "PageUp") {
      const at = where(g), to = at.position + queuedDelta(key) + delta;
      if (to < 0 || to >= at.count) return; // at the end: the page scrolls on
    }
    ev.preventDefault();
    enqueue(key, delta, ev.key === "ArrowRight" || ev.key === "ArrowLeft");
  });

  function advance(dir) {
    const delta = dir < 0 ? -1 : 1;
    const g = inView();
    if (!g) return Promise.resolve(false);
    return enqueue(g.getAttribute("data-stepper"), delta, false);
  }

  // --- autoplay: clicks Next of one stepper on a timer until pressed again, hidden or at a disabled end ---
  let playTimer = null;
  let playing = null; // the key of the stepper playing
  function setPlaying(key) {
    if (playTimer) { clearInterval(playTimer); playTimer = null; }
    playing = key;
    if (key) {
      playTimer = setInterval(function () {
        const g = byKey(playing);
        const next = g && g.querySelector('[data-step="next"]');
        if (!next || next.disabled || document.hidden) { setPlaying(null); return; } // the end: stop
        if (!busy && !pending.length) next.click(); // a step still on its way: this tick waits for it
      }, 800);
    }
    document.querySelectorAll("[data-play]").forEach(function (b) {
      const g = b.closest("[data-stepper]");
      const on = !!key && !!g && g.getAttribute("data-stepper") === key;
      b.setAttribute("aria-pressed", on ? "true" : "false");
      b.textContent = on ? "❚❚ Pause" : "▶ Play";
    });
  }
  document.addEventListener("click", function (ev) {
    const play = ev.target.closest && ev.target.closest("[data-play]");
    if (!play) return;
    const g = play.closest("[data-stepper]");
    const key = g ? g.getAttribute("data-stepper") : null;
    setPlaying(playing && playing === key ? null : key);
  });
  document.addEventListener("visibilitychange", function () { if (document.hidden) setPlaying(null); });
  document.addEventListener("htmx:afterSwap", function () { if (playing) setPlaying(playing); });

  window.Lens = window.Lens || {};
  window.Lens.advance = advance;
  window.Lens.stepperInView = function () { // {key, position, count} of the stepper the keys drive, or null
    const g = inView();
    return g ? Object.assign({ key: g.getAttribute("data-stepper") }, where(g)) : null;
  };
})();
