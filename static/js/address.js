/* Backprop Lens: the address bar follows an edit after the frame that shows it, not before.
 *
 * Every edit answers its link (HX-Replace-Url). htmx would write it during the swap, and with it do
 * its history bookkeeping: two history.replaceState (the old URL, then the new: each a same-document
 * navigation the renderer reports to the browser process — 1–2 ms on a quiet machine, tens of ms on a
 * busy one), three sessionStorage writes and a case-insensitive attribute query over the whole page,
 * all between the keystroke and the drawn figure. Here the link is taken from the answer before htmx
 * reads it (htmx:beforeOnLoad; htmx then sees no history update at all) and written once, when the page
 * is idle after the next frame once typing pauses (Lens.whenIdle, lens.js), through present.js's replaceState
 * (which keeps present/embed); then
 * htmx:replacedInHistory is said, as htmx would, so that scripts adding to the link (quiz.js) see the
 * new one. A click (a person's), a copy, leaving the page or Lens.address() writes a pending link at once: Copy
 * link, the exports and the tests read the current state. htmx's own history is off as well (base.html:
 * historyEnabled false; the links are replaced, never pushed, and no snapshot is kept).
 */
(function () {
  "use strict";

  // after the frame, once typing pauses and the page is idle (lens.js, loaded first): the next keystroke goes first
  function idle(fn) { window.Lens.whenIdle(fn); }

  var pending = null;
  var scheduled = false;

  function flush() {
    if (pending === null) return;
    var path = pending;
    pending = null;
    var here = window.location.pathname + window.location.search + window.location.hash;
    if (path !== here) history.replaceState({ htmx: true }, "", path);
    document.body.dispatchEvent(new CustomEvent("htmx:replacedInHistory", { bubbles: true, detail: { path: path } }));
  }

  function later() {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(function () {
      idle(function () {
        scheduled = false;
        flush();
      });
    });
  }

  var HEADER = /^hx-replace-url$/i;

  // the answer's link is kept here and hidden from htmx (on this request's xhr only)
  document.addEventListener("htmx:beforeOnLoad", function (ev) {
    var xhr = ev.detail && ev.detail.xhr;
    if (!xhr || xhr.lensAddress) return;
    var path = xhr.getResponseHeader("HX-Replace-Url");
    if (!path || path === "false") return;
    var own = xhr.getResponseHeader;
    xhr.lensAddress = true;
    xhr.getResponseHeader = function (name) { return HEADER.test(name) ? null : own.call(xhr, name); };
    ev.detail.lensAddress = path;
  });

  // written once the answer is swapped in (a refused answer, not swapped, leaves the address as it is)
  document.addEventListener("htmx:afterSwap", function (ev) {
    var path = ev.detail && ev.detail.lensAddress;
    if (!path) return;
    pending = path;
    later();
  });

  // a script's own click (steps.js presses Next for → and for autoplay) is not a person's: it reads no link, and
  // writing one there put a history update (~3 ms on /network) between each → and its request
  ["click", "copy", "submit"].forEach(function (name) {
    document.addEventListener(name, function (ev) { if (ev.isTrusted || name !== "click") flush(); }, true);
  });
  window.addEventListener("pagehide", flush);
  document.addEventListener("visibilitychange", flush);

  window.Lens = window.Lens || {};
  window.Lens.address = function () { flush(); return window.location.href; };
})();
