/* Lotline's one behaviour file: CSRF for htmx, scan-field focus and feedback, grid selection.
   No inline script anywhere (the CSP forbids it); everything initialises from here. */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // Every htmx request carries the CSRF token as a header.
  document.addEventListener("htmx:config:request", function (evt) {
    var ctx = evt.detail && evt.detail.ctx;
    if (ctx && ctx.request && ctx.request.headers) {
      ctx.request.headers["X-CSRFToken"] = csrfToken();
    }
  });

  /* ---------- feedback: sound, vibration, flash ---------- */
  var audio = null;
  function muted() { return localStorage.getItem("lotline.muted") === "1"; }
  function tone(freq, start, length) {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var osc = audio.createOscillator(), gain = audio.createGain();
      osc.frequency.value = freq; osc.type = "square";
      gain.gain.value = 0.15;
      osc.connect(gain); gain.connect(audio.destination);
      osc.start(audio.currentTime + start); osc.stop(audio.currentTime + start + length);
    } catch (e) { /* no audio on this device */ }
  }
  function feedback(kind) {
    document.documentElement.dataset.lastFeedback = kind;
    if (kind === "success") {
      if (!muted()) tone(1760, 0, 0.08);
    } else if (kind === "error") {
      if (!muted()) { tone(220, 0, 0.15); tone(220, 0.22, 0.15); }
      if (navigator.vibrate) navigator.vibrate([120, 80, 120]);
    }
  }

  /* ---------- scan fields ---------- */
  function scanField(root) {
    return (root || document).querySelector("[data-scan]:not([disabled])");
  }
  function focusScan(root) {
    var field = scanField(root) || scanField(document);
    if (field && document.activeElement !== field) {
      field.focus({ preventScroll: false });
    }
    return field;
  }
  function isControl(el) {
    return el && el.closest && el.closest("a, button, input, select, textarea, label, summary, [tabindex]");
  }

  // A tap anywhere that is not another control puts focus back in the scan field.
  document.addEventListener("click", function (evt) {
    if (!isControl(evt.target)) focusScan();
  });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) focusScan();
  });

  // Tab ends a scan like Enter (some scanners send Tab); a lone Enter submits once.
  document.addEventListener("keydown", function (evt) {
    var field = evt.target;
    if (!field.matches || !field.matches("[data-scan]")) return;
    if (evt.key === "Tab" && !evt.shiftKey && field.value.trim() !== "") {
      evt.preventDefault();
      field.form && field.form.requestSubmit();
    }
  });

  // The keyboard button switches a scan field to typing (on-screen keyboard) and back.
  document.addEventListener("click", function (evt) {
    var btn = evt.target.closest && evt.target.closest("[data-keyboard-toggle]");
    if (!btn) return;
    var field = scanField(btn.closest("form") || document);
    if (!field) return;
    var typing = field.getAttribute("inputmode") !== "none";
    field.setAttribute("inputmode", typing ? "none" : "text");
    btn.setAttribute("aria-pressed", typing ? "false" : "true");
    field.blur(); field.focus();
  });

  // Mute toggle, remembered per station (device).
  document.addEventListener("click", function (evt) {
    var btn = evt.target.closest && evt.target.closest("[data-mute-toggle]");
    if (!btn) return;
    localStorage.setItem("lotline.muted", muted() ? "0" : "1");
    btn.setAttribute("aria-pressed", muted() ? "true" : "false");
    btn.textContent = muted() ? "Sound off" : "Sound on";
  });

  /* ---------- grid: select all on this page ---------- */
  document.addEventListener("change", function (evt) {
    var all = evt.target.closest && evt.target.closest("[data-select-all]");
    if (!all) return;
    var form = all.closest("form");
    form.querySelectorAll('input[type="checkbox"][name="item_id"]').forEach(function (box) {
      box.checked = all.checked;
    });
  });

  /* ---------- after every swap: feedback and focus ---------- */
  function settle(root) {
    var marked = root && root.querySelector ? (root.matches && root.matches("[data-feedback]") ? root : root.querySelector("[data-feedback]")) : null;
    if (marked) {
      var kind = marked.getAttribute("data-feedback");
      feedback(kind);
      marked.classList.remove("flash-success", "flash-error");
      void marked.offsetWidth; // restart the animation
      marked.classList.add("flash-" + kind);
    }
    focusScan(root);
    document.querySelectorAll("[data-mute-toggle]").forEach(function (btn) {
      btn.setAttribute("aria-pressed", muted() ? "true" : "false");
      btn.textContent = muted() ? "Sound off" : "Sound on";
    });
  }
  document.addEventListener("htmx:after:swap", function (evt) {
    var target = evt.detail && evt.detail.ctx && evt.detail.ctx.target;
    // An outerHTML swap replaces the target; look the region up again by id.
    var root = target && target.id ? (document.getElementById(target.id) || document) : document;
    settle(root);
  });
  document.addEventListener("DOMContentLoaded", function () { settle(document); });

  window.Lotline = { focusScan: focusScan, feedback: feedback };
})();
