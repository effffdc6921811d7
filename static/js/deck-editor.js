/* The deck in progress: "Add to deck" on every lab page, and the deck editor (/deck/edit).
 *
 * The deck being prepared is kept in this browser (localStorage "lens-deck": {slides: [{link, title, note}]}).
 * A lab page's Add to deck appends the view in the address bar (its whole state; present/embed left out: the deck
 * adds them) titled after the section in view. The editor reorders (buttons, Alt+↑/↓), retitles, notes and
 * removes slides; after each change it asks the server for the deck's link (POST /deck/link: the one link codec,
 * and each slide opened by its lab's own link reader, so a slide that does not open says why here already) and
 * keeps the editor's own address as /deck/edit?<deck>. Opening /deck/edit with a deck link edits that deck.
 */
(function () {
  "use strict";

  const KEY = "lens-deck";
  const DISPLAY = new Set(["present", "embed"]);

  function load() {
    try {
      const deck = JSON.parse(localStorage.getItem(KEY) || "null");
      if (deck && Array.isArray(deck.slides)) {
        return deck.slides.filter((s) => s && typeof s.link === "string").map((s) => ({
          link: s.link, title: String(s.title || ""), note: String(s.note || "") }));
      }
    } catch (err) { /* a damaged store is an empty deck */ }
    return [];
  }

  function save(slides) {
    try { localStorage.setItem(KEY, JSON.stringify({ slides })); } catch (err) { /* private mode: not kept */ }
  }

  /* ------------------------------------------------------------ Add to deck, on a lab page */

  function labLink() {
    const parts = location.search.replace(/^\?/, "").split("&").filter((part) => {
      const key = decodeURIComponent(part.split("=")[0].replace(/\+/g, " "));
      return part && !DISPLAY.has(key);
    });
    return location.pathname + (parts.length ? "?" + parts.join("&") : "");
  }

  function titleInView() {
    const line = window.innerHeight * 0.4;
    let best = null;
    document.querySelectorAll("main h2").forEach((h) => {
      const box = h.getBoundingClientRect();
      if (box.height && box.top <= line && (!best || box.top > best.getBoundingClientRect().top)) best = h;
    });
    const h1 = document.querySelector("main h1");
    const text = (best || h1 || document.createElement("i")).textContent.replace(/\s+/g, " ").trim();
    return text.slice(0, 80); // a heading's worth (a deck's titles may be longer: Settings.deck_max_title)
  }

  if (document.documentElement.classList.contains("is-embed")) { // a slide in a deck, or a lab in a course page
    document.querySelectorAll("[data-deck-add]").forEach((el) => { el.hidden = true; });
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-deck-add]");
    if (!button) return;
    const slides = load();
    slides.push({ link: labLink(), title: titleInView(), note: "" });
    save(slides);
    const label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    button.textContent = "Added: slide " + slides.length;
    button.setAttribute("data-copied", "");
    setTimeout(() => { button.textContent = label; button.removeAttribute("data-copied"); }, 1800);
    const status = document.querySelector("[data-copy-status]"); // the lab header's hint (hidden on phones)
    if (status) {
      status.replaceChildren("Added as slide " + slides.length + " of your deck · ");
      const edit = document.createElement("a");
      edit.href = "/deck/edit";
      edit.textContent = "Edit the deck";
      status.append(edit);
    }
  });

  /* ------------------------------------------------------------ the editor */

  const editor = document.querySelector("[data-deck-editor]");
  if (!editor) return;

  const $ = (sel) => editor.querySelector(sel);
  const list = $("[data-editor-list]");
  const template = $("[data-editor-slide]");
  const status = $("[data-editor-status]");
  const linkInput = $("[data-editor-link]");
  const limits = JSON.parse(editor.dataset.limits);
  const initial = JSON.parse(editor.dataset.initial);
  let slides = initial ? initial.map((s) => ({ ...s })) : load();
  let answer = null; // the server's last answer for `slides`
  if (initial) save(slides);

  function render(focus) {
    list.replaceChildren();
    slides.forEach((slide, i) => {
      const item = template.content.firstElementChild.cloneNode(true);
      item.dataset.index = String(i);
      item.setAttribute("aria-label", "Slide " + (i + 1));
      item.querySelector("[data-slide-number]").textContent = String(i + 1);
      const open = item.querySelector("[data-slide-open]");
      if (/^\/[a-z]/.test(slide.link)) open.href = slide.link; // a path of this site, nothing else
      const anchor = slide.link.split("#")[1];
      open.textContent = slide.link.split(/[?#]/)[0] + (anchor ? "#" + anchor : "");
      open.title = "Open this slide's lab link in a new tab";
      const title = item.querySelector("[data-slide-title]");
      title.value = slide.title;
      title.maxLength = limits.title;
      title.id = "slide-title-" + i;
      const note = item.querySelector("[data-slide-note]");
      note.value = slide.note;
      note.maxLength = limits.note;
      item.querySelector('[data-slide-move="-1"]').disabled = i === 0;
      item.querySelector('[data-slide-move="1"]').disabled = i === slides.length - 1;
      list.append(item);
    });
    $("[data-editor-empty]").hidden = slides.length > 0;
    showAnswer();
    if (focus) {
      const [index, sel] = focus;
      const item = list.children[Math.min(index, list.children.length - 1)];
      const target = item && (item.querySelector(sel) || item);
      if (target && !target.disabled) target.focus();
      else if (item) item.focus();
      else $("#deck-add-link").focus();
    }
  }

  function showAnswer() {
    const ok = Boolean(answer) && slides.length > 0;
    linkInput.value = ok ? location.origin + answer.links.page : "";
    $("[data-editor-copy]").disabled = !ok;
    for (const [sel, name] of [["[data-editor-open]", "page"], ["[data-editor-speaker]", "speaker"]]) {
      const a = $(sel);
      a.href = ok ? answer.links[name] : "/deck";
      a.setAttribute("aria-disabled", String(!ok));
    }
    Array.from(list.children).forEach((item, i) => {
      const info = ok ? answer.slides[i] : null;
      const problem = item.querySelector("[data-slide-problem]");
      problem.hidden = !(info && info.problem);
      problem.textContent = info && info.problem ? info.problem.charAt(0).toUpperCase() + info.problem.slice(1) : "";
      item.classList.toggle("is-broken", Boolean(info && info.problem));
    });
  }

  let timer = 0;
  let asked = 0;

  function changed(now) { // the editor is in sync (data-synced) once the server has answered the last change
    editor.dataset.synced = "false";
    save(slides);
    clearTimeout(timer);
    timer = setTimeout(sync, now ? 0 : 300);
  }

  async function sync() {
    const mine = ++asked;
    if (!slides.length) {
      answer = null;
      editor.dataset.synced = "true";
      status.textContent = "";
      history.replaceState(history.state, "", "/deck/edit");
      showAnswer();
      return;
    }
    let response;
    try {
      response = await fetch("/deck/link", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ slides }) });
    } catch (err) {
      status.textContent = "The server did not answer; the deck is kept in this browser.";
      return;
    }
    if (mine !== asked) return; // a later change is on its way
    const body = await response.json().catch(() => null);
    if (mine !== asked) return;
    editor.dataset.synced = "true";
    if (!response.ok) {
      answer = null;
      const item = body && body.detail && body.detail[0];
      const where = item && item.loc[2] !== undefined ? "Slide " + (item.loc[2] + 1) + ", " + item.loc[3] + ": " : "";
      status.textContent = item ? where + item.msg : "The deck was refused (" + response.status + ").";
      showAnswer();
      return;
    }
    answer = body;
    const broken = body.slides.filter((s) => s.problem).length;
    status.textContent = slides.length + " slide" + (slides.length > 1 ? "s" : "") +
      (broken ? " · " + broken + " do" + (broken > 1 ? "" : "es") + " not open (marked below)" : "") + ".";
    history.replaceState(history.state, "", body.links.edit);
    showAnswer();
  }

  function move(index, dir, sel) {
    const to = index + dir;
    if (to < 0 || to >= slides.length) return;
    [slides[index], slides[to]] = [slides[to], slides[index]];
    render([to, sel]);
    status.textContent = "Slide moved to position " + (to + 1) + ".";
    changed(true);
  }

  function remove(index) {
    const [gone] = slides.splice(index, 1);
    render(slides.length ? [index, "[data-slide-remove]"] : [0, ""]);
    changed(true);
    status.textContent = "Removed “" + (gone.title || gone.link.split("?")[0]) + "”.";
  }

  list.addEventListener("click", (event) => {
    const item = event.target.closest("[data-index]");
    if (!item) return;
    const index = Number(item.dataset.index);
    const moveButton = event.target.closest("[data-slide-move]");
    if (moveButton) {
      const dir = Number(moveButton.dataset.slideMove);
      move(index, dir, `[data-slide-move="${dir}"]`);
    } else if (event.target.closest("[data-slide-remove]")) {
      remove(index);
    }
  });

  list.addEventListener("input", (event) => {
    const item = event.target.closest("[data-index]");
    if (!item) return;
    const slide = slides[Number(item.dataset.index)];
    if (event.target.matches("[data-slide-title]")) slide.title = event.target.value;
    if (event.target.matches("[data-slide-note]")) slide.note = event.target.value;
    changed(false);
  });

  list.addEventListener("keydown", (event) => {
    const item = event.target.closest("[data-index]");
    if (!item) return;
    const index = Number(item.dataset.index);
    if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
      event.preventDefault();
      const sel = event.target.matches("[data-slide-title]") ? "[data-slide-title]" :
        event.target.matches("[data-slide-note]") ? "[data-slide-note]" : "";
      move(index, event.key === "ArrowUp" ? -1 : 1, sel);
    } else if (event.key === "Delete" && event.target.matches("[data-slide-remove]")) {
      event.preventDefault();
      remove(index);
    }
  });

  $("[data-editor-add]").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = event.target.elements.link;
    let link = input.value.trim();
    if (!link) return;
    try { // a whole address (https://host/pool?…) keeps its path and query
      const url = new URL(link, location.origin);
      if (url.origin === location.origin) link = url.pathname + url.search;
    } catch (err) { /* the server says what is wrong with it */ }
    if (slides.length >= limits.slides) {
      status.textContent = "A deck holds at most " + limits.slides + " slides.";
      return;
    }
    slides.push({ link, title: "", note: "" });
    input.value = "";
    render(null);
    changed(true);
    status.textContent = "Added slide " + slides.length + ".";
  });

  $("[data-editor-copy]").addEventListener("click", async (event) => {
    const button = event.currentTarget;
    try {
      await navigator.clipboard.writeText(linkInput.value);
    } catch (err) {
      linkInput.select();
      document.execCommand("copy");
    }
    status.textContent = "Copied the deck link.";
    button.setAttribute("data-copied", "");
    setTimeout(() => button.removeAttribute("data-copied"), 1500);
  });

  let clearing = 0;
  $("[data-editor-clear]").addEventListener("click", (event) => {
    const button = event.currentTarget;
    if (!clearing) {
      button.textContent = "Click again to empty the deck";
      clearing = setTimeout(() => { clearing = 0; button.textContent = "Start a new deck"; }, 4000);
      return;
    }
    clearTimeout(clearing);
    clearing = 0;
    button.textContent = "Start a new deck";
    slides = [];
    render(null);
    changed(true);
    status.textContent = "The deck is empty.";
  });

  window.addEventListener("storage", (event) => { // a slide added from a lab in another tab
    if (event.key !== KEY) return;
    slides = load();
    render(null);
    changed(true);
  });

  render(null);
  changed(true);
})();
