/* Backprop Lens — the network lab's page script (CSP-safe: no inline code, no eval).
 *
 *  - The drawing pad: 8×8 cells painted with the mouse or a finger (pointer events); the
 *    pixel values (0–16, like the digits) live in hidden inputs named "pad"; every stroke
 *    ends with a "change" event, which htmx turns into POST /network/predict. The pad predicts
 *    with the weights of the latest step training streamed (hidden input pad_trained, kept up
 *    to date here; asked again when a run pauses or ends), or after a step the visitor types.
 *  - The timeline's range input follows the operation the server shows after each swap.
 *  - Watch it train: an EventSource on /network/train/stream?<the page's link>&from=&speed=.
 *    Each "steps" event holds a chunk of steps (its id is the last step, so the browser's own
 *    reconnect resumes without gaps or duplicates). Every step's numbers go into decimated series
 *    (min and max per bucket of steps: ≤ 1,000 points a trace, no spike dropped) and the charts
 *    in view are drawn once per animation frame on a canvas over their plotly axes
 *    (static/js/live-chart.js): no plotly redraw per frame. Pause, Stop and the run's end hand
 *    plotly every point (hover, zoom). "done" ends the stream (finished, diverged or failed) and
 *    closes it. Pause closes the stream (the server stops at once); Resume opens a new one from
 *    the last step. The gradient-norm chart can be smoothed (an exponential moving average, as
 *    TensorBoard's): raw and smoothed series are both kept, so the toggle shows either.
 */
