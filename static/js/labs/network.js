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
 *    reconnect resumes without gaps or duplicates); points are queued and drawn at most once
 *    per animation frame (Plotly.extendTraces / restyle), so the page stays responsive at any
 *    speed. "done" ends the stream (finished, diverged or failed) and closes it. Pause closes
 *    the stream (the server stops at once); Resume opens a new one from the last step.
 *    The gradient-norm chart can be smoothed (an exponential moving average, as TensorBoard's):
 *    its raw points are kept, so the toggle redraws either.
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
    var label = document.querySelector("[data-pad-latest]");
    if (label) label.textContent = "(step " + t + ")";
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

  function status(card, text) { el(card, "[data-train-status]").textContent = text; }

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

  // --- the gradient-norm chart's smoothing: an exponential moving average of log ‖∇θ‖ with TensorBoard's
  // debiasing (the first points are not pulled towards 0), weight 0.9 on the past
  var SMOOTH = 0.9;

  function emptyHistory(layers) {
    var h = { x: [], raw: {}, smooth: {}, acc: {}, n: {} };
    layers.forEach(function (p) { h.raw[p] = []; h.smooth[p] = []; h.acc[p] = 0; h.n[p] = 0; });
    return h;
  }

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

  // the toggle: the whole chart redrawn from the kept points
  document.addEventListener("change", function (ev) {
    if (!ev.target.matches || !ev.target.matches('[data-smooth="gnorm"]')) return;
    if (!run || !window.Plotly) return;
    var plot = chart(run.card, "gnorm");
    if (!plot || !plot.data) return;
    var h = run.gnorm, which = ev.target.checked ? h.smooth : h.raw;
    var pendingGnorm = run.queue.gnorm;
    run.layers.forEach(function (p) { pendingGnorm[p] = { x: [], y: [] }; }); // drawn now, all of them
    window.Plotly.restyle(plot, {
      x: run.layers.map(function () { return h.x.slice(); }),
      y: run.layers.map(function (p) { return which[p].slice(); }),
    }, run.layers.map(function (_, i) { return i; }));
  });

  function emptyQueue(layers) {
    var q = { loss: { x: [], y: [] }, evals: [], accEvals: [], gnorm: {}, ratio: {}, snap: null, dirty: false };
    layers.forEach(function (p) { q.gnorm[p] = { x: [], y: [] }; q.ratio[p] = { x: [], y: [] }; });
    return q;
  }

  function resetCharts(card) {
    ["loss", "acc", "gnorm", "ratio"].forEach(function (name) {
      var plot = chart(card, name);
      if (plot && window.Lens) window.Lens.renderFigure(plot);
    });
  }

  function open(card, from, fresh) {
    var layers = JSON.parse(card.getAttribute("data-layers") || "[]");
    var until = Number(card.getAttribute("data-until"));
    if (fresh || !run || run.card !== card) {
      if (run) close();
      run = {
        card: card, t: from, until: until, layers: layers, queue: emptyQueue(layers), frame: 0,
        renders: 0, renderTimes: [], received: 0, started: performance.now(), stepsAtStart: from,
        every: Math.max(1, Math.ceil(until / 1000)), last: null, turn: 0,
        gnorm: emptyHistory(layers), // every gradient-norm point drawn: raw and smoothed, for the toggle
      };
      if (fresh) resetCharts(card);
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
    if (run && run.later) { clearTimeout(run.later); run.later = 0; }
  }

  function onSteps(ev) {
    if (!run || ev.target !== run.source) return;
    if (!run.card.isConnected) { close(); run = null; return; }
    var d = JSON.parse(ev.data);
    var q = run.queue;
    var lastT = run.t;
    for (var i = 0; i < d.t.length; i++) {
      var t = d.t[i];
      if (t <= lastT) continue; // never twice
      run.lastLoss = d.loss[i];
      if (t % run.every === 0 || t === run.until) { // at most ~1000 points a trace: redraws stay cheap
        q.loss.x.push(t); q.loss.y.push(d.loss[i]);
        var smooth = smoothing();
        run.gnorm.x.push(t);
        run.layers.forEach(function (p) {
          var g = d.gnorm[p] ? d.gnorm[p][i] : null, r = d.ratio[p] ? d.ratio[p][i] : null;
          var raw = g > 0 ? g : null, avg = smoothed(run.gnorm, p, raw);
          run.gnorm.raw[p].push(raw); run.gnorm.smooth[p].push(avg);
          q.gnorm[p].x.push(t); q.gnorm[p].y.push(smooth ? avg : raw);
          q.ratio[p].x.push(t); q.ratio[p].y.push(r > 0 ? r : null);
        });
      }
      lastT = t;
    }
    d.evals.forEach(function (e) { q.evals.push(e); q.accEvals.push(e); run.last = e; });
    if (d.snap) q.snap = d.snap;
    run.t = lastT;
    run.received += 1;
    q.dirty = true;
    if (!run.frame) run.frame = requestAnimationFrame(draw);
  }

  // Each frame redraws the loss chart (and the evaluation points on it); the other charts that have new
  // points take turns, ONE of them at most every SLOW_MS: every Plotly redraw re-lays out its axes (15 ms
  // on a quiet machine, 50–150 ms on a busy one), so frames stay short and the loss keeps up with the
  // stream; nothing is dropped, only queued to the chart's next turn (each is redrawn about once a second).
  var SLOW = ["acc", "gnorm", "ratio", "snap"];
  var SLOW_MS = 250;

  function pending(q, name) {
    if (name === "acc") return q.accEvals.length > 0;
    if (name === "snap") return q.snap !== null;
    return run.layers.length > 0 && q[name][run.layers[0]].x.length > 0;
  }

  function drawSlow(card, q, name, P, max) {
    if (name === "acc") {
      var ex = q.accEvals.map(function (e) { return e.t; });
      P.extendTraces(chart(card, "acc"), {
        x: [ex, ex], y: [q.accEvals.map(function (e) { return e.train_acc; }), q.accEvals.map(function (e) { return e.test_acc; })],
      }, [0, 1], max);
      q.accEvals = [];
    } else if (name === "snap") {
      var snapPlot = chart(card, "snap");
      if (snapPlot && snapPlot.data) {
        P.restyle(snapPlot, { z: [q.snap.filters, q.snap.maps] }, [0, 1]);
        var when = document.querySelector("[data-snap-when]");
        if (when && q.snap.t !== null) when.textContent = "(after " + q.snap.t + " steps)";
      }
      q.snap = null;
    } else {
      var idx = run.layers.map(function (_, i) { return i; });
      P.extendTraces(chart(card, name), {
        x: run.layers.map(function (p) { return q[name][p].x; }), y: run.layers.map(function (p) { return q[name][p].y; }),
      }, idx, max);
      run.layers.forEach(function (p) { q[name][p] = { x: [], y: [] }; });
    }
  }

  function draw(final) {
    if (!run) return;
    run.frame = 0;
    var card = run.card, q = run.queue;
    if (!q.dirty || !window.Plotly) return;
    var began = performance.now();
    var P = window.Plotly, max = 20000;
    var lossDrawn = q.loss.x.length > 0 || q.evals.length > 0;
    if (lossDrawn) {
      var ex = q.evals.map(function (e) { return e.t; });
      P.extendTraces(chart(card, "loss"), {
        x: [q.loss.x, ex, ex],
        y: [q.loss.y, q.evals.map(function (e) { return e.train_loss; }), q.evals.map(function (e) { return e.test_loss; })],
      }, [0, 1, 2], max);
      q.loss = { x: [], y: [] };
      q.evals = [];
    }
    // one other chart when its turn is due (at once when the loss had nothing new)
    var due = began - (run.lastSlow || 0) >= SLOW_MS;
    var turns = final === true ? SLOW.length : (due || !lossDrawn ? 1 : 0);
    for (var k = 0; k < SLOW.length && turns > 0; k++) {
      var name = SLOW[run.turn % SLOW.length];
      run.turn += 1;
      if (pending(q, name)) { drawSlow(card, q, name, P, max); turns -= 1; run.lastSlow = began; }
    }
    if (final === true) SLOW.forEach(function (n) { if (pending(q, n)) drawSlow(card, q, n, P, max); });
    q.dirty = SLOW.some(function (n) { return pending(q, n); });
    if (q.dirty && !run.frame && !run.later) { // the other charts' turns: when the next one is due
      var mine = run;
      mine.later = setTimeout(function () {
        mine.later = 0;
        if (run === mine && !mine.frame) mine.frame = requestAnimationFrame(draw);
      }, Math.max(0, SLOW_MS - (performance.now() - (mine.lastSlow || 0))));
    }
    // the numbers line, and the step the pad's "latest" weights are
    el(card, "[data-train-step]").textContent = String(run.t);
    padTrained(run.t);
    if (run.lastLoss !== undefined) el(card, "[data-train-loss]").textContent = num(run.lastLoss);
    if (run.last) {
      el(card, "[data-train-acc]").textContent = pct(run.last.train_acc);
      el(card, "[data-train-test]").textContent = pct(run.last.test_acc);
    }
    var seconds = (performance.now() - run.started) / 1000;
    if (seconds > 0.2) el(card, "[data-train-rate]").textContent = String(Math.round((run.t - run.stepsAtStart) / seconds));
    // display updates per second over the last second
    var now = performance.now();
    run.renders += 1;
    run.renderTimes.push(now);
    while (run.renderTimes.length && now - run.renderTimes[0] > 1000) run.renderTimes.shift();
    el(card, "[data-train-fps]").textContent = String(run.renderTimes.length);
    card.setAttribute("data-renders", String(run.renders));
    card.setAttribute("data-events", String(run.received));
    card.setAttribute("data-draw-ms", (now - began).toFixed(1));
    card.setAttribute("data-step", String(run.t));
    if (run.source) status(card, "Training… step " + run.t + " of " + run.until + ".");
  }

  function onDone(ev) {
    if (!run || ev.target !== run.source) return;
    var d = JSON.parse(ev.data);
    var card = run.card;
    close();
    run.queue.dirty = true;
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
      run.queue.dirty = true;
      draw(true);
      setButtons(card, "paused");
      status(card, "Paused at step " + run.t + ". Resume continues from there; the server does no work meanwhile.");
      offerJump(card, run.t);
      repredict();
    } else if (action === "resume" && run) {
      open(card, run.t, false);
    } else if (action === "stop" && run) {
      close();
      run.queue.dirty = true;
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

  window.addEventListener("pagehide", function () { close(); });

  document.addEventListener("htmx:afterSwap", function () {
    syncRange();
    var pad = document.querySelector("[data-pad]");
    if (pad) restorePad(pad);
  });

  window.NetworkLab = { get run() { return run; } };
})();
