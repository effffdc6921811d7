/* Backprop Lens: an edit's results update in place (htmx swap style "patch", extension "lens-patch").
 *
 * After a keystroke the server answers the whole results fragment, but nearly all of it has the
 * structure it had: the same tables with new numbers and colours, the same formulas. Swapping it
 * outerHTML makes the browser throw the old results away (htmx dispatches two cleanup events per
 * element: ~2,400 events for a 1,200-element conv result) and lay the new ones out from scratch.
 * Patching walks the old and the new trees side by side and changes only what differs:
 *   - text and attributes (a cell's number, its colour, its tooltip) are set in place;
 *   - a formula ([data-latex]) whose source is unchanged is kept as typeset, otherwise its source is
 *     set and Lens typesets it again in place (its cache of typeset HTML by source);
 *   - a figure ([data-figure]) keeps its drawing; a changed spec is handed to Plotly.react — before the rest is
 *     patched, when the old and new fragments hold as many figures: Plotly measures its element on every draw
 *     (gd.clientHeight), which lays out the whole page (tens of ms) once the patch has changed it, and only the
 *     figure when the page is as the last frame laid it out (Lens.figuresFirst = false: after, as before);
 *   - an element whose children differ in number, tag or id, a form control whose attributes differ,
 *     and an htmx element whose attributes differ are replaced by the new one (htmx processes it);
 *   - what the page's scripts set and the server never sends stays: tabindex (lab.js), data-overflow
 *     (lens.js), an open <details>, the inputs section's style (#inputs: lab.js's --cell-ch, its grids' width);
 *     whitespace between elements is left as it is;
 *   - an element marked data-page-owned, the same in every answer, is left whole as the page's scripts keep it:
 *     the image inspector (kit/plane.html, plane.js: its selection, label, enabled input and what is being typed),
 *     which a patch would otherwise replace at every keystroke (its input is disabled as sent), losing the focus;
 *   - an element a page script put into the server's content carries data-page-added and is left where it is, its
 *     siblings paired without it: the presenter's inputs toggle (present.js), an image's selected pixel (plane.js),
 *     a quiz's mark on a pixel (quiz.js), a marker's glide (motion.js). Unmarked, the parent's children no longer
 *     match in number and all of them are replaced: pool's CIFAR inputs (three images and the inspector) were, at
 *     every keystroke.
 * Where the new fragment is not the same element (another tag or id), it replaces the old one whole.
 *
 * Only what changed comes (app/web/kit/changed.py): every table, row of cells and result image the server draws
 * carries data-h, a hash of its HTML; an edit sends the hashes of those its target holds (header Lens-Have, at most
 * MAX_HAVE: the tables alone when the rows are too many), and the answer writes each of them as an empty stub
 * (<table data-h="…" data-keep></table>, <tr data-h="…" data-keep></tr>). A stub keeps the old
 * element in place, or — where the structure moved — a copy of the page's element of that hash. A stub whose
 * element is gone (the page changed while the request was out) asks again without Lens-Have: everything comes.
 * Lens.onlyChanged = false: no Lens-Have, every table comes (a paired A/B: bench.web --variant).
 * The extension is on every page (<body hx-ext="lens-patch">, templates/base.html); an element asks for it with
 * hx-swap="patch": the labs' cell edits, the steppers, the inspector, the network step view; an out-of-band
 * element with hx-swap-oob="patch" (the network's training cards after a data edit). Any other swap style is left
 * to htmx.
 */
