/* Backprop Lens: a stepper's next answer is asked for before its key is pressed (issue 12, target 1).
 *
 * A step (→ on the network's operations, Next on a lab's windows) posts the form to the server and patches the
 * answer in. In a traced network step the page waited ~14 ms of ~48 for the answer, then spent 5-11 ms parsing it
 * before the frame. Once a step is drawn, the page is idle until the next key, so the steps either side are asked
 * for then:
 * the request htmx would send for the stepper's Next and Prev buttons, made as htmx makes it (its own functions,
 * and htmx:configRequest said to the page's scripts, which add Lens-Have, a quiz's cells, a benchmark's headers),
 * and sent with fetch. When the key comes and htmx sends its request, an answer asked for with the SAME request —
 * path, every form value and every header but HX-Current-URL (the address bar follows an edit later, address.js)
 * — is handed to htmx as that request's answer: htmx handles it as it would have (the swap, the settle, every
 * event). An answer still on its way is waited for rather than asked for twice. Anything else — another value
 * typed since, another stepper, an answer that is not a 200 — goes to the server as always: the answer used is
 * always the one the server gives to that request (the server keeps no state, so the same request has the same
 * answer).
 *
 * Asked for: after a step settles, the next position in the direction of travel, then the other; and the next one
 * of a stepper when it becomes the one the keys drive (steps.js, lens:driven), once typing pauses and with no
 * cell focused, so a first → is fast too. Not after an edit of a cell: typing is not stepping, and would double the
 * server's work (and an edit changes the form that every step's request carries). At most KEEP answers are
 * kept, the oldest dropped (and its request cancelled) as a new one is asked for; one that no longer matches the
 * page (a cell typed since) is simply never used. The one in the direction of travel is parsed ahead too (below).
 * Lens.parseAhead = false: an answer handed over is parsed by htmx as it is handed over (the A/B of the parse ahead).
 * Lens.prefetch = false: no answer asked for ahead is used (they are still asked for, so that an A/B alternating
 * it key by key in one page, bench.web --alternate, puts the same work on the server either way).
 */
