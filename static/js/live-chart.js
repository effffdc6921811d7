/* Backprop Lens — live charts: streamed series drawn on a canvas over a plotly plot (CSP-safe, no inline code).
 *
 * A plotly redraw re-lays out the whole figure (axes, legend, every trace): 15 ms on a quiet machine, 150–430 ms
 * on this loaded 2-core one, so a chart that plotly redraws for every streamed chunk manages 2–9 updates/s.
 * Here plotly draws the axes, legend and everything handed to it; the points streamed since the last hand-over
 * are drawn on a canvas in the plot area, with plotly's own axis mapping (one clear and a few paths a frame).
 * The y axis is re-ranged (one plotly relayout) only when a point falls outside it, with headroom, at most every
 * RANGE_MS, and not after the visitor zoomed; the x axis is the run's, fixed. handOver() gives plotly every point (hover, zoom) and clears the
 * canvas: on pause, stop and the end of a run.
 *
 * Decimation keeps every spike: a Decimator folds a series into buckets of `width` consecutive x and keeps each
 * bucket's minimum and maximum (both real points, in x order); width 1 keeps every point. A series of a run of
 * `until` steps has at most 2·(ceil(until / width) + 1) points.
 *
 *   var d = new LiveChart.Decimator(width);  d.push(x, y);  d.points().x, .y (the closed
 *   buckets' points and the open one's); d.flush() closes the open bucket. The width is the server's
 *   (app/web/labs/network/train.py bucket_steps: at most 500 buckets, so ~1,000 points a trace).
 *   var c = new LiveChart.Chart(gd, [series per plotly trace]);  c.draw();  c.handOver(layoutPatch);
 */
