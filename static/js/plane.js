/* Large planes drawn as images (app.web.render.plane) and the selected-cell inspector (kit/plane.html).
 *
 *   - click a pixel of any image (or focus an image and use the arrow keys) to select it: it is outlined,
 *     and the inspector names the cell (x[0, 0, 3, 4], its row and column) and shows its value;
 *   - an input's image is editable: type in the inspector and the plane's hidden field (<array>_plane, every
 *     value row-major) gets the new number, then the whole form is posted to /<lab>/lab (kit/plane.html's
 *     hx-trigger "plane-edit"), which redraws the inputs' images and the results;
 *   - with "paint" on, dragging over an input image sets every pixel it crosses to the inspector's value,
 *     posted once when the drag ends;
 *   - the selection, and what is being typed, survive the swap; a bad number is named by the server and
 *     lab.js marks the inspector (its data-label is the selected cell's), which says the server's words for it
 *     (#inspect-error).
 * CSP-safe: no inline code.
 */
(function () {
  "use strict";

  let sel = null; // {arr, prefix, edit, i, j}: the selected cell (edit: of an input's image)
  let typing = null; // {text, start, end}: the inspector's text, when it had the focus as a swap began
  let paint = null; // {plane, text, done: Set}: a drag that paints
  let painting = false; // the inspector's "paint" box, kept across swaps

  function inspectorOf(el) {
    const form = el.closest("form") || document;
    return form.querySelector("[data-inspector]");
  }

  function size(plane) {
    return [Number(plane.dataset.rows), Number(plane.dataset.cols)];
  }

  function hidden(plane) {
    return plane.dataset.edit ? plane.querySelector('input[type="hidden"]') : null;
  }

  // a result's values: little-endian float64, base64 (data-f64), decoded once per image
  function numbers(plane) {
    if (!plane._f64) {
      const bytes = Uint8Array.from(atob(plane.dataset.f64 || ""), function (ch) { return ch.charCodeAt(0); });
      plane._f64 = new Float64Array(bytes.buffer);
    }
    return plane._f64;
  }

  // a number as a table's cell writes it (app.web.render.numbers.cell_text: 4 significant digits)
  function short(v) {
    if (v === 0 || !isFinite(v)) return v === 0 ? "0" : String(v);
    const e = Math.floor(Math.log10(Math.abs(v)));
    if (e < -4 || e >= 4) {
      const parts = v.toExponential(3).split("e");
      return parts[0].replace(/\.?0+$/, "") + "e" + parts[1].replace("+", "");
    }
    return String(Number(v.toPrecision(4)));
  }

  // the text of cell k: an input's every digit as posted, a result's value rounded (and exactly, when it differs)
  function cellText(plane, k) {
    const field = hidden(plane);
    if (field) return field.value.split(" ")[k] || "";
    const cols = size(plane)[1];
    if ((plane.dataset.hidden || "").split(";").indexOf(Math.floor(k / cols) + "," + (k % cols)) >= 0) {
      return "hidden: the quiz asks it"; // a quiz's cell (app.web.render.hidden): no value sent (NaN)
    }
    const v = numbers(plane)[k];
    return short(v) === String(v) ? String(v) : short(v) + "  (" + String(v) + ")";
  }

  function cellLabel(plane, i, j) {
    const prefix = plane.dataset.prefix ? plane.dataset.prefix.split(",") : [];
    return plane.dataset.arr + "[" + prefix.concat([i, j]).join(", ") + "]";
  }

  function cellAt(plane, ev) {
    const rect = plane.getBoundingClientRect();
    const [rows, cols] = size(plane);
    const j = Math.floor((ev.clientX - rect.left) / rect.width * cols);
    const i = Math.floor((ev.clientY - rect.top) / rect.height * rows);
    return [Math.min(rows - 1, Math.max(0, i)), Math.min(cols - 1, Math.max(0, j))];
  }

  function select(plane, i, j) {
    document.querySelectorAll(".plane__sel").forEach(function (el) { el.remove(); });
    window.Lens.pixelBox(plane, i, j, "plane__sel");
    sel = {arr: plane.dataset.arr, prefix: plane.dataset.prefix, edit: Boolean(plane.dataset.edit), i: i, j: j};
    const inspector = inspectorOf(plane);
    if (!inspector) return;
    const label = cellLabel(plane, i, j);
    const where = inspector.querySelector(".inspector__where");
    const input = inspector.querySelector(".inspector__value");
    const editable = Boolean(plane.dataset.edit);
    where.textContent = "";
    const code = document.createElement("code");
    code.textContent = label;
    where.appendChild(code);
    where.appendChild(document.createTextNode(" — row " + i + ", column " + j +
      (editable ? " (an input: type a new value)" : " (a result: read only)")));
    input.disabled = false;
    input.readOnly = !editable;
    input.dataset.label = label;
    input.setAttribute("aria-label", label);
    input.value = cellText(plane, i * size(plane)[1] + j);
    const quizThis = inspector.querySelector("[data-quiz-this]"); // quiz.js hides the cell (kit/quiz.html)
    if (quizThis) {
      const prefix = plane.dataset.prefix ? plane.dataset.prefix + "," : "";
      quizThis.dataset.cell = plane.dataset.arr + ":" + prefix + i + "," + j;
      quizThis.hidden = editable || !document.querySelector("[data-quiz]") ||
        (plane.dataset.hidden || "").split(";").indexOf(i + "," + j) >= 0;
    }
    showError();
  }

  // Why the selected pixel was refused, said in the inspector too: the lab's #form-message names it (x[0, 0, 3, 4]:
  // '1.2.3' is not a number) at the top of the results, a screen away from the inspector on a laptop or a phone.
  function showError() {
    const error = document.getElementById("inspect-error");
    const input = document.getElementById("inspect-value");
    if (!error || !input) return;
    const message = document.getElementById("form-message");
    const label = input.dataset.label;
    let text = "";
    if (message && !message.hidden && label) {
      message.querySelectorAll("li").forEach(function (li) {
        const field = li.querySelector("b");
        if (field && field.textContent === label) text = li.textContent;
      });
    }
    if (error.textContent !== text) error.textContent = text;
    error.hidden = !text;
  }

  function selectedPlane(root) {
    if (!sel) return null;
    return (root || document).querySelector('.plane[data-arr="' + CSS.escape(sel.arr) + '"][data-prefix="' +
      CSS.escape(sel.prefix) + '"]' + (sel.edit ? "[data-edit]" : ":not([data-edit])"));
  }

  function setValue(plane, i, j, text) {
    const field = hidden(plane);
    if (!field) return;
    const values = field.value.split(" ");
    values[i * size(plane)[1] + j] = text.replace(/\s+/g, ""); // one number per pixel: no spaces inside
    field.value = values.join(" ");
  }

  function post(plane) {
    const inspector = inspectorOf(plane);
    if (inspector) inspector.dispatchEvent(new CustomEvent("plane-edit", {bubbles: false}));
  }

  // --- selecting and painting with the pointer ---
  document.addEventListener("pointerdown", function (ev) {
    const plane = ev.target.closest && ev.target.closest(".plane");
    if (!plane || ev.button !== 0) return;
    const [i, j] = cellAt(plane, ev);
    const inspector = inspectorOf(plane);
    const painting = plane.dataset.edit && inspector && inspector.querySelector("#inspect-paint").checked;
    if (!painting) {
      select(plane, i, j);
      return;
    }
    ev.preventDefault();
    const text = inspector.querySelector(".inspector__value").value;
    paint = {plane: plane, text: text, done: new Set()};
    plane.setPointerCapture(ev.pointerId);
    dab(i, j);
  });

  function dab(i, j) {
    const key = i + "," + j;
    if (paint.done.has(key)) return;
    paint.done.add(key);
    setValue(paint.plane, i, j, paint.text);
    window.Lens.pixelBox(paint.plane, i, j, "plane__dab");
  }

  document.addEventListener("pointermove", function (ev) {
    if (!paint) return;
    const [i, j] = cellAt(paint.plane, ev);
    dab(i, j);
  });

  function endPaint() {
    if (!paint) return;
    const plane = paint.plane;
    paint = null;
    post(plane);
  }
  document.addEventListener("pointerup", endPaint);
  document.addEventListener("pointercancel", endPaint);

  // --- the keyboard: arrows move the selection in a focused image, Enter goes to the inspector ---
  document.addEventListener("keydown", function (ev) {
    const plane = ev.target.classList && ev.target.classList.contains("plane") ? ev.target : null;
    if (!plane) return;
    const moves = {ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1]};
    const [rows, cols] = size(plane);
    const here = sel && sel.arr === plane.dataset.arr && sel.prefix === plane.dataset.prefix &&
      sel.edit === Boolean(plane.dataset.edit) ? sel : null;
    if (moves[ev.key]) {
      ev.preventDefault();
      ev.stopPropagation(); // the steppers' ← → (steps.js) stay for the page outside an image
      const [di, dj] = here ? moves[ev.key] : [0, 0];
      const i = Math.min(rows - 1, Math.max(0, (here ? here.i : 0) + di));
      const j = Math.min(cols - 1, Math.max(0, (here ? here.j : 0) + dj));
      select(plane, i, j);
    } else if (ev.key === "Enter" && here) {
      ev.preventDefault();
      const input = inspectorOf(plane).querySelector(".inspector__value");
      input.focus();
      input.select();
    }
  }, true);

  // --- typing in the inspector edits the selected input pixel ---
  document.addEventListener("input", function (ev) {
    if (!ev.target.classList || !ev.target.classList.contains("inspector__value")) return;
    const plane = selectedPlane(ev.target.closest("form"));
    if (!plane || !plane.dataset.edit) return;
    setValue(plane, sel.i, sel.j, ev.target.value);
    post(plane);
  });

  document.addEventListener("htmx:beforeSwap", function () {
    const active = document.activeElement;
    typing = active && active.classList.contains("inspector__value") ?
      {text: active.value, start: active.selectionStart, end: active.selectionEnd} : null;
  });

  document.addEventListener("change", function (ev) {
    if (ev.target.id === "inspect-paint") painting = ev.target.checked;
  });

  document.addEventListener("htmx:oobAfterSwap", showError); // a refusal's #form-message comes out of band

  // --- after a swap: the selection and the paint mode again, and what was being typed stays as typed ---
  document.addEventListener("htmx:afterSwap", function () {
    const box = document.getElementById("inspect-paint");
    if (box) box.checked = painting;
    const plane = selectedPlane(document);
    if (!plane) return;
    const [rows, cols] = size(plane);
    if (sel.i >= rows || sel.j >= cols) { sel = null; return; }
    const kept = typing;
    typing = null;
    select(plane, sel.i, sel.j);
    if (!kept) return;
    const input = inspectorOf(plane).querySelector(".inspector__value");
    if (plane.dataset.edit) setValue(plane, sel.i, sel.j, kept.text); // the form holds what is on screen
    if (input.value !== kept.text) input.value = kept.text;
    // an input the patch kept in place is focused still: focusing it again lays the page out (4 ms a keystroke on
    // pool's CIFAR example), as does setting a selection it has
    if (document.activeElement !== input) input.focus();
    if (input.selectionStart !== kept.start || input.selectionEnd !== kept.end) {
      input.setSelectionRange(kept.start, kept.end);
    }
  });
})();
