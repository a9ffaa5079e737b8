/* Lotline's behaviour file: CSRF for htmx, feedback, grid selection, offline and camera
   (the scan field itself is static/js/scan-field.js).
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

  /* ---------- scan fields (static/js/scan-field.js) ---------- */
  var scanField = window.LotlineScan.field, focusScan = window.LotlineScan.focus;

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

  /* ======================================================================================
     Offline, installing and the camera.

     Per-flow decision when the connection is gone (also in README.md, "Offline and
     installing"):
     - Pack (/pack with an order on screen) QUEUES. The pack steps run here, from the pack
       panel's data attributes: the item (SKU or GTIN) must be a line of the order with
       data-left > 0; Lot is asked when data-needs-lot="1", Serial when
       data-needs-serial="1"; one unit per scan. Each complete scan is stored in IndexedDB
       with its own idempotency key (crypto.randomUUID; the one scan whose answer may have
       been lost when the network failed keeps the form's key, so it cannot land twice),
       listed on screen as "Queued 1 × SKU · lot L (waiting for the connection)", and
       data-left is decremented here. When the connection is back the queue is replayed IN
       ORDER to POST /pack/replay; an item leaves the queue only on a definite answer (a JSON
       2xx, or a JSON 4xx refusal shown as a red error to resolve); a network error, a 5xx or
       a non-JSON answer (signed out, stale form) keeps it. Then the pack flow is reloaded.
     - Every other screen (Receive, Put, Pull, Move, Cycle Count, Pick, lookups, every form)
       REFUSES visibly: their rules need the server's stock and lots as they are now, which
       the device cannot know. The submit is not sent, a red panel says so, and what was
       typed stays in the field for when the connection is back.
     ====================================================================================== */

  var QUEUED_TEXT = "Offline — scans on this screen are queued";
  var REFUSED_TEXT = "Offline — this screen needs the connection; what you typed is kept";
  var net = { down: false, probe: null };
  var local = null; // the pack flow run on this device while offline
  var replaying = false, held = null; // a pack submit held back while the queue is sent
  var queuedSerials = []; // "SKU\nserial" of the queued scans, so a serial is not queued twice

  function isOffline() { return navigator.onLine === false || net.down; }
  function onPackPage() { return location.pathname === "/pack" && !document.querySelector("[data-offline-shell]"); }
  function packPanel() { return document.querySelector('[data-testid="pack-panel"][data-order]'); }
  function packQueues() { return onPackPage() && !!packPanel() && !!document.getElementById("flow-form"); }
  function currentUser() {
    var bar = document.getElementById("netbar");
    return bar ? bar.getAttribute("data-user") || "" : "";
  }
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "k" + Date.now().toString(16) + Math.random().toString(16).slice(2);
  }
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (text != null) node.textContent = text;
    return node;
  }

  /* ---------- the bar under the navigation: banners, the queue, replay results ---------- */
  function netbar() {
    var bar = document.getElementById("netbar");
    if (!bar) {
      bar = el("div", { id: "netbar", "class": "netbar", "data-user": "" });
      var main = document.getElementById("main");
      main ? main.parentNode.insertBefore(bar, main) : document.body.prepend(bar);
    }
    return bar;
  }
  function barPart(id, build) {
    var part = document.getElementById(id);
    if (!part) { part = build(); netbar().appendChild(part); }
    return part;
  }
  function showOfflineBanner() {
    var banner = barPart("net-offline", function () {
      return el("div", { id: "net-offline", "class": "netbanner offline", role: "status",
                         "data-testid": "offline-banner" });
    });
    var text = "⚠ " + (onPackPage() ? QUEUED_TEXT : REFUSED_TEXT);
    if (banner.textContent !== text) banner.textContent = text;
    banner.hidden = false;
    document.documentElement.dataset.offline = "1";
  }
  function hideOfflineBanner() {
    var banner = document.getElementById("net-offline");
    if (banner) banner.hidden = true;
    delete document.documentElement.dataset.offline;
  }
  function showUpdateBanner() {
    barPart("net-update", function () {
      var box = el("div", { id: "net-update", "class": "netbanner update", role: "status",
                            "data-testid": "update-banner" }, "A new version is ready — ");
      var btn = el("button", { type: "button", "class": "primary", "data-reload": "" }, "Reload");
      box.appendChild(btn);
      return box;
    });
  }

  /* ---------- the queue (IndexedDB, oldest first) ---------- */
  var DB_NAME = "lotline", STORE = "packQueue";
  function openDb() {
    return new Promise(function (resolve, reject) {
      var req = indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = function () {
        req.result.createObjectStore(STORE, { keyPath: "seq", autoIncrement: true });
      };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }
  function inStore(mode, action) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode), out;
        var req = action(tx.objectStore(STORE));
        if (req) req.onsuccess = function () { out = req.result; };
        tx.oncomplete = function () { db.close(); resolve(out); };
        tx.onerror = tx.onabort = function () { db.close(); reject(tx.error); };
      });
    });
  }
  function queueAll() { return inStore("readonly", function (store) { return store.getAll(); }); }
  function queueAdd(item) { return inStore("readwrite", function (store) { return store.add(item); }); }
  function queueRemove(seq) { return inStore("readwrite", function (store) { return store.delete(seq); }); }

  function queuedText(item) {
    return "Queued " + item.qty + " × " + item.sku + (item.lot ? " · lot " + item.lot : "") +
      (item.serial ? " · serial " + item.serial : "") + " (waiting for the connection)";
  }
  function renderQueue() {
    if (!window.indexedDB) return Promise.resolve([]);
    return queueAll().then(function (items) {
      var user = currentUser();
      queuedSerials = items.filter(function (item) { return item.serial; })
        .map(function (item) { return item.sku + "\n" + item.serial; });
      var count = document.querySelector("[data-queue-count]");
      if (count) {
        count.textContent = String(items.length);
        document.querySelector("[data-queue-count-line]").hidden = items.length === 0;
      }
      var box = document.getElementById("net-queue");
      if (!items.length) { if (box) box.remove(); return items; }
      if (!document.querySelector("[data-offline-shell]")) {
        box = barPart("net-queue", function () {
          var section = el("section", { id: "net-queue", "class": "netqueue",
                                        "aria-labelledby": "net-queue-title",
                                        "data-testid": "offline-queue" });
          section.appendChild(el("h2", { id: "net-queue-title" }));
          section.appendChild(el("ul"));
          return section;
        });
        box.querySelector("h2").textContent = "Queued on this device (" + items.length + ")";
        var list = box.querySelector("ul");
        list.replaceChildren.apply(list, items.map(function (item) {
          var other = item.user && user && item.user !== user;
          return el("li", { "data-key": item.key }, queuedText(item) +
                    (other ? " — queued by " + item.user + ": sign in as " + item.user + " to send it" : ""));
        }));
      }
      return items;
    }).catch(function () { return []; });
  }
  function replayResults() {
    return barPart("net-replay", function () {
      var section = el("section", { id: "net-replay", "class": "netreplay",
                                    "aria-labelledby": "net-replay-title",
                                    "data-testid": "replay-results" });
      section.appendChild(el("h2", { id: "net-replay-title" }, "Sent from the queue"));
      section.appendChild(el("ul", { "aria-live": "polite" }));
      var done = el("button", { type: "button", "data-dismiss-replay": "" }, "Done");
      section.appendChild(done);
      return section;
    });
  }
  function replayLine(kind, text, code) {
    var list = replayResults().querySelector("ul");
    var attrs = { "class": kind === "ok" ? "replay-ok" : "replay-error" };
    if (code) attrs["data-error-code"] = code;
    list.appendChild(el("li", attrs, (kind === "ok" ? "✔ " : "✖ ") + text));
  }

  /* ---------- replay, in order, when the connection is back ---------- */
  function payload(item) {
    return { order: item.order, sku: item.sku, qty: item.qty, lot: item.lot || null,
             serial: item.serial || null, expiry: item.expiry || null, key: item.key };
  }
  async function sendOne(item) {
    var res;
    try {
      res = await fetch("/pack/replay", {
        method: "POST", credentials: "same-origin", cache: "no-store",
        headers: { "Content-Type": "application/json", "Accept": "application/json",
                   "X-CSRFToken": csrfToken() },
        body: JSON.stringify(payload(item))
      });
    } catch (err) {
      return { network: true };
    }
    var type = res.headers.get("Content-Type") || "";
    if (res.redirected || type.indexOf("application/json") === -1 || res.status >= 500) {
      return { definite: false, status: res.status };
    }
    try {
      return { definite: true, status: res.status, body: await res.json() };
    } catch (err) {
      return { definite: false, status: res.status };
    }
  }
  async function replayQueue() {
    var user = currentUser(), sent = 0, orders = [];
    var items = (await queueAll()).filter(function (item) { return !item.user || item.user === user; });
    for (var i = 0; i < items.length; i++) {
      var item = items[i], answer = await sendOne(item);
      if (answer.network) { markDown(); break; }
      if (!answer.definite) {
        replayLine("error", answer.status >= 500
          ? "The server could not take the queued scans (answer " + answer.status + "). They stay queued and are sent again when a Lotline screen is next opened."
          : "The queued scans were not sent (answer " + answer.status + "). Sign in again on this device; they stay queued.",
                   "replay_not_sent");
        break;
      }
      await queueRemove(item.seq);
      sent += 1;
      if (orders.indexOf(item.order) === -1) orders.push(item.order);
      var body = answer.body || {};
      if (answer.status < 300 && body.ok) {
        (body.messages || []).forEach(function (message, n) {
          replayLine("ok", message + (n === 0 && body.replayed ? " (already sent before)" : ""));
        });
      } else {
        replayLine("error", item.order + " · " + item.sku + (item.lot ? " · lot " + item.lot : "") +
                   (item.serial ? " · serial " + item.serial : "") + ": " +
                   (body.message || "refused") + " Resolve it at the pack station.", body.code || "refused");
        feedback("error");
      }
      await renderQueue();
    }
    await renderQueue();
    return { sent: sent, orders: orders };
  }
  function replay() {
    if (replaying || isOffline() || !currentUser() || !csrfToken() || !window.indexedDB) {
      return Promise.resolve(null);
    }
    replaying = true;
    var run = function () { return replayQueue(); };
    var job = navigator.locks ? navigator.locks.request("lotline-pack-replay", run) : run();
    return job.catch(function () { return null; }).then(function (done) {
      replaying = false;
      var pending = held;
      held = null;
      if (pending && pending.form.isConnected && !isOffline()) {
        local = null; // the server continues from the form's fields; its answer replaces the flow
        pending.form.requestSubmit(pending.submitter && pending.submitter.isConnected ? pending.submitter : undefined);
      } else {
        reloadPackFlow(done);
      }
      return done;
    });
  }
  function reloadPackFlow(done) {
    if (!onPackPage() || isOffline() || !window.htmx || !document.getElementById("flow")) return;
    var panel = packPanel();
    var order = panel ? panel.getAttribute("data-order") : done && done.orders[done.orders.length - 1];
    if (!order || !(local || (done && done.sent))) return;
    var query = "order=" + encodeURIComponent(order);
    if (local) { // what was scanned for the next unit is kept: the server asks for the rest
      ["sku", "lot", "serial"].forEach(function (name) {
        if (local.state[name]) query += "&" + name + "=" + encodeURIComponent(local.state[name]);
      });
    }
    local = null;
    htmx.ajax("GET", "/pack?" + query, { target: "#flow", swap: "outerHTML" });
  }

  /* ---------- connection state ---------- */
  function markDown() {
    net.down = true;
    showOfflineBanner();
    if (!net.probe) {
      net.probe = setInterval(function () {
        fetch("/offline", { method: "HEAD", cache: "no-store" }).then(function (res) {
          if (res.ok) markUp();
        }, function () { /* still down */ });
      }, 5000);
    }
  }
  function markUp() {
    net.down = false;
    if (net.probe) { clearInterval(net.probe); net.probe = null; }
    if (navigator.onLine === false) return;
    hideOfflineBanner();
    document.querySelectorAll('[data-testid="offline-refusal"]').forEach(function (panel) { panel.remove(); });
    if (document.querySelector("[data-offline-shell]")) { shellRetry(0); return; }
    replay();
  }
  // The offline shell, shown in place of a page that could not be reached, opens that page
  // again as soon as the server answers (any answer to a HEAD, which the worker leaves to the
  // network), checking every few seconds. Opened as /offline itself, it stays put.
  var shellTimer = null;
  function shellRetry(delay) {
    if (location.pathname === "/offline") return;
    if (shellTimer) clearTimeout(shellTimer);
    shellTimer = setTimeout(function () {
      shellTimer = null;
      fetch(location.href, { method: "HEAD", cache: "no-store", redirect: "manual" })
        .then(function () { location.reload(); }, function () { shellRetry(3000); });
    }, delay);
  }
  window.addEventListener("offline", function () { showOfflineBanner(); });
  window.addEventListener("online", function () { markUp(); });
  document.addEventListener("htmx:after:request", function () { if (net.down) markUp(); });
  document.addEventListener("htmx:error", function (evt) {
    var ctx = evt.detail && evt.detail.ctx;
    if (!ctx || ctx.response) return; // an answer came: not the network
    markDown();
    var source = ctx.sourceElement;
    var form = source && (source.tagName === "FORM" ? source : source.closest && source.closest("form"));
    if (!form) return;
    if (form.id === "flow-form" && packQueues()) {
      // The typed value is still in the field: run this scan here and queue it.
      localSubmit(form, ctx.sourceEvent && ctx.sourceEvent.submitter);
    } else {
      refuse(form);
    }
  });

  /* ---------- offline submits: pack runs here, everything else is refused ---------- */
  function refuse(form) {
    var old = form.querySelector('[data-testid="offline-refusal"]');
    if (old) old.remove();
    var message = onPackPage()
      ? "Offline — not sent. Scans are queued only once an order is on screen; scan the order when the connection is back. What you typed is kept."
      : "Offline — not sent. This screen needs the connection; what you typed is kept. Press Enter again when the connection is back.";
    var panel = el("div", { "class": "panel error", role: "alert", "data-testid": "offline-refusal",
                            "data-error-code": "offline" });
    panel.appendChild(el("strong", null, "✖ " + message));
    form.insertBefore(panel, form.firstChild);
    feedback("error");
    var field = scanField(form);
    if (field) field.focus();
  }
  // Capture phase on the document: runs before htmx's own submit listener on the form.
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (form.id === "flow-form" && replaying && onPackPage()) {
      // The queued scans go first (in order); this one is sent as soon as they are done.
      evt.preventDefault(); evt.stopImmediatePropagation();
      held = { form: form, submitter: evt.submitter || null };
      return;
    }
    if (isOffline() && form.id === "flow-form" && packQueues()) {
      evt.preventDefault(); evt.stopImmediatePropagation();
      showOfflineBanner();
      localSubmit(form, evt.submitter);
    } else if (navigator.onLine === false) {
      // Known offline: refused at once. (After a failed request alone, the next submit is
      // tried again, and refused by the htmx:error handler if the network is still gone.)
      evt.preventDefault(); evt.stopImmediatePropagation();
      showOfflineBanner();
      refuse(form);
    }
  }, true);
  // Enter in a scan field of the offline pack flow never picks a default button.
  document.addEventListener("keydown", function (evt) {
    var field = evt.target;
    if (evt.key !== "Enter" || !field.matches || !field.matches("[data-scan]") || !isOffline()) return;
    if (!field.form || field.form.id !== "flow-form" || !packQueues()) return;
    evt.preventDefault();
    localSubmit(field.form, null);
  }, true);

  /* ---------- the pack steps, run on this device ---------- */
  var STEPS = {
    sku: { label: "Item", prompt: "Scan the item" },
    lot: { label: "Lot", prompt: "Scan the lot on the item" },
    serial: { label: "Serial", prompt: "Scan the serial of this unit" },
    qty: { label: "Quantity", prompt: "How many? Type a number" }
  };
  function LocalError(code, message) { this.code = code; this.message = message; }

  function rows() { return Array.prototype.slice.call(packPanel().querySelectorAll("tr[data-sku]")); }
  function rowForSku(sku) { return rows().filter(function (row) { return row.dataset.sku === sku; })[0] || null; }
  function rowForScan(scan) {
    var gtin = /^\d+$/.test(scan) && [8, 12, 13, 14].indexOf(scan.length) !== -1 ? scan.padStart(14, "0") : null;
    return rows().filter(function (row) {
      return row.dataset.sku === scan || (gtin && row.dataset.gtin === gtin);
    })[0] || null;
  }
  function left(row) { return parseInt(row.dataset.left, 10) || 0; }

  function enterLocal(form) {
    var hidden = function (name) {
      var input = form.querySelector('input[type="hidden"][name="' + name + '"]');
      return input ? input.value : "";
    };
    local = { order: packPanel().dataset.order, state: {}, key: hidden("idem") || uuid(),
              askQty: false, pendingQty: hidden("qty_pending") || "1", expiry: hidden("expiry") || null,
              error: null, result: null, busy: false, csrf: form.querySelector('input[name="csrf_token"]') };
    ["sku", "lot", "serial"].forEach(function (name) { if (hidden(name)) local.state[name] = hidden(name); });
    if (local.state.sku && !rowForSku(local.state.sku)) local.state = {}; // not an accepted item
    var section = document.getElementById("flow");
    local.askQty = section && section.dataset.step === "qty"; // the server had asked how many
  }
  function localSteps() {
    var steps = ["sku"], row = local.state.sku ? rowForSku(local.state.sku) : null;
    if (row) {
      if (row.dataset.needsLot === "1") steps.push("lot");
      if (row.dataset.needsSerial === "1") steps.push("serial");
      else if (local.askQty) steps.push("qty");
    }
    return steps;
  }
  function localStep() {
    return localSteps().filter(function (name) { return !(name in local.state); })[0] || null;
  }
  function cleanValue(raw) { return String(raw || "").trim(); }
  function checkCode(value, what) {
    if (!/^[^\s\x00-\x1f\x7f]{1,64}$/.test(value)) {
      throw new LocalError("validation_error", "A " + what + " has 1 to 64 printable characters and no spaces.");
    }
  }

  // GS1 element strings (]C1/]d2 or GS-separated, or "(01)…(10)…"): the AIs a pack scan uses.
  var GS1_FIXED = { "00": 18, "01": 14, "02": 14, "11": 6, "12": 6, "13": 6, "15": 6, "16": 6, "17": 6, "20": 2 };
  var GS1_VARIABLE = { "10": 20, "21": 20, "30": 8, "37": 8 };
  function parseGs1(raw) {
    var body = raw.replace(/^\](C1|d2|Q3|e0)/, "");
    var symbology = body !== raw;
    if (!(symbology || body.indexOf("\x1d") !== -1 || /^\(\d{2,4}\)/.test(body) ||
          /^0[12]\d{14}/.test(body) && body.length > 16)) return null;
    var out = {}, match;
    if (body[0] === "(") {
      var hri = /\((\d{2,4})\)([^(]*)/g;
      while ((match = hri.exec(body))) out[match[1]] = match[2];
    } else {
      body = body.replace(/^[\x1d~|]+/, "");
      while (body.length) {
        var ai = body.slice(0, 2), value;
        if (GS1_FIXED[ai]) {
          value = body.slice(2, 2 + GS1_FIXED[ai]); body = body.slice(2 + GS1_FIXED[ai]);
        } else if (GS1_VARIABLE[ai]) {
          var rest = body.slice(2), end = rest.search(/[\x1d~|]/);
          value = end === -1 ? rest : rest.slice(0, end);
          body = end === -1 ? "" : rest.slice(end);
          if (value.length > GS1_VARIABLE[ai]) value = null;
        } else if (/^3[1-6]\d\d/.test(body)) {
          ai = body.slice(0, 4); value = body.slice(4, 10); body = body.slice(10);
        } else {
          value = null;
        }
        if (value === null || value === "") {
          throw new LocalError("gs1_unreadable", "This label cannot be read on the device while offline. Scan the item, then the lot, separately.");
        }
        out[ai] = value;
        body = body.replace(/^[\x1d~|]+/, "");
      }
    }
    var scan = {};
    if (out["01"] || out["02"]) scan.gtin = (out["01"] || out["02"]).padStart(14, "0");
    if (out["10"]) scan.lot = out["10"];
    if (out["21"]) scan.serial = out["21"];
    if (out["30"] || out["37"]) scan.qty = parseInt(out["30"] || out["37"], 10);
    if (out["17"] && /^\d{6}$/.test(out["17"])) {
      var y = 2000 + parseInt(out["17"].slice(0, 2), 10), m = parseInt(out["17"].slice(2, 4), 10),
          d = parseInt(out["17"].slice(4, 6), 10);
      if (d === 0) d = new Date(Date.UTC(y, m, 0)).getUTCDate();
      scan.expiry = y + "-" + String(m).padStart(2, "0") + "-" + String(d).padStart(2, "0");
    }
    return scan;
  }

  function acceptItem(scan) {
    var row = rowForScan(scan);
    if (!row) {
      throw new LocalError("not_on_order", scan + " is not an item on order " + local.order +
                           ". Put it aside and scan an item from the order.");
    }
    if (left(row) <= 0) {
      throw new LocalError("over_pack", "Order " + local.order + " needs no more of " + row.dataset.sku +
                           ". Put the extra aside.");
    }
    local.state.sku = row.dataset.sku;
  }
  function acceptSerial(serial) {
    checkCode(serial, "serial");
    if (queuedSerials.indexOf(local.state.sku + "\n" + serial) !== -1) {
      throw new LocalError("duplicate_serial", "Serial " + serial + " of " + local.state.sku +
                           " is already queued. Scan the serial of the unit in your hand.");
    }
    local.state.serial = serial;
  }
  function accept(step, raw) {
    var gs1 = parseGs1(raw);
    if (gs1) {
      if (gs1.gtin) {
        if (local.state.sku && rowForScan(gs1.gtin) !== rowForSku(local.state.sku)) {
          throw new LocalError("gtin_mismatch", "This label is not for " + local.state.sku +
                               ". Scan the label of the item in your hand.");
        }
        if (!local.state.sku) acceptItem(gs1.gtin);
      }
      if (!local.state.sku) throw new LocalError("sku_required", "Scan the item first.");
      if (gs1.lot && !local.state.lot) { checkCode(gs1.lot, "lot number"); local.state.lot = gs1.lot; }
      if (gs1.serial && !local.state.serial) acceptSerial(gs1.serial);
      if (gs1.expiry) local.expiry = gs1.expiry;
      if (gs1.qty && rowForSku(local.state.sku).dataset.needsSerial !== "1") {
        if (gs1.qty > left(rowForSku(local.state.sku))) {
          throw new LocalError("over_pack", "Order " + local.order + " needs " + left(rowForSku(local.state.sku)) +
                               " more of " + local.state.sku + "; this label holds " + gs1.qty + ". Put the extra aside.");
        }
        local.state.qty = gs1.qty;
      }
      return;
    }
    if (step === "sku") {
      acceptItem(raw);
    } else if (step === "lot") {
      checkCode(raw, "lot number");
      local.state.lot = raw;
    } else if (step === "serial") {
      acceptSerial(raw);
    } else if (step === "qty") {
      if (rowForScan(raw) && rowForScan(raw) === rowForSku(local.state.sku)) { // the item again adds one
        local.pendingQty = String((parseInt(local.pendingQty, 10) || 1) + 1);
        return;
      }
      var qty = raw.toUpperCase() === "CMD:CONFIRM" ? parseInt(local.pendingQty, 10) : (/^\d{1,7}$/.test(raw) ? parseInt(raw, 10) : NaN);
      var room = left(rowForSku(local.state.sku));
      if (!(qty >= 1)) throw new LocalError("validation_error", "Type how many, as a number.");
      if (qty > room) {
        throw new LocalError("over_pack", "Order " + local.order + " needs " + room + " more of " +
                             local.state.sku + "; this would pack " + qty + ". Put the extra aside.");
      }
      local.state.qty = qty;
    }
  }

  function localSubmit(form, submitter) {
    if (!local || local.order !== (packPanel() && packPanel().dataset.order)) enterLocal(form);
    if (local.busy) return;
    local.error = null; local.result = null;
    var name = submitter && submitter.name, field = scanField(form);
    var raw = cleanValue(field && field.value);
    var command = name === "cmd" ? submitter.value : raw.toUpperCase();
    if (command === "CMD:CANCEL") {
      local.state = {}; local.askQty = false; local.expiry = null;
      renderLocal(form, null);
      return;
    }
    if (name === "redo") {
      var steps = localSteps(), from = steps.indexOf(submitter.value);
      steps.slice(from === -1 ? 0 : from).forEach(function (step) { delete local.state[step]; });
      renderLocal(form, null);
      return;
    }
    if (command === "CMD:CLOSE") {
      local.error = new LocalError("offline", "Closing a carton needs the connection. Keep packing; close it when the connection is back.");
      renderLocal(form, "error", raw);
      return;
    }
    if (!raw) { renderLocal(form, null); return; }
    try {
      accept(localStep() || "sku", raw);
    } catch (err) {
      if (!(err instanceof LocalError)) throw err;
      local.error = err;
      renderLocal(form, "error");
      return;
    }
    if (localStep() === null) commitLocal(form);
    else renderLocal(form, null);
  }

  function commitLocal(form) {
    var row = rowForSku(local.state.sku);
    var item = { key: local.key, order: local.order, sku: local.state.sku,
                 qty: parseInt(local.state.qty || 1, 10), lot: local.state.lot || null,
                 serial: local.state.serial || null, expiry: local.expiry || null,
                 user: currentUser(), queuedAt: new Date().toISOString() };
    local.busy = true;
    queueAdd(item).then(function () {
      row.dataset.left = String(left(row) - item.qty);
      row.dataset.queued = String((parseInt(row.dataset.queued, 10) || 0) + item.qty);
      var cell = row.querySelector('[data-col="packed"]');
      if (cell) {
        var note = cell.querySelector(".queued-note") || cell.appendChild(el("span", { "class": "queued-note" }));
        note.textContent = " (+" + row.dataset.queued + " queued)";
      }
      if (item.serial) queuedSerials.push(item.sku + "\n" + item.serial);
      local.result = queuedText(item);
      local.state = {}; local.askQty = false; local.expiry = null; local.key = uuid();
      local.busy = false;
      renderLocal(form, "success");
      renderQueue();
    }, function () {
      local.busy = false;
      local.error = new LocalError("queue_failed", "This device could not store the scan. Put the item aside and scan it again when the connection is back.");
      renderLocal(form, "error");
    });
  }

  function renderLocal(form, kind, keepValue) {
    var section = document.getElementById("flow");
    var tools = form.querySelector(".flow-tools");
    var step = localStep() || "sku", info = STEPS[step];
    var nodes = [];
    // Enter submits with the form's first submit button: a plain one, not a chip.
    nodes.push(el("button", { type: "submit", "class": "default-submit", tabindex: "-1", "aria-hidden": "true" }, "Enter"));
    if (local.csrf) nodes.push(local.csrf);
    // If the connection is back before the next scan, the server continues from here.
    nodes.push(el("input", { type: "hidden", name: "idem", value: local.key }));
    nodes.push(el("input", { type: "hidden", name: "order", value: local.order }));
    Object.keys(local.state).forEach(function (name) {
      nodes.push(el("input", { type: "hidden", name: name, value: String(local.state[name]) }));
    });
    if (local.result) {
      var ok = el("div", { "class": "panel ok result", role: "status", "data-testid": "result" });
      ok.appendChild(el("strong", null, "✔ Queued on this device"));
      ok.appendChild(el("div", { "class": "result-line" }, local.result));
      nodes.push(ok);
    }
    if (local.error) {
      var bad = el("div", { "class": "panel error", role: "alert", "data-testid": "flow-error",
                            "data-error-code": local.error.code });
      bad.appendChild(el("strong", null, "✖ " + local.error.message));
      nodes.push(bad);
    }
    var done = Object.keys(local.state);
    if (done.length) {
      var chips = el("ul", { "class": "steps-done", "aria-label": "Scanned so far" });
      done.forEach(function (name) {
        var li = el("li");
        li.appendChild(el("button", { type: "submit", name: "redo", value: name, title: "Scan " + STEPS[name].label + " again" },
                          STEPS[name].label + " " + local.state[name]));
        chips.appendChild(li);
      });
      nodes.push(chips);
    }
    var box = el("div", { "class": "step" });
    box.appendChild(el("p", { "class": "prompt", id: "prompt" }, info.prompt));
    box.appendChild(el("p", { "class": "info", "data-testid": "step-info" },
                       "Offline: order " + local.order + ". Each scan is queued on this device and sent when the connection is back."));
    box.appendChild(el("label", { "for": "scan-" + step }, info.label));
    var row = el("div", { "class": "scan-row" });
    var input = el("input", { id: "scan-" + step, name: step, "data-scan": "", value: "",
                              inputmode: step === "qty" ? "numeric" : "none", autocomplete: "off",
                              autocapitalize: "off", autocorrect: "off", spellcheck: "false",
                              "aria-describedby": "prompt", enterkeyhint: "go" });
    if (step === "qty") {  // the value attribute, so it is the field's default and selected
      input.setAttribute("value", local.pendingQty); input.setAttribute("data-select-on-focus", "");
    }
    if (keepValue) input.value = keepValue;
    row.appendChild(input);
    row.appendChild(el("button", { type: "submit", "class": "primary" }, "Enter"));
    box.appendChild(row);
    nodes.push(box);
    Array.prototype.slice.call(form.childNodes).forEach(function (node) { if (node !== tools) node.remove(); });
    nodes.forEach(function (node) { form.insertBefore(node, tools || null); });
    if (section) {
      section.dataset.step = step;
      section.dataset.offline = "pack";
      if (kind) section.setAttribute("data-feedback", kind); else section.removeAttribute("data-feedback");
    }
    if (kind && section) {
      feedback(kind);
      section.classList.remove("flash-success", "flash-error");
      void section.offsetWidth;
      section.classList.add("flash-" + kind);
    }
    focusScan(form);
  }

  /* ---------- installing: the service worker and "a new version is ready" ---------- */
  function registerWorker() {
    if (!("serviceWorker" in navigator)) return;
    var controlled = !!navigator.serviceWorker.controller;
    // A new worker takes the page as its activation starts; the banner waits until it has
    // activated (old caches deleted). The first install taking the page is no update.
    navigator.serviceWorker.addEventListener("controllerchange", function () {
      var worker = navigator.serviceWorker.controller, update = controlled;
      controlled = true;
      if (!update || !worker) return;
      if (worker.state === "activated") showUpdateBanner();
      else worker.addEventListener("statechange", function () {
        if (worker.state === "activated") showUpdateBanner();
      });
    });
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).then(function (registration) {
      registration.addEventListener("updatefound", function () {
        var worker = registration.installing, wasControlled = !!navigator.serviceWorker.controller;
        if (!worker) return;
        worker.addEventListener("statechange", function () {
          if (worker.state === "activated" && wasControlled) showUpdateBanner();
        });
      });
    }).catch(function () { /* no worker: the app still works online */ });
  }

  document.addEventListener("click", function (evt) {
    var target = evt.target.closest ? evt.target : null;
    if (!target) return;
    if (target.closest("[data-reload]")) {
      if (location.pathname === "/offline") location.assign("/"); else location.reload();
      return;
    }
    if (target.closest("[data-dismiss-replay]")) {
      var box = document.getElementById("net-replay");
      if (box) box.remove();
      focusScan();
    }
  });

  /* ---------- the camera: the browser's BarcodeDetector, else the vendored WASM decoder ----------
     Where the browser has no BarcodeDetector (Chromium and Chrome on Linux and Windows,
     Firefox) the polyfill vendored under static/vendor/barcode-detector-<version>/ (its "pure"
     ES module, which patches no globals, and zxing-wasm's zxing_reader.wasm) decodes instead.
     It is imported only when the camera is opened, and its .wasm comes from the same folder,
     never from a CDN (its default is jsDelivr). The CSP's 'wasm-unsafe-eval' lets it compile;
     the service worker caches both files on first use, like any other /static file. */
  var NO_DETECTOR = "This browser cannot read barcodes with the camera; use the scanner or type";
  var DECODER = "/static/vendor/barcode-detector-3.2.2/";
  var decoderLoad = null;
  function loadDecoder() {
    if (!decoderLoad) {
      decoderLoad = import(DECODER + "ponyfill.js").then(function (api) {
        return api.prepareZXingModule({
          overrides: {
            locateFile: function (path, prefix) {
              return /\.wasm$/.test(path) ? DECODER + path : prefix + path;
            }
          },
          fireImmediately: true // fetch and compile now, so a failure shows here
        }).then(function () { return api.BarcodeDetector; });
      });
      decoderLoad.catch(function () { decoderLoad = null; }); // a later opening tries again
    }
    return decoderLoad;
  }
  function makeDetector() {
    if ("BarcodeDetector" in window) {
      return Promise.resolve(BarcodeDetector.getSupportedFormats ? BarcodeDetector.getSupportedFormats() : [])
        .then(function (formats) {
          return formats.length ? new BarcodeDetector({ formats: formats }) : new BarcodeDetector();
        });
    }
    if (typeof WebAssembly !== "object") return Promise.reject(new Error("no WebAssembly"));
    return loadDecoder().then(function (Detector) { return new Detector(); }); // every format
  }
  function openCamera(button) {
    var form = button.closest("form");
    var field = scanField(form || document);
    var dialog = el("dialog", { "class": "camera", "aria-labelledby": "camera-title", "data-testid": "camera-dialog" });
    dialog.appendChild(el("h2", { id: "camera-title" }, "Camera"));
    var status = el("p", { "class": "camera-status", role: "status" }, "Opening the camera…");
    var video = el("video", { "class": "camera-video", muted: "", playsinline: "", autoplay: "" });
    var close = el("button", { type: "button", "class": "primary" }, "Close");
    dialog.appendChild(status); dialog.appendChild(close); // the video joins once the camera is on
    document.body.appendChild(dialog);
    var stream = null, timer = null, finished = false;
    function finish(value) {
      if (finished) return;
      finished = true;
      if (timer) clearTimeout(timer);
      if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
      if (dialog.open) dialog.close();
      dialog.remove();
      if (field) {
        field.focus();
        if (value) {
          field.value = value;
          if (field.form) field.form.requestSubmit();
        }
      }
    }
    close.addEventListener("click", function () { finish(null); });
    dialog.addEventListener("close", function () { finish(null); });
    dialog.showModal();
    close.focus();
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      status.textContent = "This device offers no camera to the browser; use the scanner or type";
      return;
    }
    if (!("BarcodeDetector" in window)) status.textContent = "Loading the barcode reader…";
    makeDetector().then(function (detector) {
      if (finished) return;
      status.textContent = "Opening the camera…";
      return navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: "environment" } }, audio: false })
        .then(function (media) {
          stream = media;
          if (finished) { media.getTracks().forEach(function (track) { track.stop(); }); return; }
          video.srcObject = media;
          dialog.insertBefore(video, close);
          status.textContent = "Hold the barcode in front of the camera.";
          return video.play().then(function () {
            (function tick() {
              if (finished) return;
              detector.detect(video).then(function (codes) {
                var code = codes.filter(function (c) { return c.rawValue; })[0];
                if (code) finish(code.rawValue.trim());
                else timer = setTimeout(tick, 200);
              }, function () { timer = setTimeout(tick, 400); });
            })();
          });
        })
        .catch(function (err) {
          status.textContent = "The camera could not be used (" + (err && err.name || "error") + "); use the scanner or type";
        });
    }, function () {
      status.textContent = NO_DETECTOR; // neither the browser's detector nor the decoder
    });
  }
  document.addEventListener("click", function (evt) {
    var button = evt.target.closest && evt.target.closest("[data-camera]");
    if (button) openCamera(button);
  });

  document.addEventListener("DOMContentLoaded", function () {
    registerWorker();
    if (isOffline()) showOfflineBanner();
    if (document.querySelector("[data-offline-shell]")) {
      // back off when the shell keeps coming back (the server answers, the page does not)
      var shown = parseInt(sessionStorage.getItem("lotline.shellShown") || "0", 10) + 1;
      sessionStorage.setItem("lotline.shellShown", String(shown));
      shellRetry(Math.min(1000 * Math.pow(2, shown - 1), 15000));
    } else {
      sessionStorage.removeItem("lotline.shellShown");
    }
    renderQueue().then(function (items) { if (items.length && !isOffline()) replay(); });
  });
  window.addEventListener("pageshow", function () { if (isOffline()) showOfflineBanner(); });

  window.Lotline = { focusScan: focusScan, feedback: feedback, queue: queueAll, replay: replay };
})();
