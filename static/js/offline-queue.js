/* The pack queue: scans queued on this device while offline (offline-pack.js adds them),
   oldest first, and sent IN ORDER to POST /pack/replay when the connection is back.

   Kept in IndexedDB, database "lotline", store "packQueue" (key "seq", auto-increment), as
   the previous release kept it: a queue written then is sent as it is. An entry is the body
   /pack/replay reads (order, sku, qty, lot, serial, expiry, key; and scan, a GS1 label or
   Digital Link sent as scanned, which the server reads) with who queued it and when. Each
   has its own idempotency key, so a replay sent twice applies once.

   An entry leaves the queue only on a definite answer: a JSON 2xx, or a JSON 4xx refusal,
   shown in red to resolve at the station. A network error, a 5xx or an answer that is not
   JSON (signed out, a stale form) keeps it. Entries queued by another user wait for them. */
import { el } from "./dom.js";
import { csrfToken } from "./csrf.js";
import { barPart, currentUser } from "./netbar.js";
import { feedback } from "./feedback.js";
import { focus } from "./scan-field.js";
import { isOffline, isShell, markDown, onBack, onPackPage, onSubmit } from "./connection.js";

const DB_NAME = "lotline", STORE = "packQueue";
const BODY = ["order", "sku", "qty", "lot", "serial", "expiry", "key", "scan"];
const replayed = [];
let running = false, held = null; // a pack submit held back while the queue is sent

function inStore(mode, action) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(DB_NAME, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(STORE, { keyPath: "seq", autoIncrement: true });
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result, tx = db.transaction(STORE, mode);
      const req = action(tx.objectStore(STORE));
      let out;
      if (req) req.onsuccess = () => { out = req.result; };
      tx.oncomplete = () => { db.close(); resolve(out); };
      tx.onerror = tx.onabort = () => { db.close(); reject(tx.error); };
    };
  });
}
export const all = () => (window.indexedDB ? inStore("readonly", (store) => store.getAll()) : Promise.resolve([]));
export const add = (item) => inStore("readwrite", (store) => store.add(item));
const remove = (seq) => inStore("readwrite", (store) => store.delete(seq));

/* What an entry says on screen. A label is read by the server: it is checked then. */
export function queuedText(item) {
  if (item.scan) return "Queued label " + item.scan + " — checked when the connection is back";
  return "Queued " + item.qty + " × " + item.sku + (item.lot ? " · lot " + item.lot : "") +
    (item.serial ? " · serial " + item.serial : "") +
    (item.unchecked ? " — checked when the connection is back" : " (waiting for the connection)");
}

/* The queue in the bar (not on the shell, which shows the count only). */
export async function showQueue() {
  const items = await all().catch(() => []);
  const user = currentUser();
  const count = document.querySelector("[data-queue-count]");
  if (count) {
    count.textContent = String(items.length);
    document.querySelector("[data-queue-count-line]").hidden = items.length === 0;
  }
  let box = document.getElementById("net-queue");
  if (!items.length || isShell()) { if (box) box.remove(); return items; }
  box = barPart("net-queue", () => {
    const section = el("section", { id: "net-queue", "class": "netqueue",
                                    "aria-labelledby": "net-queue-title", "data-testid": "offline-queue" });
    section.append(el("h2", { id: "net-queue-title" }), el("ul"));
    return section;
  });
  box.querySelector("h2").textContent = "Queued on this device (" + items.length + ")";
  box.querySelector("ul").replaceChildren(...items.map((item) => {
    const other = item.user && user && item.user !== user;
    return el("li", { "data-key": item.key }, queuedText(item) +
              (other ? " — queued by " + item.user + ": sign in as " + item.user + " to send it" : ""));
  }));
  return items;
}

