// Scanning a QR code with the phone's camera: the browser's BarcodeDetector where it has one,
// otherwise the vendored zxing-wasm reader (api/static/vendor/zxing-wasm, from the npm registry;
// its WebAssembly file is served by the console itself, never by a CDN).

import { h } from "./ui.js";

const VENDOR = "/console/vendor/zxing-wasm";
let zxing = null;

async function nativeDetector() {
  if (!("BarcodeDetector" in window)) return null;
  try {
    const formats = await window.BarcodeDetector.getSupportedFormats();
    if (!formats.includes("qr_code")) return null;
    const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    return async (video) => (await detector.detect(video)).map((found) => found.rawValue);
  } catch {
    return null;
  }
}

async function zxingDetector() {
  if (!zxing) {
    zxing = import(`${VENDOR}/es/reader/index.js`).then(async (module) => {
      await module.prepareZXingModule({
        overrides: { locateFile: (path) => `${VENDOR}/reader/${path}` },
        fireImmediately: true,
      });
      return module;
    });
    zxing.catch(() => {
      zxing = null;
    });
  }
  const module = await zxing;
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  return async (video) => {
    if (!video.videoWidth) return [];
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    context.drawImage(video, 0, 0);
    const image = context.getImageData(0, 0, canvas.width, canvas.height);
    const results = await module.readBarcodes(image, { formats: ["QRCode"], tryHarder: true, maxNumberOfSymbols: 1 });
    return results.filter((r) => r.isValid).map((r) => r.text);
  };
}

/** Whether this browser can open a camera at all (a secure context with mediaDevices). */
export function cameraAvailable() {
  return Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
}

/**
 * Open the camera in PANEL and resolve to the text of the first QR code seen; null when the
 * user closes it. Throws a Chinese Error when the camera cannot be opened.
 */
export async function scanQr(panel) {
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
  } catch (error) {
    throw new Error(
      error && error.name === "NotAllowedError" ? "没有摄像头权限，请在浏览器设置中允许使用摄像头" : "无法打开摄像头，请手动输入编号",
    );
  }
  const video = h("video", { class: "scanner-video", muted: true, playsinline: true, "aria-label": "摄像头画面" });
  video.muted = true;
  video.srcObject = stream;
  const status = h("p", { class: "muted", role: "status" }, "将二维码对准取景框……");
  let closed = false;
  let finish;
  const done = new Promise((resolve) => {
    finish = resolve;
  });
  const close = h(
    "button",
    {
      type: "button",
      class: "secondary",
      onclick: () => {
        closed = true;
        finish(null);
      },
    },
    "关闭摄像头",
  );
  panel.replaceChildren(h("div", { class: "scanner" }, video, status, close));
  panel.hidden = false;
  try {
    await video.play();
    const detect = (await nativeDetector()) || (await zxingDetector());
    const loop = async () => {
      while (!closed) {
        let found = [];
        try {
          found = await detect(video);
        } catch {
          found = [];
        }
        if (found.length) {
          finish(found[0]);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
    };
    loop();
    return await done;
  } finally {
    closed = true;
    for (const track of stream.getTracks()) track.stop();
    panel.replaceChildren();
    panel.hidden = true;
  }
}
