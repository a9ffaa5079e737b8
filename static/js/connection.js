/* The connection (README "Offline and installing"). When it is gone a banner says so, and
   what a submit does depends on the screen:
   - Pack with an order on screen QUEUES each scan on this device (offline-pack.js takes the
     submit; offline-queue.js sends the queue, in order, when the connection is back);
   - every other screen REFUSES visibly: its rules need the server's stock and lots as they
     are now, which the device cannot know. The submit is not sent, a red panel says so, and
     what was typed stays in the field for when the connection is back.
   "Gone" is the browser saying so, or a request that got no answer at all; then a probe
   every 5 s finds it back. The offline shell (served by the worker in place of a page that
   could not be reached) opens that page again as soon as the server answers. */
import { el } from "./dom.js";
import { barPart } from "./netbar.js";
import { feedback } from "./feedback.js";
import { field } from "./scan-field.js";

const QUEUED_TEXT = "Offline — scans on this screen are queued";
const REFUSED_TEXT = "Offline — this screen needs the connection; what you typed is kept";
const net = { down: false, probe: null };
const takers = [], backs = [];

export const isOffline = () => navigator.onLine === false || net.down;
export const isShell = () => !!document.querySelector("[data-offline-shell]");
export const onPackPage = () => location.pathname === "/pack" && !isShell();

/* ``take(form, submitter)`` may take a submit the network cannot carry (or one that must wait)
   and returns true when it did; the first that takes it wins. */
export function onSubmit(take) { takers.push(take); }
/* ``back()`` runs when the connection is back (not on the offline shell, which reloads). */
export function onBack(back) { backs.push(back); }

function showBanner() {
  const banner = barPart("net-offline", () => el("div", {
    id: "net-offline", "class": "netbanner offline", role: "status", "data-testid": "offline-banner" }));
  const text = "⚠ " + (onPackPage() ? QUEUED_TEXT : REFUSED_TEXT);
  if (banner.textContent !== text) banner.textContent = text;
  banner.hidden = false;
  document.documentElement.dataset.offline = "1";
}

export function markDown() {
  net.down = true;
  showBanner();
  if (!net.probe) {
    net.probe = setInterval(() => {
      fetch("/offline", { method: "HEAD", cache: "no-store" })
        .then((res) => { if (res.ok) markUp(); }, () => { /* still down */ });
    }, 5000);
  }
}

function markUp() {
  net.down = false;
  if (net.probe) { clearInterval(net.probe); net.probe = null; }
  if (navigator.onLine === false) return;
  const banner = document.getElementById("net-offline");
  if (banner) banner.hidden = true;
  delete document.documentElement.dataset.offline;
  document.querySelectorAll('[data-testid="offline-refusal"]').forEach((panel) => panel.remove());
  if (isShell()) shellRetry(0);
  else backs.forEach((back) => back());
}

// The shell opens the page asked for again once the server answers (any answer to a HEAD,
// which the worker leaves to the network), checking every few seconds. Opened as /offline
// itself, it stays put.
let shellTimer = null;
function shellRetry(delay) {
  if (location.pathname === "/offline") return;
  if (shellTimer) clearTimeout(shellTimer);
  shellTimer = setTimeout(() => {
    shellTimer = null;
    fetch(location.href, { method: "HEAD", cache: "no-store", redirect: "manual" })
      .then(() => location.reload(), () => shellRetry(3000));
  }, delay);
}

function refuse(form) {
  const old = form.querySelector('[data-testid="offline-refusal"]');
  if (old) old.remove();
  const message = onPackPage()
    ? "Offline — not sent. Scans are queued only once an order is on screen; scan the order when the connection is back. What you typed is kept."
    : "Offline — not sent. This screen needs the connection; what you typed is kept. Press Enter again when the connection is back.";
  const panel = el("div", { "class": "panel error", role: "alert", "data-testid": "offline-refusal",
                            "data-error-code": "offline" });
  panel.appendChild(el("strong", null, "✖ " + message));
  form.insertBefore(panel, form.firstChild);
  feedback("error");
  const input = field(form);
  if (input) input.focus();
}

const taken = (form, submitter) => takers.some((take) => take(form, submitter || null));

// Capture phase on the document: runs before htmx's own submit listener on the form.
document.addEventListener("submit", (evt) => {
  const form = evt.target;
  if (taken(form, evt.submitter)) {
    evt.preventDefault(); evt.stopImmediatePropagation();
  } else if (navigator.onLine === false) {
    // Known offline: refused at once. (After a failed request alone, the next submit is
    // tried again, and refused below if the network is still gone.)
    evt.preventDefault(); evt.stopImmediatePropagation();
    showBanner();
    refuse(form);
  }
}, true);

document.addEventListener("htmx:error", (evt) => {
  const ctx = evt.detail && evt.detail.ctx;
  if (!ctx || ctx.response) return; // an answer came: not the network
  markDown();
  const source = ctx.sourceElement;
  const form = source && (source.tagName === "FORM" ? source : source.closest && source.closest("form"));
  // The value typed is still in the field: the pack queue may take it, else it is refused.
  if (form && !taken(form, ctx.sourceEvent && ctx.sourceEvent.submitter)) refuse(form);
});
document.addEventListener("htmx:after:request", () => { if (net.down) markUp(); });
window.addEventListener("offline", showBanner);
window.addEventListener("online", markUp);
window.addEventListener("pageshow", () => { if (isOffline()) showBanner(); });

document.addEventListener("DOMContentLoaded", () => {
  if (isOffline()) showBanner();
  if (isShell()) {
    // back off when the shell keeps coming back (the server answers, the page does not)
    const shown = parseInt(sessionStorage.getItem("lotline.shellShown") || "0", 10) + 1;
    sessionStorage.setItem("lotline.shellShown", String(shown));
    shellRetry(Math.min(1000 * Math.pow(2, shown - 1), 15000));
  } else {
    sessionStorage.removeItem("lotline.shellShown");
  }
});
