/* Backprop Lens: how a lab page is displayed (app/web/kit/display.py) — presenter mode (present=1), a page in
 * another site's frame (embed=1), fullscreen, the QR code of the link, the embed code. Loaded by base.html.
 *
 *   - present/embed live in the address bar next to the lab's link (the server renders them: classes
 *     is-present / is-embed on <html>). An edit's HX-Replace-Url (and any script's replaceState) carries the
 *     lab's canonical link only: they are put back on it, so a reload or a copied link keeps the mode;
 *   - [data-present-toggle] and the P key switch presenter mode without a reload (the class, the address, the
 *     figures redrawn at projector size through Lens.renderWithin: lens.js asks LensDisplay.projectorLayout);
 *   - in presenter mode the inputs column collapses to a toggle ([data-inputs-toggle], added here);
 *   - [data-fullscreen] toggles the Fullscreen API on the whole page (hidden where it is not available);
 *   - [data-qr] opens a dialog with /qr.svg of the lab's link (without present/embed: a phone opens the
 *     computation, not the projector's view); [data-embed-code] copies an <iframe> snippet of the link;
 *   - a page in a frame (embed=1) tells its parent its height: postMessage({type: "backprop-lens:height",
 *     height}) on load, on resize and after every swap. Preset links and the lab navigation keep the mode.
 */
