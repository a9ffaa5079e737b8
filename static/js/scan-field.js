/* The scan field (SCAN-UX.md): the one field that expects the next scan has focus, always,
   and what is scanned or typed into it replaces what it shows. A prefilled quantity
   (data-select-on-focus) is selected whenever the field gets focus: on load, after every
   swap, after an error, after a tap, so "5" typed over "1" is 5, and an item scanned again
   replaces the number (the server then adds one). Tab ends a scan like Enter. The camera
   button fills the field too (camera.js, loaded when it is first pressed). */

export function field(root) {
  return (root || document).querySelector("[data-scan]:not([disabled])");
}
// Only the value the screen put there is selected, never what the packer has typed since.
function selectAll(el) {
  if (el && el.matches && el.matches("[data-select-on-focus]") && el.value &&
      el.value === el.defaultValue) el.select();
}
export function focus(root) {
  var el = field(root) || field(document);
  if (!el) return el;
  if (document.activeElement !== el) el.focus({ preventScroll: false });
  selectAll(el);  // focus already there (autofocus, a swap) fires no new focus event
  return el;
}
function isControl(el) {
  return el && el.closest && el.closest("a, button, input, select, textarea, label, summary, [tabindex]");
}

document.addEventListener("focusin", function (evt) { selectAll(evt.target); });
// A tap in the field places the caret on mouseup, undoing the selection: keep it once.
document.addEventListener("mouseup", function (evt) {
  var el = evt.target;
  if (el.matches && el.matches("[data-select-on-focus]") && el.dataset.selected !== "1" &&
      el.value === el.defaultValue) {
    el.dataset.selected = "1";
    evt.preventDefault();
    selectAll(el);
  }
});
document.addEventListener("focusout", function (evt) {
  if (evt.target.dataset) delete evt.target.dataset.selected;
});

// A tap anywhere that is not another control puts focus back in the scan field (not from
// inside the camera overlay, which is modal); so does coming back to the page.
document.addEventListener("click", function (evt) {
  if (!isControl(evt.target) && !(evt.target.closest && evt.target.closest("dialog"))) focus();
});
document.addEventListener("visibilitychange", function () {
  if (!document.hidden) focus();
});

// A field typed beside the scan (a carton's weight) hands focus back on Enter, keeping
// what was typed, so the next scan (CMD:CLOSE) goes to the scan field and carries it.
document.addEventListener("keydown", function (evt) {
  if (evt.key === "Enter" && evt.target.matches && evt.target.matches("[data-then-scan]")) {
    evt.preventDefault();
    focus();
  }
});

// Tab ends a scan like Enter (some scanners send Tab).
document.addEventListener("keydown", function (evt) {
  var el = evt.target;
  if (!el.matches || !el.matches("[data-scan]")) return;
  if (evt.key === "Tab" && !evt.shiftKey && el.value.trim() !== "") {
    evt.preventDefault();
    el.form && el.form.requestSubmit();
  }
});

// The keyboard button switches the scan field to typing (on-screen keyboard) and back.
document.addEventListener("click", function (evt) {
  var btn = evt.target.closest && evt.target.closest("[data-keyboard-toggle]");
  if (!btn) return;
  var el = field(btn.closest("form") || document);
  if (!el) return;
  var typing = el.getAttribute("inputmode") !== "none";
  el.setAttribute("inputmode", typing ? "none" : (el.dataset.typing || "text"));
  btn.setAttribute("aria-pressed", typing ? "false" : "true");
  el.blur(); focus();
});

// After every answer (and on load) the field is in view with its prompt and, as far as the
// screen holds them, the refusal, what to do next (Pick's "Go to …") and the result, in that
// order: focus alone scrolls only the field itself into view, and on a phone the instruction
// above it would stay scrolled away. Only after a swap: a tap that puts focus back must not
// pull the page away from what the packer scrolled to read.
var KEEP_IN_VIEW = ["#flow .prompt", "#flow [role=alert]", "#flow .panel-next", "#flow .result"];
export function reveal() {
  var el = field(document);
  if (!el) return;
  var bar = document.querySelector(".topbar"), margin = 8;  // the header stays on top of a scan screen
  var above = bar && getComputedStyle(bar).position === "sticky" ? bar.getBoundingClientRect().bottom : 0;
  var room = window.innerHeight - above - 2 * margin, box = el.getBoundingClientRect();
  var top = box.top, bottom = box.bottom;
  KEEP_IN_VIEW.forEach(function (selector) {
    document.querySelectorAll(selector).forEach(function (part) {
      var r = part.getBoundingClientRect();
      if (!r.height) return;
      var t = Math.min(top, r.top), b = Math.max(bottom, r.bottom);
      if (b - t <= room) { top = t; bottom = b; }
    });
  });
  if (top < above + margin) window.scrollBy(0, top - above - margin);
  else if (bottom > window.innerHeight - margin) window.scrollBy(0, bottom - window.innerHeight + margin);
}
document.addEventListener("htmx:after:swap", reveal);
document.addEventListener("DOMContentLoaded", reveal);

// The camera reads a barcode into the field and submits it, as a scanner would.
document.addEventListener("click", function (evt) {
  var button = evt.target.closest && evt.target.closest("[data-camera]");
  if (button) import("./camera.js").then(function (camera) { camera.open(button); });
});