function resultLine(kind, text, code) {
  const box = barPart("net-replay", () => {
    const section = el("section", { id: "net-replay", "class": "netreplay",
                                    "aria-labelledby": "net-replay-title", "data-testid": "replay-results" });
    section.append(el("h2", { id: "net-replay-title" }, "Sent from the queue"),
                   el("ul", { "aria-live": "polite" }),
                   el("button", { type: "button", "data-dismiss-replay": "" }, "Done"));
    return section;
  });
  const attrs = { "class": kind === "ok" ? "replay-ok" : "replay-error" };
  if (code) attrs["data-error-code"] = code;
  box.querySelector("ul").appendChild(el("li", attrs, (kind === "ok" ? "✔ " : "✖ ") + text));
}

async function send(item) {
  const body = {};
  BODY.forEach((name) => { if (name in item) body[name] = item[name] === undefined ? null : item[name]; });
  let res;
  try {
    res = await fetch("/pack/replay", {
      method: "POST", credentials: "same-origin", cache: "no-store",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body),
    });
  } catch (err) {
    return { network: true };
  }
  const type = res.headers.get("Content-Type") || "";
  if (res.redirected || type.indexOf("application/json") === -1 || res.status >= 500) {
    return { definite: false, status: res.status };
  }
  try {
    return { definite: true, status: res.status, body: await res.json() };
  } catch (err) {
    return { definite: false, status: res.status };
  }
}

function what(item) {
  return item.order + " · " + (item.scan ? "label " + item.scan : item.sku) +
    (item.lot ? " · lot " + item.lot : "") + (item.serial ? " · serial " + item.serial : "");
}

async function sendAll() {
  const user = currentUser(), orders = [];
  let sent = 0;
  const items = (await all()).filter((item) => !item.user || item.user === user);
  for (const item of items) {
    const answer = await send(item);
    if (answer.network) { markDown(); break; }
    if (!answer.definite) {
      resultLine("error", answer.status >= 500
        ? "The server could not take the queued scans (answer " + answer.status + "). They stay queued and are sent again when a Lotline screen is next opened."
        : "The queued scans were not sent (answer " + answer.status + "). Sign in again on this device; they stay queued.",
                 "replay_not_sent");
      break;
    }
    await remove(item.seq);
    sent += 1;
    if (orders.indexOf(item.order) === -1) orders.push(item.order);
    const body = answer.body || {};
    if (answer.status < 300 && body.ok) {
      (body.messages || []).forEach((message, n) => {
        resultLine("ok", message + (n === 0 && body.replayed ? " (already sent before)" : ""));
      });
    } else {
      resultLine("error", what(item) + ": " + (body.message || "refused") + " Resolve it at the pack station.",
                 body.code || "refused");
      feedback("error");
    }
    await showQueue();
  }
  await showQueue();
  return { sent, orders };
}

/* ``after(done, resubmitting)`` runs once a replay is over: ``done`` says what was sent
   ({sent, orders}, or null); ``resubmitting`` when a pack submit held meanwhile goes now. */
export function onReplayed(after) { replayed.push(after); }

export function replay() {
  if (running || isOffline() || !currentUser() || !csrfToken() || !window.indexedDB) {
    return Promise.resolve(null);
  }
  running = true;
  const job = navigator.locks ? navigator.locks.request("lotline-pack-replay", sendAll) : sendAll();
  return job.catch(() => null).then((done) => {
    running = false;
    const pending = held;
    held = null;
    const resubmit = !!(pending && pending.form.isConnected && !isOffline());
    replayed.forEach((after) => after(done, resubmit));
    if (resubmit) {
      pending.form.requestSubmit(pending.submitter && pending.submitter.isConnected ? pending.submitter : undefined);
    }
    return done;
  });
}

// The queued scans go first (in order); a pack scan made meanwhile is sent when they are done.
onSubmit((form, submitter) => {
  if (!running || form.id !== "flow-form" || !onPackPage()) return false;
  held = { form, submitter };
  return true;
});
onBack(replay);

document.addEventListener("click", (evt) => {
  if (!(evt.target.closest && evt.target.closest("[data-dismiss-replay]"))) return;
  const box = document.getElementById("net-replay");
  if (box) box.remove();
  focus();
});

document.addEventListener("DOMContentLoaded", () => {
  showQueue().then((items) => { if (items.length && !isOffline()) replay(); });
});

window.Lotline = { queue: all, replay }; // for tests, and a support person's console