(function () {
  "use strict";

  var KEEP = 2; // answers kept: the stepper's two neighbours
  var api = null; // htmx's internal API (the extension's init)
  var answers = []; // {key, answer: Promise<{status, statusText, url, headers, text} | null>, abort, doc}
  var handing = null; // {html, doc}: the answer being handed over, parsed ahead as htmx will ask for it (below)

  // --- a request as htmx would send it (htmx.js issueAjaxRequest, up to htmx:configRequest) ---
  function keyOf(verb, path, formData, headers) {
    var names = Object.keys(headers).filter(function (n) {
      return headers[n] != null && n.toLowerCase() !== "hx-current-url";
    }).sort();
    var values = [];
    formData.forEach(function (value, name) { values.push([name, String(value)]); });
    return JSON.stringify([verb, path, names.map(function (n) { return [n.toLowerCase(), String(headers[n])]; }),
      values]);
  }

  function parametersOf(formData) { // what a script may set on detail.parameters (quiz.js sets its cells)
    return new Proxy(formData, {
      get: function (target, name) {
        if (typeof name !== "string") return undefined;
        var all = target.getAll(name);
        return all.length === 0 ? undefined : all.length === 1 ? all[0] : all;
      },
      set: function (target, name, value) {
        target.delete(name);
        (Array.isArray(value) ? value : [value]).forEach(function (v) { target.append(name, v); });
        return true;
      },
    });
  }

  function requestOf(elt) {
    var path = elt.getAttribute("hx-post");
    var target = path && api.getTarget(elt);
    if (!target || elt.disabled) return null;
    var headers = api.getHeaders(elt, target);
    if (api.getClosestAttributeValue(elt, "hx-encoding") === "multipart/form-data") return null;
    headers["Content-Type"] = "application/x-www-form-urlencoded";
    var values = api.getInputValues(elt, "post");
    if (values.errors && values.errors.length) return null;
    var formData = values.formData;
    var vars = api.getExpressionVars(elt);
    Object.keys(vars).forEach(function (name) { formData.delete(name); });
    Object.keys(vars).forEach(function (name) {
      var v = vars[name];
      formData.append(name, typeof v === "object" && v !== null ? JSON.stringify(v) : v);
    });
    formData = api.filterValues(formData, elt);
    var detail = { formData: formData, parameters: parametersOf(formData), headers: headers, elt: elt,
      target: target, verb: "post", path: path, errors: [], triggeringEvent: null };
    if (!api.triggerEvent(elt, "htmx:configRequest", detail)) return null;
    if (detail.errors && detail.errors.length) return null;
    return { path: detail.path, headers: detail.headers, formData: formData,
      key: keyOf("post", detail.path, formData, detail.headers) };
  }

  // --- asking ahead ---
  function ask(elt) {
    var req = requestOf(elt);
    if (!req || answers.some(function (a) { return a.key === req.key; })) return null;
    var body = new URLSearchParams();
    req.formData.forEach(function (value, name) { body.append(name, String(value)); });
    var headers = {};
    Object.keys(req.headers).forEach(function (n) { if (req.headers[n] != null) headers[n] = String(req.headers[n]); });
    var abort = new AbortController();
    var answer = fetch(req.path, { method: "POST", headers: headers, body: body, credentials: "same-origin",
      signal: abort.signal }).then(function (r) {
      if (r.status !== 200) return null;
      return r.text().then(function (text) {
        return { status: r.status, statusText: r.statusText, url: r.url, headers: r.headers, text: text };
      });
    }).catch(function () { return null; });
    var entry = { key: req.key, answer: answer, abort: abort, doc: null };
    answers.push(entry);
    while (answers.length > KEEP) answers.shift().abort.abort();
    return entry;
  }

  // The answer the next key most likely asks for is parsed too, when the page is idle: htmx parses an answer into
  // a document (a fragment wrapped in a template, htmx.js makeFragment) between the key and the frame that shows it,
  // 5-11 ms of a network step's. Handed over, that document is what htmx's parse returns for the same text.
  var WRAP = ['<body><template class="internal-htmx-wrapper">', "</template></body>"]; // htmx 2.0's, for a fragment
  function parseAhead(entry) {
    entry.answer.then(function (got) {
      if (got) soon(function () { if (answers.indexOf(entry) >= 0) entry.doc = parse(WRAP[0] + got.text + WRAP[1]); });
    });
  }
  var parse = null; // a document of an HTML text, as htmx.js parseHTML makes it
  if (typeof Document.parseHTMLUnsafe === "function") {
    var own = Document.parseHTMLUnsafe;
    parse = function (html) { return own.call(Document, html); };
    Document.parseHTMLUnsafe = function (html) { // htmx.js parseHTML: an answer being handed over is parsed already
      var h = handing;
      if (h && typeof html === "string" && html.length === h.html.length && html === h.html) {
        handing = null;
        return h.doc;
      }
      return own.apply(Document, arguments);
    };
  } // else an older browser: htmx parses with DOMParser, each answer as it is handed over

  function neighbours(key, first) {
    if (!api || !window.Lens.stepperInView) return;
    var inView = window.Lens.stepperInView();
    if (!inView || inView.key !== key) return;
    var g = document.querySelector('[data-stepper="' + CSS.escape(key) + '"]');
    if (!g) return;
    var order = first === "prev" ? ["prev", "next"] : ["next", "prev"];
    var ahead = null;
    order.forEach(function (which) {
      var btn = g.querySelector('[data-step="' + which + '"][hx-post]');
      var entry = btn && !btn.disabled ? ask(btn) : null;
      if (entry && !ahead) ahead = entry;
    });
    if (ahead && parse) parseAhead(ahead);
  }

  // when the page is idle after this frame, not Lens.whenIdle's 300 ms after the last key: a → is a key, and the
  // next → may come sooner than that
  function soon(fn) {
    if (window.requestIdleCallback) window.requestIdleCallback(fn, { timeout: 100 });
    else setTimeout(fn, 0);
  }

  // --- the answer handed to htmx's request ---
  function take(key) {
    for (var i = 0; i < answers.length; i++) {
      if (answers[i].key === key) return answers.splice(i, 1)[0];
    }
    return null;
  }

  function answerWith(xhr, got, doc) {
    var props = { readyState: 4, status: got.status, statusText: got.statusText, response: got.text,
      responseText: got.text, responseURL: got.url };
    Object.keys(props).forEach(function (name) {
      Object.defineProperty(xhr, name, { value: props[name], configurable: true });
    });
    xhr.getResponseHeader = function (name) { return got.headers.get(name); };
    xhr.getAllResponseHeaders = function () {
      var all = "";
      got.headers.forEach(function (value, name) { all += name + ": " + value + "\r\n"; });
      return all;
    };
    handing = doc && window.Lens.parseAhead !== false ? { html: WRAP[0] + got.text + WRAP[1], doc: doc } : null;
    try {
      xhr.onload();
    } finally {
      handing = null;
    }
  }

  document.addEventListener("htmx:beforeSend", function (ev) {
    var d = ev.detail, xhr = d && d.xhr, config = d && d.requestConfig;
    if (window.Lens.prefetch === false || !xhr || !config || !answers.length || config.verb !== "post") return;
    var entry = take(keyOf("post", config.path, config.formData, config.headers));
    if (!entry) return;
    var send = xhr.send, abort = xhr.abort, aborted = false;
    xhr.abort = function () { // hx-sync replaced it before its answer was handed over
      aborted = true;
      xhr.abort = abort;
      abort.apply(xhr, arguments); // lens.js's mark (an abort is no error), then the XHR's own: unsent, it says nothing
      if (xhr.onabort) xhr.onabort(); // so htmx hears it here, as it would have
    };
    xhr.send = function (params) {
      entry.answer.then(function (got) {
        if (aborted) return;
        xhr.abort = abort;
        if (got) answerWith(xhr, got, entry.doc);
        else send.call(xhr, params); // no answer to hand over: the server's, as always
      });
    };
  });

  // --- when to ask ---
  // A step's stepper and direction, read as its request starts: by the time it settles the patch may have replaced
  // the button on its own (a lab's window stepper: its hx-vals name the next position), out of its group.
  var steps = new WeakMap(); // xhr -> {key, travel}
  document.addEventListener("htmx:beforeRequest", function (ev) {
    var elt = ev.detail && ev.detail.elt, xhr = ev.detail && ev.detail.xhr;
    var group = xhr && elt && elt.matches && elt.matches("[data-step]") && elt.closest("[data-stepper]");
    if (group) {
      steps.set(xhr, { key: group.getAttribute("data-stepper"),
        travel: elt.getAttribute("data-step") === "prev" ? "prev" : "next" });
    }
  });
  document.addEventListener("htmx:afterSettle", function (ev) {
    var step = ev.detail && ev.detail.xhr && steps.get(ev.detail.xhr);
    if (!step) return;
    soon(function () { neighbours(step.key, step.travel); }); // once the frame is drawn: whether it is in view is read then
  });
  // a stepper the keys drive now (scrolled to): once typing pauses, and only while the keys would step it — with a
  // cell focused they go to the cell, and an edit changes the form every step's request carries
  document.addEventListener("lens:driven", function (ev) {
    var key = ev.detail && ev.detail.key;
    if (!key) return;
    window.Lens.whenIdle(function () {
      if (!window.Lens.takesKeys(document.activeElement)) neighbours(key, "next");
    });
  });

  function define() {
    window.htmx.defineExtension("lens-prefetch", { init: function (internal) { api = internal; } });
  }
  if (window.htmx) define();
  else document.addEventListener("DOMContentLoaded", define);
})();
