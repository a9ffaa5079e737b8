/* The installed app: the service worker (/sw.js) and "A new version is ready — Reload". A new
   worker takes the page as its activation starts; the banner waits until it has activated
   (the old caches are deleted then). The first install taking the page is no update. */
import { el } from "./dom.js";
import { barPart } from "./netbar.js";

function showUpdate() {
  barPart("net-update", () => {
    const box = el("div", { id: "net-update", "class": "netbanner update", role: "status",
                            "data-testid": "update-banner" }, "A new version is ready — ");
    box.appendChild(el("button", { type: "button", "class": "primary", "data-reload": "" }, "Reload"));
    return box;
  });
}

function whenActivated(worker) {
  if (worker.state === "activated") showUpdate();
  else worker.addEventListener("statechange", () => { if (worker.state === "activated") showUpdate(); });
}

if ("serviceWorker" in navigator) {
  let controlled = !!navigator.serviceWorker.controller;
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    const worker = navigator.serviceWorker.controller, update = controlled;
    controlled = true;
    if (update && worker) whenActivated(worker);
  });
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).then((registration) => {
    registration.addEventListener("updatefound", () => {
      const worker = registration.installing, wasControlled = !!navigator.serviceWorker.controller;
      if (worker && wasControlled) {
        worker.addEventListener("statechange", () => { if (worker.state === "activated") showUpdate(); });
      }
    });
  }).catch(() => { /* no worker: the app still works online */ });
}

// Reload (the update banner) and Try again (the offline shell, which opens the home page
// when it was opened as /offline itself).
document.addEventListener("click", (evt) => {
  if (!(evt.target.closest && evt.target.closest("[data-reload]"))) return;
  if (location.pathname === "/offline") location.assign("/"); else location.reload();
});
