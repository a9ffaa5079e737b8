/* The bar under the navigation (#netbar, outside #main so swaps keep it): the connection and
   update banners and the pack queue each keep a part of it, made on first use. Its
   data-user is who is signed in on this page ("" on the offline shell). */
import { el } from "./dom.js";

function netbar() {
  let bar = document.getElementById("netbar");
  if (!bar) {
    bar = el("div", { id: "netbar", "class": "netbar", "data-user": "" });
    const main = document.getElementById("main");
    if (main) main.parentNode.insertBefore(bar, main); else document.body.prepend(bar);
  }
  return bar;
}

/* The part with this id, built by ``build`` the first time. */
export function barPart(id, build) {
  let part = document.getElementById(id);
  if (!part) { part = build(); netbar().appendChild(part); }
  return part;
}

export function currentUser() {
  const bar = document.getElementById("netbar");
  return bar ? bar.getAttribute("data-user") || "" : "";
}