(function () {
  "use strict";

  // ------------------------------------------------------------------ the drawing pad
  var padMemory = null; // the pad's pixels, kept across swaps of the lab

  function padCells(pad) { return pad.querySelectorAll("[data-pad-cell]"); }
  function padInputs(pad) { return pad.querySelectorAll('input[name="pad"]'); }

  function paintCell(pad, i, value) {
    var inputs = padInputs(pad), cells = padCells(pad);
    inputs[i].value = String(value);
    var shade = Math.round(255 - (value / 16) * 235);
    cells[i].style.background = "rgb(" + shade + "," + shade + "," + shade + ")";
  }

  function padValues(pad) {
    return Array.prototype.map.call(padInputs(pad), function (el) { return Number(el.value) || 0; });
  }

  function restorePad(pad) {
    if (!padMemory) return;
    padMemory.forEach(function (v, i) { paintCell(pad, i, v); });
  }

  function brush(pad, index) {
    var values = padValues(pad);
    var r = Math.floor(index / 8), c = index % 8;
    [[0, 0, 9], [-1, 0, 3], [1, 0, 3], [0, -1, 3], [0, 1, 3]].forEach(function (d) {
      var rr = r + d[0], cc = c + d[1];
      if (rr < 0 || rr > 7 || cc < 0 || cc > 7) return;
      var k = rr * 8 + cc;
      paintCell(pad, k, Math.min(16, values[k] + d[2]));
    });
  }

  var drawing = null; // {pad, last}

  document.addEventListener("pointerdown", function (ev) {
    var pad = ev.target.closest && ev.target.closest("[data-pad]");
    if (!pad) return;
    ev.preventDefault();
    pad.setPointerCapture(ev.pointerId);
    drawing = { pad: pad, last: -1 };
    paintAt(ev);
  });

  function paintAt(ev) {
    if (!drawing) return;
    var el = document.elementFromPoint(ev.clientX, ev.clientY);
    var cell = el && el.closest && el.closest("[data-pad-cell]");
    if (!cell || !drawing.pad.contains(cell)) return;
    var index = Number(cell.getAttribute("data-pad-cell"));
    if (index === drawing.last) return;
    drawing.last = index;
    brush(drawing.pad, index);
  }

  document.addEventListener("pointermove", function (ev) { if (drawing) paintAt(ev); });

  function endStroke() {
    if (!drawing) return;
    var pad = drawing.pad;
    drawing = null;
    padMemory = padValues(pad);
    pad.dispatchEvent(new Event("change", { bubbles: true }));
  }

  document.addEventListener("pointerup", endStroke);
  document.addEventListener("pointercancel", endStroke);

  document.addEventListener("click", function (ev) {
    var clear = ev.target.closest && ev.target.closest("[data-pad-clear]");
    if (!clear) return;
    var pad = document.querySelector("[data-pad]");
    if (!pad) return;
    for (var i = 0; i < 64; i++) paintCell(pad, i, 0);
    padMemory = null;
    var out = document.getElementById("net-predict");
    if (out) out.innerHTML = '<p class="hint">Draw a digit.</p>';
  });

  // Typing a step chooses "after … steps".
  document.addEventListener("input", function (ev) {
    if (ev.target.id !== "pad-step") return;
    var radio = document.getElementById("pad-at-step");
    if (radio) radio.checked = true;
  });

  // The latest trained step, for the pad's "latest" weights.
  function padTrained(t) {
    var input = document.querySelector("[data-pad-trained]");
    if (input) input.value = String(t);
  }

  // Ask the pad again (a run paused or ended): only when a digit is drawn and it follows the latest weights.
  function repredict() {
    var pad = document.querySelector("[data-pad]");
    var latest = document.getElementById("pad-latest");
    if (!pad || !latest || !latest.checked || !padValues(pad).some(function (v) { return v > 0; })) return;
    pad.dispatchEvent(new Event("change", { bubbles: true }));
  }

  // ------------------------------------------------------------------ the timeline
  // The range and the ◀ ▶ buttons follow the operation shown: ◀ is off at the first one and ▶ at the last
  // (the server stops there too: no silent wrap round).
  function syncRange() {
    var step = document.getElementById("net-step");
    var range = document.getElementById("op-index");
    if (!step || !range) return;
    var index = Number(step.getAttribute("data-op-index"));
    var prev = document.querySelector('#results [data-step="prev"]');
    var next = document.querySelector('#results [data-step="next"]');
    if (prev) prev.disabled = index <= 0;
    if (next) next.disabled = index >= Number(range.max);
    if (range.parentElement) range.parentElement.setAttribute("data-position", String(index)); // steps.js reads it
    if (document.activeElement === range && range.matches(":active")) return; // being dragged
    range.value = String(index);
  }

  // ------------------------------------------------------------------ training
  var run = null; // the active run: {card, source, t, until, ...}

  function el(card, selector) { return card.querySelector(selector); }
  // a number's text written in place (LiveChart.setText: no whole-page style recalc per frame)
  var text = window.LiveChart.setText; // live-chart.js comes first on the page
  // the charts live in two cards (Watch it train, Inside the training): found in the page
  function chart(card, name) { return document.querySelector('[data-chart="' + name + '"]'); }

  function setButtons(card, state) {
    var enabled = {
      idle: ["start"], running: ["pause", "stop"], paused: ["start", "resume", "stop"], done: ["start"],
    }[state];
    card.querySelectorAll("[data-train-action]").forEach(function (b) {
      b.disabled = enabled.indexOf(b.getAttribute("data-train-action")) < 0;
    });
    card.setAttribute("data-train-state", state);
  }

  function status(card, message) { text(el(card, "[data-train-status]"), message); }

  // an accuracy to a tenth of a percent; a loss to 4 decimals, or its 3 significant digits below 0.001
  function pct(v) {
    return v === null || v === undefined ? "—" : window.Lens.formatNumber(100 * v, { decimals: 1 }) + " %";
  }

  function num(v) {
    if (Math.abs(v) < 0.001 && v !== 0) return window.Lens.formatNumber(v, 3);
    return window.Lens.formatNumber(v, { decimals: 4 });
  }

  function streamUrl(card, from) {
    var speed = el(card, "[data-train-speed]").value;
    var query = location.search.replace(/^\?/, "");
    return card.getAttribute("data-stream") + "?" + query + "&from=" + from + "&speed=" + speed;
  }

  function jumpUrl(card, t) {
    return card.getAttribute("data-jump") + "?" + location.search.replace(/^\?/, "") + "&to=" + t;
  }

  // --- the gradient-norm chart's smoothing: an exponential moving average of log ‖∇θ‖ over the steps, with
  // TensorBoard's debiasing (the first points are not pulled towards 0), weight 0.9 on the past. Both the raw
  // and the smoothed series are kept (decimated), so the toggle shows either.
  var SMOOTH = 0.9;

  function smoothed(h, p, y) {
    if (y === null || !(y > 0)) return null;
    h.acc[p] = SMOOTH * h.acc[p] + (1 - SMOOTH) * Math.log(y);
    h.n[p] += 1;
    return Math.exp(h.acc[p] / (1 - Math.pow(SMOOTH, h.n[p])));
  }

  function smoothing() {
    var box = document.querySelector('[data-smooth="gnorm"]');
    return !!(box && box.checked);
  }

  // the toggle: plotly is handed the other series (every point of it)
  document.addEventListener("change", function (ev) {
    if (!ev.target.matches || !ev.target.matches('[data-smooth="gnorm"]')) return;
    if (!run || !window.Plotly) return;
    var live = run.charts.gnorm, s = run.series;
    live.series = ev.target.checked ? s.smooth : s.gnorm;
    live.handOver();
  });

  // Every streamed number goes into a decimated series (min and max per bucket of steps, see live-chart.js):
  // at most 1,000 points a trace, and no spike dropped.
  function newSeries(layers, width) {
    var D = window.LiveChart.Decimator;
    var s = { loss: new D(width), trainLoss: new D(1), testLoss: new D(1), trainAcc: new D(1), testAcc: new D(1),
              gnorm: [], smooth: [], ratio: [], ema: { acc: {}, n: {} } };
    layers.forEach(function (p) {
      s.gnorm.push(new D(width)); s.smooth.push(new D(width)); s.ratio.push(new D(width));
      s.ema.acc[p] = 0; s.ema.n[p] = 0;
    });
    return s;
  }

  var CHARTS = ["loss", "acc", "gnorm", "ratio"];

  function liveCharts(card, s) {
    var C = window.LiveChart.Chart, out = {};
    var series = { loss: [s.loss, s.trainLoss, s.testLoss], acc: [s.trainAcc, s.testAcc],
                   gnorm: smoothing() ? s.smooth : s.gnorm, ratio: s.ratio };
    CHARTS.forEach(function (name) {
      var gd = chart(card, name);
      if (gd) out[name] = new C(gd, series[name]);
    });
    return out;
  }

  // Only the charts in view are drawn while training (the others catch up when they scroll in, and at the end).
  var inView = {};
  var watcher = "IntersectionObserver" in window ? new IntersectionObserver(function (entries) {
    entries.forEach(function (e) { inView[e.target.getAttribute("data-chart")] = e.isIntersecting; });
    if (run && run.source) schedule();
  }) : null;

  function watchCharts() {
    CHARTS.concat(["snap"]).forEach(function (name) {
      var gd = chart(null, name);
      if (!gd) return;
      if (watcher && !gd.__watched) { gd.__watched = true; watcher.observe(gd); }
      if (!watcher) inView[name] = true;
    });
  }

  function resetCharts(card) {
    CHARTS.concat(["snap"]).forEach(function (name) {
      var plot = chart(card, name);
      if (plot && plot.__live) plot.__live.reset();
      if (plot && window.Lens) window.Lens.renderFigure(plot);
    });
  }

  function open(card, from, fresh) {
    var layers = JSON.parse(card.getAttribute("data-layers") || "[]");
    var until = Number(card.getAttribute("data-until"));
    if (fresh || !run || run.card !== card) {
      if (run) close();
      if (fresh) resetCharts(card);
      var series = newSeries(layers, Number(card.getAttribute("data-bucket-steps")) || 1); // the server's buckets
      run = {
        card: card, t: from, until: until, layers: layers, series: series, charts: liveCharts(card, series),
        dirty: {}, snap: null, lastSnap: 0, frame: 0, renders: 0, renderTimes: [], drawMs: 0, received: 0,
        started: performance.now(), stepsAtStart: from, last: null,
      };
      watchCharts();
      el(card, "[data-train-diverged]").hidden = true;
      document.querySelectorAll(".net-layer.is-diverged").forEach(function (n) { n.classList.remove("is-diverged"); });
    }
    run.started = performance.now();
    run.stepsAtStart = run.t;
    var source = new EventSource(streamUrl(card, from));
    run.source = source;
    source.addEventListener("steps", onSteps);
    source.addEventListener("done", onDone);
    source.onerror = function () {
      if (!run || run.source !== source) return;
      if (source.readyState === EventSource.CLOSED) { // refused: reopen from the last step ourselves
        status(card, "Connection lost at step " + run.t + "; reconnecting…");
        setTimeout(function () { if (run && run.source === source && run.card.isConnected) open(card, run.t, false); }, 1000);
      } else {
        status(card, "Connection lost at step " + run.t + "; the browser is reconnecting…");
      }
    };
    setButtons(card, "running");
    status(card, "Training… (step " + run.t + " of " + until + ")");
    el(card, "[data-train-jump-wrap]").hidden = true;
  }

  function close() {
    if (run && run.source) { run.source.close(); run.source = null; }
    if (run && run.frame) { cancelAnimationFrame(run.frame); run.frame = 0; }
  }

  function schedule() { if (run && !run.frame) run.frame = requestAnimationFrame(draw); }

  function onSteps(ev) {
    if (!run || ev.target !== run.source) return;
    if (!run.card.isConnected) { close(); run = null; return; }
    var d = JSON.parse(ev.data);
    var s = run.series, lastT = run.t;
    for (var i = 0; i < d.t.length; i++) {
      var t = d.t[i];
      if (t <= lastT) continue; // never twice
      run.lastLoss = d.loss[i];
      s.loss.push(t, d.loss[i]);
      for (var j = 0; j < run.layers.length; j++) {
        var p = run.layers[j];
        var g = d.gnorm[p] ? d.gnorm[p][i] : null, r = d.ratio[p] ? d.ratio[p][i] : null;
        var raw = g > 0 ? g : null;
        s.gnorm[j].push(t, raw);
        s.smooth[j].push(t, smoothed(s.ema, p, raw));
        s.ratio[j].push(t, r > 0 ? r : null);
      }
      lastT = t;
    }
    d.evals.forEach(function (e) {
      s.trainLoss.push(e.t, e.train_loss); s.testLoss.push(e.t, e.test_loss);
      s.trainAcc.push(e.t, e.train_acc); s.testAcc.push(e.t, e.test_acc);
      run.dirty.acc = true;
      run.last = e;
    });
    if (d.snap) run.snap = d.snap;
    run.t = lastT;
    run.received += 1;
    run.dirty.loss = run.dirty.gnorm = run.dirty.ratio = true;
    schedule();
  }

  // The filters' snapshot is a plotly heatmap (one restyle redraws it): at most once every SNAP_MS while training.
  var SNAP_MS = 1000;

  function drawSnap(force) {
    var snapPlot = chart(null, "snap");
    if (!run.snap || !snapPlot || !snapPlot.data) return false;
    if (!force && (inView.snap === false || performance.now() - run.lastSnap < SNAP_MS)) return false;
    window.Plotly.restyle(snapPlot, { z: [run.snap.filters, run.snap.maps] }, [0, 1]);
    var when = document.querySelector("[data-snap-when]");
    if (when && run.snap.t !== null) text(when, "(after " + run.snap.t + " steps)");
    run.snap = null;
    run.lastSnap = performance.now();
    return true;
  }

  // The numbers line and the status, at most every TEXT_MS while training (and at once on pause, stop and the end):
  // each write of text re-paints the page's root layer (~5 ms at load 4), the charts' canvases do not.
  var TEXT_MS = 250;

  function writeNumbers(card, now) {
    run.lastText = now;
    text(el(card, "[data-train-step]"), String(run.t));
    var label = document.querySelector("[data-pad-latest]");
    if (label) text(label, "(step " + run.t + ")");
    if (run.lastLoss !== undefined) text(el(card, "[data-train-loss]"), num(run.lastLoss));
    if (run.last) {
      text(el(card, "[data-train-acc]"), pct(run.last.train_acc));
      text(el(card, "[data-train-test]"), pct(run.last.test_acc));
    }
    var seconds = (now - run.started) / 1000;
    if (seconds > 0.2) text(el(card, "[data-train-rate]"), String(Math.round((run.t - run.stepsAtStart) / seconds)));
    while (run.renderTimes.length && now - run.renderTimes[0] > 1000) run.renderTimes.shift();
    text(el(card, "[data-train-fps]"), String(run.renderTimes.length));
    if (run.source) status(card, "Training… step " + run.t + " of " + run.until + ".");
  }

  // One frame: the charts in view that have new points are drawn on their canvases (no plotly redraw). final:
  // plotly is handed every point of every chart (pause, stop, the end of the run).
  function draw(final) {
    if (!run) return;
    run.frame = 0;
    var card = run.card;
    if (!window.Plotly || !window.LiveChart) return;
    var began = performance.now(), drew = false;
    CHARTS.forEach(function (name) {
      var live = run.charts[name];
      if (!live) return;
      if (final === true) { live.handOver(); run.dirty[name] = false; drew = true; }
      else if (run.dirty[name] && inView[name] !== false && live.draw()) { run.dirty[name] = false; drew = true; }
    });
    if (drawSnap(final === true)) drew = true;
    var now = performance.now();
    padTrained(run.t); // the step the pad's "latest" weights are (its label: with the numbers)
    card.setAttribute("data-step", String(run.t));
    card.setAttribute("data-events", String(run.received));
    if (final === true || now - (run.lastText || 0) >= TEXT_MS) writeNumbers(card, now);
    if (!drew) return;
    // chart updates per second over the last second, and the main thread's time they took
    run.renders += 1;
    run.drawMs += now - began;
    run.renderTimes.push(now);
    while (run.renderTimes.length && now - run.renderTimes[0] > 1000) run.renderTimes.shift();
    card.setAttribute("data-renders", String(run.renders));
    card.setAttribute("data-draw-ms", (now - began).toFixed(1));
    card.setAttribute("data-draw-total-ms", run.drawMs.toFixed(1));
    if (run.snap && run.source) schedule(); // a snapshot still waiting for its turn
  }

  function onDone(ev) {
    if (!run || ev.target !== run.source) return;
    var d = JSON.parse(ev.data);
    var card = run.card;
    close();
    draw(true);
    setButtons(card, "done");
    card.setAttribute("data-done", d.reason);
    if (d.reason === "diverged") {
      var box = el(card, "[data-train-diverged]");
      box.textContent = "Diverged: " + d.message;
      box.hidden = false;
      if (d.path) {
        var row = document.querySelector('.net-layer[data-path="' + CSS.escape(d.path) + '"]');
        if (row) row.classList.add("is-diverged");
      }
      status(card, "Training stopped at step " + d.t + ": the numbers stopped being finite.");
    } else if (d.reason === "failed") {
      status(card, "Could not train: " + d.message);
    } else {
      status(card, "Done: " + d.message + (run.last ? " Test accuracy " + pct(run.last.test_acc) + "." : ""));
    }
    offerJump(card, run.t);
    repredict();
  }

  function offerJump(card, t) {
    var link = el(card, "[data-train-jump]");
    link.href = jumpUrl(card, t);
    link.textContent = "Step through step " + (t + 1) + " (after " + t + " steps) ↓";
    el(card, "[data-train-jump-wrap]").hidden = false;
  }

  document.addEventListener("click", function (ev) {
    var button = ev.target.closest && ev.target.closest("[data-train-action]");
    if (!button) return;
    var card = button.closest("[data-train]");
    var action = button.getAttribute("data-train-action");
    if (action === "start") {
      open(card, 0, true);
    } else if (action === "pause" && run) {
      close();
      draw(true);
      setButtons(card, "paused");
      status(card, "Paused at step " + run.t + ". Resume continues from there; the server does no work meanwhile.");
      offerJump(card, run.t);
      repredict();
    } else if (action === "resume" && run) {
      open(card, run.t, false);
    } else if (action === "stop" && run) {
      close();
      draw(true);
      setButtons(card, "idle");
      status(card, "Stopped at step " + run.t + ". Start trains again from step 0.");
      offerJump(card, run.t);
      repredict();
    }
  });

  document.addEventListener("change", function (ev) {
    var speed = ev.target.closest && ev.target.closest("[data-train-speed]");
    if (!speed || !run || !run.source) return;
    var card = run.card;
    close();
    open(card, run.t, false); // the same run, from the same step, at the new pace
  });

  // a swap that replaces the training card ends its stream
  document.addEventListener("htmx:beforeSwap", function (ev) {
    if (!run) return;
    var target = ev.detail && ev.detail.target;
    if (target && target.contains(run.card)) { close(); run = null; }
  });

  // An edit of the typed data is another training run: its cards are patched in place (hx-swap-oob="patch"), their
  // text, buttons and settings as the server wrote them, their charts (whose specs did not change) kept as drawn.
  // A run that drew into them is over: before the patch, its stream is closed and its curves and canvases cleared
  // (the charts drawn again from their empty specs), so that the patch finds the cards as the server writes them.
  document.addEventListener("htmx:oobBeforeSwap", function (ev) {
    if (!run || !ev.target.matches || !ev.target.matches("#net-train, #net-inside")) return;
    var card = run.card;
    close();
    run = null;
    resetCharts(card);
  });

  window.addEventListener("pagehide", function () { close(); });

  document.addEventListener("htmx:afterSwap", function () {
    syncRange();
    var pad = document.querySelector("[data-pad]");
    if (pad) restorePad(pad);
  });

  window.NetworkLab = { get run() { return run; } };
})();
