/* Backprop Lens labs: editable grids, bad-input marks, hover provenance.
 *
 * A lab is a <form data-lab data-provenance="URL"> whose cells post on every keystroke
 * (htmx attributes in the templates). This script adds what htmx does not:
 *   - 422 answers are swapped (htmx-config in base.html: they carry the message naming the
 *     bad field), and the cells named in #form-message[data-invalid] get aria-invalid; stale results dim;
 *   - ↑ ↓ Enter move between cells of one grid (the steppers' keys are static/js/steps.js);
 *   - hovering or focusing a result cell asks the engine (POST data-provenance) which cells it came
 *     from and outlines them; where the answer has terms (coefficient · upstream = product) each
 *     pair is outlined in its own colour and numbered, and the terms panel (#terms-panel, a live
 *     region) lists them with their numbers. Result cells are focusable (one tab stop per table);
 *     the arrow keys move between them, Esc closes the panel;
 *   - a 503 (the server busy) says so in #form-message and asks again after its Retry-After.
 */
(function () {
  "use strict";

  // --- bad input: mark the cells the server named, dim the results that are now stale ---
  // Run at every swap; with nothing refused now nor marked by the last run (an edit like any other) it reads no more
  // of the page (it looked through the whole lab for marks to clear: ~0.6 ms a keystroke on /norm).
  let marked = false;
  function markInvalid(root) {
    const lab = root.closest ? root.closest("[data-lab]") || document.querySelector("[data-lab]") : null;
    if (!lab) return;
    const message = lab.querySelector("#form-message");
    let fields = [];
    if (message && message.dataset.invalid) {
      try { fields = JSON.parse(message.dataset.invalid); } catch (e) { fields = []; }
    }
    if (!fields.length && !marked) return;
    marked = fields.length > 0;
    lab.querySelectorAll("input[aria-invalid]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
    fields.forEach(function (field) {
      lab.querySelectorAll('input[data-label="' + CSS.escape(field) + '"], input[name="' + CSS.escape(field) + '"]')
        .forEach(function (el) { el.setAttribute("aria-invalid", "true"); });
    });
    const results = lab.querySelector("#results");
    if (results) results.classList.toggle("stale", fields.length > 0);
    sayUnderGrid(lab, message, fields);
    sayBeside(lab, message, fields);
  }

  // the line of the message that names a field
  function lineFor(message, field) {
    const line = Array.prototype.find.call(message.querySelectorAll("li"), function (li) {
      const name = li.querySelector("b");
      return name && name.textContent === field;
    });
    return line ? line.textContent : "";
  }

  // On a phone the results, and the message at their top, lie a screen below the inputs: the refused cell being
  // typed in (else the first refused) has its line of the message written under its grid too (shown only up to
  // 1000 px wide, results.css; wider, the message stays in sight beside the inputs). Gone once no cell is refused.
  function sayUnderGrid(lab, message, fields) {
    lab.querySelectorAll(".cell-error").forEach(function (el) { el.remove(); });
    if (!fields.length || !message) return;
    const focused = document.activeElement;
    const cell = focused && focused.matches && focused.matches("input.cell[aria-invalid]") && lab.contains(focused)
      ? focused : lab.querySelector("input.cell[aria-invalid]");
    // under its grid: the figure that holds it (kit/grid.html), else its table or the box that scrolls it
    let grid = cell && (cell.closest("figure") || cell.closest("table"));
    if (!grid) return;
    if (grid.tagName === "TABLE" && grid.parentElement.matches(".scroll, .fit-x")) grid = grid.parentElement;
    const line = lineFor(message, cell.getAttribute("data-label"));
    if (line) grid.after(errorNote("cell-error", line));
  }

  function errorNote(cls, text) {
    const note = document.createElement("p");
    note.className = cls;
    note.setAttribute("data-page-added", "");
    note.textContent = text;
    return note;
  }

  // A refused box outside the inputs column (the drawing pad's "after N steps" on the network's first screen) lies
  // far from the message, at the top of the results: its line of the message is written under the box's group at
  // every width, and what that box's request would have redrawn (its hx-target: the pad's prediction) dims as stale
  // results do, until a request for it is answered. (The network builder's boxes and the optimizer race's, answered
  // 422 the same way, get their line too; the race's part holds its own boxes, and is not dimmed.)
  function sayBeside(lab, message, fields) {
    lab.querySelectorAll(".field-error").forEach(function (el) { el.remove(); });
    if (!message) return;
    fields.forEach(function (field) {
      lab.querySelectorAll('input[data-label="' + CSS.escape(field) + '"]').forEach(function (box) {
        if (box.matches("input.cell") || box.closest("#inputs")) return;
        const line = lineFor(message, field);
        if (line) (box.closest("fieldset, label") || box).after(errorNote("field-error", line));
      });
    });
  }
  document.addEventListener("htmx:afterRequest", function (ev) {
    const target = ev.detail && ev.detail.target, xhr = ev.detail && ev.detail.xhr, elt = ev.detail && ev.detail.elt;
    // not a target that holds the boxes typed in (the optimizer's race: its settings and its plot are one part; the
    // whole lab); the results, which do not, dim as markInvalid says as well
    if (!target || !xhr || (elt && target.contains(elt))) return;
    if (xhr.status === 422) target.classList.add("stale");
    else if (ev.detail.successful) target.classList.remove("stale");
  });

  // --- keyboard: ↑ ↓ and Enter move between cells of one grid ---
  function moveInGrid(input, dr) {
    const td = input.closest("td[data-idx]");
    const table = input.closest("table");
    if (!td || !table) return false;
    const idx = td.dataset.idx.split(",").map(Number);
    idx[idx.length - 2] += dr;
    const next = table.querySelector('td[data-idx="' + idx.join(",") + '"] input');
    if (next) { next.focus(); next.select(); return true; }
    return false;
  }

  document.addEventListener("keydown", function (ev) {
    const t = ev.target;
    if (t.classList && t.classList.contains("cell")) {
      if ((ev.key === "ArrowDown" || ev.key === "Enter") && moveInGrid(t, 1)) ev.preventDefault();
      else if (ev.key === "ArrowUp" && moveInGrid(t, -1)) ev.preventDefault();
    }
  });
  // (← →, PageUp/PageDown, space and autoplay step the stepper in view: static/js/steps.js, on every page)

  // --- a lab's input grids are as wide as their longest number: every cell of them shares one width (--cell-ch on
  // the inputs' section, #inputs, in characters of their monospace digits: heatmap.css), so -12345.67 reads whole
  // instead of as "-1234", each grid stays a grid and grids stacked as columns (the optimizer's names, θ0 and g)
  // stay aligned. On #inputs, so a change restyles the inputs alone (patch.js keeps that attribute of the page's).
  // Set when grids arrive (the page, a swap) and as a cell is typed in; a keystroke reads only its own cell (a lab
  // may hold 4,096 of them), all of them are read when grids arrive and when the cell that was the longest shrinks.
  const GRID_CELLS = "table.heatmap.editable input.cell";
  function fitScope(el) { return el.closest("#inputs") || document.documentElement; }
  function fitCells(scope) {
    let most = 0;
    scope.querySelectorAll(GRID_CELLS).forEach(function (input) {
      input.lensLength = input.value.length;
      most = Math.max(most, input.lensLength);
    });
    setLongest(scope, most);
  }
  // in steps of three characters (five or fewer: the cells' least width): a grid widens at every third character of
  // its longest number, not at each (a restyle and layout of the inputs each time)
  function setLongest(scope, n) {
    scope.lensLongest = n;
    const ch = n <= 5 ? 0 : Math.ceil(n / 3) * 3;
    if (ch !== scope.lensCh) {
      scope.lensCh = ch;
      scope.style.setProperty("--cell-ch", ch);
    }
  }
  function fitWithin(root) {
    if (!root.querySelector) return;
    const cells = root.matches(GRID_CELLS) ? [root] : Array.from(root.querySelectorAll(GRID_CELLS));
    new Set(cells.map(fitScope)).forEach(fitCells);
  }
  // A number being typed widens its grid once typing pauses (Lens.whenPaused, lens.js): meanwhile its box scrolls to
  // show what is typed, and a keystroke's frame does not lay the inputs out again.
  let fitLater = null;
  document.addEventListener("input", function (ev) {
    const input = ev.target;
    if (!input.matches || !input.matches(GRID_CELLS)) return;
    fitLater = fitLater || window.Lens.whenPaused(new Set(), function (inputs) { inputs.forEach(fitTyped); });
    fitLater(input);
  });
  function fitTyped(input) {
    const scope = fitScope(input), was = input.lensLength, now = input.value.length;
    input.lensLength = now;
    if (now > (scope.lensLongest || 0)) setLongest(scope, now);
    else if (now < was && was === scope.lensLongest) fitCells(scope);
  }
  document.addEventListener("DOMContentLoaded", function () { fitWithin(document.body); });
  if (document.readyState !== "loading") fitWithin(document.body);
  document.addEventListener("htmx:load", function (ev) { fitWithin(ev.detail.elt); });

  // --- a busy server: a 503 (its queue of heavy work is full) is said in #form-message, and the same
  // request is asked again after its Retry-After; a newer request for the same part (or for a whole that holds it)
  // replaces the retry, and one for another part (the gradient check, asked once typing pauses) does not: it did,
  // and a check asked 600 ms after the 503 left the edit never asked again. (A 503 with HX-Redirect — a long
  // replay — is htmx's own: it opens the page that shows the progress.) ---
  let retry = null, retryTarget = null;
  document.addEventListener("htmx:responseError", function (ev) {
    const xhr = ev.detail && ev.detail.xhr;
    if (!xhr || xhr.status !== 503 || xhr.getResponseHeader("HX-Redirect")) return;
    const wait = Math.min(30, Math.max(1, parseInt(xhr.getResponseHeader("Retry-After"), 10) || 1));
    let text = "the server is busy";
    try { text = JSON.parse(xhr.responseText).detail[0].msg; } catch (e) { /* the default says it */ }
    const box = document.getElementById("form-message");
    if (box) {
      box.hidden = false;
      box.removeAttribute("data-invalid");
      box.textContent = text.charAt(0).toUpperCase() + text.slice(1) + ". Asking again in " + wait + " s…";
    }
    const elt = ev.detail.elt, config = ev.detail.requestConfig, target = ev.detail.target;
    clearTimeout(retry);
    retryTarget = target;
    retry = setTimeout(function () {
      if (elt && document.body.contains(elt) && window.htmx) {
        window.htmx.ajax(config.verb.toUpperCase(), config.path, { source: elt, target: target });
      }
    }, wait * 1000);
  });
  document.addEventListener("htmx:beforeRequest", function (ev) {
    const t = ev.detail && ev.detail.target;
    if (!retryTarget || !t) return;
    if (t === retryTarget || (t.id && t.id === retryTarget.id) || t.contains(retryTarget)) {
      clearTimeout(retry);
      retryTarget = null;
    }
  });

  // --- provenance: ask the engine which cells a hovered or focused result cell came from ---
  // The answer's cells are outlined; where the lab answers terms too (coefficient · upstream = product),
  // each pair is outlined in its own colour and numbered, and the terms panel lists them with their numbers.
  const PAIRS = 8; // the pair colours are CSS custom properties --pair-0 … --pair-7 (explain.css)
  function pairColour(k) { return "var(--pair-" + (k % PAIRS) + ")"; }
  const RESULT_CELL = "table.heatmap:not(.editable) td[data-idx]";
  let version = 0;
  const cache = new Map();
  let hovered = null;
  function clearProvenance() {
    document.querySelectorAll(".prov, .prov-self, .prov-pair").forEach(function (el) {
      el.classList.remove("prov", "prov-self", "prov-pair");
      el.removeAttribute("data-term");
      el.style.removeProperty("--pair");
    });
  }
  function cellsOf(lab, array, idx) {
    return lab.querySelectorAll('table[data-arr="' + CSS.escape(array) + '"] td[data-idx="' + idx + '"]');
  }
  function showProvenance(lab, td, answer) {
    if (hovered !== td) return;
    clearProvenance();
    td.classList.add("prov-self");
    Object.keys(answer.cells || {}).forEach(function (array) {
      answer.cells[array].forEach(function (idx) {
        cellsOf(lab, array, idx).forEach(function (cell) { cell.classList.add("prov"); });
      });
    });
    const terms = answer.terms;
    if (!terms) return;
    terms.terms.forEach(function (term, k) {
      const colour = pairColour(k);
      [term.coefficient, term.upstream].forEach(function (factor) {
        if (!factor.array || factor.index === null) return;
        cellsOf(lab, factor.array, factor.index).forEach(function (cell) {
          cell.classList.add("prov-pair");
          cell.style.setProperty("--pair", colour);
          const had = cell.getAttribute("data-term");
          cell.setAttribute("data-term", had ? had + "," + (k + 1) : String(k + 1));
        });
      });
    });
    showTerms(lab, terms);
  }

  // the terms panel: made once per page, a live region a screen reader reads
  function termsPanel() {
    let panel = document.getElementById("terms-panel");
    if (panel) return panel;
    panel = document.createElement("aside");
    panel.id = "terms-panel";
    panel.className = "terms-panel";
    panel.setAttribute("aria-labelledby", "terms-panel-title");
    panel.hidden = true;
    panel.innerHTML = '<div class="terms-panel__head"><h2 id="terms-panel-title" class="terms-panel__title"></h2>' +
      '<button type="button" class="terms-panel__close" aria-label="Close the terms panel" title="Close (Esc)">×</button></div>' +
      '<p class="terms-panel__live visually-hidden" aria-live="polite"></p>' +
      '<div class="terms-panel__body" aria-hidden="true"></div>';
    panel.querySelector(".terms-panel__close").addEventListener("click", hideTerms);
    document.body.appendChild(panel);
    return panel;
  }
  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  // a factor that is a cell a quiz hides (quiz.js): its value, and the product it is in, show as "?"
  function quizHides(lab, f) {
    if (!f.array || f.index === null) return false;
    return Array.prototype.some.call(cellsOf(lab, f.array, f.index), function (cell) {
      return cell.hasAttribute("data-quiz-masked") || cell.classList.contains("quiz-hidden");
    });
  }
  function factorText(f, hidden) {
    const v = hidden ? "?" : Lens.formatNumber(f.value);
    return f.label === v || (hidden && f.label === Lens.formatNumber(f.value)) ? v : f.label + " = " + v;
  }
  function showTerms(lab, terms) {
    const panel = termsPanel();
    panel.querySelector(".terms-panel__title").textContent = terms.label + " = " + Lens.formatNumber(terms.value);
    const body = panel.querySelector(".terms-panel__body");
    body.textContent = "";
    if (terms.note) body.appendChild(el("p", "terms-panel__note", terms.note));
    const list = el("ol", "terms-panel__list");
    let hiding = false;
    terms.terms.forEach(function (term, k) {
      const hideC = quizHides(lab, term.coefficient), hideU = quizHides(lab, term.upstream);
      hiding = hiding || hideC || hideU;
      const item = el("li", "terms-panel__term");
      item.style.setProperty("--pair", pairColour(k));
      item.appendChild(el("span", "terms-panel__n", String(k + 1)));
      item.appendChild(el("span", "terms-panel__f", factorText(term.coefficient, hideC)));
      item.appendChild(el("span", "terms-panel__op", "×"));
      item.appendChild(el("span", "terms-panel__f", factorText(term.upstream, hideU)));
      item.appendChild(el("span", "terms-panel__op", "="));
      item.appendChild(el("span", "terms-panel__p", hideC || hideU ? "?" : Lens.formatNumber(term.product)));
      if (term.path && terms.paths && terms.paths[term.path]) item.title = terms.paths[term.path];
      list.appendChild(item);
    });
    body.appendChild(list);
    const more = terms.count - terms.terms.length;
    const sum = el("p", "terms-panel__sum");
    sum.textContent = (terms.count ? "Σ of " + terms.count + " term" + (terms.count === 1 ? "" : "s") +
      (more > 0 ? " (" + more + " more not listed)" : "") + " = " + Lens.formatNumber(terms.total) :
      "No term reaches it: 0");
    body.appendChild(sum);
    if (hiding) body.appendChild(el("p", "terms-panel__note", "? is a cell the quiz hides: its value stays hidden here too."));
    panel.querySelector(".terms-panel__live").textContent = hiding ?
      terms.label + " = " + Lens.formatNumber(terms.value) + ", a sum of " + terms.count +
      " terms; one or more of them hold a cell the quiz hides." : terms.text;
    panel.hidden = false;
    // never over the cell it explains: where the corner would cover it, the panel sits at the top
    panel.classList.remove("terms-panel--top");
    if (hovered && overlaps(panel.getBoundingClientRect(), hovered.getBoundingClientRect())) {
      panel.classList.add("terms-panel--top");
    }
  }
  function overlaps(a, b) {
    return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  }
  function hideTerms() {
    const panel = document.getElementById("terms-panel");
    if (panel) panel.hidden = true;
  }

  function ask(td) {
    if (!td || td === hovered) return;
    const lab = td.closest("[data-lab]");
    const table = td.closest("table[data-arr]");
    if (!lab || !table || !lab.dataset.provenance) return;
    hovered = td;
    const key = version + "|" + table.dataset.arr + "|" + td.dataset.idx;
    if (cache.has(key)) { showProvenance(lab, td, cache.get(key)); return; }
    const body = new FormData(lab);
    body.set("array", table.dataset.arr);
    body.set("index", td.dataset.idx);
    fetch(lab.dataset.provenance, { method: "POST", body: body, headers: { "HX-Request": "true" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (answer) {
        if (!answer) return;
        cache.set(key, answer);
        showProvenance(lab, td, answer);
      })
      .catch(function () {});
  }
  function leave(td) {
    if (td && td === hovered) { hovered = null; clearProvenance(); }
  }
  document.addEventListener("mouseover", function (ev) {
    ask(ev.target.closest && ev.target.closest(RESULT_CELL));
  });
  document.addEventListener("mouseout", function (ev) {
    const td = ev.target.closest && ev.target.closest("td[data-idx]");
    const onPanel = ev.relatedTarget && ev.relatedTarget.closest && ev.relatedTarget.closest("#terms-panel");
    if (td && !td.contains(ev.relatedTarget) && td !== document.activeElement && !onPanel) leave(td);
  });
  document.addEventListener("focusin", function (ev) {
    const td = ev.target.closest && ev.target.closest(RESULT_CELL);
    if (td) { hovered = null; ask(td); }
  });
  document.addEventListener("focusout", function (ev) {
    const td = ev.target.closest && ev.target.closest(RESULT_CELL);
    if (td && !(ev.relatedTarget && ev.relatedTarget.closest && ev.relatedTarget.closest(RESULT_CELL))) leave(td);
  });

  // result cells are focusable: one tab stop per table (the first cell), arrow keys move inside it
  function focusable(root) {
    const scope = root && root.querySelectorAll ? root : document;
    const forms = scope.matches && scope.matches("[data-provenance]") ? [scope] :
      Array.prototype.slice.call(document.querySelectorAll("[data-provenance]"));
    forms.forEach(function (lab) {
      lab.querySelectorAll("table.heatmap:not(.editable)[data-arr]").forEach(function (table) {
        if (table.querySelector("td[tabindex]")) return;
        const first = table.querySelector("td[data-idx]");
        if (first) first.setAttribute("tabindex", "0");
      });
    });
  }
  function neighbour(td, key) {
    const row = td.parentElement;
    const cells = Array.prototype.filter.call(row.children, function (c) { return c.matches("td[data-idx]"); });
    const at = cells.indexOf(td);
    if (key === "ArrowLeft") return cells[at - 1];
    if (key === "ArrowRight") return cells[at + 1];
    let other = key === "ArrowUp" ? row.previousElementSibling : row.nextElementSibling;
    while (other && !other.querySelector("td[data-idx]")) {
      other = key === "ArrowUp" ? other.previousElementSibling : other.nextElementSibling;
    }
    if (!other) return null;
    const below = Array.prototype.filter.call(other.children, function (c) { return c.matches("td[data-idx]"); });
    return below[Math.min(at, below.length - 1)];
  }
  function moveCell(td, key) {
    const next = neighbour(td, key);
    if (!next) return;
    td.setAttribute("tabindex", "-1");
    next.setAttribute("tabindex", "0");
    next.focus();
  }
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape") { hideTerms(); return; }
    const td = ev.target.closest && ev.target.closest(RESULT_CELL);
    if (td && /^Arrow/.test(ev.key) && !(ev.altKey || ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      ev.stopImmediatePropagation();
      moveCell(td, ev.key);
    }
  }, true);
  document.addEventListener("DOMContentLoaded", function () { focusable(document); });
  if (document.readyState !== "loading") focusable(document);

  // After a swap that brought numbers (at once, not after settling): forget cached provenance and the
  // hovered cell, re-mark bad cells. A swap without tables (the gradient check's badge, a chart) leaves
  // the terms panel as it is: a cell hovered while the badge answered keeps its terms.
  function bringsNumbers(elt) {
    if (!elt || !elt.querySelector) return true;
    return elt.matches("table[data-arr], table[data-arr] *") || !!elt.querySelector("table[data-arr]");
  }
  document.addEventListener("htmx:afterSwap", function (ev) {
    const elt = ev.detail.target || ev.detail.elt;
    if (bringsNumbers(elt) || (hovered && !hovered.isConnected)) {
      version += 1;
      cache.clear();
      hovered = null;
      hideTerms();
    }
    focusable(document);
    markInvalid(ev.detail.elt || document.body);
  });
  document.addEventListener("htmx:oobAfterSwap", function (ev) { markInvalid(ev.detail.target || document.body); });
})();
