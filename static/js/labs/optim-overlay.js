/* Backprop Lens, optimizer lab: the light canvas overlay that draws a playing path's newest segments over a
 * plotly plot between two hand-overs to plotly (CSP-safe, no inline code). window.OptimOverlay; loaded
 * before static/js/labs/optim.js, whose player draws with it once per animation frame.
 *
 * Two canvases in their own compositing layers over the plot area: the paths (only the segments that arrived
 * since the last frame are added; cleared and drawn whole after a hand-over, a zoom or a resize) and the
 * heads (one dot per series, cleared every frame). A frame costs what arrived, not the path's length, and
 * never repaints the plot beneath. (It was an SVG polyline rewritten whole every frame.)
 */
(function () {
  "use strict";

  function layer(gd, id, name) {
    var canvas = document.createElement("canvas");
    canvas.className = "optim-overlay";
    canvas.id = id + "-" + name;
    canvas.setAttribute("aria-hidden", "true");
    gd.parentNode.appendChild(canvas);
    return canvas;
  }

  function Overlay(gd, colours, id) {
    this.gd = gd;
    this.colours = colours;
    this.id = id;
    this.paths = null; // canvas: the segments drawn so far
    this.heads = null; // canvas: the dots at the paths' heads
    this.drawn = []; // per series: [the array drawn from, how many of its points are on the canvas]
    this.size = "";
  }

  Overlay.prototype.ensure = function () {
    var gd = this.gd;
    if (!gd || !gd._fullLayout || !gd._fullLayout.xaxis || !gd.data) return null;
    var fl = gd._fullLayout;
    if (!this.paths || !this.paths.isConnected) {
      this.paths = layer(gd, this.id, "paths");
      this.heads = layer(gd, this.id, "heads");
      this.size = "";
      var self = this;
      if (gd.on && !gd.__optimOverlay) { // zoom or resize: draw what is still pending on the new axes
        gd.__optimOverlay = true;
        gd.on("plotly_afterplot", function () { if (self.last) { self.drawn = []; self.draw(self.last.series, self.last.traces); } });
      }
    }
    var dpr = window.devicePixelRatio || 1, size = fl.width + "x" + fl.height + "@" + dpr;
    if (size !== this.size) {
      [this.paths, this.heads].forEach(function (c) {
        c.width = Math.round(fl.width * dpr);
        c.height = Math.round(fl.height * dpr);
        c.style.width = fl.width + "px";
        c.style.height = fl.height + "px";
      });
      this.size = size;
      this.drawn = [];
    }
    return fl;
  };

  function context(canvas, fl) {
    var ctx = canvas.getContext("2d"), dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.beginPath();
    ctx.rect(fl.xaxis._offset, fl.yaxis._offset, fl.xaxis._length, fl.yaxis._length);
    return ctx;
  }

  // series[i]: the pending [x, y] points of series i; traces[i]: the plotly trace it continues.
  Overlay.prototype.draw = function (series, traces) {
    this.last = { series: series, traces: traces };
    var fl = this.ensure();
    if (!fl) return;
    var xa = fl.xaxis, ya = fl.yaxis, gd = this.gd;
    function px(x) { return xa._offset + xa.c2p(x); }
    function py(y) { return ya._offset + ya.c2p(y); }
    var whole = series.some(function (points, i) { // a hand-over (new arrays), a zoom, a resize: draw anew
      var d = this.drawn[i];
      return !d || d[0] !== points || d[1] > points.length;
    }, this);
    var paths = context(this.paths, fl), heads = context(this.heads, fl);
    if (whole) paths.clearRect(0, 0, fl.width, fl.height);
    paths.save(); paths.clip();
    heads.clearRect(0, 0, fl.width, fl.height);
    heads.save(); heads.clip();
    paths.lineWidth = 2.2; paths.lineJoin = "round"; paths.lineCap = "round";
    heads.lineWidth = 1.5; heads.strokeStyle = "#fff";
    series.forEach(function (points, i) {
      var from = whole ? 0 : this.drawn[i][1];
      this.drawn[i] = [points, points.length];
      if (!points.length) return;
      paths.strokeStyle = this.colours[i];
      paths.beginPath();
      var pen = false;
      if (from === 0) { // start from the last point plotly has (if it can be drawn: log axes have no 0)
        var trace = gd.data[traces[i]], n = trace.x.length;
        if (n) {
          var ax = px(trace.x[n - 1]), ay = py(trace.y[n - 1]);
          if (isFinite(ax) && isFinite(ay)) { paths.moveTo(ax, ay); pen = true; }
        }
      } else from -= 1; // the segment from the last point drawn
      for (var k = from; k < points.length; k++) {
        var a = px(points[k][0]), b = py(points[k][1]);
        if (!isFinite(a) || !isFinite(b)) { pen = false; continue; }
        if (pen) paths.lineTo(a, b); else paths.moveTo(a, b);
        pen = true;
      }
      paths.stroke();
      var last = points[points.length - 1];
      var hx = px(last[0]), hy = py(last[1]);
      if (isFinite(hx) && isFinite(hy)) {
        heads.fillStyle = this.colours[i];
        heads.beginPath();
        heads.arc(hx, hy, 4.5, 0, 2 * Math.PI);
        heads.fill();
        heads.stroke();
      }
    }, this);
    paths.restore();
    heads.restore();
  };

  window.OptimOverlay = Overlay;
})();
