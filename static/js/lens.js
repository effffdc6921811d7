/* Backprop Lens: the one page script (no framework; CSP-safe, no inline code).
 *
 * After the first load and after every htmx swap it renders, inside the new content:
 *   [data-figure]  a JSON plotly-schema dict {data, layout, config} -> Plotly.react(el, ...)
 *   [data-latex]   KaTeX source -> katex.render (display mode when data-display is present)
 * After an edit patched in place, a changed formula or figure off screen is drawn when it nears the screen or
 * when the page is idle after the frame that shows the edit (Lens.seen(el), Lens.drawLater(el)); so is a formula of
 * content a swap put in (a network step's new panel) that lies over a screen away.
 * Plots that a swap took out of the page are purged right after it (Plotly.purge frees their
 * listeners and data). Sweeping what actually left the DOM, rather than purging the swap target
 * in htmx:beforeSwap, is right for every swap style (beforeend, oob, SSE swaps) and never purges
 * a plot that stays because the swap was cancelled.
 * [data-copy-link] buttons copy the page URL (the URL holds the whole state).
 *
 * Page scripts reuse it through window.Lens: Lens.renderWithin(el), Lens.drawParts(root, patched) (an edit
 * patched in place: static/js/patch.js, its formulas, figures and added elements), Lens.renderFigure(el),
 * Lens.renderMath(el), Lens.purgeWithin(el), Lens.sweep(), Lens.copyText(text), Lens.pixelBox(plane, i, j, cls),
 * Lens.ensurePlotly() (a promise: plotly.js loaded on demand), Lens.whenPaused(items, run) (work noted while
 * someone types, done once typing pauses), Lens.takesKeys(el) (a field keeps its keys from page-wide ones) and
 * Lens.formatNumber(v[, style]):
 * the one number-to-text of the page scripts.
 */
