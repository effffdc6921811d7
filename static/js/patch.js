/* Backprop Lens: an edit's results update in place (htmx swap style "patch", extension "lens-patch").
 *
 * After a keystroke the server answers the whole results fragment, but nearly all of it has the
 * structure it had: the same tables with new numbers and colours, the same formulas. Swapping it
 * outerHTML makes the browser throw the old results away (htmx dispatches two cleanup events per
 * element: ~2,400 events for a 1,200-element conv result) and lay the new ones out from scratch.
 * Patching walks the old and the new trees side by side and changes only what differs:
 *   - text and attributes (a cell's number, its colour, its tooltip) are set in place;
 *   - a formula ([data-latex]) whose source is unchanged is kept as typeset, otherwise replaced
 *     (Lens renders the new one);
 *   - a figure ([data-figure]) keeps its drawing; a changed spec is handed to Plotly.react;
 *   - an element whose children differ in number, tag or id, a form control whose attributes differ,
 *     and an htmx element whose attributes differ are replaced by the new one (htmx processes it);
 *   - what the page's scripts set and the server never sends stays: tabindex (lab.js), data-overflow
 *     (lens.js), an open <details>; whitespace between elements is left as it is.
 * Where the new fragment is not the same element (another tag or id), it replaces the old one whole.
 * Used by the labs' cell edits: hx-swap="patch" hx-ext="lens-patch" (templates/<lab>/lab.html).
 */
(function () {
  "use strict";

  var FORM = /^(INPUT|SELECT|TEXTAREA|OPTION|BUTTON)$/;
  var KEPT = { tabindex: true, "data-overflow": true };

  function isHtmx(el) {
    for (var i = 0; i < el.attributes.length; i++) {
      var name = el.attributes[i].name;
      if (name.indexOf("hx-") === 0 || name.indexOf("data-hx-") === 0) return true;
    }
    return false;
  }

  function kept(el, name) {
    return KEPT[name] || (name === "open" && el.tagName === "DETAILS");
  }

  function sameAttributes(a, b) {
    var i, attr;
    for (i = 0; i < b.attributes.length; i++) {
      attr = b.attributes[i];
      if (a.getAttribute(attr.name) !== attr.value) return false;
    }
    for (i = 0; i < a.attributes.length; i++) {
      attr = a.attributes[i];
      if (!b.hasAttribute(attr.name) && !kept(a, attr.name)) return false;
    }
    return true;
  }

  function syncAttributes(a, b, skip) {
    var i, attr;
    for (i = a.attributes.length - 1; i >= 0; i--) {
      attr = a.attributes[i];
      if (!b.hasAttribute(attr.name) && !kept(a, attr.name) && !(skip && skip[attr.name])) a.removeAttribute(attr.name);
    }
    for (i = 0; i < b.attributes.length; i++) {
      attr = b.attributes[i];
      if (skip && skip[attr.name]) continue;
      if (a.getAttribute(attr.name) !== attr.value) a.setAttribute(attr.name, attr.value);
    }
  }

  var FIGURE_OWN = { "class": true, style: true }; // plotly's own on a drawn figure

  // a (in the page) made to show what b (just parsed) shows; b's nodes may be moved into the page
  function sync(a, b) {
    if (a.hasAttribute("data-latex")) { // kept as typeset while its source is the same
      if (a.getAttribute("data-latex") !== b.getAttribute("data-latex") ||
          a.hasAttribute("data-display") !== b.hasAttribute("data-display")) a.replaceWith(b);
      return;
    }
    if (a.hasAttribute("data-figure") && b.hasAttribute("data-figure")) {
      syncAttributes(a, b, FIGURE_OWN);
      return;
    }
    if ((FORM.test(a.tagName) || isHtmx(a) || isHtmx(b)) && !sameAttributes(a, b)) {
      a.replaceWith(b);
      return;
    }
    if ((a.tagName === "SELECT" || a.tagName === "TEXTAREA") && a.innerHTML !== b.innerHTML) {
      a.replaceWith(b);
      return;
    }
    syncAttributes(a, b);
    syncChildren(a, b);
  }

  // the children that count: elements and text that is not only whitespace (a swap that answered with
  // whitespace around its element — the gradient check's badge — leaves text nodes the template has not)
  function significant(node) {
    var out = [];
    for (var n = node.firstChild; n; n = n.nextSibling) {
      if (n.nodeType === 1 || (n.nodeType === 3 && /\S/.test(n.nodeValue))) out.push(n);
    }
    return out;
  }

  function syncChildren(a, b) {
    var old = significant(a);
    var fresh = significant(b);
    if (old.length !== fresh.length) {
      a.replaceChildren.apply(a, Array.prototype.slice.call(b.childNodes));
      return;
    }
    for (var i = 0; i < fresh.length; i++) {
      var x = old[i], y = fresh[i];
      if (x.nodeType !== y.nodeType || (x.nodeType === 1 && (x.tagName !== y.tagName || x.id !== y.id))) {
        x.replaceWith(y);
      } else if (x.nodeType === 1) {
        sync(x, y);
      } else if (x.nodeValue !== y.nodeValue) {
        x.nodeValue = y.nodeValue;
      }
    }
  }

  function patch(target, fragment, settleInfo) {
    var fresh = null;
    for (var n = fragment.firstChild; n; n = n.nextSibling) {
      if (n.nodeType === 1) { fresh = n; break; }
    }
    if (!fresh) return [];
    if (fresh.tagName !== target.tagName || fresh.id !== target.id) { // not the same element: replaced whole
      target.replaceWith(fresh);
      var at = settleInfo.elts.indexOf(target);
      if (at >= 0) settleInfo.elts[at] = fresh;
      return [fresh];
    }
    sync(target, fresh);
    return [target];
  }

  function define() {
    window.htmx.defineExtension("lens-patch", {
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
