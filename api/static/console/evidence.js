// Evidence of a handoff taken on the phone: a photo (the camera through a file input) and the
// receiver's signature drawn with a finger on a canvas. Both become {content_type, data_base64}
// for the API (EVIDENCE in api/routes/common.py), which decodes and re-encodes them.

import { h } from "./ui.js";

const MAX_SIDE = 1600;

function base64Of(dataUrl) {
  return dataUrl.slice(dataUrl.indexOf(",") + 1);
}

/** A photo FILE scaled down to at most MAX_SIDE pixels, as JPEG evidence. */
async function photoEvidence(file) {
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  return { content_type: "image/jpeg", data_base64: base64Of(canvas.toDataURL("image/jpeg", 0.8)) };
}

/** The signature pad: a canvas drawn on with a finger, a stylus or a mouse. */
function signaturePad(id) {
  const canvas = h("canvas", {
    id,
    class: "signature",
    width: 600,
    height: 220,
    role: "img",
    "aria-label": "签名区：请收件人用手指在此签名",
  });
  const context = canvas.getContext("2d");
  context.lineWidth = 4;
  context.lineCap = "round";
  context.lineJoin = "round";
  context.strokeStyle = "#111";
  let drawing = false;
  let drawn = false;
  const at = (event) => {
    const box = canvas.getBoundingClientRect();
    return [((event.clientX - box.left) * canvas.width) / box.width, ((event.clientY - box.top) * canvas.height) / box.height];
  };
  canvas.addEventListener("pointerdown", (event) => {
    drawing = true;
    canvas.setPointerCapture(event.pointerId);
    context.beginPath();
    context.moveTo(...at(event));
    event.preventDefault();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drawing) return;
    context.lineTo(...at(event));
    context.stroke();
    drawn = true;
    event.preventDefault();
  });
  const stop = () => {
    drawing = false;
  };
  canvas.addEventListener("pointerup", stop);
  canvas.addEventListener("pointercancel", stop);
  return {
    canvas,
    clear() {
      context.clearRect(0, 0, canvas.width, canvas.height);
      drawn = false;
    },
    read() {
      if (!drawn) return null;
      // a white background: a transparent PNG shows black on black in some viewers
      const flat = document.createElement("canvas");
      flat.width = canvas.width;
      flat.height = canvas.height;
      const c = flat.getContext("2d");
      c.fillStyle = "#fff";
      c.fillRect(0, 0, flat.width, flat.height);
      c.drawImage(canvas, 0, 0);
      return { content_type: "image/png", data_base64: base64Of(flat.toDataURL("image/png")) };
    },
  };
}

/**
 * The evidence fields of a delivery (or pickup): a photo and a signature. Returns the element and
 * read(), which resolves to the evidence list (possibly empty).
 */
export function evidenceFields(prefix) {
  const photo = h("input", { type: "file", accept: "image/*", capture: "environment", id: `${prefix}-photo`, name: "photo" });
  const pad = signaturePad(`${prefix}-signature`);
  const element = h(
    "div",
    { class: "evidence" },
    h("label", { for: `${prefix}-photo` }, "现场照片（选填）"),
    photo,
    h("p", { class: "label", id: `${prefix}-signature-label` }, "收件人签名（选填）"),
    pad.canvas,
    h("button", { type: "button", class: "link", onclick: () => pad.clear() }, "重新签名"),
  );
  return {
    element,
    async read() {
      const evidence = [];
      if (photo.files && photo.files[0]) evidence.push(await photoEvidence(photo.files[0]));
      const signature = pad.read();
      if (signature) evidence.push(signature);
      return evidence;
    },
  };
}