(function () {
  "use strict";

  var FORM = /^(INPUT|SELECT|TEXTAREA|OPTION|BUTTON)$/;
  var KEPT = { tabindex: true, "data-overflow": true };
  var VALUES = "table.heatmap td[data-idx], [data-value]"; // what motion.js flashes when its number changed
  var OWNED = "data-page-owned"; // an element whose state the page's scripts own once it is drawn (see the top)
  var ADDED = "data-page-added"; // an element a page script put into the server's content (see the top)

  // One patch's record: the elements it put into the page (htmx processes them, Lens draws them), the figures
  // and formulas whose source changed in place (Lens draws them again), the values whose text changed (motion.js
  // flashes them).
  var run = null;
  var MAX_HAVE = 1024; // more tables than this in the target: Lens-Have is not sent (the server's cap too)
  var internal = null; // htmx's internal API (the extension's init)
  var whole = false; // the next request asks for everything (a stub found no element)

  function isHtmx(el) {
    var names = el.getAttributeNames();
    for (var i = 0; i < names.length; i++) {
      if (names[i].indexOf("hx-") === 0 || names[i].indexOf("data-hx-") === 0) return true;
    }
    return false;
  }

  function kept(el, name) {
    return KEPT[name] || (name === "open" && el.tagName === "DETAILS") || (name === "style" && el.id === "inputs");
  }

  function sameAttributes(a, b) {
    var names = b.getAttributeNames(), i;
    for (i = 0; i < names.length; i++) {
      if (a.getAttribute(names[i]) !== b.getAttribute(names[i])) return false;
    }
    var own = a.getAttributeNames();
    if (own.length === names.length) return true;
    for (i = 0; i < own.length; i++) {
      if (!b.hasAttribute(own[i]) && !kept(a, own[i])) return false;
    }
    return true;
  }

  function syncAttributes(a, b, skip) {
    var own = a.getAttributeNames(), names = b.getAttributeNames(), i, name, value;
    for (i = 0; i < own.length; i++) {
      name = own[i];
      if (!b.hasAttribute(name) && !kept(a, name) && !(skip && skip[name])) a.removeAttribute(name);
    }
    for (i = 0; i < names.length; i++) {
      name = names[i];
      if (skip && skip[name]) continue;
      value = b.getAttribute(name);
      if (a.getAttribute(name) !== value) a.setAttribute(name, value);
    }
  }

  var FIGURE_OWN = { "class": true, style: true }; // plotly's own on a drawn figure
  var LATEX_OWN = { "class": true }; // is-rendered, Lens's own on a typeset formula

  function replace(x, y) {
    y = filled(y);
    x.replaceWith(y);
    if (y.nodeType === 1 && run) run.added.push(y);
  }

  // --- stubs: the elements the page holds, by hash (an identical table may be drawn twice)
  function held(target) {
    var map = new Map(), all = target.querySelectorAll("[data-h]"), h;
    for (var i = 0; i < all.length; i++) {
      h = all[i].getAttribute("data-h");
      if (map.has(h)) map.get(h).push(all[i]);
      else map.set(h, [all[i]]);
    }
    return map;
  }

  // a stub's element: a copy of the page's element of its hash (the stub itself, noted missing, when there is none)
  function copy(stub) {
    var h = stub.getAttribute("data-h"), els = (run && run.held.get(h)) || [];
    for (var i = 0; i < els.length; i++) {
      if (els[i].getAttribute("data-h") === h) return els[i].cloneNode(true); // not patched since into another
    }
    if (run) run.missing = true;
    return stub;
  }

  // node (from the fresh fragment) with its stubs filled, before it is put into the page
  function filled(node) {
    if (node.nodeType !== 1 || !run || !run.held.size) return node;
    if (node.hasAttribute("data-keep")) return copy(node);
    var stubs = node.querySelectorAll("[data-keep]");
    for (var i = 0; i < stubs.length; i++) stubs[i].replaceWith(copy(stubs[i]));
    return node;
  }

  // a (in the page) made to show what b (just parsed) shows; b's nodes may be moved into the page
  function sync(a, b) {
    if (a.hasAttribute(OWNED) && b.hasAttribute(OWNED)) return; // the page's scripts own it: left as it is
    if (b.hasAttribute("data-keep")) { // a stub: the page holds it; in place when a is it, else copied here
      if (a.getAttribute("data-h") === b.getAttribute("data-h")) return;
      b = copy(b);
      if (b.hasAttribute("data-keep")) { replace(a, b); return; }
    }
    if (a.hasAttribute("data-latex") !== b.hasAttribute("data-latex") ||
        a.hasAttribute("data-figure") !== b.hasAttribute("data-figure")) { // a formula or figure became another
      replace(a, b); //                                         element, or the other way round: drawn anew
      return;
    }
    if (a.hasAttribute("data-latex")) { // kept as typeset while its source is the same, else typeset again in place
      if (a.getAttribute("data-latex") !== b.getAttribute("data-latex") ||
          a.hasAttribute("data-display") !== b.hasAttribute("data-display")) {
        if (!run) { replace(a, b); return; }
        syncAttributes(a, b, LATEX_OWN);
        run.formulas.push(a);
      }
      return;
    }
    if (a.hasAttribute("data-figure")) {
      var spec = a.getAttribute("data-figure");
      syncAttributes(a, b, FIGURE_OWN);
      if (run && a.getAttribute("data-figure") !== spec) run.figures.push(a);
      return;
    }
    var same = sameAttributes(a, b);
    if (!same && (FORM.test(a.tagName) || isHtmx(a) || isHtmx(b))) {
      replace(a, b);
      return;
    }
    if ((a.tagName === "SELECT" || a.tagName === "TEXTAREA") && a.innerHTML !== b.innerHTML) {
      replace(a, b);
      return;
    }
    if (!same) syncAttributes(a, b);
    syncChildren(a, b);
  }

  // the children that count: elements and text that is not only whitespace (a swap that answered with
  // whitespace around its element — the gradient check's badge — leaves text nodes the template has not), but not
  // an element a page script added (data-page-added), which stays where it is
  function significant(node) {
    var out = [];
    for (var n = node.firstChild; n; n = n.nextSibling) {
      if (n.nodeType === 1 ? !n.hasAttribute(ADDED) : n.nodeType === 3 && /\S/.test(n.nodeValue)) out.push(n);
    }
    return out;
  }

  function syncChildren(a, b) {
    var old = significant(a);
    var fresh = significant(b);
    if (old.length !== fresh.length) {
      a.replaceChildren.apply(a, Array.prototype.slice.call(b.childNodes).map(filled));
      if (run) run.added.push.apply(run.added, Array.prototype.slice.call(a.children));
      return;
    }
    for (var i = 0; i < fresh.length; i++) {
      var x = old[i], y = fresh[i];
      if (x.nodeType !== y.nodeType || (x.nodeType === 1 && (x.tagName !== y.tagName || x.id !== y.id))) {
        replace(x, y);
      } else if (x.nodeType === 1) {
        sync(x, y);
      } else if (x.nodeValue !== y.nodeValue) {
        x.nodeValue = y.nodeValue;
        if (run && a.matches(VALUES)) run.changed.push(a);
      }
    }
  }

  // The figures whose spec changed, drawn first (see the top): paired in document order, each old figure takes its
  // new spec (so the patch below finds it the same) and is drawn now; its drawing is awaited before lens:drawn.
  // Where the pairing is off (another structure), the patch replaces those elements and draws the new ones.
  function figuresFirst(target, fresh) {
    if (!window.Plotly || !window.Lens.renderFigure) return; // plotly.js not loaded yet: drawn after, as before
    var old = target.querySelectorAll("[data-figure]"), now = fresh.querySelectorAll("[data-figure]");
    if (!old.length || old.length !== now.length) return;
    for (var i = 0; i < old.length; i++) {
      var spec = now[i].getAttribute("data-figure");
      if (old[i].getAttribute("data-figure") === spec) continue;
      old[i].setAttribute("data-figure", spec);
      if (window.Lens.seen && !window.Lens.seen(old[i])) window.Lens.drawLater(old[i]); // off screen: Lens draws it later
      else run.drawn.push(window.Lens.renderFigure(old[i], false));
    }
  }

  // The target patched in place: htmx processes and loads only what was put in (its htmx:load has Lens draw
  // it), not the whole target again — its own pass over every element (hx-on attributes by XPath, every
  // element with an hx- attribute) costs more than the patch. Once htmx has settled (a microtask after this
  // swap), Lens redraws the figures whose spec changed and says lens:drawn on the target when all is drawn;
  // "lens:patched" on the target tells motion.js which values changed (detail.changed, of detail.compared).
  function patch(target, fragment, settleInfo) {
    var fresh = null;
    for (var n = fragment.firstChild; n; n = n.nextSibling) {
      if (n.nodeType === 1) { fresh = n; break; }
    }
    if (!fresh) return [];
    var stubs = fresh.querySelectorAll("[data-keep]"), have = stubs.length ? held(target) : new Map();
    for (var k = 0; k < stubs.length; k++) {
      if (!have.has(stubs[k].getAttribute("data-h"))) return again(target); // not in the page: ask for all
    }
    if (fresh.tagName !== target.tagName || fresh.id !== target.id) { // not the same element: replaced whole
      run = { held: have, added: [] };
      try { fresh = filled(fresh); } finally { run = null; }
      target.replaceWith(fresh);
      var at = settleInfo.elts.indexOf(target);
      if (at >= 0) settleInfo.elts[at] = fresh;
      return [fresh];
    }
    run = { added: [], figures: [], formulas: [], changed: [], drawn: [], held: have, missing: false };
    var done = run;
    try {
      if (window.Lens && window.Lens.figuresFirst !== false) figuresFirst(target, fresh);
      sync(target, fresh);
    } finally {
      run = null;
    }
    target.dispatchEvent(new CustomEvent("lens:patched", { bubbles: true, detail: {
      changed: done.changed, compared: target.querySelectorAll(VALUES).length, added: done.added,
      formulas: done.formulas.length, figures: done.figures.length } }));
    Promise.resolve().then(function () {
      if (window.Lens && window.Lens.drawParts) window.Lens.drawParts(target, done);
    });
    if (done.missing) again(target); // a stub's element was patched into another before it was copied
    return done.added; // htmx: an array (even empty) is a swap handled; each element in it is processed and loaded
  }

  // The last patch request of each target (its element and path), to ask again for everything.
  var asked = new WeakMap();

  function again(target) {
    var last = asked.get(target);
    if (last && window.htmx) {
      whole = true;
      window.htmx.ajax("POST", last.path, { source: last.elt, target: target, swap: "patch" });
    }
    return [];
  }

  // Lens-Have: the hashes of the tables the target holds, on a request whose answer is patched into it
  function configRequest(detail) {
    var target = detail.target, elt = detail.elt;
    if (!target || !internal || internal.getSwapSpecification(elt).swapStyle !== "patch") return;
    asked.set(target, { elt: elt, path: detail.path });
    if (whole) { whole = false; return; }
    if (window.Lens && window.Lens.onlyChanged === false) return; // everything (bench.web --variant)
    var all = target.querySelectorAll("[data-h]");
    if (all.length > MAX_HAVE) all = target.querySelectorAll("[data-h]:not(tr)"); // too many rows: the tables
    if (!all.length || all.length > MAX_HAVE) return;
    var hashes = new Array(all.length);
    for (var i = 0; i < all.length; i++) hashes[i] = all[i].getAttribute("data-h");
    detail.headers["Lens-Have"] = hashes.join(" ");
  }

  function define() {
    window.htmx.defineExtension("lens-patch", {
      init: function (api) { internal = api; },
      // an out-of-band element with hx-swap-oob="patch" comes whole (the section, not its children), as outerHTML
      isInlineSwap: function (style) { return style === "patch"; },
      onEvent: function (name, event) {
        if (name === "htmx:configRequest") configRequest(event.detail);
        return true;
      },
      handleSwap: function (style, target, fragment, settleInfo) {
        return style === "patch" ? patch(target, fragment, settleInfo) : false;
      },
    });
  }

  if (window.htmx) define();
  else document.addEventListener("DOMContentLoaded", define);

  window.Lens = window.Lens || {};
  window.Lens.patch = function (target, html) { // for tests: patch target with an HTML string
    var t = document.createElement("template");
    t.innerHTML = html;
    return patch(target, t.content, { elts: [target] });
  };
})();
