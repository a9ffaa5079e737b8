/* The CSRF token (the page's meta tag): every htmx request carries it as the X-CSRFToken
   header, and so does the offline queue's replay (offline-queue.js). */
export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") : "";
}

document.addEventListener("htmx:config:request", (evt) => {
  const ctx = evt.detail && evt.detail.ctx;
  if (ctx && ctx.request && ctx.request.headers) ctx.request.headers["X-CSRFToken"] = csrfToken();
});
