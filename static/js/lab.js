/* Backprop Lens labs: editable grids, bad-input marks, hover provenance, stepping.
 *
 * A lab is a <form data-lab data-provenance="URL"> whose cells post on every keystroke
 * (htmx attributes in the templates). This script adds what htmx does not:
 *   - 422 answers are swapped (htmx-config in base.html: they carry the message naming the
 *     bad field), and the cells named in #form-message[data-invalid] get aria-invalid; stale results dim;
 *   - ↑ ↓ Enter move between cells of one grid; ← → step the sliding window, space plays;
 *   - hovering a result cell asks the engine (POST data-provenance) which cells it came
 *     from and outlines them.
 */
(function () {
  "use strict";

  // --- bad input: mark the cells the server named, dim the results that are now stale ---
  function markInvalid(root) {
    const lab = root.closest ? root.closest("[data-lab]") || document.querySelector("[data-lab]") : null;
    if (!lab) return;
    const message = lab.querySelector("#form-message");
    let fields = [];
    if (message && message.dataset.invalid) {
      try { fields = JSON.parse(message.dataset.invalid); } catch (e) { fields = []; }
    }
    lab.querySelectorAll("input[aria-invalid]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
    fields.forEach(function (field) {
      lab.querySelectorAll('input[data-label="' + CSS.escape(field) + '"], input[name="' + CSS.escape(field) + '"]')
        .forEach(function (el) { el.setAttribute("aria-invalid", "true"); });
    });
    const results = lab.querySelector("#results");
    if (results) results.classList.toggle("stale", fields.length > 0);
  }

  // --- keyboard: ↑ ↓ and Enter move between cells of one grid ---
  function moveInGrid(input, dr) {
    const td = input.closest("td[data-idx]");
    const table = input.closest("table");
    if (!td || !table) return false;
    const idx = td.dataset.idx.split(",").map(Number);
    idx[idx.length - 2] += dr;
    const next = table.querySelector('td[data-idx="' + idx.join(",") + '"] input');
    if (next) { next.focus(); next.select(); return true; }
    return false;
  }

  document.addEventListener("keydown", function (ev) {
    const t = ev.target;
    if (t.classList && t.classList.contains("cell")) {
      if ((ev.key === "ArrowDown" || ev.key === "Enter") && moveInGrid(t, 1)) ev.preventDefault();
      else if (ev.key === "ArrowUp" && moveInGrid(t, -1)) ev.preventDefault();
      return;
    }
    if (/^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(t.tagName) || ev.altKey || ev.ctrlKey || ev.metaKey) {
      if (!(t.tagName === "BUTTON" && (ev.key === "ArrowLeft" || ev.key === "ArrowRight"))) return;
    }
    const which = ev.key === "ArrowLeft" ? "prev" : ev.key === "ArrowRight" ? "next" : null;
    if (which) {
      ev.preventDefault();
      step(which);
    } else if (ev.key === " " && t.tagName !== "BUTTON") {
      const play = document.querySelector("[data-play]");
      if (play) { ev.preventDefault(); play.click(); }
    }
  });

  // A step key pressed while htmx is swapping would click a button htmx has not wired up yet
  // (it does so when the swap settles): keep the last such key and replay it after settling.
  let swapping = false;
  let queued = null;
  function step(which) {
    if (swapping) { queued = which; return; }
    const btn = document.querySelector('[data-step="' + which + '"]');
    if (btn) btn.click();
  }
  let release = null;
  function settled() {
    swapping = false;
    clearTimeout(release);
    if (queued) { const which = queued; queued = null; step(which); }
  }
  document.addEventListener("htmx:beforeSwap", function () {
    swapping = true;
    clearTimeout(release);
    release = setTimeout(settled, 200); // a swap that never settles (HX-Reswap: none) releases keys anyway
  });
  document.addEventListener("htmx:afterSettle", settled);

  // --- sliding window autoplay: clicks Next on a timer until pressed again or hidden ---
  let playTimer = null;
  function setPlaying(on) {
    if (playTimer) { clearInterval(playTimer); playTimer = null; }
    if (on) {
      playTimer = setInterval(function () {
        const next = document.querySelector('[data-step="next"]');
        if (!next || document.hidden) { setPlaying(false); return; }
        next.click();
      }, 800);
    }
    document.querySelectorAll("[data-play]").forEach(function (b) {
      b.setAttribute("aria-pressed", on ? "true" : "false");
      b.textContent = on ? "❚❚ Pause" : "▶ Play";
    });
  }
  document.addEventListener("click", function (ev) {
    const play = ev.target.closest && ev.target.closest("[data-play]");
    if (play) setPlaying(!playTimer);
  });
  document.addEventListener("visibilitychange", function () { if (document.hidden) setPlaying(false); });

  // --- hover provenance: ask the engine which cells a hovered cell came from ---
  let version = 0;
  const cache = new Map();
  let hovered = null;
  function clearProvenance() {
    document.querySelectorAll(".prov, .prov-self").forEach(function (el) { el.classList.remove("prov", "prov-self"); });
  }
  function showProvenance(lab, td, answer) {
    if (hovered !== td) return;
    clearProvenance();
    td.classList.add("prov-self");
    Object.keys(answer.cells || {}).forEach(function (array) {
      answer.cells[array].forEach(function (idx) {
        lab.querySelectorAll('table[data-arr="' + array + '"] td[data-idx="' + idx + '"]')
          .forEach(function (cell) { cell.classList.add("prov"); });
      });
    });
  }
  document.addEventListener("mouseover", function (ev) {
    const td = ev.target.closest && ev.target.closest("table.heatmap:not(.editable) td[data-idx]");
    if (!td || td === hovered) return;
    const lab = td.closest("[data-lab]");
    const table = td.closest("table[data-arr]");
    if (!lab || !table || !lab.dataset.provenance) return;
    hovered = td;
    const key = version + "|" + table.dataset.arr + "|" + td.dataset.idx;
    if (cache.has(key)) { showProvenance(lab, td, cache.get(key)); return; }
    const body = new FormData(lab);
    body.set("array", table.dataset.arr);
    body.set("index", td.dataset.idx);
    fetch(lab.dataset.provenance, { method: "POST", body: body, headers: { "HX-Request": "true" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (answer) {
        if (!answer) return;
        cache.set(key, answer);
        showProvenance(lab, td, answer);
      })
      .catch(function () {});
  });
  document.addEventListener("mouseout", function (ev) {
    const td = ev.target.closest && ev.target.closest("td[data-idx]");
    if (td && td === hovered && !td.contains(ev.relatedTarget)) { hovered = null; clearProvenance(); }
  });

  // After every swap (at once, not after settling): new numbers, so forget cached provenance,
  // re-mark bad cells, keep playing.
  document.addEventListener("htmx:afterSwap", function (ev) {
    version += 1;
    cache.clear();
    markInvalid(ev.detail.elt || document.body);
    if (playTimer) setPlaying(true);
  });
  document.addEventListener("htmx:oobAfterSwap", function (ev) { markInvalid(ev.detail.target || document.body); });
})();
