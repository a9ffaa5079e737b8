/* The camera (the Camera button of a scan step): reads one barcode and puts it in the scan
   field, then submits it, as a scanner would. Imported by scan-field.js when the button is
   first pressed.

   It reads with the browser's BarcodeDetector, else with the WASM decoder vendored under
   static/vendor/barcode-detector-<version>/ (its "pure" ES module, which patches no globals,
   and zxing-wasm's zxing_reader.wasm), for Chromium and Chrome on Linux and Windows, and
   Firefox. The decoder is imported only when needed and its .wasm comes from the same folder,
   never from a CDN (its default is jsDelivr). The CSP's 'wasm-unsafe-eval' lets it compile;
   the service worker caches both files on first use, like any other /static file. */
import { field as scanField } from "./scan-field.js";
import { el } from "./dom.js";

const NO_DETECTOR = "This browser cannot read barcodes with the camera; use the scanner or type";
const DECODER = "/static/vendor/barcode-detector-3.2.2/";
let decoderLoad = null;

function loadDecoder() {
  if (!decoderLoad) {
    decoderLoad = import(DECODER + "ponyfill.js").then((api) => api.prepareZXingModule({
      overrides: {
        locateFile: (path, prefix) => (/\.wasm$/.test(path) ? DECODER + path : prefix + path),
      },
      fireImmediately: true, // fetch and compile now, so a failure shows here
    }).then(() => api.BarcodeDetector));
    decoderLoad.catch(() => { decoderLoad = null; }); // a later opening tries again
  }
  return decoderLoad;
}

function makeDetector() {
  if ("BarcodeDetector" in window) {
    return Promise.resolve(BarcodeDetector.getSupportedFormats ? BarcodeDetector.getSupportedFormats() : [])
      .then((formats) => (formats.length ? new BarcodeDetector({ formats }) : new BarcodeDetector()));
  }
  if (typeof WebAssembly !== "object") return Promise.reject(new Error("no WebAssembly"));
  return loadDecoder().then((Detector) => new Detector()); // every format
}

export function open(button) {
  const form = button.closest("form");
  const field = scanField(form || document);
  const dialog = el("dialog", { "class": "camera", "aria-labelledby": "camera-title", "data-testid": "camera-dialog" });
  dialog.appendChild(el("h2", { id: "camera-title" }, "Camera"));
  const status = el("p", { "class": "camera-status", role: "status" }, "Opening the camera…");
  const video = el("video", { "class": "camera-video", muted: "", playsinline: "", autoplay: "" });
  const close = el("button", { type: "button", "class": "primary" }, "Close");
  dialog.appendChild(status); dialog.appendChild(close); // the video joins once the camera is on
  document.body.appendChild(dialog);
  let stream = null, timer = null, finished = false;

  function finish(value) {
    if (finished) return;
    finished = true;
    if (timer) clearTimeout(timer);
    if (stream) stream.getTracks().forEach((track) => track.stop());
    if (dialog.open) dialog.close();
    dialog.remove();
    if (!field) return;
    field.focus();
    if (value) {
      field.value = value;
      if (field.form) field.form.requestSubmit();
    }
  }
  function tick(detector) {
    if (finished) return;
    detector.detect(video).then((codes) => {
      const code = codes.filter((c) => c.rawValue)[0];
      if (code) finish(code.rawValue.trim());
      else timer = setTimeout(() => tick(detector), 200);
    }, () => { timer = setTimeout(() => tick(detector), 400); });
  }

  close.addEventListener("click", () => finish(null));
  dialog.addEventListener("close", () => finish(null));
  dialog.showModal();
  close.focus();
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    status.textContent = "This device offers no camera to the browser; use the scanner or type";
    return;
  }
  if (!("BarcodeDetector" in window)) status.textContent = "Loading the barcode reader…";
  makeDetector().then((detector) => {
    if (finished) return;
    status.textContent = "Opening the camera…";
    return navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: "environment" } }, audio: false })
      .then((media) => {
        stream = media;
        if (finished) { media.getTracks().forEach((track) => track.stop()); return; }
        video.srcObject = media;
        dialog.insertBefore(video, close);
        status.textContent = "Hold the barcode in front of the camera.";
        return video.play().then(() => tick(detector));
      })
      .catch((err) => {
        status.textContent = "The camera could not be used (" + (err && err.name || "error") + "); use the scanner or type";
      });
  }, () => {
    status.textContent = NO_DETECTOR; // neither the browser's detector nor the decoder
  });
}
