/* Pack with an order on screen, offline: each scan is queued on this device as it is scanned,
   in order, under its own idempotency key (offline-queue.js sends the queue when the
   connection is back, and the server applies every rule then).

   The device checks two things only, against what the server rendered into the pack panel
   (data-offline, blueprints/packoffline.py): an item scan (SKU or GTIN) names a line of the
   order, and units of it are left counting those already queued. The refusal it shows is the
   server's own text. Then it asks for the steps the server says follow that item (lot,
   serial), one unit per item scan, each step drawn from the page's <template id=
   "offline-pack">. A GS1 label or Digital Link (the server's pattern, not a parser) is queued
   unchecked, as scanned: "checked when the connection is back". So is a quantity typed at
   the server's own Quantity step. Commands other than Cancel need the connection.

   The scan whose answer may have been lost when the network failed keeps the form's key, so
   it cannot land twice. */
import { field, focus, reveal } from "./scan-field.js";
import { flash } from "./feedback.js";
import { currentUser } from "./netbar.js";
import { isOffline, onPackPage, onSubmit } from "./connection.js";
import { add, all, onReplayed, queuedText, showQueue } from "./offline-queue.js";

let run = null; // the order being packed here: {data, key, state, at, pending, expiry}
let line = Promise.resolve(); // scans are handled one after another, in the order scanned

function panel() { return document.querySelector('[data-testid="pack-panel"][data-offline]'); }
function queues(form) {
  return form.id === "flow-form" && isOffline() && onPackPage() && !!panel();
}
function uuid() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return "k" + Date.now().toString(16) + Math.random().toString(16).slice(2);
}

function start(form) {
  const hidden = (name) => {
    const input = form.querySelector('input[type="hidden"][name="' + name + '"]');
    return input ? input.value : "";
  };
  const data = JSON.parse(panel().dataset.offline);
  const section = document.getElementById("flow");
  run = { data, key: hidden("idem") || uuid(), state: {}, expiry: hidden("expiry") || null,
          at: section && section.dataset.step, pending: parseInt(hidden("qty_pending"), 10) || 1 };
  ["sku", "lot", "serial"].forEach((name) => { if (hidden(name)) run.state[name] = hidden(name); });
  if (run.state.sku && !lineOf(run.state.sku)) run.state = {}; // not an item of the order
}

const lineOf = (sku) => run.data.lines.find((l) => l.sku === sku) || null;
function steps() {
  const l = run.state.sku ? lineOf(run.state.sku) : null;
  return ["sku", ...(l ? l.then : [])];
}
const nextStep = () => steps().find((name) => !(name in run.state)) || null;

async function room(l) {
  const queued = (await all()).filter((item) => item.order === run.data.order && item.sku === l.sku);
  return l.left - queued.reduce((sum, item) => sum + (item.qty || 1), 0);
}

async function handle(form, text, submitter) {
  if (!run) { // the connection came back meanwhile: the scan stays in the field, to send
    const input = field(form);
    if (input && !input.value) input.value = text;
    return;
  }
  const d = run.data, upper = text.toUpperCase(), name = submitter && submitter.name;
  const at = run.at; // the server's own step, on screen when the connection went
  run.at = null;
  run.result = run.refusal = null;
  if (name === "redo") {
    const names = steps();
    names.slice(Math.max(names.indexOf(submitter.value), 0)).forEach((n) => delete run.state[n]);
    return draw(null);
  }
  if (upper === d.commands.cancel) {
    run.state = {}; run.expiry = null;
    return draw(null);
  }
  if (at === "qty" && run.state.sku) { // the server had asked for a quantity: Enter confirms
    const typed = /^\d{1,7}$/.test(text) ? parseInt(text, 10)
      : upper === d.commands.confirm || !text ? run.pending : null;
    if (typed !== null) {
      run.state.qty = typed;
      return queue({ unchecked: typed > await room(lineOf(run.state.sku)) });
    }
    run.state.qty = run.pending; // another scan confirms the number shown, then counts itself
    await queue({});
  }
  if (upper.startsWith(d.commands.prefix)) return refuse(d.refusals.offline);
  if (!text) return draw(null);
  if (new RegExp(d.gs1).test(text)) return queue({ scan: text });
  const step = at && at !== "qty" && !(at in run.state) ? at : nextStep() || "sku";
  if (step === "sku") {
    const l = d.lines.find((candidate) => candidate.codes.indexOf(text) !== -1);
    if (!l) return refuse(d.refusals.no_line, text);
    if (await room(l) < 1) return refuse(l.full);
    run.state.sku = l.sku;
  } else {
    run.state[step] = text;
  }
  return nextStep() ? draw(null) : queue({});
}

async function queue(extra) {
  const s = run.state;
  const item = { key: run.key, order: run.data.order, sku: s.sku || null,
                 qty: extra.scan ? (s.qty || null) : (s.qty || 1), lot: s.lot || null,
                 serial: s.serial || null, expiry: run.expiry, user: currentUser(),
                 queuedAt: new Date().toISOString(), ...extra };
  if (!item.unchecked) delete item.unchecked;
  try {
    await add(item);
  } catch (err) {
    return refuse(run.data.refusals.not_stored);
  }
  run.result = queuedText(item);
  run.state = {}; run.at = null; run.expiry = null; run.key = uuid();
  await showQueue();
  return draw("success");
}

