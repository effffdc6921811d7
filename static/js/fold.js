/* Backprop Lens: secondary sections fold (templates/kit/fold.html, details[data-fold]).
 *
 * The server renders every fold closed, so an edit's patch (static/js/patch.js keeps an open <details> open and
 * never sets `open` it was not sent) never reopens what the reader closed. Here:
 *   - from 1024 px wide a fold opens by default; narrower (phones) it stays closed until its summary is used;
 *   - what the reader chose for a fold (by its data-fold name) holds for the rest of the visit to the page, also when
 *     an edit swaps the whole lab (a shape change: htmx replaces the folds, this puts them back as they were);
 *   - a link into a fold (the address's #hash, on load and on hashchange, or a click on an in-page #link) opens it
 *     and every fold around it, then scrolls to the target.
 * Summary elements are focusable and toggle on Enter/Space (the browser's own); presenter mode (present.js) opens
 * every fold, as on a projector the page is a slide, not a phone.
 */
(function () {
  "use strict";

  var WIDE = window.matchMedia ? window.matchMedia("(min-width: 1024px)") : { matches: true };
  var chosen = Object.create(null); // data-fold name -> open (the reader's choice)
  var auto = new WeakSet(); // folds this script is opening or closing (their toggle is not the reader's)

  function wanted(d) {
    var name = d.getAttribute("data-fold");
    // the reader toggled it and its toggle event has not come yet (it is a task of its own: an htmx settle or a
    // resize can run first, and would undo what the reader just did)
    if (d.lensOpen !== undefined && d.open !== d.lensOpen) chosen[name] = d.open;
    if (name in chosen) return chosen[name];
    if (document.documentElement.classList.contains("is-present")) return true;
    return WIDE.matches;
  }

  function set(d, open) {
    d.lensOpen = open; // as this script last left it
    if (d.open === open) return;
    auto.add(d);
    d.open = open;
  }

  function apply() {
    document.querySelectorAll("details[data-fold]").forEach(function (d) { set(d, wanted(d)); });
  }

  // opens the folds around (or at the top of) the element the hash names; true when one had to open
  function reveal(hash) {
    if (!hash || hash.length < 2) return false;
    var target;
    try { target = document.getElementById(decodeURIComponent(hash.slice(1))); } catch (e) { return false; }
    if (!target) return false;
    var opened = false;
    var own = target.matches("details[data-fold]") ? target : target.querySelector(":scope > details[data-fold]");
    var folds = own ? [own] : [];
    for (var p = target.parentElement; p; p = p.parentElement) {
      if (p.matches("details[data-fold]")) folds.push(p);
    }
    folds.forEach(function (d) {
      chosen[d.getAttribute("data-fold")] = true;
      if (!d.open) { set(d, true); opened = true; }
    });
    if (opened) target.scrollIntoView({ block: "start" });
    return opened;
  }

  document.addEventListener("toggle", function (event) {
    var d = event.target;
    if (!d.matches || !d.matches("details[data-fold]")) return;
    if (auto.has(d)) { auto.delete(d); return; }
    chosen[d.getAttribute("data-fold")] = d.open;
    d.lensOpen = d.open;
  }, true);

  document.addEventListener("click", function (event) {
    var a = event.target.closest && event.target.closest('a[href^="#"]');
    if (a) reveal(a.getAttribute("href"));
  });

  window.addEventListener("hashchange", function () { reveal(location.hash); });
  if (WIDE.addEventListener) WIDE.addEventListener("change", apply);
  document.addEventListener("htmx:afterSettle", apply);
  window.addEventListener("resize", apply); // presenter mode (present.js) says so with a resize

  function start() {
    apply();
    reveal(location.hash);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();

  window.Lens = window.Lens || {};
  window.Lens.revealFold = reveal; // for tests and page scripts: open the folds around #id
})();
