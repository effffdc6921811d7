/* Backprop Lens, optimizer lab: play the surface paths streamed from the server (CSP-safe, no inline code).
 *
 * The server streams one `step` event per update t (id: t) from GET <data-stream>&from=<t> and always
 * ends with a `done` event, on which this script closes the EventSource (so the browser never
 * reconnects and replays). If the connection drops, the browser reconnects by itself with
 * Last-Event-ID and the server resumes after that step.
 *
 * Play opens a stream from the step the page has; Pause closes it; Play again resumes from there:
 * an event whose t is not new is counted as a duplicate and dropped, a jump in t is counted as a
 * gap and the stream is reopened from the last step drawn. Events are queued as they arrive and
 * drawn once per animation frame (requestAnimationFrame), however many arrived: while playing,
 * the new segments go to a light SVG overlay on the plot (one attribute per path per frame);
 * on pause, step or done they are handed to plotly once (Plotly.extendTraces), so hover and zoom
 * see every point. The loss plot is drawn the same way.
 *
 * window.OptimLab.stats() reports steps received per second and frames drawn per second.
 *
 * The lab's plots are drawn when they come near the viewport ([data-lazy-figure], see below).
 * The overlay itself is static/js/labs/optim-overlay.js (window.OptimOverlay), loaded first.
 */
