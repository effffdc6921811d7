/* Spot the bug (templates/kit/bug_panel.html): the arrays the page shows, to mark one; a click on a result
   table picks it; the "find the bug" link to share. The grading and "show me" are htmx posts of the lab's form
   (its hidden bug input rides along: form="<slug>-form"). */
(function () {
  "use strict";

  function panel() { return document.querySelector("[data-bug-panel]"); }

  function arrays() {
    var seen = [];
    document.querySelectorAll("#lab table[data-arr]:not(.editable)").forEach(function (t) {
      var name = t.getAttribute("data-arr");
      if (name && seen.indexOf(name) < 0) { seen.push(name); }
    });
    return seen;
  }

  function fill() {
    var p = panel();
    if (!p) { return; }
    var select = p.querySelector("[data-bug-arrays]");
    var chosen = select.value;
    var names = arrays();
    while (select.options.length > 1) { select.remove(1); }
    names.forEach(function (name) {
      var option = document.createElement("option");
      option.value = name;
      option.textContent = name;
      select.appendChild(option);
    });
    if (chosen && names.indexOf(chosen) < 0) {  // a section no longer shown keeps the student's choice
      var kept = document.createElement("option");
      kept.value = chosen;
      kept.textContent = chosen;
      select.appendChild(kept);
    }
    select.value = chosen;
  }

  document.addEventListener("click", function (event) {
    var p = panel();
    if (!p) { return; }
    var share = event.target.closest("[data-bug-share]");
    if (share) {
      var done = function () { share.textContent = "Link copied"; };
      if (navigator.clipboard) { navigator.clipboard.writeText(location.href).then(done, function () {}); }
      return;
    }
    var table = event.target.closest("#lab table[data-arr]:not(.editable)");
    if (!table) { return; }
    var select = p.querySelector("[data-bug-arrays]");
    fill();
    select.value = table.getAttribute("data-arr");
    select.classList.remove("is-picked");
    void select.offsetWidth;  // restart the flash
    select.classList.add("is-picked");
  });

  document.addEventListener("DOMContentLoaded", fill);
  document.addEventListener("htmx:afterSettle", fill);
  if (document.readyState !== "loading") { fill(); }
})();