(function () {
  "use strict";

  var RANGE_MS = 1000; // the fewest milliseconds between two re-rangings of one chart's y axis
  var HEADROOM = 0.25; // a re-ranged axis leaves this fraction of its span free in the direction it grew


  // ------------------------------------------------------------------ min/max decimation
  function Decimator(width) {
    this.width = width;
    this.x = []; this.y = []; // the points: the closed buckets', then (after points()) the open one's
    this.closed = 0; // how many of them belong to closed buckets
    this.open = null; // {start, lo: [x, y], hi: [x, y], gap}
  }

  Decimator.prototype.push = function (x, y) {
    var b = this.open;
    if (b && x >= b.start + this.width) { this.close(); b = null; }
    if (!b) b = this.open = { start: this.width > 1 ? x - (x % this.width) : x, lo: null, hi: null, gap: false };
    if (y === null || y === undefined || !isFinite(y)) b.gap = true;
    else {
      if (!b.lo || y < b.lo[1]) b.lo = [x, y];
      if (!b.hi || y > b.hi[1]) b.hi = [x, y];
    }
  };

  // the open bucket's points after the closed ones' (its minimum and maximum, in x order)
  Decimator.prototype.points = function () {
    this.x.length = this.y.length = this.closed;
    var b = this.open;
    if (!b) return this;
    var pts = b.lo ? [b.lo] : [];
    if (b.hi && b.hi[0] !== b.lo[0]) pts.push(b.hi);
    if (pts.length === 2 && pts[1][0] < pts[0][0]) pts.reverse();
    if (b.gap && !pts.length) pts.push([b.start, null]); // a bucket of nothing finite breaks the line
    for (var i = 0; i < pts.length; i++) { this.x.push(pts[i][0]); this.y.push(pts[i][1]); }
    return this;
  };

  // close the open bucket (at a bucket's end, and when plotly is handed every point)
  Decimator.prototype.close = function () { this.points(); this.open = null; this.closed = this.x.length; };
  Decimator.prototype.flush = Decimator.prototype.close;

  // ------------------------------------------------------------------ the canvas over a plotly plot
  // series[i]: the Decimator (or any {x, y}) drawn as plotly trace i; null: a trace not drawn live.
  function Chart(gd, series) {
    this.gd = gd;
    this.series = series;
    this.handed = series.map(function () { return 0; }); // points plotly has, per trace
    this.canvas = null;
    this.lastRange = 0;
    this.extent = null; // [lo, hi] of the finite y drawn so far (log axes: of the positive ones)
    gd.__live = this;
    gd.__liveZoomed = false; // a new run: the axes are ours again
  }

  Chart.prototype.ensure = function () {
    var gd = this.gd, fl = gd._fullLayout;
    if (!fl || !fl.xaxis || !fl.yaxis || !gd.data) return null;
    if (gd.on && !gd.__liveChart) { // a zoom, a resize or a re-ranging: the canvas drawn on the new axes
      gd.__liveChart = true;
      gd.on("plotly_afterplot", function () { if (gd.__live) gd.__live.draw(true); }); // (not re-ranged here)
      // the visitor zoomed (plotly's drag writes "yaxis.range[0]"; our re-ranging writes "yaxis.range"): the axes
      // stay theirs; a double-click (autorange) gives them back
      gd.on("plotly_relayout", function (ev) {
        if (!ev) return;
        if (ev["yaxis.autorange"] === true) gd.__liveZoomed = false;
        else if ("yaxis.range[0]" in ev || "xaxis.range[0]" in ev) gd.__liveZoomed = true;
      });
    }
    if (!this.canvas || !this.canvas.isConnected) {
      var canvas = document.createElement("canvas");
      canvas.className = "live-chart";
      canvas.setAttribute("aria-hidden", "true");
      canvas.style.position = "absolute";
      canvas.style.pointerEvents = "none";
      canvas.style.willChange = "transform"; // its own layer: a frame repaints the canvas, not the plot beneath
      gd.parentNode.style.position = "relative";
      gd.parentNode.appendChild(canvas);
      this.canvas = canvas;
      this.size = "";
    }
    var dpr = window.devicePixelRatio || 1, size = fl.width + "x" + fl.height + "@" + dpr;
    if (this.size !== size) {
      this.canvas.width = Math.round(fl.width * dpr);
      this.canvas.height = Math.round(fl.height * dpr);
      this.canvas.style.width = fl.width + "px";
      this.canvas.style.height = fl.height + "px";
      this.size = size;
    }
    var at = gd.offsetLeft + "px," + gd.offsetTop + "px"; // written only when it moved (a write costs a style pass)
    if (this.at !== at) {
      this.canvas.style.left = gd.offsetLeft + "px";
      this.canvas.style.top = gd.offsetTop + "px";
      this.at = at;
    }
    return fl;
  };

  // the y extent of what is not yet handed over, merged into this.extent (log axes: positive values only)
  Chart.prototype.measure = function (log) {
    var e = this.extent;
    for (var i = 0; i < this.series.length; i++) {
      var s = this.series[i];
      if (!s) continue;
      for (var k = Math.max(0, this.handed[i] - 1); k < s.y.length; k++) {
        var v = s.y[k];
        if (v === null || !isFinite(v) || (log && !(v > 0))) continue;
        if (!e) e = [v, v];
        else { if (v < e[0]) e[0] = v; if (v > e[1]) e[1] = v; }
      }
    }
    this.extent = e;
    return e;
  };

  // Re-range y when a point is outside it (not on a fixed axis: the figure says autorange false).
  Chart.prototype.fit = function (fl) {
    var ya = fl.yaxis, gd = this.gd;
    if (ya.autorange === false && !gd.__liveRanged) return false; // the figure's own fixed range (accuracy)
    if (gd.__liveZoomed) return false;
    var log = ya.type === "log";
    var e = this.measure(log);
    if (!e) return false;
    var lo = log ? Math.log10(e[0]) : e[0], hi = log ? Math.log10(e[1]) : e[1];
    var r = ya.range;
    if (lo >= Math.min(r[0], r[1]) && hi <= Math.max(r[0], r[1])) return false;
    var now = performance.now();
    if (now - this.lastRange < RANGE_MS) return false;
    this.lastRange = now;
    var span = (hi - lo) || (log ? 1 : Math.abs(hi) || 1);
    var a = Math.min(r[0], lo < r[0] ? lo - HEADROOM * span : r[0]); // grew: headroom in the direction it grew
    var b = Math.max(r[1], hi > r[1] ? hi + HEADROOM * span : r[1]);
    if (!log && e[0] >= 0 && a < 0) a = Math.max(a, -0.05 * span); // a loss never below 0: little room there
    gd.__liveRanged = true;
    window.Plotly.relayout(gd, { "yaxis.range": [a, b], "yaxis.autorange": false });
    return true;
  };

  // Draw every point not yet handed to plotly (from the last one plotly has, so the line joins up).
  Chart.prototype.draw = function (keepAxes) {
    var fl = this.ensure();
    if (!fl) return false;
    this.series.forEach(function (s) { if (s && s.points) s.points(); });
    var some = function (s) { return s && s.x && s.x.length; };
    if (!this.series.some(some)) return false; // nothing streamed yet
    if (!this.handed.some(Boolean) && !this.gd.data.some(some)) {
      this.handOver(); // the first points go to plotly: its autorange and legend from the start (one redraw)
      return true;
    }
    if (window.Plotly && !keepAxes && this.fit(fl)) fl = this.gd._fullLayout; // re-ranged: draw on the new axis
    var ctx = this.canvas.getContext("2d"), dpr = window.devicePixelRatio || 1;
    var xa = fl.xaxis, ya = fl.yaxis, data = this.gd.data; // the figure's traces (plotly hides empty ones)
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, fl.width, fl.height);
    ctx.save();
    ctx.beginPath();
    ctx.rect(xa._offset, ya._offset, xa._length, ya._length);
    ctx.clip();
    for (var i = 0; i < this.series.length; i++) {
      var s = this.series[i], trace = data[i];
      if (!s || !trace || (trace.visible !== undefined && trace.visible !== true)) continue; // legend: hidden
      var from = Math.max(0, this.handed[i] - 1);
      if (s.x.length <= this.handed[i]) continue; // nothing new: plotly has it all
      var mode = trace.mode || "lines", colour = (trace.line && trace.line.color) || "#333";
      ctx.strokeStyle = colour;
      ctx.fillStyle = (trace.marker && trace.marker.color) || colour;
      ctx.lineWidth = (trace.line && trace.line.width) || 1.5;
      ctx.lineJoin = "round";
      ctx.beginPath();
      var pen = false, pts = [];
      for (var k = from; k < s.x.length; k++) {
        var v = s.y[k];
        if (v === null || (ya.type === "log" && !(v > 0))) { pen = false; continue; }
        var px = xa._offset + xa.c2p(s.x[k]), py = ya._offset + ya.c2p(v);
        if (!isFinite(px) || !isFinite(py)) { pen = false; continue; }
        if (pen) ctx.lineTo(px, py); else ctx.moveTo(px, py);
        pen = true;
        if (k >= this.handed[i]) pts.push(px, py);
      }
      if (/lines/.test(mode)) ctx.stroke();
      if (/markers/.test(mode)) {
        var radius = ((trace.marker && trace.marker.size) || 5) / 2;
        ctx.beginPath();
        for (var m = 0; m < pts.length; m += 2) {
          ctx.moveTo(pts[m] + radius, pts[m + 1]);
          ctx.arc(pts[m], pts[m + 1], radius, 0, 2 * Math.PI);
        }
        ctx.fill();
      }
    }
    ctx.restore();
    return true;
  };

  // Everything to plotly (one Plotly.react with the series' points), the canvas cleared.
  // `which` (optional): a list of replacement series to hand over instead (the gradient norms' smoothing).
  Chart.prototype.handOver = function (which) {
    var gd = this.gd;
    if (!window.Plotly || !gd.data || !gd.layout) return;
    var series = which || this.series;
    series.forEach(function (s) { if (s && s.flush) s.flush(); });
    var data = gd.data.map(function (trace, i) {
      var s = series[i];
      if (!s) return trace;
      var copy = {};
      for (var key in trace) if (Object.prototype.hasOwnProperty.call(trace, key)) copy[key] = trace[key];
      copy.x = s.x.slice(); copy.y = s.y.slice();
      return copy;
    });
    var layout = {};
    for (var key in gd.layout) if (Object.prototype.hasOwnProperty.call(gd.layout, key)) layout[key] = gd.layout[key];
    if (gd.__liveRanged) { // the exact fit again, now that plotly has every point
      layout.yaxis = {};
      for (var k in gd.layout.yaxis) if (Object.prototype.hasOwnProperty.call(gd.layout.yaxis, k)) layout.yaxis[k] = gd.layout.yaxis[k];
      delete layout.yaxis.range;
      layout.yaxis.autorange = true;
      gd.__liveRanged = false;
    }
    this.handed = series.map(function (s) { return s ? s.x.length : 0; });
    this.extent = null;
    if (this.canvas) {
      var ctx = this.canvas.getContext("2d");
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    }
    window.Plotly.react(gd, data, layout); // the figure's config stays; uirevision keeps a visitor's zoom
  };

  // Forget the canvas (the figure was drawn anew from its empty template).
  Chart.prototype.reset = function () {
    if (this.canvas && this.canvas.parentNode) this.canvas.parentNode.removeChild(this.canvas);
    this.canvas = null;
    if (this.gd.__live === this) this.gd.__live = null;
  };

  // ------------------------------------------------------------------ numbers beside a live chart
  // Write an element's text by changing its text node's value, not by replacing its children: in Chromium here
  // `el.textContent = …` costs a whole-page style recalc (~40 ms on the network page at load 10; the page's
  // `:has()` rules watch child insertions), the node's value ~0.3 ms. Unchanged text is not written at all.
  function setText(el, text) {
    if (!el) return;
    var node = el.firstChild;
    if (node && node.nodeType === 3 && node === el.lastChild) { if (node.nodeValue !== text) node.nodeValue = text; }
    else if (el.textContent !== text) el.textContent = text;
  }

  window.LiveChart = { Decimator: Decimator, Chart: Chart, setText: setText };
})();
