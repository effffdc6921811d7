// The page's keys, listed (templates/kit/keys.html): "?" opens the list as a modal dialog, and so does the footer's
// Keyboard button; Esc, Close or a click beside it closes it. Each group of keys says in data-keys-if what the page
// must hold for them to work (a stepper, an input grid, a results table, an image, the deck); a group whose selector
// finds nothing drawn on this page (none, or all hidden: presenter mode's folded inputs) is hidden as the list opens.
// Loaded by base.html.
(function () {
  "use strict";

  function dialog() { return document.getElementById("keys-help"); }

  function open() {
    const d = dialog();
    if (!d || d.open) return;
    d.querySelectorAll("[data-keys-if]").forEach(function (group) { // shown where one such element is drawn
      group.hidden = !Array.prototype.some.call(document.querySelectorAll(group.getAttribute("data-keys-if")),
        function (el) { return el.getClientRects().length > 0; }); // not hidden (presenter mode's folded inputs)
    });
    d.showModal();
  }

  document.addEventListener("keydown", function (ev) {
    if (ev.key !== "?" || ev.defaultPrevented || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    if (window.Lens.takesKeys(ev.target)) return; // a "?" typed stays typed
    ev.preventDefault();
    open();
  });

  document.addEventListener("click", function (ev) {
    const t = ev.target;
    if (t.closest && t.closest("[data-keys-open]")) { ev.preventDefault(); open(); return; }
    const d = dialog();
    // the dialog has no padding of its own: a click on it, not on its body, is a click on the backdrop
    if (d && d.open && (t === d || (t.closest && t.closest("[data-keys-close]")))) d.close();
  });
})();
