/* Decks of live slides: the projected window (/deck) and the speaker view (/deck/speaker).
 *
 * The slide shown is a lab page in a frame (same origin, embed=1&present=1). PageDown / → / Space first asks the
 * frame's Lens.advance(+1) to step what is in view (a stepper, a stage); when it answers false (its end, nothing
 * in view) or the frame has no Lens.advance, the deck goes to the next slide. PageUp / ← likewise backwards. A
 * frame's keydown does not reach this document, so the same handler listens inside each frame once it loads.
 * The slide shown is in the address bar (at=k, replaceState). While a slide is shown, the next one loads in a
 * second, unseen frame of the same size, so the clicker's next slide is there at once.
 *
 * Two windows of one deck (the projected one and the speaker view) keep in step through a BroadcastChannel named
 * after the deck: a slide change is announced ({type: "at"}), a step inside a slide too ({type: "advance"}); a key
 * pressed in the speaker view is sent to the projected window ({type: "key"}), which decides — it has the frame
 * the class sees. Without a projected window the speaker view steps on its own. Nothing is kept on the server.
 */
(function () {
  "use strict";

  const root = document.querySelector("[data-deck]");
  if (!root) return;

  const role = root.dataset.role; // "deck" (projected) | "speaker"
  const slides = JSON.parse(root.dataset.slides);
  const deckQuery = root.dataset.deckQuery;
  let frame = root.querySelector("[data-deck-frame]"); // the slide shown
  let spare = root.querySelector("[data-deck-spare]"); // the projected window's next slide, loading unseen
  const problem = root.querySelector("[data-deck-problem]");
  const $ = (sel) => root.querySelector(sel);
  let at = Number(root.dataset.at) || 1;
  let frameLoaded = null; // a promise resolved when the frame's current document has loaded

  const NEXT = new Set(["PageDown", "ArrowRight", " ", "Spacebar"]);
  const PREV = new Set(["PageUp", "ArrowLeft"]);
  const PEER = role === "deck" ? "speaker" : "deck";

  /* ------------------------------------------------------------ the frame */

  function load(el, src) { // el opens src; el.loaded resolves when it has
    el.loaded = new Promise((resolve) => {
      const done = () => { el.removeEventListener("load", done); resolve(); };
      el.addEventListener("load", done);
      setTimeout(resolve, 15000); // a frame that never loads does not stop the deck
    });
    el.setAttribute("src", src);
    return el.loaded;
  }

  [frame, spare].forEach((el) => { // every document a frame loads (a preset clicked in it too)
    if (el) el.addEventListener("load", () => listenInFrame(el));
  });

  function listenInFrame(el) {
    try {
      const win = el.contentWindow;
      if (win && !win.__lensDeckKeys) {
        win.__lensDeckKeys = true;
        win.addEventListener("keydown", onKey, true); // capture: before the lab's own keys
      }
    } catch (err) { /* not same origin: its keys stay its own */ }
  }

  async function advanceFrame(dir) {
    const slide = slides[at - 1];
    if (!slide.src || frame.hidden) return false;
    if (frameLoaded) await frameLoaded;
    let lens;
    try { lens = frame.contentWindow && frame.contentWindow.Lens; } catch (err) { return false; }
    if (!lens || typeof lens.advance !== "function") return false;
    try { return Boolean(await lens.advance(dir)); } catch (err) { return false; }
  }

  /* ------------------------------------------------------------ showing a slide */

  function open(src) { // the frame opens src; the same document at another section only scrolls
    const target = new URL(src, location.href);
    let here = null;
    try { here = frame.hidden ? null : new URL(frame.contentWindow.location.href); } catch (err) { here = null; }
    if (here && target.hash && here.href.split("#")[0] === target.href.split("#")[0]) {
      const section = frame.contentWindow.document.getElementById(decodeURIComponent(target.hash.slice(1)));
      if (section) section.scrollIntoView();
      frameLoaded = Promise.resolve();
      return;
    }
    frameLoaded = load(frame, src);
  }

  function swap() { // the spare frame, which holds the slide asked for, is shown; the other becomes the spare
    [frame, spare] = [spare, frame];
    frame.setAttribute("data-deck-frame", "");
    frame.removeAttribute("data-deck-spare");
    frame.removeAttribute("aria-hidden");
    frame.removeAttribute("tabindex");
    spare.setAttribute("data-deck-spare", "");
    spare.removeAttribute("data-deck-frame");
    spare.setAttribute("aria-hidden", "true");
    spare.setAttribute("tabindex", "-1");
    spare.hidden = false;
    frameLoaded = frame.loaded || Promise.resolve();
  }

  function preloadNext() { // once the slide shown has loaded, the next one loads in the spare frame
    if (!spare) return;
    const shownAt = at;
    Promise.resolve(frameLoaded).then(() => {
      const next = slides[shownAt];
      if (shownAt !== at || !next || !next.src || spare.getAttribute("src") === next.src) return;
      if (next.src.split("#")[0] === (frame.getAttribute("src") || "").split("#")[0]) return; // same page
      load(spare, next.src);
    });
  }

  function label(slide) {
    return slide.title || "Slide " + slide.number;
  }

  function deckUrl(k) {
    return location.pathname + "?" + deckQuery + (k > 1 ? "&at=" + k : "");
  }

  function show(k, announce) {
    k = Math.min(Math.max(1, k), slides.length);
    const slide = slides[k - 1];
    const changed = k !== at;
    at = k;
    if (slide.src) {
      problem.hidden = true;
      if (changed || frame.getAttribute("src") !== slide.src) {
        if (spare && spare.getAttribute("src") === slide.src) swap(); // loaded while the last slide was shown
        else { frame.hidden = false; open(slide.src); }
      }
      frame.hidden = false;
      frame.title = slide.Name;
    } else {
      frame.hidden = true;
      frame.setAttribute("src", "about:blank");
      frameLoaded = null;
      problem.hidden = false;
      $("[data-deck-problem-name]").textContent = slide.Name + " does not open";
      $("[data-deck-problem-text]").textContent = slide.problem;
      const link = $("[data-deck-problem-link]");
      if (link) link.textContent = slide.link;
    }
    $("[data-deck-title]").textContent = label(slide);
    $("[data-deck-title]").title = label(slide);
    $("[data-deck-count]").textContent = "slide " + at + " of " + slides.length;
    document.title = document.title.replace(/^(Speaker view — )?.*? — /, (m, sv) => (sv || "") + label(slide) + " — ");
    root.querySelectorAll("[data-deck-at]").forEach((a) => {
      if (Number(a.dataset.deckAt) === at) a.setAttribute("aria-current", "true");
      else a.removeAttribute("aria-current");
    });
    root.querySelectorAll("[data-deck-go]").forEach((a) => {
      const target = at + Number(a.dataset.deckGo);
      a.href = deckUrl(Math.min(Math.max(1, target), slides.length));
      a.setAttribute("aria-disabled", String(target < 1 || target > slides.length));
    });
    if (role === "speaker") showSpeaker(slide);
    if (slide.src) preloadNext();
    history.replaceState(history.state, "", deckUrl(at));
    root.dataset.at = String(at);
    if (announce) post({ type: "at", at });
  }

  function showSpeaker(slide) {
    $("[data-deck-notes]").textContent = slide.note || "No note for this slide.";
    const next = slides[at];
    const box = $("[data-deck-next]");
    box.replaceChildren();
    const title = document.createElement("p");
    title.className = "deck-next__title";
    title.textContent = next ? next.number + ". " + (next.title || next.lab || "slide") : "End of the deck";
    box.append(title);
    if (next) {
      const lab = document.createElement("p");
      lab.className = "deck-next__lab";
      if (next.frame) {
        const a = document.createElement("a");
        a.href = next.frame;
        a.target = "_blank";
        a.rel = "noopener";
        a.title = "Open this slide's lab in a new tab";
        a.textContent = "/" + next.lab;
        lab.append(a);
      } else {
        lab.textContent = "/" + (next.lab || "?") + " — does not open";
      }
      box.append(lab);
    }
  }

  /* ------------------------------------------------------------ stepping */

  let queue = Promise.resolve();

  function step(dir) {
    queue = queue.then(async () => {
      if (await advanceFrame(dir)) {
        post({ type: "advance", dir, at });
        return;
      }
      const k = at + dir;
      if (k >= 1 && k <= slides.length) show(k, true);
    });
    return queue;
  }

  function onKey(event) {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    const dir = NEXT.has(event.key) ? 1 : PREV.has(event.key) ? -1 : 0;
    if (!dir) return;
    const target = event.target;
    const inside = (sel) => target && typeof target.closest === "function" && target.closest(sel);
    const paging = event.key === "PageDown" || event.key === "PageUp";
    if (inside("textarea, select")) return;
    if (!paging && inside("input, [contenteditable]")) return; // typing: arrows and space are the cell's
    if (event.key.startsWith(" ") || event.key === "Spacebar") {
      if (inside("button, a, summary")) return; // space activates what has the focus
    }
    event.preventDefault();
    event.stopImmediatePropagation();
    if (role === "speaker" && peerAlive()) post({ type: "key", dir });
    else step(dir);
  }

  /* ------------------------------------------------------------ the other window */

  const channel = "BroadcastChannel" in window ? new BroadcastChannel("lens-deck:" + deckQuery) : null;
  let peerSeen = false;

  function post(message) {
    if (channel) channel.postMessage({ ...message, role });
  }

  function peerAlive() {
    return peerSeen;
  }

  function setPeer(alive) {
    peerSeen = alive;
    const status = $("[data-deck-peer]");
    if (status) {
      status.textContent = alive ? "In step with the projected window" :
        "No projected window: this view steps on its own";
      status.classList.toggle("is-live", alive);
    }
  }

  if (channel) {
    channel.addEventListener("message", (event) => {
      const msg = event.data || {};
      if (msg.role !== PEER) return;
      if (msg.type === "bye") { setPeer(false); return; }
      setPeer(true);
      if (msg.type === "hello") post({ type: "here", at });
      else if (msg.type === "here" && role === "speaker") show(msg.at, false);
      else if (msg.type === "at") show(msg.at, false);
      else if (msg.type === "key" && role === "deck") step(msg.dir);
      else if (msg.type === "advance" && msg.at === at) {
        queue = queue.then(() => advanceFrame(msg.dir)); // mirror the step (its answer is the other window's)
      }
    });
    window.addEventListener("pagehide", () => post({ type: "bye" }));
    post({ type: "hello", at });
  }
  if (role === "speaker") setPeer(false);

  /* ------------------------------------------------------------ controls */

  document.addEventListener("keydown", onKey, true);
  document.addEventListener("keydown", (event) => { // Esc closes the slide list
    const list = root.querySelector("[data-deck-list][open]");
    if (event.key === "Escape" && list) { list.open = false; list.querySelector("summary").focus(); }
  });
  document.addEventListener("click", (event) => { // so does a click anywhere else
    const list = root.querySelector("[data-deck-list][open]");
    if (list && !list.contains(event.target)) list.open = false;
  });
  root.addEventListener("click", (event) => {
    const go = event.target.closest("[data-deck-go]");
    const jump = event.target.closest("[data-deck-at]");
    if (go || jump) {
      event.preventDefault();
      show(go ? at + Number(go.dataset.deckGo) : Number(jump.dataset.deckAt), true);
      const list = jump && jump.closest("details");
      if (list) list.open = false;
      return;
    }
    if (event.target.closest("[data-deck-speaker]")) {
      window.open("/deck/speaker?" + deckQuery + (at > 1 ? "&at=" + at : ""), "lens-speaker", "popup,width=1280,height=760");
    } else if (event.target.closest("[data-deck-fullscreen]")) {
      if (document.fullscreenElement) document.exitFullscreen();
      else if (document.documentElement.requestFullscreen) document.documentElement.requestFullscreen().catch(() => {});
    } else if (event.target.closest("[data-deck-restart]")) {
      startedAt = Date.now();
      sessionStorage.setItem(clockKey, String(startedAt));
      tick();
    }
  });

  /* ------------------------------------------------------------ the speaker's clock */

  const clockKey = "lens-deck-started:" + deckQuery;
  let startedAt = Number(sessionStorage.getItem(clockKey)) || Date.now();

  function tick() {
    const clock = $("[data-deck-clock]");
    if (!clock) return;
    const now = new Date();
    clock.textContent = now.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    const seconds = Math.max(0, Math.floor((Date.now() - startedAt) / 1000));
    const h = Math.floor(seconds / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = String(seconds % 60).padStart(2, "0");
    $("[data-deck-elapsed]").textContent = h ? h + ":" + String(m).padStart(2, "0") + ":" + s : m + ":" + s;
  }

  if (role === "speaker") {
    sessionStorage.setItem(clockKey, String(startedAt));
    tick();
    setInterval(tick, 1000);
  }

  /* ------------------------------------------------------------ start */

  if (slides[at - 1].src) {
    let ready = false;
    try {
      const doc = frame.contentDocument;
      ready = Boolean(doc) && doc.readyState === "complete" && doc.URL !== "about:blank";
    } catch (err) { ready = false; }
    if (ready) {
      listenInFrame(frame);
      frameLoaded = frame.loaded = Promise.resolve();
    } else {
      frameLoaded = frame.loaded = new Promise((resolve) => {
        const done = () => { frame.removeEventListener("load", done); resolve(); };
        frame.addEventListener("load", done);
        setTimeout(resolve, 15000);
      });
    }
    preloadNext();
  }
  history.replaceState(history.state, "", deckUrl(at));
  // for tests and the console: settled() resolves when every queued step is done and the frame has loaded
  window.Deck = { step, show: (k) => show(k, true), at: () => at, slides: slides.length,
                  settled: () => queue.then(() => frameLoaded) };
})();