function refuse(refusal, scan) {
  run.refusal = { code: refusal.code, message: refusal.message.replace("{scan}", scan || "") };
  return draw("error");
}

/* The form drawn again from the page's parts: what the server needs to continue (if the
   connection is back before the next scan), the result or refusal, the steps scanned so far,
   and the step asked for now. */
function draw(kind) {
  const form = document.getElementById("flow-form"), section = document.getElementById("flow");
  const parts = document.getElementById("offline-pack").content;
  const part = (name) => parts.querySelector('[data-part="' + name + '"]').cloneNode(true);
  const label = (name) => parts.querySelector('[data-part="step-' + name + '"] label').textContent;
  const step = nextStep() || "sku";
  const hidden = (name, value) => Object.assign(document.createElement("input"), { type: "hidden", name, value });
  const nodes = [form.querySelector('input[name="csrf_token"]'), hidden("idem", run.key),
                 hidden("order", run.data.order)];
  ["sku", "lot", "serial"].forEach((name) => { if (name in run.state) nodes.push(hidden(name, run.state[name])); });
  if (run.expiry) nodes.push(hidden("expiry", run.expiry));
  if (run.result) {
    const ok = part("queued");
    ok.querySelector(".result-line").textContent = run.result;
    nodes.push(ok);
  }
  if (run.refusal) {
    const bad = part("refused");
    bad.dataset.errorCode = run.refusal.code;
    bad.querySelector("strong").textContent = "✖ " + run.refusal.message;
    nodes.push(bad);
  }
  const done = ["sku", "lot", "serial"].filter((name) => name in run.state);
  if (done.length) {
    const chips = part("done"), chip = chips.firstElementChild;
    chips.replaceChildren(...done.map((name) => {
      const li = chip.cloneNode(true), button = li.firstElementChild;
      button.value = name;
      button.title = "Scan " + label(name) + " again";
      button.textContent = label(name) + " " + run.state[name];
      return li;
    }));
    nodes.push(chips);
  }
  nodes.push(part("step-" + step).firstElementChild);
  // In one go, with the focus: what is scanned meanwhile lands in the field asked for now.
  const tools = form.querySelector(".flow-tools"), typed = field(form) ? field(form).value : "";
  [...form.children].forEach((node) => { if (node !== tools) node.remove(); });
  nodes.filter(Boolean).forEach((node) => form.insertBefore(node, tools));
  field(form).value = typed;
  focus(form);
  section.dataset.step = step;
  section.dataset.offline = "pack";
  if (kind) {
    section.setAttribute("data-feedback", kind);
    flash(section, kind);
  } else {
    section.removeAttribute("data-feedback");
  }
  reveal(); // the prompt, the refusal or result and the field in view, as after a swap
  return showNotes();
}

/* "(+2 queued)" beside what the panel says is packed. */
async function showNotes() {
  const items = await all();
  document.querySelectorAll('[data-testid="pack-panel"] tr[data-sku]').forEach((row) => {
    const n = items.filter((item) => item.order === run.data.order && item.sku === row.dataset.sku)
      .reduce((sum, item) => sum + (item.qty || 1), 0);
    const cell = row.querySelector('[data-col="packed"]');
    let note = cell.querySelector(".queued-note");
    if (!n) { if (note) note.remove(); return; }
    if (!note) { note = document.createElement("span"); note.className = "queued-note"; cell.appendChild(note); }
    note.textContent = " (+" + n + " queued)";
  });
}

function take(form, submitter) {
  if (!queues(form)) return false;
  if (!run || run.data.order !== panel().dataset.order) start(form);
  const input = field(form), text = input ? input.value.trim() : "";
  const command = submitter && submitter.name === "cmd" ? submitter.value : text;
  if (input) input.value = "";
  line = line.then(() => handle(form, command, submitter)).catch(() => {
    try { if (run) draw("error"); } catch (err) { /* the page changed meanwhile */ }
  });
  return true;
}
onSubmit(take);

// Enter in the scan field of the offline pack flow goes straight to the device's step (it
// never picks a default button).
document.addEventListener("keydown", (evt) => {
  const input = evt.target;
  if (evt.key !== "Enter" || !input.matches || !input.matches("[data-scan]") || !input.form) return;
  if (queues(input.form)) { evt.preventDefault(); take(input.form, null); }
}, true);

// Back online: the queue was sent. The server's flow comes back for the order on screen,
// with what was scanned here for the next unit; a pack scan held meanwhile is sent as it is.
onReplayed((done, resubmitting) => {
  const here = run;
  run = null;
  if (resubmitting || !onPackPage() || isOffline() || !window.htmx || !document.getElementById("flow")) return;
  const p = document.querySelector('[data-testid="pack-panel"][data-order]');
  const order = p ? p.dataset.order : done && done.orders[done.orders.length - 1];
  if (!order || !(here || (done && done.sent))) return;
  let query = "order=" + encodeURIComponent(order);
  ["sku", "lot", "serial"].forEach((name) => {
    if (here && here.state[name]) query += "&" + name + "=" + encodeURIComponent(here.state[name]);
  });
  htmx.ajax("GET", "/pack?" + query, { target: "#flow", swap: "outerHTML" });
});
