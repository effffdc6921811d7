/* The softmax lab: the temperature slider (log scale) and marks on bad label selects.
 *
 * The slider has no name: in the capture phase (before htmx sees the event bubble to the
 * cells) it writes 10^value into the temperature field, which is what the form posts. Typing
 * in the field moves the slider. lab.js marks bad <input>s; this marks bad <select>s too.
 * CSP-safe: no inline code, no eval.
 */
(function () {
  "use strict";

  document.addEventListener("input", function (ev) {
    const el = ev.target;
    if (!el || !el.matches) return;
    const form = el.closest("[data-lab='softmax']");
    if (!form) return;
    if (el.matches("[data-temperature-slider]")) {
      const field = form.querySelector("input[name='temperature']");
      if (field) field.value = window.Lens.formatNumber(Math.pow(10, Number(el.value)), 2); // 0.05, 0.37, 1, 2.4, 20
    } else if (el.name === "temperature") {
      const slider = form.querySelector("[data-temperature-slider]");
      const t = Number(el.value);
      if (slider && t > 0 && isFinite(t)) slider.value = String(Math.log10(t));
    }
  }, true);

  function markSelects() {
    const form = document.querySelector("[data-lab='softmax']");
    if (!form) return;
    const message = form.querySelector("#form-message");
    let fields = [];
    if (message && message.dataset.invalid) {
      try { fields = JSON.parse(message.dataset.invalid); } catch (e) { fields = []; }
    }
    form.querySelectorAll("select[data-label]").forEach(function (el) {
      if (fields.indexOf(el.dataset.label) >= 0) el.setAttribute("aria-invalid", "true");
      else el.removeAttribute("aria-invalid");
    });
  }
  document.addEventListener("htmx:afterSwap", markSelects);
  document.addEventListener("htmx:oobAfterSwap", markSelects);
})();
