/* Lotline's service worker, served from the site root by blueprints/pwa.py, which fills in
   VERSION (a hash of the static files, so each release gets a cache of its own) and SHELL
   (the URLs precached at install).

   - static assets (/static/…): cache first, then the network (and the copy is kept);
   - page navigations: the network first; when the network fails, the offline shell;
   - htmx fragments (HX-Request), every POST (and any other non-GET), the worker itself and
     anything else: never answered from the cache — the browser goes to the network as if
     there were no worker;
   - activate: every older lotline-* cache is deleted, then this worker takes the open pages
     (the page shows "A new version is ready — Reload"). */
"use strict";

const VERSION = "__LOTLINE_VERSION__";
const SHELL = ["__LOTLINE_SHELL__"];
const CACHE = "lotline-" + VERSION;
const OFFLINE_URL = "/offline";

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    // cache: "reload" skips the HTTP cache, so the shell is this release's copy.
    await cache.addAll(SHELL.map((url) => new Request(url, { cache: "reload" })));
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    const names = await caches.keys();
    await Promise.all(names
      .filter((name) => name.startsWith("lotline-") && name !== CACHE)
      .map((name) => caches.delete(name)));
    await self.clients.claim();
  })());
});

function isStatic(url) {
  return url.origin === self.location.origin && url.pathname.startsWith("/static/");
}

// Lookups never create a cache (caches.open would): a worker still answering while a newer
// one activates must not bring back the cache that the newer one has just deleted.
async function cacheFirst(request) {
  const hit = await caches.match(request, { cacheName: CACHE, ignoreSearch: true });
  if (hit) return hit;
  const response = await fetch(request);
  if (response.ok && response.type === "basic" && await caches.has(CACHE)) {
    const copy = response.clone();
    caches.open(CACHE).then((cache) => cache.put(request, copy));
  }
  return response;
}

async function networkFirstPage(request) {
  try {
    return await fetch(request);
  } catch (err) {
    const shell = await caches.match(OFFLINE_URL, { cacheName: CACHE });
    if (shell) return shell;
    throw err;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return; // POSTs always go to the network
  if (request.headers.get("HX-Request")) return; // htmx fragments: never from the cache
  const url = new URL(request.url);
  if (request.mode === "navigate") {
    event.respondWith(networkFirstPage(request));
    return;
  }
  if (isStatic(url)) {
    event.respondWith(cacheFirst(request));
  }
  // anything else (the JSON API, /sw.js, probes): straight to the network
});

self.addEventListener("message", (event) => {
  if (event.data === "version" && event.source) {
    event.source.postMessage({ version: VERSION, cache: CACHE });
  }
});