(function () {
  "use strict";

  var root = document.documentElement;
  var PARAMS = ["present", "embed"];
  var CLASSES = { present: "is-present", embed: "is-embed" };

  function isLabPage() { return !!document.querySelector(".lab-header"); }

  function flags() {
    var on = {};
    PARAMS.forEach(function (k) { on[k] = root.classList.contains(CLASSES[k]); });
    return on;
  }

  // the query's parts without present/embed ("a=1&b=2" -> ["a=1", "b=2"])
  function otherParts(search) {
    return search.replace(/^\?/, "").split("&").filter(function (part) {
      if (!part) return false;
      var key = part.split("=")[0];
      try { key = decodeURIComponent(key.replace(/\+/g, " ")); } catch (e) { /* keep it as it is */ }
      return PARAMS.indexOf(key) < 0;
    });
  }

  // a same-origin URL with present/embed as the page shows them (path + query + hash)
  function withDisplay(href, on) {
    var url = new URL(href, window.location.href);
    var parts = otherParts(url.search);
    on = on || flags();
    PARAMS.forEach(function (k) { if (on[k]) parts.push(k + "=1"); });
    return url.pathname + (parts.length ? "?" + parts.join("&") : "") + url.hash;
  }

  // the lab's own link (no present/embed), absolute: what a phone or a frame opens
  function labLink() {
    var parts = otherParts(window.location.search);
    return window.location.origin + window.location.pathname + (parts.length ? "?" + parts.join("&") : "");
  }

  // --- the address bar keeps present/embed after an edit: htmx's history update, and any other script's ---
  var replaceState = history.replaceState;
  history.replaceState = function (state, title, url) {
    if (url !== undefined && url !== null && isLabPage()) {
      var target = new URL(url, window.location.href);
      if (target.origin === window.location.origin && target.pathname === window.location.pathname) {
        url = withDisplay(target.href);
      }
    }
    return replaceState.call(history, state, title, url);
  };

  function setAddress(on) {
    replaceState.call(history, history.state, "", withDisplay(window.location.href, on));
  }

  // --- links that leave the page keep the mode: the presets, the random draw, the other labs ---
  document.addEventListener("click", function (event) {
    var a = event.target.closest && event.target.closest(".presets a[href], .site-nav a[href], a[data-keeps-display]");
    var on = flags();
    if (!a || !(on.present || on.embed)) return;
    var url = new URL(a.getAttribute("href"), window.location.href);
    if (url.origin === window.location.origin) a.setAttribute("href", withDisplay(url.href, on));
  }, true);

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches(".presets__random")) return;
    var on = flags();
    PARAMS.forEach(function (k) {
      var input = form.querySelector('input[type="hidden"][name="' + k + '"]');
      if (on[k] && !input) {
        input = document.createElement("input");
        input.type = "hidden";
        input.name = k;
        input.value = "1";
        form.appendChild(input);
      } else if (!on[k] && input) {
        input.remove();
      }
    });
  }, true);

  // --- presenter mode: the button, the P key; the figures redrawn at projector size ---
  // An attribute or a text written only where it differs: every write is a change the browser styles again, and these
  // run after each swap (a network step loads 10-30 elements).
  function setAttr(el, name, value) { if (el.getAttribute(name) !== value) el.setAttribute(name, value); }
  function setText(el, text) { if (el.textContent !== text) el.textContent = text; }

  function syncButtons() {
    var on = flags();
    document.querySelectorAll("[data-present-toggle]").forEach(function (b) {
      setAttr(b, "aria-pressed", on.present ? "true" : "false");
      setText(b, on.present ? "Leave presenter mode" : "Present");
    });
    var link = labLink();
    document.querySelectorAll("[data-open-lab]").forEach(function (a) { setAttr(a, "href", link); });
  }

  function setPresent(on) {
    var now = flags();
    if (now.present === on) return;
    root.classList.toggle(CLASSES.present, on);
    now.present = on;
    setAddress(now);
    syncButtons();
    addInputToggles(document.body);
    measureHeader();
    if (window.Lens) window.Lens.renderWithin(document.body); // Plotly.react with the projector's layout (or not)
    fitFigures();
    window.dispatchEvent(new Event("resize")); // responsive plots and the overflow marks follow the new widths
  }

  document.addEventListener("click", function (event) {
    var b = event.target.closest && event.target.closest("[data-present-toggle]");
    if (!b) return;
    event.preventDefault();
    setPresent(!flags().present);
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "p" && event.key !== "P") return;
    if (event.altKey || event.ctrlKey || event.metaKey || event.defaultPrevented || !isLabPage()) return;
    if (window.Lens.takesKeys(event.target)) return;
    event.preventDefault();
    setPresent(!flags().present);
  });

  // The projector's figure layout (lens.js renderFigure asks for it when <html> is-present): every font of a
  // Plotly figure at least MIN_FONT px — the figure's own, axes' ticks and titles, legend, annotations, colour
  // bars, a trace's text — and margins that grow to fit them.
  // A label holding a sub- or superscript (p<sub>0</sub>, 10<sup>−3</sup>: Plotly draws them at 70 %), and a log
  // axis's ticks (exponents), get SCRIPT_FONT, so that their small part too is at least 16 px.
  var MIN_FONT = 18;
  var SCRIPT_FONT = 23;
  function scripted(text) {
    if (Array.isArray(text)) return text.some(scripted);
    return typeof text === "string" && /<su[bp]>/i.test(text);
  }
  function bump(font, text) {
    font = Object.assign({}, font || {});
    font.size = Math.max(font.size || 12, scripted(text) ? SCRIPT_FONT : MIN_FONT);
    return font;
  }
  function bumpTitle(title) {
    if (title === undefined || title === null) return title;
    title = typeof title === "string" ? { text: title } : Object.assign({}, title);
    title.font = bump(title.font, title.text);
    return title;
  }
  function bumpColorbar(bar) {
    bar = Object.assign({}, bar || {});
    bar.tickfont = bump(bar.tickfont);
    if (bar.title) bar.title = bumpTitle(bar.title);
    return bar;
  }
  function projectorLayout(layout) {
    var out = Object.assign({}, layout || {});
    out.font = bump(out.font);
    if (out.title) out.title = bumpTitle(out.title);
    Object.keys(out).forEach(function (key) {
      if (!/^([xyz]axis|polar|ternary)\d*$/.test(key) || typeof out[key] !== "object") return;
      var axis = Object.assign({}, out[key]);
      axis.tickfont = bump(axis.tickfont, axis.ticktext);
      if (axis.title) axis.title = bumpTitle(axis.title);
      if (/^[xy]axis/.test(key)) axis.automargin = true;
      if (axis.type === "log") { // a log axis: no small-digit minor labels (drawn at ¾ size), exponents (70 %) ≥ 16 px
        axis.minorloglabels = "none";
        axis.tickfont.size = Math.max(axis.tickfont.size, SCRIPT_FONT);
      }
      out[key] = axis;
    });
    if (out.legend) out.legend = Object.assign({}, out.legend, { font: bump(out.legend.font) });
    out.hoverlabel = Object.assign({}, out.hoverlabel || {}, { font: bump((out.hoverlabel || {}).font) });
    if (out.annotations) {
      out.annotations = out.annotations.map(function (a) { return Object.assign({}, a, { font: bump(a.font, a.text) }); });
    }
    if (out.coloraxis) out.coloraxis = Object.assign({}, out.coloraxis, { colorbar: bumpColorbar(out.coloraxis.colorbar) });
    if (out.height) out.height = Math.round(out.height * 1.25); // room for the larger type
    return out;
  }
  function projectorData(data) {
    return (data || []).map(function (trace) {
      var t = Object.assign({}, trace);
      if (t.textfont || t.text || t.texttemplate) t.textfont = bump(t.textfont, t.texttemplate || t.text);
      if (t.colorbar || /^(heatmap|contour|surface)$/.test(t.type || "")) t.colorbar = bumpColorbar(t.colorbar);
      if (t.marker && t.marker.colorbar) {
        t.marker = Object.assign({}, t.marker, { colorbar: bumpColorbar(t.marker.colorbar) });
      }
      return t;
    });
  }
  function isPresent() { return root.classList.contains(CLASSES.present); }

  // --- the inputs column folds to a toggle in presenter mode (its state kept on <html> across swaps) ---
  function addInputToggles(scope) { addInputTogglesIn([scope]); }

  // scopes: what one swap loaded (a network step loads hundreds of elements); the toggles are written once for all
  function addInputTogglesIn(scopes) {
    var boxes = [];
    scopes.forEach(function (scope) {
      // the section itself, or the one around what a patch put in (its children replaced, the toggle with them)
      var around = scope.closest && scope.closest(".lab__inputs");
      if (around) boxes.push(around);
      if (scope.querySelectorAll) scope.querySelectorAll(".lab__inputs").forEach(function (b) { boxes.push(b); });
    });
    boxes.forEach(function (box) {
      if (box.querySelector(":scope > [data-inputs-toggle]")) return;
      var b = document.createElement("button");
      b.type = "button";
      b.className = "button inputs-toggle";
      b.setAttribute("data-inputs-toggle", "");
      b.setAttribute("data-page-added", ""); // a patch leaves it (static/js/patch.js)
      b.setAttribute("aria-controls", box.id); // "inputs", from the server: an id set here made a patch replace it
      box.insertBefore(b, box.firstChild);
    });
    var open = root.classList.contains("inputs-open");
    document.querySelectorAll("[data-inputs-toggle]").forEach(function (b) {
      setAttr(b, "aria-expanded", open ? "true" : "false");
      setText(b, open ? "Hide the inputs" : "Show the inputs");
    });
  }

  document.addEventListener("click", function (event) {
    var b = event.target.closest && event.target.closest("[data-inputs-toggle]");
    if (!b) return;
    event.preventDefault();
    root.classList.toggle("inputs-open");
    addInputToggles(document.body);
    if (window.Lens) window.Lens.renderWithin(document.body);
    fitFigures();
    window.dispatchEvent(new Event("resize"));
    if (root.classList.contains("inputs-open")) {
      var first = document.getElementById(b.getAttribute("aria-controls"));
      var cell = first && (first.querySelector("input.cell") || first.querySelector("input:not([type=hidden])"));
      if (cell) cell.focus({ preventScroll: true });
    }
  });

  // --- fullscreen: the whole page (its own header included), where the browser allows it ---
  function fullscreenElement() { return document.fullscreenElement || document.webkitFullscreenElement || null; }
  function syncFullscreen() {
    var enabled = document.fullscreenEnabled || document.webkitFullscreenEnabled;
    document.querySelectorAll("[data-fullscreen]").forEach(function (b) {
      b.hidden = !enabled;
      b.setAttribute("aria-pressed", fullscreenElement() ? "true" : "false");
      b.textContent = fullscreenElement() ? "Exit fullscreen" : "Fullscreen";
    });
  }
  document.addEventListener("click", function (event) {
    var b = event.target.closest && event.target.closest("[data-fullscreen]");
    if (!b) return;
    event.preventDefault();
    if (fullscreenElement()) {
      (document.exitFullscreen || document.webkitExitFullscreen).call(document);
    } else {
      var ask = root.requestFullscreen || root.webkitRequestFullscreen;
      var asked = ask.call(root);
      if (asked && asked.catch) asked.catch(function (err) { console.warn("Lens: fullscreen refused", err); });
    }
  });
  document.addEventListener("fullscreenchange", syncFullscreen);
  document.addEventListener("webkitfullscreenchange", syncFullscreen);

  // --- the QR code of the link, in a dialog ---
  document.addEventListener("click", function (event) {
    var b = event.target.closest && event.target.closest("[data-qr]");
    if (!b) return;
    event.preventDefault();
    var dialog = document.querySelector("[data-qr-dialog]");
    if (!dialog) return;
    var link = labLink();
    var path = link.slice(window.location.origin.length);
    dialog.querySelector("[data-qr-image]").setAttribute("src", "/qr.svg?link=" + encodeURIComponent(path));
    var shown = dialog.querySelector("[data-qr-link]");
    shown.textContent = link.length > 90 ? link.slice(0, 86) + " …" : link;
    shown.title = link;
    if (dialog.showModal) dialog.showModal(); else dialog.setAttribute("open", "");
  });
  document.addEventListener("click", function (event) { // a click on the backdrop closes the dialog
    var dialog = event.target;
    if (dialog.matches && dialog.matches("[data-qr-dialog][open]") && event.target === dialog) dialog.close();
  });

  // --- "Copy embed code": an <iframe> of this view, and the few lines that size it to its content ---
  function escapeAttr(text) {
    return text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
  }
  function embedCode() {
    var link = labLink();
    var src = link + (link.indexOf("?") < 0 ? "?" : "&") + "embed=1";
    var holder = document.querySelector("[data-lab-title]");
    var title = (holder ? holder.getAttribute("data-lab-title") + " — " : "") + "Backprop Lens";
    return '<iframe src="' + escapeAttr(src) + '" title="' + escapeAttr(title) + '" width="100%" height="760"' +
      ' style="border:0;max-width:100%" loading="lazy" allow="fullscreen; clipboard-write"></iframe>\n' +
      "<script>/* optional: the lab tells its frame's height; this fits the frame to it */\n" +
      'addEventListener("message", function (e) {\n' +
      '  if (!e.data || e.data.type !== "backprop-lens:height") return;\n' +
      '  document.querySelectorAll("iframe").forEach(function (f) {\n' +
      '    if (f.contentWindow === e.source) f.style.height = Math.ceil(e.data.height) + "px";\n' +
      "  });\n" +
      "});\n" +
      "</script>";
  }
  document.addEventListener("click", function (event) {
    var b = event.target.closest && event.target.closest("[data-embed-code]");
    if (!b || !window.Lens) return;
    event.preventDefault();
    var label = b.getAttribute("data-label") || b.textContent;
    b.setAttribute("data-label", label);
    window.Lens.copyText(embedCode()).then(function () {
      b.textContent = "Embed code copied";
      setTimeout(function () { b.textContent = label; }, 1800);
    });
  });

  // --- a page in a frame tells its parent how tall it is (the parent may size the frame to it) ---
  var lastHeight = 0;
  function postHeight() {
    if (!flags().embed || window.parent === window) return;
    var height = Math.ceil(document.documentElement.scrollHeight);
    if (height === lastHeight) return;
    lastHeight = height;
    window.parent.postMessage({ type: "backprop-lens:height", height: height }, "*");
  }
  var heightTimer = null;
  function postHeightSoon() { clearTimeout(heightTimer); heightTimer = setTimeout(postHeight, 60); }

  // --- the sticky header's height, for anchors and the sticky inputs column (present.css: --header-h) ---
  function measureHeader() {
    var header = document.querySelector(".site-header");
    var sticky = header && getComputedStyle(header).position === "sticky";
    var h = sticky ? header.getBoundingClientRect().height : 0;
    root.style.setProperty("--header-h", Math.ceil(h) + "px");
  }

  // --- a link to a section (#backward, a deck slide's #section) lands there once the page is drawn: the browser
  // jumps at load, before formulas and figures above the section take their height. Not after the visitor moved.
  var moved = false;
  ["wheel", "touchstart", "keydown", "mousedown"].forEach(function (name) {
    window.addEventListener(name, function () { moved = true; }, { once: true, passive: true, capture: true });
  });
  function landOnHash() {
    if (moved || window.location.hash.length < 2) return;
    var target;
    try { target = document.getElementById(decodeURIComponent(window.location.hash.slice(1))); } catch (e) { return; }
    if (target) target.scrollIntoView({ block: "start" }); // scroll-margin (present.css) keeps it below the header
  }
  var landed = false;
  document.addEventListener("lens:drawn", function (event) {
    if (landed || !event.detail || event.detail.root !== document.body) return;
    landed = true;
    requestAnimationFrame(landOnHash);
  });

  // Plotly's own resize waits for its debounce: figures whose box changed (presenter mode, the inputs opened or
  // closed) are fitted at once, so no label is drawn scaled down in the meantime
  function fitFigures() {
    if (!window.Plotly || !window.Plotly.Plots) return;
    document.querySelectorAll(".js-plotly-plot").forEach(function (gd) {
      if (gd.offsetParent !== null) window.Plotly.Plots.resize(gd);
    });
  }

  function start() {
    syncButtons();
    syncFullscreen();
    addInputToggles(document.body);
    measureHeader();
    postHeight();
    if (window.ResizeObserver) {
      var watch = new ResizeObserver(function () { measureHeader(); postHeightSoon(); });
      watch.observe(document.body);
      var header = document.querySelector(".site-header");
      if (header) watch.observe(header);
    }
    window.addEventListener("load", postHeight);
    window.addEventListener("resize", function () { measureHeader(); postHeightSoon(); });
    if (window.htmx) {
      // once for all the elements one swap loaded (a microtask after the last), not once for each
      var loaded = [];
      window.htmx.onLoad(function (el) {
        if (!loaded.length) {
          Promise.resolve().then(function () {
            var els = loaded;
            loaded = [];
            addInputTogglesIn(els.filter(function (e) { return e.isConnected; }));
            syncButtons();
            postHeightSoon();
          });
        }
        loaded.push(el);
      });
    }
    document.addEventListener("htmx:afterSettle", postHeightSoon);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();

  window.LensDisplay = {
    withDisplay: withDisplay, labLink: labLink, flags: flags, setPresent: setPresent, isPresent: isPresent,
    projectorLayout: projectorLayout, projectorData: projectorData, embedCode: embedCode,
  };
})();
