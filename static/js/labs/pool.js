/* The pooling lab's extras on top of lab.js (CSP-safe, no inline code):
 *   - hovering an out cell also marks the cell of x that won its window (data-winner);
 *   - hovering a line of the route list ("dx[…] = dout[…] + …") outlines that dx cell and its dout cells.
 */
(function () {
  "use strict";

  function mark(lab, array, idx, cls) {
    lab.querySelectorAll('table[data-arr="' + array + '"] td[data-idx="' + idx + '"]')
      .forEach(function (cell) { cell.classList.add(cls); });
  }

  function clear() {
    document.querySelectorAll(".prov-win, .route-prov").forEach(function (el) {
      el.classList.remove("prov-win", "route-prov", "prov");
    });
  }

  document.addEventListener("mouseover", function (ev) {
    if (!ev.target.closest) return;
    const lab = ev.target.closest('[data-lab="pool"]');
    if (!lab) return;
    const out = ev.target.closest('table[data-arr="out"] td[data-winner]');
    if (out) { clear(); mark(lab, "x", out.dataset.winner, "prov-win"); return; }
    const line = ev.target.closest("ul.routes li[data-idx]");
    if (line) {
      clear();
      mark(lab, "dx", line.dataset.idx, "route-prov");
      (line.dataset.sources || "").split(" ").filter(Boolean)
        .forEach(function (idx) { mark(lab, "dout", idx, "route-prov"); });
      lab.querySelectorAll(".route-prov").forEach(function (el) { el.classList.add("prov"); });
    }
  });

  document.addEventListener("mouseout", function (ev) {
    const from = ev.target.closest && ev.target.closest("td[data-winner], ul.routes li[data-idx]");
    if (from && !from.contains(ev.relatedTarget)) clear();
  });
})();
