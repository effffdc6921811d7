/* Backprop Lens: the numeric gradient check is asked once typing pauses, not on every keystroke.
 *
 * A lab's results hold a slot [data-gradcheck] (templates/kit/gradcheck.html) that posts the form to
 * /<lab>/gradcheck on the event "lens:gradcheck" and is replaced by the answer. This script sends that
 * event IDLE_MS after the last edit was answered and drawn (and no key typed since), and only to slots
 * still on the page: while someone types, each keystroke is one request (the results), and the check
 * runs once, on the numbers they stopped at. On a page's first load the check is asked at once. A new edit cancels a check not yet
 * asked; one already on its way is replaced by the edit (the form's hx-sync) and asked again after it.
 * Lens.gradcheckNow() asks at once (tests, a button). The pause is IDLE_MS, or the milliseconds in
 * <html data-gradcheck-pause> (a test on a loaded machine, whose keystrokes can be answered slower than 600 ms).
 */
(function () {
  "use strict";

  var IDLE_MS = 600;
  var SLOT = "[data-gradcheck]:not([data-asked])";
  var timer = null;

  // a slot's badge: what it says while the check waits for typing to pause, once it is asked (its own text, kept in
  // data-asking), and when the inputs it was asked with were refused (the form's message names what is wrong: the
  // slot waits for the next edit, which brings a slot of its own, instead of asking again and again)
  var WAITING = "The gradient check runs once you pause typing…";
  var REFUSED = "The gradient check runs once the inputs are valid again.";
  function say(slot, text) {
    var badge = slot.querySelector(".badge--pending[data-asking]");
    if (badge) badge.textContent = text || badge.getAttribute("data-asking");
  }

  function ask() {
    timer = null;
    if (!window.htmx) return;
    document.querySelectorAll(SLOT).forEach(function (slot) {
      say(slot);
      slot.setAttribute("data-asked", "");
      window.htmx.trigger(slot, "lens:gradcheck");
    });
  }

  function pause() {
    return Number(document.documentElement.getAttribute("data-gradcheck-pause")) || IDLE_MS;
  }

  function later(ms) {
    clearTimeout(timer);
    timer = setTimeout(ask, ms);
  }

  function isCheck(elt) {
    return !!(elt && elt.closest && elt.closest("[data-gradcheck]"));
  }

  // an edit on its way: the check waits until the edits stop
  document.addEventListener("htmx:beforeRequest", function (ev) {
    if (isCheck(ev.detail && ev.detail.elt)) return;
    clearTimeout(timer);
    timer = null;
  });

  // an edit answered (swapped, refused with a message, or aborted by a newer one): a slot still waiting
  // is asked once nothing else has been sent for IDLE_MS
  document.addEventListener("htmx:afterRequest", function (ev) {
    if (isCheck(ev.detail && ev.detail.elt)) {
      // a check that did not answer (aborted by an edit, a 503): its slot may be asked again; one refused (422:
      // the form's message says why) says so, and stays asked
      var slot = ev.detail.elt.closest("[data-gradcheck]");
      if (slot && slot.isConnected && !ev.detail.successful) slot.removeAttribute("data-asked");
      else if (slot && slot.isConnected && ev.detail.xhr && ev.detail.xhr.status === 422) say(slot, REFUSED);
    }
    if (document.querySelector(SLOT)) later(pause());
  });

  // the answer drawn (its figures can take a while on a busy machine): the pause counts from then
  document.addEventListener("lens:drawn", function () {
    if (timer !== null && document.querySelector(SLOT)) later(pause());
  });

  // a key typed into a lab's form: no check until the typing pauses
  document.addEventListener("input", function (ev) {
    if (timer !== null && ev.target.closest && ev.target.closest("[data-lab]")) later(pause());
  }, true);

  // the first load: at once, but only once htmx has wired the page's slots (its "htmx:load" on <body>, sent
  // after it processed the page): a slot triggered before that has no listener, and would wait forever
  document.addEventListener("htmx:load", function (ev) {
    if (ev.detail && ev.detail.elt === document.body && document.querySelector(SLOT)) later(0);
  });

  // An edit's answer brings the check's slot (a one-line badge) where the last check's answer stood (a table, 100 px
  // on /conv): the slot keeps that height until its own answer replaces it, so what lies below does not jump up at
  // the first keystroke and back down once typing pauses. The heights are the ones the browser last laid out, as a
  // ResizeObserver reports them after each layout: read at the swap, they cost no layout of their own (measured
  // there, the edit's answer paid a forced layout when anything had changed since the last frame). Its badge says
  // that the check waits for the typing to pause, until it is asked ("Checking … numerically", the server's text).
  var laidOut = new WeakMap(); // a .gradcheck[id] -> its border-box height at the last layout
  var sizes = window.ResizeObserver ? new ResizeObserver(function (entries) {
    entries.forEach(function (entry) {
      var box = entry.borderBoxSize && entry.borderBoxSize[0];
      laidOut.set(entry.target, box ? box.blockSize : entry.target.getBoundingClientRect().height);
    });
  }) : null;
  var observed = new Set(); // the slots observed, each let go once it has left the page
  function watch(el) {
    observed.add(el);
    sizes.observe(el);
  }
  function observe(root) { // the slots in root (and root itself): new ones come with htmx:load of what holds them
    if (!sizes || !root || !root.querySelectorAll) return;
    observed.forEach(function (el) {
      if (el.isConnected) return;
      sizes.unobserve(el);
      observed.delete(el);
    });
    if (root.matches && root.matches(".gradcheck[id]")) watch(root);
    root.querySelectorAll(".gradcheck[id]").forEach(watch);
  }
  document.addEventListener("htmx:load", function (ev) { observe(ev.detail && ev.detail.elt); });
  if (document.readyState !== "loading") observe(document);
  else document.addEventListener("DOMContentLoaded", function () { observe(document); });

  var held = [];
  document.addEventListener("htmx:beforeSwap", function (ev) {
    var target = ev.detail && ev.detail.target;
    if (!target || !target.querySelectorAll || isCheck(ev.detail.elt)) return;
    held = Array.prototype.map.call(target.querySelectorAll(".gradcheck[id]"), function (el) {
      return [el.id, laidOut.has(el) ? laidOut.get(el) : el.getBoundingClientRect().height];
    });
  });
  document.addEventListener("htmx:afterSwap", function () {
    held.forEach(function (kept) {
      var slot = document.getElementById(kept[0]);
      if (!slot || !slot.hasAttribute("data-gradcheck") || slot.hasAttribute("data-asked")) return;
      if (kept[1] > 0) slot.style.minHeight = kept[1] + "px";
      say(slot, WAITING);
    });
    held = [];
  });

  window.Lens = window.Lens || {};
  window.Lens.gradcheckNow = ask;
})();