(function () {
  "use strict";

  // The one number-to-text of the page scripts. Lens.formatNumber(v) writes a cell's text exactly as the
  // server does (app/web/render/numbers.py cell_text: Python's "{:.4g}", its exponent unpadded: 0.1235,
  // 1.5e-7, 2e10; 0 for -0; inf, -inf, nan); formatNumber(v, n) with n significant digits instead;
  // formatNumber(v, {decimals: d}) with d digits after the point (2.3026). No number: "—".
  function formatNumber(value, style) {
    if (value === null || value === undefined) return "—";
    var v = Number(value);
    if (style && typeof style === "object") return isFinite(v) ? v.toFixed(style.decimals) : "—";
    var digits = typeof style === "number" ? style : 4;
    if (v === 0) return "0";
    if (v !== v) return "nan";
    if (!isFinite(v)) return v > 0 ? "inf" : "-inf";
    var rounded = significant(Math.abs(v), digits);
    var d = rounded.digits, exponent = rounded.exponent, text;
    if (exponent < -4 || exponent >= digits) { // Python's "g": scientific outside 1e-4 ≤ |v| < 10^digits
      text = stripZeros(d.charAt(0) + "." + d.slice(1)) + "e" + exponent;
    } else if (exponent >= 0) {
      text = stripZeros(d.slice(0, exponent + 1) + "." + d.slice(exponent + 1));
    } else {
      text = stripZeros("0." + "0".repeat(-exponent - 1) + d);
    }
    return (v < 0 ? "-" : "") + text;
  }

  // |v| rounded to n significant digits as Python rounds (half to even, on the exact binary value; JS's
  // toExponential rounds an exact tie such as 2768.5 away from zero): {digits: "2768", exponent: 3}.
  function significant(v, n) {
    var parts = v.toExponential(n - 1).split("e");
    var exact = v.toExponential(Math.min(n + 20, 100)).split("e"); // enough digits to see an exact tie
    var all = exact[0].replace(".", "");
    if (all.charAt(n) === "5" && /^0*$/.test(all.slice(n + 1)) && Number(all.charAt(n - 1)) % 2 === 0) {
      return { digits: all.slice(0, n), exponent: Number(exact[1]) }; // a tie after an even digit: down
    }
    return { digits: parts[0].replace(".", ""), exponent: Number(parts[1]) };
  }

  function stripZeros(text) {
    return text.replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "");
  }

  var PLOT_CONFIG = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
  // Every figure keeps Plotly's own image download (PNG, twice the size shown) in its mode bar, shown on
  // hover, even where the figure turns the rest of the bar off; a static plot (no interaction) has none.
  var DOWNLOAD = { modeBarButtons: [["toImage"]], toImageButtonOptions: { format: "png", scale: 2 } };

  function within(root, selector) {
    var found = Array.prototype.slice.call(root.querySelectorAll(selector));
    if (root.matches && root.matches(selector)) found.unshift(root);
    return found;
  }

  var plotted = new Set(); // plot elements drawn so far, swept when they leave the page

  // plotly.js (1.5 MB gzipped) loads only when a figure is first drawn: pages whose figures sit
  // in a closed <details> never pay for it until it opens. Its URL is in <meta name="plotly-src">.
  var plotlyLoading = null;
  function ensurePlotly() {
    if (window.Plotly) return Promise.resolve();
    if (!plotlyLoading) {
      var meta = document.querySelector('meta[name="plotly-src"]');
      plotlyLoading = new Promise(function (resolve, reject) {
        if (!meta) { reject(new Error("no plotly-src")); return; }
        var script = document.createElement("script");
        script.src = meta.getAttribute("content");
        script.onload = function () { resolve(); };
        script.onerror = function () { reject(new Error("plotly.js did not load")); };
        document.head.appendChild(script);
      });
    }
    return plotlyLoading;
  }

  // again: false when called by renderWithin, which leaves a figure drawn from the same spec (and in the same
  // presenter mode) as it is — an edit patched in place (static/js/patch.js) kept it; a page script calling
  // Lens.renderFigure(el) always draws it anew (network.js resets a chart it extended)
  function renderFigure(el, again) {
    var closed = el.closest && el.closest("details:not([open])");
    if (closed) return Promise.resolve(); // drawn when it opens (see the toggle listener)
    if (!window.Plotly) {
      return ensurePlotly().then(function () { if (el.isConnected) return renderFigure(el); },
        function (err) { console.error("Lens: cannot draw", err, el); });
    }
    var source = el.getAttribute("data-figure");
    var mode = window.LensDisplay;
    var drawnAs = (mode && mode.isPresent && mode.isPresent() ? "present " : "") + source;
    if (again === false && plotted.has(el) && el.lensFigure === drawnAs) return Promise.resolve();
    var spec;
    try {
      spec = JSON.parse(source);
    } catch (err) {
      console.error("Lens: data-figure is not valid JSON", err, el);
      return Promise.resolve();
    }
    var config = Object.assign({}, PLOT_CONFIG, spec.config || {});
    if (!config.staticPlot && config.displayModeBar === false) {
      config = Object.assign(config, DOWNLOAD, { displayModeBar: "hover" });
    }
    plotted.add(el);
    watch(el);
    el.lensFigure = drawnAs;
    var data = spec.data || [], layout = spec.layout || {};
    if (drawnAs !== source) { // presenter mode: every label at projector size (present.js)
      data = mode.projectorData(data);
      layout = mode.projectorLayout(layout);
    }
    return window.Plotly.react(el, data, layout, config);
  }

  // Typeset HTML by source: an edit re-renders a fragment whose formulas are mostly unchanged,
  // and KaTeX costs milliseconds a formula. Bounded, oldest out first.
  var mathCache = new Map();
  var MATH_CACHE_SIZE = 400;

  function renderMath(el) {
    if (!window.katex) return;
    var source = el.getAttribute("data-latex");
    var display = el.hasAttribute("data-display");
    var key = (display ? "D" : "I") + source;
    if (el.lensMath === key) return; // typeset already (an edit patched in place kept it: static/js/patch.js)
    var html = mathCache.get(key);
    if (html === undefined) {
      html = window.katex.renderToString(source, { displayMode: display, throwOnError: false, output: "htmlAndMathml" });
      if (mathCache.size >= MATH_CACHE_SIZE) mathCache.delete(mathCache.keys().next().value);
      mathCache.set(key, html);
    }
    el.innerHTML = html;
    el.classList.add("is-rendered");
    el.lensMath = key;
    watch(el);
  }

  // An edit's formulas and figures are drawn at once where the reader can see them: on screen or within a screen
  // of it. One whose source changed off screen (or in a closed fold) keeps its old drawing until it comes near the
  // screen (an IntersectionObserver, which never forces a layout) or typing pauses and the page is idle (idle(),
  // below), whichever is first: on /norm 10 of 25 formulas change a keystroke, most below the
  // fold, each KaTeX milliseconds; each figure costs Plotly a layout of the page. A load draws all; a swapped-in
  // part, its figures and its formulas near the screen (renderWithin). Lens.seenFirst = false: every part at once
  // (bench.web --variant measures the difference).
  // near: each drawn part -> whether the observer last said it is near the screen (not yet said: treated as near)
  var near = new Map(), offScreen = new Set();
  var watcher = window.IntersectionObserver ? new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      var el = entry.target;
      near.set(el, entry.isIntersecting);
      if (entry.isIntersecting && offScreen.delete(el)) drawPart(el);
    });
  }, { rootMargin: "100% 0px" }) : null;

  function drawPart(el) {
    if (el.hasAttribute("data-figure")) return renderFigure(el, false);
    renderMath(el);
  }

  // drawn once: observed from then on
  function watch(el) {
    offScreen.delete(el);
    if (!watcher || near.has(el)) return;
    near.set(el, undefined);
    watcher.observe(el);
  }

  function unwatchGone() {
    near.forEach(function (_, el) {
      if (el.isConnected) return;
      watcher.unobserve(el);
      near.delete(el);
      offScreen.delete(el);
    });
  }

  // can the reader see it: near the screen, or not known to be far (never drawn, not yet observed, no observer)?
  function seen(el) {
    return window.Lens.seenFirst === false || near.get(el) !== false;
  }

  // What is asked for while someone types, done once typing pauses: ask(item) notes item in items (a Set: each once,
  // however often asked; the observer may take one out meanwhile and draw it) and, the first ask since the last run,
  // has run(the items still on the page) called when the page is idle after the next frame (idle(), below).
  function whenPaused(items, run) {
    var asked = false;
    return function (item) {
      items.add(item);
      if (asked) return;
      asked = true;
      requestAnimationFrame(function () {
        idle(function () {
          asked = false;
          var all = Array.from(items).filter(function (x) { return x.isConnected; });
          items.clear();
          run(all);
        });
      });
    };
  }

  var drawLater = whenPaused(offScreen, function (parts) { parts.forEach(drawPart); });

  // a part of a patch: drawn now if seen (its promise, for a figure), else later (above)
  function drawIfSeen(el) {
    if (seen(el)) return drawPart(el);
    drawLater(el);
  }

  // After the formulas and figures of new content are drawn, "lens:drawn" is dispatched on it (it bubbles;
  // detail.root), and Lens.whenDrawn() answers that promise: bench.web times a keystroke to the frame after it.
  // Content a swap put in (htmx loads each piece: loaded, below) typesets its formulas near the screen before the
  // frame that shows it, the others when they near the screen or typing pauses (drawLater), as an edit's changed
  // formulas are. A network step puts in 22-32 formulas of which 5 or 6 are within a screen: ~4,000 KaTeX
  // elements, ~1,000 of them near. Where each lies is read once for all the pieces of a swap (one layout: the one
  // the next frame needs anyway), in a microtask after the last is loaded, or first thing in drawParts.
  var drawn = Promise.resolve();
  var pendingMath = [];
  function renderWithin(root, nearFirst) {
    root = root || document.body;
    if (watcher) unwatchGone();
    var formulas = within(root, "[data-latex]");
    if (nearFirst && watcher && window.Lens.seenFirst !== false) {
      if (formulas.length && !pendingMath.length) Promise.resolve().then(typesetPending);
      pendingMath.push.apply(pendingMath, formulas);
    } else {
      formulas.forEach(renderMath);
    }
    var figures = within(root, "[data-figure]").map(function (el) { return renderFigure(el, false); });
    return announce(root, figures);
  }

  // htmx.onLoad: the page at its first load (every formula at once), then each piece a swap puts in
  function loaded(root) {
    return renderWithin(root, root !== document.body);
  }

  function typesetPending() {
    if (!pendingMath.length) return;
    var formulas = pendingMath.filter(function (el) { return el.isConnected; });
    pendingMath = [];
    var h = window.innerHeight;
    var far = formulas.map(function (el) { // every box read before any is typeset: one layout
      var box = el.getBoundingClientRect();
      return box.bottom < -h || box.top > 2 * h; // the observer's margin (a screen above and below)
    });
    formulas.forEach(function (el, i) {
      if (!far[i]) return renderMath(el);
      near.set(el, false); // observed: drawn once it nears the screen, or when typing pauses
      watcher.observe(el);
      drawLater(el);
    });
  }

  // An edit patched in place (static/js/patch.js): only what it changed is drawn — the formulas and figures whose
  // source changed and the elements it put in (htmx loaded each: renderWithin, above) — then lens:drawn on the
  // whole target, once those and the figures the patch drew first (patched.drawn, promises) are drawn.
  function drawParts(root, patched) {
    typesetPending(); // the formulas of the elements the patch put in, first (their microtask comes after this one)
    if (watcher) unwatchGone();
    patched.formulas.forEach(drawIfSeen);
    var parts = patched.figures.map(drawIfSeen).filter(Boolean).concat(patched.drawn || []);
    patched.added.forEach(function (el) { if (el.lensDrawing) parts.push(el.lensDrawing); });
    return announce(root, parts);
  }

  // Work that can wait — what the reader does not see at once: formulas off screen, the fades of scrolling boxes,
  // the address bar (address.js), the markers' boxes for the next glide (motion.js) — runs once typing has paused
  // (no key pressed for PAUSE_MS) and the page is idle after a frame (requestIdleCallback, within 250 ms). While
  // someone types, each key's answer is drawn with nothing of the last key's queued before it: run as soon as the
  // page was idle, that work fell into the next key's frames (bench.web, each key as soon as the last was drawn,
  // paired in one run: conv 44.2 / 73.2 ms p50 / p95 with it, 35.8 / 54.8 after a pause; norm 70.7 / 123.4, 63.4 /
  // 117.0). Lens.whenIdle(fn) is this rule for the page's scripts; Lens.pauseFirst = false: idle at once, as before
  // (bench.web --variant).
  // Lens.inRun(): the last input (a key, a press of the pointer) came within PAUSE_MS of the one before it — a held
  // arrow key, fast clicks on Next, typing: what motion.js does not animate.
  var PAUSE_MS = 300;
  var lastKey = -Infinity, lastInput = -Infinity, inRun = false;
  ["keydown", "pointerdown"].forEach(function (type) {
    document.addEventListener(type, function () {
      var now = performance.now();
      inRun = now - lastInput < PAUSE_MS;
      lastInput = now;
      if (type === "keydown") lastKey = now;
    }, true);
  });
  var whenIdle = window.requestIdleCallback ? function (fn) { window.requestIdleCallback(fn, { timeout: 250 }); }
    : function (fn) { setTimeout(fn, 0); };
  function idle(fn) {
    var wait = window.Lens.pauseFirst === false ? 0 : PAUSE_MS - (performance.now() - lastKey);
    if (wait > 0) setTimeout(function () { idle(fn); }, wait);
    else whenIdle(fn);
  }

  function announce(root, parts) {
    // the fades of scrolling boxes when the page is idle after the frame that shows the new content: measured
    // then, the page is already laid out (measured now, the browser would lay it out once more before that frame)
    markOverflowSoon(root);
    drawn = Promise.all(parts).then(function () {
      var target = root.isConnected ? root : document;
      target.dispatchEvent(new CustomEvent("lens:drawn", { bubbles: true, detail: { root: root } }));
    }, function () {});
    root.lensDrawing = drawn;
    return drawn;
  }

  // A box whose content is wider than it scrolls inside itself (fit.css); mark which side has more, so that
  // side fades: data-overflow="left" | "right" | "both" (none when it all fits). Kept up to date on scroll
  // and on resize.
  var SCROLLERS = ".formula, .katex-display, .fit-x, .scroll, .grid-fig, .transposed__mul, table.notes-table, " +
    "table.compare-table, table.runs-legend, .presets, .site-nav, .route, .norm-tabs, .tabs, .lab-actions";

  function overflowSide(el) {
    var more = el.scrollWidth - el.clientWidth;
    if (more <= 1) return null;
    var left = el.scrollLeft > 1, right = el.scrollLeft < more - 1;
    return left && right ? "both" : left ? "left" : right ? "right" : null;
  }

  function markOne(el) {
    var side = overflowSide(el);
    if (side) el.setAttribute("data-overflow", side);
    else el.removeAttribute("data-overflow");
  }

  // A box in a results card the browser skips while it is far off screen (content-visibility: auto, cards.css) is
  // not measured: measuring it would lay the card out, which is what skipping it saves (14 ms a keystroke on /pool).
  // checkVisibility asks without a layout; a card's boxes are marked when it is shown.
  function shown(el) {
    return !el.checkVisibility || el.checkVisibility({ contentVisibilityAuto: true });
  }
  document.addEventListener("contentvisibilityautostatechange", function (event) {
    var card = event.target;
    if (!event.skipped) markOverflowSoon(card);
  }, true);

  // The roots of the boxes to mark once typing pauses, each once: while someone types, every answer drawn asks
  // again for its root, and one pause used to run every one of those asks (a keystroke's 2–3 ms each on /norm).
  var markOverflowSoon = whenPaused(new Set(), function (roots) {
    markOverflow(roots.filter(function (r) {
      return !roots.some(function (outer) { return outer !== r && outer.contains(r); });
    }));
  });

  // Every box is measured first, then marked: a mark written between two reads would make the browser lay
  // the page out again for the next read (once per box: tens of milliseconds after each edit).
  function markOverflow(roots) {
    var boxes = [].concat.apply([], [].concat(roots || document.body).map(function (root) {
      return within(root, SCROLLERS);
    })).filter(shown);
    var sides = boxes.map(overflowSide);
    boxes.forEach(function (el, i) {
      if (el.getAttribute("data-overflow") === sides[i]) return;
      if (sides[i]) el.setAttribute("data-overflow", sides[i]);
      else el.removeAttribute("data-overflow");
    });
  }

  // A phone shows the site's labs in one row that scrolls: bring the current one into view.
  function showCurrentLab() {
    var nav = document.querySelector(".site-nav");
    var here = nav && nav.querySelector('[aria-current="page"]');
    if (!here || nav.scrollWidth <= nav.clientWidth) return;
    var left = here.getBoundingClientRect().left - nav.getBoundingClientRect().left + nav.scrollLeft;
    nav.scrollLeft = Math.max(0, left - (nav.clientWidth - here.offsetWidth) / 2);
    markOne(nav);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", showCurrentLab);
  else showCurrentLab();

  document.addEventListener("scroll", function (event) {
    var el = event.target;
    if (el && el.matches && el.matches(SCROLLERS)) markOne(el);
  }, { capture: true, passive: true });

  var resizing = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () { markOverflow(document.body); }, 150);
  });

  // A box over pixel (i, j) of a plane drawn as an image (app.web.render.plane; its data-rows, data-cols): the
  // selected pixel and a paint dab (plane.js), a quiz's hidden pixel (quiz.js). A patch leaves it (data-page-added,
  // static/js/patch.js).
  function pixelBox(plane, i, j, cls) {
    var rows = Number(plane.dataset.rows), cols = Number(plane.dataset.cols);
    var span = document.createElement("span");
    span.className = cls;
    span.setAttribute("data-page-added", "");
    span.style.top = (100 * i / rows) + "%";
    span.style.left = (100 * j / cols) + "%";
    span.style.height = (100 / rows) + "%";
    span.style.width = (100 / cols) + "%";
    plane.appendChild(span);
    return span;
  }

  function purge(el) {
    if (window.Plotly) window.Plotly.purge(el);
    plotted.delete(el);
  }

  function purgeWithin(root) {
    if (root) within(root, ".js-plotly-plot").forEach(purge);
  }

  function sweep() {
    plotted.forEach(function (el) {
      if (!el.isConnected) purge(el);
    });
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    try {
      document.execCommand("copy");
    } finally {
      document.body.removeChild(area);
    }
    return Promise.resolve();
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy-link]");
    if (!button) return;
    event.preventDefault();
    var label = button.textContent;
    copyText(window.location.href).then(function () {
      button.textContent = "Link copied";
      button.setAttribute("data-copied", "");
      setTimeout(function () {
        button.textContent = label;
        button.removeAttribute("data-copied");
      }, 1800);
    });
  });

  // Export buttons (kit/export_buttons.html) follow the address bar, which holds the current state:
  // [data-export-copy="/<lab>/export/numpy.py"] copies that script, [data-export-link] downloads its file.
  function flash(button, text) {
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    button.textContent = text;
    setTimeout(function () { button.textContent = label; }, 1800);
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("[data-export-link]");
    if (link) link.setAttribute("href", link.getAttribute("data-export-link") + window.location.search);
    var button = event.target.closest && event.target.closest("[data-export-copy]");
    if (!button) return;
    event.preventDefault();
    var url = button.getAttribute("data-export-copy") + window.location.search;
    fetch(url).then(function (response) {
      if (!response.ok) throw new Error("export answered " + response.status);
      return response.text();
    }).then(copyText).then(function () { flash(button, "Script copied"); }, function (err) {
      console.error("Lens: cannot copy the export", err);
      flash(button, "Opened instead");
      window.open(url, "_blank", "noopener");
    });
  });

  document.addEventListener("toggle", function (event) {
    if (event.target.open) within(event.target, "[data-figure]").forEach(renderFigure);
  }, true);

  // A request that a newer one replaces (hx-sync="this:replace" while typing or stepping fast) is aborted:
  // that is normal, not an error. htmx 2 logs its htmx:afterRequest and htmx:sendAbort with console.error
  // because it marks their detail {error: name}; an own `error` on the request's detail (the one object
  // every event of the request carries) overrides that mark. Only an abort clears it: a failed or timed-out
  // request is still logged.
  document.addEventListener("htmx:beforeSend", function (event) {
    var detail = event.detail, xhr = detail && detail.xhr;
    if (!xhr || xhr.lensAbort) return;
    var abort = xhr.abort;
    xhr.lensAbort = true;
    xhr.abort = function () {
      detail.error = null;
      return abort.apply(xhr, arguments);
    };
  });

  ["htmx:afterSwap", "htmx:oobAfterSwap", "htmx:afterSettle", "htmx:sseMessage"].forEach(function (name) {
    document.addEventListener(name, sweep);
  });

  if (window.htmx) {
    // htmx.onLoad runs for document.body once htmx is ready, then for each piece of swapped-in content.
    window.htmx.onLoad(loaded);
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { renderWithin(document.body); });
  } else {
    renderWithin(document.body);
  }

  // Does el take the keys typed at it (a cell, a select, editable text)? Then a page-wide key (a stepper's ← →,
  // P, ?) leaves them to it.
  function takesKeys(el) {
    return !!el && (el.isContentEditable || /^(INPUT|SELECT|TEXTAREA)$/.test(el.tagName));
  }

  window.Lens = {
    renderWithin: renderWithin,
    drawParts: drawParts,
    whenIdle: idle,
    whenPaused: whenPaused,
    inRun: function () { return inRun; },
    seen: seen,
    drawLater: drawLater,
    renderFigure: renderFigure,
    renderMath: renderMath,
    purgeWithin: purgeWithin,
    sweep: sweep,
    copyText: copyText,
    ensurePlotly: ensurePlotly,
    formatNumber: formatNumber,
    markOverflow: markOverflow,
    markOverflowSoon: markOverflowSoon,
    whenDrawn: function () { return drawn; },
    pixelBox: pixelBox,
    takesKeys: takesKeys,
  };
})();
