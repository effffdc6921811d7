/* Backprop Lens, optimizer lab: the light SVG overlay that draws a playing path's newest segments over a
 * plotly plot between two hand-overs to plotly (CSP-safe, no inline code). window.OptimOverlay; loaded
 * before static/js/labs/optim.js, whose player draws with it once per animation frame.
 */
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";

  // An SVG overlay over a plotly plot: per series, a polyline from the last point plotly has to the
  // newest pending point, and a dot at its head. One attribute per series per frame; plotly is not touched.
  function Overlay(gd, colours, id) {
    this.gd = gd;
    this.colours = colours;
    this.id = id;
    this.svg = null;
    this.lines = [];
    this.heads = [];
  }

  Overlay.prototype.ensure = function () {
    var gd = this.gd;
    if (!gd || !gd._fullLayout || !gd._fullLayout.xaxis || !gd.data) return null;
    var fl = gd._fullLayout;
    if (!this.svg || !this.svg.isConnected) {
      var svg = document.createElementNS(SVG, "svg");
      svg.setAttribute("class", "optim-overlay");
      svg.setAttribute("aria-hidden", "true");
      var clip = document.createElementNS(SVG, "clipPath");
      clip.id = this.id + "-clip";
      clip.appendChild(document.createElementNS(SVG, "rect"));
      svg.appendChild(clip);
      var group = document.createElementNS(SVG, "g");
      group.setAttribute("clip-path", "url(#" + clip.id + ")");
      svg.appendChild(group);
      this.lines = [];
      this.heads = [];
      this.colours.forEach(function (colour) {
        var line = document.createElementNS(SVG, "polyline");
        line.setAttribute("fill", "none");
        line.setAttribute("stroke", colour);
        line.setAttribute("stroke-width", "2.2");
        line.setAttribute("stroke-linejoin", "round");
        var head = document.createElementNS(SVG, "circle");
        head.setAttribute("r", "4.5");
        head.setAttribute("fill", colour);
        head.setAttribute("stroke", "#fff");
        head.setAttribute("stroke-width", "1.5");
        head.setAttribute("visibility", "hidden");
        group.appendChild(line);
        group.appendChild(head);
        this.lines.push(line);
        this.heads.push(head);
      }, this);
      gd.parentNode.appendChild(svg);
      this.svg = svg;
      var self = this;
      if (gd.on && !gd.__optimOverlay) { // zoom or resize: draw what is still pending on the new axes
        gd.__optimOverlay = true;
        gd.on("plotly_afterplot", function () { if (self.last) self.draw(self.last.series, self.last.traces); });
      }
    }
    var rect = this.svg.querySelector("clipPath rect");
    rect.setAttribute("x", fl.xaxis._offset);
    rect.setAttribute("y", fl.yaxis._offset);
    rect.setAttribute("width", fl.xaxis._length);
    rect.setAttribute("height", fl.yaxis._length);
    this.svg.setAttribute("width", fl.width);
    this.svg.setAttribute("height", fl.height);
    return fl;
  };

  // series[i]: the pending [x, y] points of series i; traces[i]: the plotly trace it continues.
  Overlay.prototype.draw = function (series, traces) {
    this.last = { series: series, traces: traces };
    var fl = this.ensure();
    if (!fl) return;
    var xa = fl.xaxis, ya = fl.yaxis, gd = this.gd;
    function px(x) { return xa._offset + xa.c2p(x); }
    function py(y) { return ya._offset + ya.c2p(y); }
    series.forEach(function (points, i) {
      var line = this.lines[i], head = this.heads[i];
      if (!points.length) { line.setAttribute("points", ""); head.setAttribute("visibility", "hidden"); return; }
      var trace = gd.data[traces[i]];
      var n = trace.x.length;
      var out = [];
      if (n) { // start from the last point plotly has (if it can be drawn: log axes have no 0)
        var ax = px(trace.x[n - 1]), ay = py(trace.y[n - 1]);
        if (isFinite(ax) && isFinite(ay)) out.push(ax.toFixed(1) + "," + ay.toFixed(1));
      }
      for (var k = 0; k < points.length; k++) {
        var a = px(points[k][0]), b = py(points[k][1]);
        if (isFinite(a) && isFinite(b)) out.push(a.toFixed(1) + "," + b.toFixed(1));
      }
      line.setAttribute("points", out.join(" "));
      var last = points[points.length - 1];
      var hx = px(last[0]), hy = py(last[1]);
      if (isFinite(hx) && isFinite(hy)) {
        head.setAttribute("cx", hx.toFixed(1));
        head.setAttribute("cy", hy.toFixed(1));
        head.setAttribute("visibility", "visible");
      }
    }, this);
  };

  window.OptimOverlay = Overlay;
})();