(function () {
  "use strict";

  var player = null; // the player of the #surface-view on the page

  // a number's text written in place (LiveChart.setText: no whole-page style recalc per frame)
  var text = window.LiveChart.setText; // live-chart.js comes first on the page

  function Player(view) {
    this.view = view;
    this.form = view.closest("form");
    this.plot = view.querySelector("#surface-fig .plot");
    this.lossPlot = view.querySelector("#loss-fig .plot");
    this.runs = JSON.parse(view.getAttribute("data-runs")).map(function (r) {
      return { index: r.index, trace: r.trace, lossTrace: r.loss_trace, colour: r.colour, stopped: r.stopped,
               pending: [], lossPending: [], last: null, line: null, head: null };
    });
    this.base = view.getAttribute("data-stream");
    this.n = parseInt(view.getAttribute("data-n"), 10);
    this.have = parseInt(view.getAttribute("data-t"), 10); // updates drawn (or queued to draw)
    this.lastT = this.have; // the highest t received
    this.queue = [];
    this.es = null;
    this.mode = "paused"; // "playing" | "stepping" | "paused" | "done"
    this.raf = 0;
    this.stats = { received: 0, frames: 0, duplicates: 0, gaps: 0, reconnects: 0, first: 0, last: 0, started: 0 };
    this.overlay = null;
    this.lossOverlay = null;
  }

  Player.prototype.url = function (to) {
    return this.base + "&from=" + this.have + (to ? "&to=" + to : "");
  };

  Player.prototype.button = function (name) {
    return this.view.querySelector("[data-surface-" + name + "]");
  };

  Player.prototype.ended = function () {
    return this.have >= this.n || this.runs.every(function (r) { return r.stopped; });
  };

  Player.prototype.setMode = function (mode) {
    this.mode = mode;
    var play = this.button("play");
    var step = this.button("step");
    var playing = mode === "playing";
    if (play) {
      play.textContent = playing ? "❚❚ Pause" : "▶ Play";
      play.setAttribute("aria-pressed", playing ? "true" : "false");
      play.disabled = !playing && this.ended();
    }
    if (step) step.disabled = this.ended() || mode === "stepping";
    this.view.setAttribute("data-mode", mode);
    this.legend(); // each run's status follows the mode (it said "running" after a pause)
  };

  // --- the stream ---
  Player.prototype.open = function (to) {
    var self = this;
    this.close();
    var es = new EventSource(this.url(to));
    this.es = es;
    es.addEventListener("step", function (ev) { if (self.es === es) self.receive(JSON.parse(ev.data)); });
    es.addEventListener("done", function (ev) { if (self.es === es) self.finish(JSON.parse(ev.data)); });
    es.onerror = function () {
      if (self.es !== es) return;
      if (es.readyState === EventSource.CLOSED) { // refused (e.g. 422): the browser will not retry
        self.close();
        self.drain();
        self.sync();
        self.setMode(self.ended() ? "done" : "paused");
        self.showStats("the stream was refused; reload the page");
      } else {
        self.stats.reconnects += 1; // the browser reconnects with Last-Event-ID by itself
      }
    };
  };

  Player.prototype.close = function () {
    if (this.es) { this.es.close(); this.es = null; }
  };

  Player.prototype.receive = function (d) {
    var now = performance.now();
    if (d.t <= this.lastT) { this.stats.duplicates += 1; return; }
    if (d.t !== this.lastT + 1) { // a gap: reopen from what we have
      this.stats.gaps += 1;
      this.drain();
      this.open(this.mode === "stepping" ? this.have + 1 : null);
      return;
    }
    this.lastT = d.t;
    this.queue.push(d);
    this.stats.received += 1;
    if (!this.stats.first) this.stats.first = now;
    this.stats.last = now;
    if (this.mode === "stepping") { this.drain(); this.sync(); } else this.schedule();
  };

  Player.prototype.finish = function (d) {
    this.close();
    this.drain();
    this.sync();
    (d.stopped || []).forEach(function (s) { this.markStopped(s); }, this);
    this.setMode(this.ended() ? "done" : "paused");
    this.showStats();
    this.saveLink();
  };

  // After a play the paths are longer: check the surface's gradient where they went, too.
  Player.prototype.recheck = function () {
    var badge = this.view.querySelector("#surface-gradcheck[hx-post]");
    if (badge && window.htmx) window.htmx.trigger(badge, "recheck");
  };

  // --- drawing ---
  Player.prototype.schedule = function () {
    var self = this;
    if (!this.raf) this.raf = requestAnimationFrame(function () { self.raf = 0; self.frame(); });
  };

  // Numbers written as text at most every TEXT_MS while playing (each write repaints the page's root layer; the
  // overlay's canvases do not), and at once on pause, step and done.
  var TEXT_MS = 250;

  Player.prototype.drain = function (throttled) {
    var batch = this.queue, now = performance.now();
    if (!batch.length && throttled) return false;
    this.queue = [];
    batch.forEach(function (d) {
      this.runs.forEach(function (r, i) {
        var p = d.p[i];
        if (p) {
          r.pending.push([p[0], p[1], d.t, p[2]]);
          r.lossPending.push([d.t, p[2]]);
          r.last = [d.t, p[0], p[1], p[2]];
        }
      });
      (d.stopped || []).forEach(function (s) { this.markStopped(s); }, this);
      this.have = d.t;
    }, this);
    var tInput = this.form && this.form.querySelector("#surface-t");
    if (tInput) tInput.value = String(this.have);
    if (!throttled || now - (this.lastText || 0) >= TEXT_MS) {
      this.lastText = now;
      var out = this.view.querySelector("[data-surface-t]");
      if (out) text(out, String(this.have));
      this.legend();
    }
    return batch.length > 0;
  };

  Player.prototype.frame = function () {
    if (!this.view.isConnected) { this.stop(); return; }
    if (this.drain(true)) {
      this.fitLossAxis(false);
      this.drawOverlay();
      this.stats.frames += 1;
      if (this.stats.frames % 15 === 0) this.showStats();
    }
  };

  Player.prototype.legend = function () {
    this.runs.forEach(function (r) {
      var row = this.view.querySelector('tr[data-run="' + r.index + '"]');
      if (!row) return;
      if (r.last) {
        text(row.querySelector('[data-cell="t"]'), String(r.last[0]));
        text(row.querySelector('[data-cell="x"]'), window.Lens.formatNumber(r.last[1]));
        text(row.querySelector('[data-cell="y"]'), window.Lens.formatNumber(r.last[2]));
        text(row.querySelector('[data-cell="f"]'), window.Lens.formatNumber(r.last[3]));
      }
      var status = row.querySelector('[data-cell="status"]');
      if (r.stopped) text(status, "stopped at step " + r.stopped.t + ": " + r.stopped.reason);
      else text(status, this.have >= this.n ? "reached N" : this.mode === "playing" ? "running" : "—");
    }, this);
  };

  Player.prototype.markStopped = function (s) {
    var r = this.runs[s.run - 1];
    if (r && !r.stopped) r.stopped = s;
  };

  // The loss axis follows the losses while playing (at most every RANGE_MS: a relayout redraws the plot).
  var RANGE_MS = 1500;
  Player.prototype.fitLossAxis = function (force) {
    var gd = this.lossPlot;
    if (!window.Plotly || !gd || !gd._fullLayout || !gd._fullLayout.yaxis) return;
    var lo = Infinity, hi = -Infinity;
    this.runs.forEach(function (r) {
      r.lossPending.forEach(function (p) { if (isFinite(p[1])) { lo = Math.min(lo, p[1]); hi = Math.max(hi, p[1]); } });
    });
    if (!isFinite(lo)) return;
    var ya = gd._fullLayout.yaxis, log = ya.type === "log";
    if (log) { lo = lo > 0 ? Math.log10(lo) : NaN; hi = hi > 0 ? Math.log10(hi) : NaN; if (!isFinite(lo)) return; }
    var range = ya.range.slice();
    if (lo >= range[0] && hi <= range[1]) return;
    var now = performance.now();
    if (!force && now - (this.lastRange || 0) < RANGE_MS) return;
    this.lastRange = now;
    var pad = 0.05 * (Math.max(hi, range[1]) - Math.min(lo, range[0]) || 1);
    window.Plotly.relayout(gd, { "yaxis.range": [Math.min(lo, range[0]) - pad, Math.max(hi, range[1]) + pad] });
  };

  Player.prototype.drawOverlay = function () {
    var colours = this.runs.map(function (r) { return r.colour; });
    if (!this.overlay) this.overlay = new window.OptimOverlay(this.plot, colours, "optim-path");
    if (!this.lossOverlay && this.lossPlot) this.lossOverlay = new window.OptimOverlay(this.lossPlot, colours, "optim-loss");
    this.overlay.draw(this.runs.map(function (r) { return r.pending; }),
                      this.runs.map(function (r) { return r.trace; }));
    if (this.lossOverlay) {
      this.lossOverlay.draw(this.runs.map(function (r) { return r.lossPending; }),
                            this.runs.map(function (r) { return r.lossTrace; }));
    }
  };

  // Hand every pending point to plotly (one extendTraces per plot), then clear the overlay.
  Player.prototype.sync = function () {
    var gd = this.plot;
    if (!window.Plotly || !gd || !gd.data) return;
    var update = { x: [], y: [], customdata: [] }, traces = [];
    this.runs.forEach(function (r) {
      if (!r.pending.length) return;
      traces.push(r.trace);
      update.x.push(r.pending.map(function (p) { return p[0]; }));
      update.y.push(r.pending.map(function (p) { return p[1]; }));
      update.customdata.push(r.pending.map(function (p) { return [p[2], p[3]]; }));
      r.pending = [];
    });
    if (traces.length) window.Plotly.extendTraces(gd, update, traces);
    this.syncLoss();
    this.drawOverlay();
  };

  Player.prototype.syncLoss = function () {
    var gd = this.lossPlot;
    if (!window.Plotly || !gd || !gd.data) return;
    var update = { x: [], y: [] }, traces = [];
    this.runs.forEach(function (r) {
      if (!r.lossPending.length) return;
      traces.push(r.lossTrace);
      update.x.push(r.lossPending.map(function (p) { return p[0]; }));
      update.y.push(r.lossPending.map(function (p) { return p[1]; }));
      r.lossPending = [];
    });
    if (traces.length) {
      window.Plotly.extendTraces(gd, update, traces);
      if (gd.layout.yaxis && gd.layout.yaxis.autorange === false) window.Plotly.relayout(gd, { "yaxis.autorange": true });
    }
  };

  // --- what the buttons do ---
  Player.prototype.ready = function () {
    var gd = this.plot;
    showFigure(gd);
    if (this.lossPlot) showFigure(this.lossPlot);
    var ensure = window.Lens && window.Lens.ensurePlotly ? window.Lens.ensurePlotly() : Promise.resolve();
    return ensure.then(function () {
      return new Promise(function (resolve) {
        var tries = 0;
        (function check() {
          if ((gd.data && gd._fullLayout && gd._fullLayout.xaxis) || tries++ > 300) resolve();
          else requestAnimationFrame(check);
        })();
      });
    });
  };

  Player.prototype.play = function () {
    if (this.ended() || this.mode === "playing") return;
    var self = this;
    this.setMode("playing");
    this.stats.received = 0;
    this.stats.frames = 0;
    this.stats.first = 0;
    this.stats.started = performance.now();
    this.ready().then(function () { if (self.mode === "playing") self.open(null); });
  };

  Player.prototype.pause = function () {
    if (this.mode !== "playing") return;
    this.close();
    this.drain();
    this.sync();
    this.setMode(this.ended() ? "done" : "paused");
    this.showStats();
    this.saveLink();
  };

  Player.prototype.step = function () {
    if (this.mode === "playing") this.pause();
    if (this.ended() || this.mode === "stepping") return;
    var self = this;
    this.setMode("stepping");
    this.ready().then(function () { self.open(self.have + 1); });
  };

  Player.prototype.stop = function () { // the view is leaving: no more events, no more frames
    this.close();
    if (this.raf) { cancelAnimationFrame(this.raf); this.raf = 0; }
    this.mode = "paused";
  };

  Player.prototype.rates = function () {
    var s = this.stats;
    var span = (s.last - s.first) / 1000;
    var elapsed = ((this.mode === "playing" ? performance.now() : s.last) - s.started) / 1000;
    return {
      received: s.received, frames: s.frames, duplicates: s.duplicates, gaps: s.gaps, reconnects: s.reconnects,
      stepsPerSecond: span > 0 ? (s.received - 1) / span : 0,
      framesPerSecond: elapsed > 0 ? s.frames / elapsed : 0,
      have: this.have, mode: this.mode,
    };
  };

  Player.prototype.showStats = function (message) {
    var el = this.view.querySelector("[data-surface-stats]");
    if (!el) return;
    if (message) { text(el, message); return; }
    var r = this.rates();
    if (!r.received) { text(el, ""); return; }
    text(el, "received " + r.stepsPerSecond.toFixed(0) + " steps/s · drew " + r.framesPerSecond.toFixed(0) +
      " frames/s" + (r.duplicates ? " · " + r.duplicates + " duplicates dropped" : "") +
      (r.gaps ? " · " + r.gaps + " gaps refilled" : ""));
  };

  // After a pause the step index moved: ask the server for the canonical link and put it in the address bar.
  Player.prototype.saveLink = function () {
    if (!this.form) return;
    this.recheck();
    fetch("/optim/link", { method: "POST", body: new FormData(this.form), headers: { "HX-Request": "true" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (answer) { if (answer && answer.url) history.replaceState(history.state, "", answer.url); })
      .catch(function () {});
  };

  // --- figures drawn when they come near the viewport ---
  // The lab's plots carry data-lazy-figure; as one scrolls within reach it becomes data-figure and
  // Lens draws it, so plotly.js (1.5 MB gzipped) loads only when a plot is about to be seen.
  function showFigure(el) {
    if (!el.hasAttribute("data-lazy-figure")) return;
    el.setAttribute("data-figure", el.getAttribute("data-lazy-figure"));
    el.removeAttribute("data-lazy-figure");
    if (window.Lens) window.Lens.renderFigure(el);
  }

  var observer = "IntersectionObserver" in window ? new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      if (entry.isIntersecting) { observer.unobserve(entry.target); showFigure(entry.target); }
    });
  }, { rootMargin: "400px 0px" }) : null;

  function observeWithin(root) {
    var found = Array.prototype.slice.call((root || document).querySelectorAll("[data-lazy-figure]"));
    if (root && root.matches && root.matches("[data-lazy-figure]")) found.push(root);
    found.forEach(function (el) { if (observer) observer.observe(el); else showFigure(el); });
  }

  // --- wiring ---
  function current() {
    var view = document.getElementById("surface-view");
    if (!view) { if (player) player.stop(); player = null; return null; }
    if (!player || player.view !== view) {
      if (player) player.stop();
      player = new Player(view);
    }
    return player;
  }

  document.addEventListener("click", function (ev) {
    var target = ev.target.closest && ev.target.closest("[data-surface-play], [data-surface-step]");
    if (!target) return;
    var p = current();
    if (!p) return;
    if (target.hasAttribute("data-surface-play")) { if (p.mode === "playing") p.pause(); else p.play(); }
    else p.step();
  });

  document.addEventListener("keydown", function (ev) {
    var t = ev.target;
    if (ev.key !== " " || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    if (/^(INPUT|SELECT|TEXTAREA|BUTTON|A)$/.test(t.tagName) || t.isContentEditable) return;
    var p = current();
    if (!p || document.querySelector("[data-play]")) return;
    ev.preventDefault();
    if (p.mode === "playing") p.pause(); else p.play();
  });

  // A swap of the surface explorer (a changed setting, Reset) ends the old player first.
  document.addEventListener("htmx:beforeSwap", function (ev) {
    var target = ev.detail && ev.detail.target;
    if (player && target && (target.id === "surfaces" || target.contains(player.view))) player.stop();
  });
  document.addEventListener("htmx:afterSettle", function () { current(); });
  document.addEventListener("visibilitychange", function () { if (document.hidden && player) player.pause(); });
  window.addEventListener("pagehide", function () { if (player) player.stop(); });

  if (window.htmx) window.htmx.onLoad(observeWithin);
  else document.addEventListener("DOMContentLoaded", function () { observeWithin(document); });

  window.OptimLab = {
    stats: function () { var p = current(); return p ? p.rates() : null; },
    player: function () { return current(); },
  };
})();
