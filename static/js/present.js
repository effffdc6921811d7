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

  window.LensDisplay = { withDisplay: withDisplay, labLink: labLink, flags: flags };
})();
