// Download a heatmap table (THE heatmap writer's <table class="heatmap">) or a drawing the server wrote as SVG
// (<svg data-download="name">: the probability bars, kit/bars.html) as an SVG or PNG image, as Plotly's own
// mode-bar button does for figures. One floating bar follows the table or drawing under the pointer (or the one a
// tap or focus lands in); the image is drawn from what the page shows: each cell's box, colours and text, or the
// drawing with its stylesheet's look written into it.
(function () {
  "use strict";

  var bar = null, current = null, hideTimer = null;

  function escapeXml(text) {
    return String(text).replace(/[&<>"]/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c];
    });
  }

  function tableName(table) {
    var name = table.getAttribute("data-download") || table.getAttribute("data-arr") ||
      (table.caption && table.caption.textContent) || "table";
    return name.trim().replace(/[^A-Za-z0-9_.-]+/g, "_").slice(0, 60) || "table";
  }

  // The table as SVG: one rect and one text per visible cell, at the place the page draws it. An input grid's cell
  // is its <input>: its box and the number in it (its textContent is empty: those cells came out blank).
  function tableSvg(table) {
    var box = table.getBoundingClientRect(), w = Math.ceil(box.width), h = Math.ceil(box.height);
    var parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="' + w + '" height="' + h + '" viewBox="0 0 ' +
                 w + " " + h + '">', '<rect width="100%" height="100%" fill="#ffffff"/>'];
    table.querySelectorAll("th, td").forEach(function (td) {
      var input = td.querySelector("input:not([type=hidden])"), cell = input || td;
      var r = cell.getBoundingClientRect();
      if (!r.width || !r.height) return;
      var s = window.getComputedStyle(cell), x = r.left - box.left, y = r.top - box.top;
      var fill = s.backgroundColor, line = input ? s.borderTopColor : "";
      if ((fill && fill !== "rgba(0, 0, 0, 0)" && fill !== "transparent") || line) {
        parts.push('<rect x="' + x.toFixed(1) + '" y="' + y.toFixed(1) + '" width="' + r.width.toFixed(1) +
                   '" height="' + r.height.toFixed(1) + '" fill="' + (fill || "none") + '"' +
                   (line ? ' stroke="' + line + '" rx="' + parseFloat(s.borderTopLeftRadius || 0) + '"' : "") + "/>");
      }
      var text = (input ? input.value : cell.textContent).trim();
      if (text) {
        parts.push('<text x="' + (x + r.width / 2).toFixed(1) + '" y="' + (y + r.height / 2).toFixed(1) +
                   '" text-anchor="middle" dominant-baseline="central" fill="' + s.color + '" font-family="' +
                   escapeXml(s.fontFamily) + '" font-size="' + s.fontSize + '" font-weight="' + s.fontWeight + '">' +
                   escapeXml(text) + "</text>");
      }
    });
    parts.push("</svg>");
    return { text: parts.join(""), width: w, height: h };
  }

  // A drawing as a file of its own: its look (the stylesheet's) written into each element, and its margin (where
  // the bars' p axis is labelled, left of x = 0) kept around it. Its x in percent resolve against its own width.
  var LOOK = ["fill", "stroke", "stroke-width", "opacity", "font-family", "font-size", "font-weight", "font-style"];
  function lookOf(style) { // a computed style's LOOK as a style attribute's text
    return LOOK.map(function (p) { return p + ":" + style.getPropertyValue(p); }).join(";");
  }

  function drawingSvg(svg) {
    var box = svg.getBoundingClientRect(), s = window.getComputedStyle(svg);
    var left = parseFloat(s.marginLeft) || 0, right = parseFloat(s.marginRight) || 0;
    var w = Math.ceil(box.width), h = Math.ceil(box.height), outer = Math.ceil(left + w + right);
    var copy = svg.cloneNode(true), from = svg.querySelectorAll("*"), to = copy.querySelectorAll("*");
    for (var i = 0; i < from.length; i++) {
      to[i].setAttribute("style", lookOf(window.getComputedStyle(from[i])));
    }
    var figure = svg.closest("figure"), caption = figure && figure.querySelector("figcaption"), top = 0, title = "";
    if (caption) { // the chart's title (the sample, its label and its loss) above it, a subscript as one
      var c = window.getComputedStyle(caption);
      top = Math.ceil(parseFloat(c.fontSize) * 1.8);
      title = '<text x="2" y="' + (top / 2) + '" dominant-baseline="central" style="' +
        escapeXml(lookOf(c)) + ";fill:" + c.color +
        '">' + Array.prototype.map.call(caption.childNodes, function (node) {
          return node.nodeName === "SUB" ? '<tspan baseline-shift="sub" font-size="75%">' +
            escapeXml(node.textContent) + "</tspan>" : escapeXml(node.textContent);
        }).join("") + "</text>";
    }
    var inner = '<svg x="' + left + '" y="' + top + '" width="' + w + '" height="' + h + '" overflow="visible" style="' +
      escapeXml(lookOf(s)) + '">' +
      copy.innerHTML + "</svg>";
    var text = '<svg xmlns="http://www.w3.org/2000/svg" width="' + outer + '" height="' + (top + h) + '" viewBox="0 0 ' +
      outer + " " + (top + h) + '"><rect width="100%" height="100%" fill="#ffffff"/>' + title + inner + "</svg>";
    return { text: text, width: outer, height: top + h };
  }

  function save(href, filename) {
    var a = document.createElement("a");
    a.href = href;
    a.download = filename;
    document.body.appendChild(a);
    a.click();
    document.body.removeChild(a);
  }

  function download(format) {
    if (!current) return;
    var svg = current.tagName.toLowerCase() === "svg" ? drawingSvg(current) : tableSvg(current);
    var name = tableName(current);
    var url = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(svg.text);
    if (format === "svg") return save(url, name + ".svg");
    var image = new Image(), scale = 2;
    image.onload = function () {
      var canvas = document.createElement("canvas");
      canvas.width = svg.width * scale;
      canvas.height = svg.height * scale;
      var ctx = canvas.getContext("2d");
      ctx.scale(scale, scale);
      ctx.drawImage(image, 0, 0);
      save(canvas.toDataURL("image/png"), name + ".png");
    };
    image.src = url;
  }

  function makeBar() {
    bar = document.createElement("div");
    bar.className = "table-download";
    bar.setAttribute("role", "group");
    bar.setAttribute("aria-label", "Download this as an image");
    ["png", "svg"].forEach(function (format) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "table-download__button";
      b.textContent = format.toUpperCase();
      b.title = "Download this as " + format.toUpperCase();
      b.addEventListener("click", function (event) {
        event.preventDefault();
        event.stopPropagation();
        download(format);
      });
      bar.appendChild(b);
    });
    bar.addEventListener("mouseenter", function () { clearTimeout(hideTimer); });
    bar.addEventListener("mouseleave", hideSoon);
    document.body.appendChild(bar);
  }

  function show(table) {
    if (!bar) makeBar();
    clearTimeout(hideTimer);
    current = table;
    place();
    bar.classList.add("is-shown");
  }

  // beside the table's top-right corner where the page has room, else just above it, and above the tables of the
  // same grid stacked over it (the optimizer's parameter names over their values): it covers no cell
  function place() {
    if (!current || !current.isConnected) return;
    var r = current.getBoundingClientRect(), room = document.documentElement.clientWidth - r.right;
    var w = bar.offsetWidth, h = bar.offsetHeight;
    var top = r.top, left = r.right + 4;
    if (room <= w + 8) {
      // above its right end, kept on screen: a table wider than a phone (it scrolls sideways) ends off screen
      left = Math.max(4, Math.min(r.right, document.documentElement.clientWidth - 4) - w);
      top = r.top - h - 2;
      for (var over = covered(left, top, w, h), n = 0; over && n < 4; over = covered(left, top, w, h), n++) {
        top = over.getBoundingClientRect().top - h - 2;
      }
    }
    bar.style.top = Math.max(0, top + window.scrollY) + "px";
    bar.style.left = Math.max(0, left + window.scrollX) + "px";
  }

  // the other heatmap table of the current one's section that a box (viewport px) would cover, if any
  function covered(left, top, w, h) {
    var scope = current.closest("section, figure, .card") || current.parentElement;
    return Array.prototype.find.call(scope.querySelectorAll("table.heatmap"), function (t) {
      if (t === current) return false;
      var o = t.getBoundingClientRect();
      return o.left < left + w && left < o.right && o.top < top + h && top < o.bottom;
    });
  }

  // The page moves under a shown bar when what is above its table changes height (a formula typeset once typing
  // pauses, a fold opened, an answer swapped in): placed again, so it never lands on the table's cells. A
  // ResizeObserver says so after the page is laid out, so reading the table's box then forces no layout (read at
  // each answer drawn, it forced one a keystroke while a cell had the focus: ~7 ms on /optim).
  function placeAgain() {
    if (bar && bar.classList.contains("is-shown")) place();
  }
  if (window.ResizeObserver) new ResizeObserver(placeAgain).observe(document.body);
  window.addEventListener("resize", placeAgain);

  function hideSoon() {
    clearTimeout(hideTimer);
    hideTimer = setTimeout(function () { if (bar) bar.classList.remove("is-shown"); }, 600);
  }

  function tableOf(target) {
    return target && target.closest ? target.closest("table.heatmap, svg[data-download]") : null;
  }

  document.addEventListener("mouseover", function (event) {
    var table = tableOf(event.target);
    if (table) show(table);
  });
  document.addEventListener("mouseout", function (event) {
    if (tableOf(event.target) && !tableOf(event.relatedTarget)) hideSoon();
  });
  var closing = false; // Esc closed the bar and gives the focus back to its table: not shown again for that
  document.addEventListener("focusin", function (event) {
    var table = tableOf(event.target);
    if (table && !closing) show(table);
    else if (bar && bar.contains(event.target)) clearTimeout(hideTimer);
  });
  document.addEventListener("focusout", function (event) {
    var to = event.relatedTarget;
    if (bar && (tableOf(event.target) || bar.contains(event.target)) && !(to && (tableOf(to) || bar.contains(to)))) {
      hideSoon();
    }
  });

  // The keyboard's way to the bar: it is the stop right after its table. Tab from a results table (one stop) or a
  // drawing lands on PNG, Tab from SVG goes on to where it would have gone from the table; Shift+Tab goes back the
  // same way; Esc closes the bar and gives the focus back to the table. Not after an input grid: Tab there goes from
  // cell to cell and on to the next grid's first cell, as one types in numbers (a lab's inputs download whole with
  // its Copy as NumPy / Download JSON). The bar itself is the page's last element, placed over the page: without
  // this, Tab reached it only after every other stop of the page.
  var STOPS = 'a[href], button:not([disabled]), input:not([type="hidden"]):not([disabled]), select:not([disabled]), ' +
    'textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';
  function stopsIn(root) {
    return Array.prototype.filter.call(root.querySelectorAll(STOPS), function (el) {
      return el.tabIndex >= 0 && el.getClientRects().length > 0 && !(bar && bar.contains(el));
    });
  }
  function lastStop(table) {
    var own = stopsIn(table);
    return own.length ? own[own.length - 1] : table;
  }
  function stopAfter(table) { // the page's first stop after the table, outside it
    return stopsIn(document).find(function (el) {
      return !table.contains(el) && (table.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING);
    });
  }
  function backTo(table) {
    var stop = lastStop(table);
    if (stop && stop.focus) stop.focus();
  }
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    var onBar = bar && bar.contains(event.target);
    if (onBar && event.key === "Escape" && current) {
      event.preventDefault();
      var was = current;
      bar.classList.remove("is-shown");
      closing = true;
      backTo(was);
      closing = false;
      return;
    }
    if (event.key !== "Tab") return;
    if (onBar) {
      var buttons = bar.querySelectorAll("button");
      if (!current || !current.isConnected) return;
      if (event.shiftKey && event.target === buttons[0]) {
        event.preventDefault();
        backTo(current);
      } else if (!event.shiftKey && event.target === buttons[buttons.length - 1]) {
        var next = stopAfter(current);
        if (next) { event.preventDefault(); next.focus(); }
      }
      return;
    }
    var table = event.shiftKey ? tableBefore(event.target) : tableOf(event.target);
    if (!table || table.matches(".editable") || (!event.shiftKey && lastStop(table) !== event.target)) return;
    show(table);
    var pair = bar.querySelectorAll("button"), to = pair[event.shiftKey ? pair.length - 1 : 0];
    if (!to.getClientRects().length) return; // no bar in presenter mode or an embed: Tab goes on as ever
    event.preventDefault();
    to.focus();
  });
  // Shift+Tab from the stop right after a table comes back through its bar (SVG first), as Tab went
  function tableBefore(el) {
    var all = stopsIn(document), i = all.indexOf(el), table = i > 0 ? tableOf(all[i - 1]) : null;
    return table && !table.contains(el) ? table : null;
  }
})();
