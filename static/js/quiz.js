/* Quiz mode (templates/kit/quiz.html, app/web/kit/quiz.py): hide result cells (a click, or N at random), type
   answers into them, and ask the engine to grade them. The hidden set lives in the link (quiz=dx:0,0,1,2;…);
   answers live in sessionStorage keyed by lab and cell, so an edit of a neighbouring input — which swaps the
   results — puts them back. A hidden cell answers no hover provenance (its terms would give the sum away).
   Every request of a quiz page carries quiz=, and the server draws the hidden cells blank (app.web.render.hidden:
   td[data-quiz-masked], no value in the HTML): showing such a cell again reloads the page. A cell of a large
   plane drawn as an image (app.web.render.plane) is hidden from the inspector ("Quiz this cell"): its pixel is
   masked and its answer box is in this panel's list. */
(function () {
  "use strict";

  var STORE = "lens-quiz:";
  // used: a cell was hidden on this page at some time (in its link or since): until then a swap has nothing to hide,
  // mask or show, and is left alone (a query over every result cell after each edit: 1-2 ms on /softmax)
  var quiz = { cells: [], picking: false, verdicts: {}, revealed: {}, hints: {}, used: false };

  function panel() { return document.querySelector("[data-quiz]"); }
  function slug() { return panel().getAttribute("data-slug"); }
  function form() { return document.querySelector(panel().getAttribute("data-form")); }
  function max() { return parseInt(panel().getAttribute("data-max"), 10) || 24; }
  function $(sel) { return panel().querySelector(sel); }
  function key(cell) { return STORE + slug() + ":" + cell; }
  function text() { return quiz.cells.join(";"); }

  function parts(cell) {
    var at = cell.indexOf(":");
    return { array: cell.slice(0, at), index: cell.slice(at + 1) };
  }

  function label(cell) {
    var p = parts(cell);
    return p.index ? p.array + "[" + p.index.split(",").join(", ") + "]" : p.array;
  }

  function resultTables() { return document.querySelectorAll("#lab table[data-arr]:not(.editable)"); }

  // a cell of a result image (app.web.render.plane): {plane, i, j}, or null
  function pixelOf(cell) {
    var p = parts(cell);
    var idx = p.index ? p.index.split(",") : [];
    if (idx.length < 2) { return null; }
    var prefix = idx.slice(0, -2).join(",");
    var i = parseInt(idx[idx.length - 2], 10), j = parseInt(idx[idx.length - 1], 10);
    var found = null;
    document.querySelectorAll("#lab .plane[data-arr]:not([data-edit])").forEach(function (plane) {
      if (found || plane.getAttribute("data-arr") !== p.array || (plane.getAttribute("data-prefix") || "") !== prefix) { return; }
      if (i < parseInt(plane.dataset.rows, 10) && j < parseInt(plane.dataset.cols, 10)) { found = { plane: plane, i: i, j: j }; }
    });
    return found;
  }

  function pixelHidden(px) { return (px.plane.dataset.hidden || "").split(";").indexOf(px.i + "," + px.j) >= 0; }

  // mask a pixel on the page (the server masks it in the image on the next drawing): outlined, and the inspector
  // reads it as hidden (plane.js reads data-hidden)
  function maskPixel(px, on) {
    var list = (px.plane.dataset.hidden || "").split(";").filter(Boolean);
    var at = list.indexOf(px.i + "," + px.j);
    if (on && at < 0) { list.push(px.i + "," + px.j); }
    if (!on && at >= 0) { list.splice(at, 1); }
    px.plane.dataset.hidden = list.join(";");
    var mark = px.plane.querySelector('.plane__quiz[data-ij="' + px.i + "," + px.j + '"]');
    if (on && !mark) {
      mark = window.Lens.pixelBox(px.plane, px.i, px.j, "plane__quiz");
      mark.dataset.ij = px.i + "," + px.j;
    }
    if (!on && mark) { mark.remove(); }
  }

  function cellOf(td) {
    var table = td.closest("table[data-arr]");
    return table.getAttribute("data-arr") + ":" + (td.getAttribute("data-idx") || "");
  }

  function tdOf(cell) {
    var p = parts(cell);
    var found = null;
    resultTables().forEach(function (table) {
      if (found || table.getAttribute("data-arr") !== p.array) { return; }
      table.querySelectorAll("td[data-idx]").forEach(function (td) {
        if (!found && td.getAttribute("data-idx") === p.index) { found = td; }
      });
    });
    return found;
  }

  function hide(td, cell) {
    if (td.classList.contains("quiz-hidden")) { return; }
    td.dataset.quizHtml = td.innerHTML;
    td.dataset.quizTitle = td.getAttribute("title") || "";
    td.removeAttribute("title");
    td.classList.add("quiz-hidden");
    var input = document.createElement("input");
    input.className = "quiz-answer";
    input.setAttribute("inputmode", "decimal");
    input.setAttribute("size", "4");
    input.setAttribute("autocomplete", "off");
    input.setAttribute("aria-label", "your answer for " + label(cell));
    input.dataset.cell = cell;
    input.value = sessionStorage.getItem(key(cell)) || "";
    td.innerHTML = "";
    td.appendChild(input);
  }

  function show(td) {
    if (!td.classList.contains("quiz-hidden")) { return; }
    td.innerHTML = td.dataset.quizHtml || "";
    if (td.dataset.quizTitle) { td.setAttribute("title", td.dataset.quizTitle); }
    td.classList.remove("quiz-hidden", "quiz-ok", "quiz-wrong", "quiz-revealed");
  }

  function answerOf(cell) {
    var td = tdOf(cell);
    var input = td ? td.querySelector(".quiz-answer") : panel().querySelector('.quiz-answer[data-cell="' + CSS.escape(cell) + '"]');
    return input ? input.value : (sessionStorage.getItem(key(cell)) || "");
  }

  function apply() {
    var drawn = false;  // a cell the server drew blank is to be shown: only a new drawing has its value
    document.querySelectorAll("#lab td.quiz-hidden, #lab td[data-quiz-masked]").forEach(function (td) {
      if (quiz.cells.indexOf(cellOf(td)) < 0) { drawn = drawn || td.hasAttribute("data-quiz-masked"); show(td); }
    });
    document.querySelectorAll("#lab .plane[data-hidden]:not([data-edit])").forEach(function (plane) {
      (plane.dataset.hidden || "").split(";").filter(Boolean).forEach(function (ij) {
        var cell = plane.dataset.arr + ":" + (plane.dataset.prefix ? plane.dataset.prefix + "," : "") + ij;
        if (quiz.cells.indexOf(cell) < 0) { drawn = true; }
      });
    });
    if (drawn) { location.reload(); return; }
    quiz.cells.forEach(function (cell) {
      var td = tdOf(cell);
      if (!td) {
        var px = pixelOf(cell);
        if (px) { maskPixel(px, quiz.revealed[cell] === undefined); }
        return;
      }
      if (quiz.revealed[cell] !== undefined) {
        show(td);
        if (td.hasAttribute("data-quiz-masked")) { td.textContent = quiz.revealed[cell]; }
        td.classList.add("quiz-revealed");
        return;
      }
      hide(td, cell);
      td.classList.toggle("quiz-ok", quiz.verdicts[cell] === true);
      td.classList.toggle("quiz-wrong", quiz.verdicts[cell] === false);
    });
    list();
  }

  function list() {
    var ol = $("[data-quiz-list]");
    ol.innerHTML = "";
    quiz.cells.forEach(function (cell) {
      var li = document.createElement("li");
      var v = quiz.verdicts[cell];
      li.className = "quiz-item" + (v === true ? " quiz-item--ok" : v === false ? " quiz-item--wrong" : "");
      li.dataset.cell = cell;
      var name = document.createElement("button");
      name.type = "button";
      name.className = "linklike quiz-item__name";
      name.textContent = label(cell);
      name.dataset.quizFocus = cell;
      li.appendChild(name);
      var mark = document.createElement("span");
      mark.className = "quiz-item__mark";
      mark.textContent = v === true ? " ✓" : v === false ? " ✗" : "";
      li.appendChild(mark);
      var px = tdOf(cell) ? null : pixelOf(cell);
      if (px && quiz.revealed[cell] === undefined) {  // a pixel of an image: its answer box is here
        var box = document.createElement("input");
        box.className = "quiz-answer quiz-answer--listed";
        box.setAttribute("inputmode", "decimal");
        box.setAttribute("autocomplete", "off");
        box.setAttribute("aria-label", "your answer for " + label(cell));
        box.dataset.cell = cell;
        box.value = sessionStorage.getItem(key(cell)) || "";
        li.appendChild(document.createTextNode(" = "));
        li.appendChild(box);
      }
      if (!tdOf(cell) && !px) {
        var gone = document.createElement("span");
        gone.className = "hint";
        gone.textContent = " (not on the page now)";
        li.appendChild(gone);
      }
      if (quiz.revealed[cell] !== undefined) {
        var val = document.createElement("span");
        val.className = "quiz-item__value";
        val.textContent = " = " + quiz.revealed[cell];
        li.appendChild(val);
      }
      var hint = document.createElement("button");
      hint.type = "button";
      hint.className = "button button--small quiz-item__hint";
      hint.textContent = "Hint";
      hint.dataset.quizHint = cell;
      li.appendChild(hint);
      if (quiz.hints[cell]) {
        var p = document.createElement("p");
        p.className = "quiz-item__hinttext";
        p.textContent = quiz.hints[cell].hint;
        li.appendChild(p);
        if (quiz.hints[cell].formula && window.katex) {
          var f = document.createElement("p");
          f.className = "quiz-item__formula";
          try { window.katex.render(quiz.hints[cell].formula, f, { throwOnError: false }); } catch (e) { f.textContent = ""; }
          li.appendChild(f);
        }
      }
      ol.appendChild(li);
    });
    $("[data-quiz-empty]").hidden = quiz.cells.length > 0;
    var sel = $("[data-quiz-array]");
    var chosen = sel.value;
    var names = [];
    resultTables().forEach(function (t) {
      var n = t.getAttribute("data-arr");
      if (names.indexOf(n) < 0) { names.push(n); }
    });
    while (sel.options.length > 1) { sel.remove(1); }
    names.forEach(function (n) { var o = document.createElement("option"); o.value = n; o.textContent = n; sel.appendChild(o); });
    sel.value = names.indexOf(chosen) >= 0 ? chosen : "";
  }

  function syncUrl() {
    var url = location.pathname + location.search.replace(/([?&])quiz=[^&]*(&|$)/, function (m, a, b) { return b ? a : ""; });
    if (quiz.cells.length) { url += (url.indexOf("?") >= 0 ? "&" : "?") + "quiz=" + text(); }
    if (url !== location.pathname + location.search) { history.replaceState(history.state, "", url + location.hash); }
  }

  function changed() {
    quiz.used = true;
    quiz.verdicts = {};
    $("[data-quiz-score]").textContent = "";
    syncUrl();
    apply();
  }

  // the panel's state, also on <html> (quiz-on, quiz-picking: quiz.css) for the rules about the rest of the page
  // (a body:has(.quiz-panel…) rule would make Chromium restyle the whole page on every DOM change)
  function setPicking(on) {
    quiz.picking = on;
    panel().classList.toggle("is-picking", on);
    document.documentElement.classList.toggle("quiz-picking", on);
  }

  function activate(on) {
    panel().classList.toggle("is-active", on);
    document.documentElement.classList.toggle("quiz-on", on);
    $(".quiz-panel__body").hidden = !on;
    document.querySelector("[data-quiz-open]").hidden = on;
  }

  // "Quiz me" sits with the lab's own actions (Copy link, Present, …) when the page has them: a floating
  // button would cover whatever is under it (the network's drawing pad)
  function dock() {
    var button = document.querySelector("[data-quiz-open]");
    var actions = document.querySelector(".lab-actions");
    if (!button || !actions || actions.contains(button)) { return; }
    var display = actions.querySelector(".display-buttons");  // beside "Copy embed code", where its row has room
    if (display) {
      display.insertBefore(button, display.querySelector("[data-open-lab]"));
    } else {
      actions.insertBefore(button, actions.querySelector("[data-copy-status]"));
    }
    panel().setAttribute("data-docked", "");
  }

  function message(text) { $("[data-quiz-message]").textContent = text || ""; }

  function post(what, extra) {
    var data = new FormData(form());
    data.append("quiz", text());
    (extra || []).forEach(function (pair) { data.append(pair[0], pair[1]); });
    return fetch("/" + slug() + "/quiz/" + what, { method: "POST", body: data, headers: { "HX-Request": "true" } })
      .then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) {
            var items = (body && body.detail) || [];
            throw new Error(items.map(function (d) { return d.loc[d.loc.length - 1] + ": " + d.msg; }).join("; ") || ("HTTP " + r.status));
          }
          return body;
        });
      });
  }

  function check() {
    if (!quiz.cells.length) { message("Hide a cell first."); return; }
    var answers = quiz.cells.map(function (cell) { return ["answer", answerOf(cell)]; });
    post("grade", answers).then(function (body) {
      quiz.verdicts = {};
      body.cells.forEach(function (g) { if (g.ok !== null) { quiz.verdicts[g.cell] = g.ok; } });
      $("[data-quiz-score]").textContent = body.score + " of " + body.of + " right";
      message("");
      apply();
    }, function (err) { message(err.message); });
  }

  function reveal() {
    post("reveal").then(function (body) {
      body.cells.forEach(function (c) { quiz.revealed[c.cell] = c.value; });
      message("");
      apply();
    }, function (err) { message(err.message); });
  }

  function giveHint(cell) {
    post("hint", [["cell", cell]]).then(function (body) {
      quiz.hints[cell] = body;
      message("");
      list();
    }, function (err) { message(err.message); });
  }

  function random() {
    var n = Math.max(1, Math.min(parseInt($("[data-quiz-n]").value, 10) || 1, max() - quiz.cells.length));
    var only = $("[data-quiz-array]").value;
    var pool = [];
    resultTables().forEach(function (table) {
      if (only && table.getAttribute("data-arr") !== only) { return; }
      table.querySelectorAll("td[data-idx]").forEach(function (td) {
        var cell = cellOf(td);
        if (quiz.cells.indexOf(cell) < 0 && pool.indexOf(cell) < 0) { pool.push(cell); }
      });
    });
    if (!pool.length || quiz.cells.length >= max()) { message("No more cells to hide here (a quiz hides at most " + max() + ")."); return; }
    for (var k = 0; k < n && pool.length; k++) {
      quiz.cells.push(pool.splice(Math.floor(Math.random() * pool.length), 1)[0]);
    }
    message("");
    changed();
  }

  function toggle(td) { toggleCell(cellOf(td)); }

  function toggleCell(cell) {
    var at = quiz.cells.indexOf(cell);
    if (at >= 0) {
      quiz.cells.splice(at, 1);
      delete quiz.revealed[cell];
    } else if (quiz.cells.length < max()) {
      quiz.cells.push(cell);
    } else {
      message("A quiz hides at most " + max() + " cells.");
      return;
    }
    changed();
  }

  function end() {
    quiz.cells = [];
    quiz.revealed = {};
    quiz.hints = {};
    $("[data-quiz-picking]").checked = false;
    setPicking(false);
    changed();
    activate(false);
  }

  document.addEventListener("click", function (event) {
    if (!panel()) { return; }
    var t = event.target;
    if (t.closest("[data-quiz-open]")) {
      activate(true);
      $("[data-quiz-picking]").checked = true;
      setPicking(true);
      list();
      return;
    }
    if (t.closest("[data-quiz-end]")) { end(); return; }
    if (t.closest("[data-quiz-check]")) { check(); return; }
    if (t.closest("[data-quiz-reveal]")) { reveal(); return; }
    if (t.closest("[data-quiz-random]")) { random(); return; }
    if (t.closest("[data-quiz-share]")) {
      var button = t.closest("[data-quiz-share]");
      if (navigator.clipboard) {
        navigator.clipboard.writeText(location.href).then(function () { button.textContent = "Quiz link copied"; }, function () {});
      }
      return;
    }
    var hintButton = t.closest("[data-quiz-hint]");
    if (hintButton) { giveHint(hintButton.dataset.quizHint); return; }
    var thisCell = t.closest("[data-quiz-this]");
    if (thisCell && thisCell.dataset.cell) {
      activate(true);
      if (quiz.cells.indexOf(thisCell.dataset.cell) < 0) { toggleCell(thisCell.dataset.cell); }
      var shown = thisCell.closest("[data-inspector]").querySelector(".inspector__value");
      if (shown) { shown.value = "hidden: the quiz asks it"; }  // as plane.js reads a hidden pixel
      thisCell.hidden = true;
      return;
    }
    var focus = t.closest("[data-quiz-focus]");
    if (focus) {
      var td = tdOf(focus.dataset.quizFocus);
      var input = td ? td.querySelector(".quiz-answer") : $('.quiz-answer[data-cell="' + CSS.escape(focus.dataset.quizFocus) + '"]');
      if (input) { input.focus(); }
      return;
    }
    if (quiz.picking && !t.closest(".quiz-answer")) {
      var cellTd = t.closest("#lab table[data-arr]:not(.editable) td[data-idx]");
      if (cellTd) { toggle(cellTd); }
    }
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("[data-quiz-picking]")) {
      setPicking(event.target.checked);
    }
  });

  // answers: kept per cell; never an edit of the lab's form (no name, and the event stops here)
  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!input.classList || !input.classList.contains("quiz-answer")) { return; }
    event.stopPropagation();
    sessionStorage.setItem(key(input.dataset.cell), input.value);
    delete quiz.verdicts[input.dataset.cell];
    var td = input.closest("td");
    if (td) { td.classList.remove("quiz-ok", "quiz-wrong"); }
  }, true);

  // a hidden cell gives nothing away on hover or focus (the lab's provenance and terms panel)
  ["mouseover", "mouseout", "pointerover", "focusin", "keydown"].forEach(function (type) {
    window.addEventListener(type, function (event) {
      var t = event.target;
      if (t && t.closest && t.closest("#lab td.quiz-hidden")) {
        if (type === "keydown" && event.key === "Enter") { check(); }
        event.stopPropagation();
      }
    }, true);
  });

  function init() {
    var p = panel();
    if (!p) { return; }
    dock();
    var given = p.getAttribute("data-cells");
    quiz.cells = given ? given.split(";") : [];
    if (quiz.cells.length) { quiz.used = true; activate(true); }
    apply();
  }

  // every request of this lab carries the quiz, so what the server draws leaves the hidden cells blank
  document.addEventListener("htmx:configRequest", function (event) {
    if (!panel() || !quiz.cells.length) { return; }
    if ((event.detail.path || "").indexOf("/" + slug() + "/") !== 0) { return; }
    event.detail.parameters.quiz = text();
  });

  // a step: a request to a route a stepper of the page posts to (another window, cell, stage or operation of the
  // same numbers: templates/kit/stepper.html, the optimizer's t, the network's operations)
  function isStep(path) {
    if (!path) { return false; }
    return Array.prototype.some.call(document.querySelectorAll("[data-stepper] [hx-post]"), function (b) {
      return b.getAttribute("hx-post") === path;
    });
  }

  // a swap may have changed the numbers, so the verdicts go; the gradient check's answer and a step change none of
  // them (the check can arrive after the grade, on a busy machine)
  function afterSwap(event) {
    if (!panel() || !quiz.used) { return; }
    var detail = (event && event.detail) || {}, elt = detail.elt;
    var path = detail.pathInfo && detail.pathInfo.requestPath;
    if (!(elt && elt.closest && elt.closest(".gradcheck")) && !isStep(path)) { // the score goes with the verdicts
      quiz.verdicts = {};
      $("[data-quiz-score]").textContent = "";
    }
    syncUrl();
    apply();
  }

  document.addEventListener("DOMContentLoaded", init);
  if (document.readyState !== "loading") { init(); }
  document.addEventListener("htmx:afterSettle", afterSwap);
  document.addEventListener("htmx:replacedInHistory", syncUrl);
})();
