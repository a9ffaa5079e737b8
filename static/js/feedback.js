/* Feedback (SCAN-UX.md): a short high beep on success; a low double beep and a vibration on
   an error; the step flashes green or red. Sound is made with the Web Audio API (no files)
   and can be muted per station (this device). After every swap, and on load, the region's
   data-feedback is played and the scan field has focus again. */
import { focus } from "./scan-field.js";

let audio = null;
const muted = () => localStorage.getItem("lotline.muted") === "1";

function tone(freq, start, length) {
  try {
    audio = audio || new (window.AudioContext || window.webkitAudioContext)();
    const osc = audio.createOscillator(), gain = audio.createGain();
    osc.frequency.value = freq; osc.type = "square";
    gain.gain.value = 0.15;
    osc.connect(gain); gain.connect(audio.destination);
    osc.start(audio.currentTime + start); osc.stop(audio.currentTime + start + length);
  } catch (e) { /* no audio on this device */ }
}

export function feedback(kind) {
  document.documentElement.dataset.lastFeedback = kind;
  if (kind === "success") {
    if (!muted()) tone(1760, 0, 0.08);
  } else if (kind === "error") {
    if (!muted()) { tone(220, 0, 0.15); tone(220, 0.22, 0.15); }
    if (navigator.vibrate) navigator.vibrate([120, 80, 120]);
  }
}

/* Play ``kind`` and flash ``region`` with it (the animation restarts on every call). */
export function flash(region, kind) {
  feedback(kind);
  region.classList.remove("flash-success", "flash-error");
  void region.offsetWidth;
  region.classList.add("flash-" + kind);
}

function showMute() {
  document.querySelectorAll("[data-mute-toggle]").forEach((btn) => {
    btn.setAttribute("aria-pressed", muted() ? "true" : "false");
    btn.textContent = muted() ? "Sound off" : "Sound on";
  });
}

document.addEventListener("click", (evt) => {
  if (!(evt.target.closest && evt.target.closest("[data-mute-toggle]"))) return;
  localStorage.setItem("lotline.muted", muted() ? "0" : "1");
  showMute();
});

function settle(root) {
  const marked = root.matches && root.matches("[data-feedback]") ? root
    : root.querySelector && root.querySelector("[data-feedback]");
  if (marked) flash(marked, marked.getAttribute("data-feedback"));
  focus(root);
  showMute();
}
document.addEventListener("htmx:after:swap", (evt) => {
  const target = evt.detail && evt.detail.ctx && evt.detail.ctx.target;
  // An outerHTML swap replaces the target; look the region up again by id.
  settle(target && target.id ? (document.getElementById(target.id) || document) : document);
});
document.addEventListener("DOMContentLoaded", () => settle(document));
