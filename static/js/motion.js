/* Backprop Lens: motion where it explains (CSP-safe, no inline code). Off when the visitor prefers reduced motion.
 *
 *  - A marker that moves glides from where it was to where it is now, so the eye can follow the cause: the
 *    sliding window (table.heatmap td.win: the conv and pool windows) and the network drawing's current
 *    layer ([aria-current="step"] in .net-drawing), forward then backward with the step. Before an htmx swap
 *    each marker's cells are noted by name (no layout read); a marker whose cells are the same after the swap (an
 *    edit of a value: nearly every keystroke) is never measured. Its box is read when the page is laid out anyway
 *    (idle after the frame that drew a swap, once typing pauses; kept until the next one), so a swap forces no
 *    layout of its own; one that moved is measured in the next animation frame, where an outline starts from the
 *    old box and glides to the new (the new marker's own outline waits until it arrives). In a quick run of steps
 *    or edits (a held arrow key) the markers jump.
 *  - Values an edit changed flash once (class is-changed, fit.css): heatmap cells and [data-value]s of the
 *    swapped content whose text differs from before, when not (nearly) everything changed — a new example
 *    is not "a few changed values".
 */
(function () {
  "use strict";

  var reduced = window.matchMedia ? window.matchMedia("(prefers-reduced-motion: reduce)") : { matches: false };
  var GLIDE_MS = 260;
  var FLASH_MS = 900;
  var MAX_CELLS = 6000; // more cells than this: compare nothing (a big swap is not an edit of a few values)

  // ---------------------------------------------------------------- markers that glide
  // A group holds one marker: its key says which group is "the same" after a swap.
  function groups(root) {
    var out = [];
    var seen = new Map();
    root.querySelectorAll("table.heatmap").forEach(function (table) {
      var cells = table.querySelectorAll("td.win");
      if (!cells.length) return;
      var name = "win:" + (table.getAttribute("data-arr") || (table.caption ? table.caption.textContent.trim() : ""));
      var n = seen.get(name) || 0;
      seen.set(name, n + 1);
      out.push({ key: name + "#" + n, box: table.parentElement, cells: Array.prototype.slice.call(cells), table: table });
    });
    root.querySelectorAll(".net-drawing").forEach(function (drawing, i) {
      var current = drawing.querySelector('[aria-current="step"]');
      if (current) out.push({ key: "net#" + i, box: drawing, cells: [current], table: drawing });
    });
    return out;
  }

  function rectOf(cells, box) {
    var outer = box.getBoundingClientRect();
    var left = Infinity, top = Infinity, right = -Infinity, bottom = -Infinity;
    cells.forEach(function (c) {
      var r = c.getBoundingClientRect();
      left = Math.min(left, r.left); top = Math.min(top, r.top);
      right = Math.max(right, r.right); bottom = Math.max(bottom, r.bottom);
    });
    return { left: left - outer.left + box.scrollLeft, top: top - outer.top + box.scrollTop,
             width: right - left, height: bottom - top };
  }

  // which cells a marker covers, read from the markup only (no layout)
  function cellsKey(g) {
    return g.cells.map(function (c) { return c.getAttribute("data-idx") || c.getAttribute("hx-vals") || c.id ||
      Array.prototype.indexOf.call(c.parentElement.children, c); }).join(";");
  }

  var laidOut = new Map(); // group key -> {cells, rect}: the markers' boxes, read after the last frame was drawn
  var before = new Map(); // group key -> {cells, rect}, noted just before a swap

  // The page's markers, keyed over the whole page (the same key before and after a swap of any part of it).
  function groupsIn(target) {
    return groups(document.body).filter(function (g) { return target.contains(g.table); });
  }

  // the markers' boxes, read when the page is idle after a frame once typing pauses (lens.js, loaded first): laid
  // out for that frame already
  function idle(fn) { window.Lens.whenIdle(fn); }
  var remembering = false;
  function rememberSoon() {
    if (remembering || reduced.matches) return;
    remembering = true;
    requestAnimationFrame(function () {
      idle(function () {
        remembering = false;
        laidOut.clear();
        groups(document.body).forEach(function (g) {
          laidOut.set(g.key, { cells: cellsKey(g), rect: rectOf(g.cells, g.box) });
        });
      });
    });
  }
  document.addEventListener("lens:drawn", rememberSoon);
  window.addEventListener("resize", rememberSoon);

  // A marker glides after a step or an edit on its own; in a quick run of them (Lens.inRun, lens.js: a held or
  // tapped arrow key, fast clicks on Next, typing) it jumps. The next answer would cut its glide short, and its old
  // box, not read yet in a run (the boxes are read once typing pauses, above), would be read before each swap: a
  // layout of the page of its own (~5 ms a step on the network's step view).
  function measure(target) {
    before.clear();
    if (reduced.matches || !target || window.Lens.inRun()) return;
    groupsIn(target).forEach(function (g) {
      var cells = cellsKey(g), seen = laidOut.get(g.key);
      // the box read after the last frame while it still covers the same cells; else (not read yet) read now
      before.set(g.key, { cells: cells, rect: seen && seen.cells === cells ? seen.rect : rectOf(g.cells, g.box) });
    });
  }

  function glide(root) {
    if (reduced.matches || !before.size) { before.clear(); return; }
    var moved = [];
    groupsIn(root).forEach(function (g) {
      var from = before.get(g.key);
      if (from && from.cells !== cellsKey(g)) moved.push({ g: g, from: from.rect });
    });
    before.clear();
    if (!moved.length) return;
    // the new boxes are read in the next frame, before it is painted: the layout read is the one that frame needs
    requestAnimationFrame(function () {
      moved.forEach(function (m) {
        var g = m.g;
        if (!g.table.isConnected) return;
        var to = rectOf(g.cells, g.box), from = m.from;
        if (Math.abs(from.left - to.left) < 1 && Math.abs(from.top - to.top) < 1) return;
        start(g, from, to);
      });
    });
  }

  // The outline is put at its new box and animated from the old by a transform alone, which the compositor runs:
  // no frame of the glide lays out or paints the page (it had: ~5 ms of paint a frame on the network's step view,
  // in the frames where the next step's answer is swapped in). It shrinks or stretches on the way when the boxes
  // differ in size (a window's never do).
  function start(g, from, to) {
    if (getComputedStyle(g.box).position === "static") g.box.style.position = "relative";
    var ghost = document.createElement("div");
    ghost.className = "glide" + (g.key.indexOf("net#") === 0 ? " glide--step" : "");
    ghost.setAttribute("aria-hidden", "true");
    ghost.setAttribute("data-page-added", ""); // a patch leaves it (static/js/patch.js)
    ghost.style.left = to.left + "px";
    ghost.style.top = to.top + "px";
    ghost.style.width = to.width + "px";
    ghost.style.height = to.height + "px";
    g.box.appendChild(ghost);
    g.table.classList.add("is-gliding");
    var done = function () {
      ghost.remove();
      g.table.classList.remove("is-gliding");
    };
    if (!ghost.animate) { setTimeout(done, GLIDE_MS); return; }
    var scale = function (a, b) { return b > 0 ? a / b : 1; };
    var glide = ghost.animate([
      { transform: "translate(" + (from.left - to.left) + "px, " + (from.top - to.top) + "px) scale(" +
        scale(from.width, to.width) + ", " + scale(from.height, to.height) + ")" },
      { transform: "none" }
    ], { duration: GLIDE_MS, easing: "ease" });
    glide.onfinish = done;
    glide.oncancel = done;
  }

  // ---------------------------------------------------------------- values that changed
  var VALUES = "table.heatmap td[data-idx], [data-value]";
  var texts = null; // key -> text, of the content about to be swapped out

  function keyOf(el, counts) {
    var table = el.closest("table");
    var base = el.hasAttribute("data-value") ? "v:" + el.getAttribute("data-value")
      : (table && (table.getAttribute("data-arr") || "")) + "@" + el.getAttribute("data-idx");
    var n = counts.get(base) || 0;
    counts.set(base, n + 1);
    return base + "#" + n;
  }

  function snapshot(target) {
    texts = null;
    if (reduced.matches || !target) return;
    var cells = target.querySelectorAll(VALUES);
    if (!cells.length || cells.length > MAX_CELLS) return;
    texts = new Map();
    var counts = new Map();
    cells.forEach(function (c) {
      if (c.closest("table.editable")) return; // what the visitor typed is not news to them
      texts.set(keyOf(c, counts), c.textContent.trim());
    });
  }

  function flash(root) {
    if (!texts || reduced.matches) { texts = null; return; }
    var changed = [];
    var counts = new Map();
    var compared = 0;
    root.querySelectorAll(VALUES).forEach(function (c) {
      if (c.closest("table.editable")) return;
      var old = texts.get(keyOf(c, counts));
      if (old === undefined) return;
      compared += 1;
      if (old !== c.textContent.trim()) changed.push(c);
    });
    texts = null;
    flashCells(changed, compared);
  }

  function flashCells(changed, compared) {
    if (!changed.length || changed.length > 0.6 * compared) return;
    var again = [];
    changed.forEach(function (c) {
      if (c.classList.contains("is-changed")) { // a flash still running restarts: off now, on two frames later
        c.classList.remove("is-changed"); //         (no layout forced to restart it)
        again.push(c);
        return;
      }
      c.classList.add("is-changed");
      setTimeout(function () { c.classList.remove("is-changed"); }, FLASH_MS);
    });
    if (again.length) {
      requestAnimationFrame(function () {
        requestAnimationFrame(function () {
          again.forEach(function (c) {
            c.classList.add("is-changed");
            setTimeout(function () { c.classList.remove("is-changed"); }, FLASH_MS);
          });
        });
      });
    }
  }

  // An edit patched in place (static/js/patch.js) says which values it changed ("lens:patched"): nothing is
  // read before or compared after. Other swaps (outerHTML: a step, a tab) are compared by text, as above.
  var patched = null;
  document.addEventListener("lens:patched", function (ev) {
    if (reduced.matches || !ev.detail) return;
    patched = ev.detail.changed.filter(function (c) { return !c.closest("table.editable"); });
    patched.compared = ev.detail.compared;
  });

  // the swap style is the requesting element's (the event's own elt is the target: pool's image inspector asks for a
  // patch of #lab, which says no swap style of its own)
  function isPatch(detail) {
    var elt = (detail.requestConfig && detail.requestConfig.elt) || detail.elt;
    var spec = elt && elt.closest && elt.closest("[hx-swap]");
    return !!spec && spec.getAttribute("hx-swap").indexOf("patch") === 0;
  }

  // The swapped content is found again by the target's id (an outerHTML swap replaces the element itself).
  var swapped = null;
  document.addEventListener("htmx:beforeSwap", function (ev) {
    var target = ev.detail && ev.detail.target;
    swapped = target && target.id ? target.id : null;
    patched = null;
    texts = null;
    if (!swapped) { before.clear(); return; }
    measure(target);
    if (!isPatch(ev.detail)) snapshot(target);
  });
  document.addEventListener("htmx:afterSettle", function () {
    var root = swapped && document.getElementById(swapped);
    swapped = null;
    if (!root) { before.clear(); texts = null; patched = null; return; }
    glide(root);
    if (patched) {
      flashCells(patched, patched.compared);
      patched = null;
    } else {
      flash(root);
    }
  });
})();
