// Electronic materials and results (全程网办, 电子证照): the window attaches files (PDF, JPEG, PNG,
// from a file picker or the scanner's folder) to a case's materials and pushes the electronic
// package; the department reads each file of a package it received; the department issues the
// signed electronic result. Kept apart from window.js / packages.js / cases.js, which only call
// the functions exported here.

import { ApiError, call, documentUrl, NetworkError, newKey, session } from "./api.js";
import { attempt, h, showError, showOk, table } from "./ui.js";

const ACCEPT = "application/pdf,image/jpeg,image/png,.pdf,.jpg,.jpeg,.png";

/** Online mode (全程网办) takes electronic materials only: every material is marked electronic. */
export function withElectronic(mode, materials) {
  return mode === "online" ? materials.map((m) => ({ ...m, electronic: true })) : materials;
}

function csrfToken() {
  const found = document.cookie.split(";").map((c) => c.trim()).find((c) => c.startsWith("handoff_csrf="));
  return found ? decodeURIComponent(found.slice("handoff_csrf=".length)) : "";
}

/** POST the file's own bytes (the type is read from its content by the server). */
async function sendFile(path, file) {
  const headers = { Accept: "application/json, application/problem+json", "Content-Type": "application/octet-stream" };
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  else headers["X-CSRF-Token"] = csrfToken();
  let response;
  try {
    response = await fetch(path, {
      method: "POST",
      headers,
      body: file,
      cache: "no-store",
      credentials: session.token ? "omit" : "same-origin",
    });
  } catch {
    throw new NetworkError();
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, data && typeof data.title === "string" ? data : { title: `上传失败（HTTP ${response.status}）` });
  }
  return data;
}

export function sizeText(bytes) {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  return `${Math.max(1, Math.round(bytes / 1024))} KB`;
}

/** A file of a case or package: fetched with the user's credentials, then offered to open or save. */
function fileLink(file, path) {
  const holder = h("span", { class: "doc file" });
  const button = h("button", { type: "button", class: "secondary" }, file.name);
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const href = await documentUrl(path.url);
      holder.replaceChildren(
        h("a", { href, target: "_blank", rel: "noopener", class: "button secondary" }, `打开：${file.name}`),
        h("a", { href, download: file.name, class: "button link" }, `下载：${file.name}`),
      );
    } catch (error) {
      showError(error);
    } finally {
      button.disabled = false;
    }
  });
  holder.append(button);
  return holder;
}

/**
 * 电子材料 of a collected case (the window): per material a file picker and the files attached,
 * then 推送电子材料包. `c` is the case view; `onPushed(pkg)` after the push.
 */
export function filesPanel(c, onPushed) {
  const holder = h("div", { class: "files-panel" });
  const key = newKey();

  async function render() {
    const data = await attempt(() => call("GET", `/api/v1/cases/${c.id}/files`));
    if (!data) return;
    const limits = data.limits || {};
    const rows = c.materials.map((m, index) => {
      const item = index + 1;
      const mine = data.files.filter((f) => f.item_seq === item);
      const id = `file-${c.id}-${item}`;
      const input = h("input", { type: "file", id, name: `file-${item}`, accept: ACCEPT, multiple: true });
      input.addEventListener("change", async () => {
        const files = Array.from(input.files || []);
        input.disabled = true;
        let added = 0;
        for (const file of files) {
          try {
            await sendFile(`/api/v1/cases/${c.id}/files?item=${item}&name=${encodeURIComponent(file.name)}`, file);
            added += 1;
          } catch (error) {
            showError(new Error(`${file.name}：${error.message}`));
            break;
          }
        }
        input.disabled = false;
        await render();
        if (added) showOk(`已上传 ${added} 个文件：${m.name}`);
      });
      return h(
        "tr",
        { dataset: { item: String(item) } },
        h("td", {}, item),
        h("td", {}, h("label", { for: id }, m.name)),
        h(
          "td",
          { class: "attached" },
          mine.length
            ? h(
                "ul",
                { class: "file-list" },
                mine.map((f) =>
                  h(
                    "li",
                    {},
                    fileLink(f, { template: "/api/v1/cases/{case_id}/files/{file_id}", url: f.url }),
                    h("small", {}, ` ${sizeText(f.size)} · ${f.pages} 页 `),
                    h(
                      "button",
                      {
                        type: "button",
                        class: "link",
                        "aria-label": `移除 ${f.name}`,
                        onclick: async () => {
                          const done = await attempt(() => call("POST", `/api/v1/cases/${c.id}/files/${f.id}/remove`, { body: {} }));
                          if (done) await render();
                        },
                      },
                      "移除",
                    ),
                  ),
                ),
              )
            : h("span", { class: "muted" }, "未上传"),
        ),
        h("td", {}, input),
      );
    });
    const push = h("button", { type: "button", class: "primary" }, "推送电子材料包");
    push.disabled = !data.files.length;
    push.addEventListener("click", async () => {
      push.disabled = true;
      const pkg = await attempt(() => call("POST", `/api/v1/cases/${c.id}/packages`, { body: { electronic: true }, key }));
      push.disabled = false;
      if (!pkg) return;
      holder.replaceChildren(
        h("p", { class: "big-code" }, "电子材料包 ", h("strong", { class: "package-code" }, pkg.code), ` · ${pkg.state_zh}`),
        h("p", { class: "muted" }, `已推送 ${pkg.files.length} 个文件，文件清单（名称、大小、sha256）已记入监管链，无需快递。`),
      );
      showOk(`电子材料包 ${pkg.code} 已推送至审批部门。`);
      if (onPushed) onPushed(pkg);
    });
    holder.replaceChildren(
      h(
        "p",
        { class: "muted" },
        `每个文件最大 ${sizeText(limits.max_bytes || 0)}、PDF 最多 ${limits.max_pages || "—"} 页；只接受 PDF、JPEG、PNG（按文件内容识别）。` +
          "可从高拍仪的保存文件夹中选择扫描件。",
      ),
      table(["序号", "材料名称", "已上传的文件", "上传"], rows, { class: "files" }),
      h("div", { class: "actions" }, push),
    );
  }

  render();
  return holder;
}

/** The files of an electronic package (the department opens and downloads each one). */
export function packageFiles(pkg) {
  if (!pkg.files || !pkg.files.length) return null;
  const names = Object.fromEntries(pkg.items.map((i) => [i.seq, i.name]));
  return h(
    "div",
    { class: "package-files" },
    h("h2", {}, `电子材料（${pkg.files.length} 个文件）`),
    table(
      ["序号", "材料名称", "文件", "大小", "页数", "SHA-256"],
      pkg.files.map((f) =>
        h(
          "tr",
          {},
          h("td", {}, f.item_seq),
          h("td", {}, names[f.item_seq] || ""),
          h("td", {}, fileLink(f, { template: "/api/v1/packages/{package_id}/files/{sha256}", url: f.url })),
          h("td", {}, sizeText(f.size)),
          h("td", {}, f.pages),
          h("td", {}, h("code", { title: f.sha256 }, `${f.sha256.slice(0, 12)}…`)),
        ),
      ),
    ),
  );
}

/** 出具电子办理结果: Handoff renders and signs it (or signs the department's own PDF). */
export function electronicResultPanel(c, onIssued) {
  const id = `result-file-${c.id}`;
  const input = h("input", { type: "file", id, name: "result", accept: "application/pdf,.pdf" });
  const submit = h("button", { type: "submit", class: "primary" }, "签章并电子送达");
  const el = h(
    "form",
    { class: "form electronic-result" },
    h("p", { class: "muted" }, "不选择文件时，由系统按办结意见生成办理结果；选择本部门的结果 PDF 时，对该文件签章。"),
    h("div", { class: "field" }, h("label", { for: id }, "结果 PDF（选填）"), input),
    h("div", { class: "actions" }, submit),
  );
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    try {
      const file = input.files && input.files[0];
      const issued = await sendFile(`/api/v1/cases/${c.id}/electronic-result`, file || new Blob([]));
      showOk(`电子办理结果已签章（${issued.result.signer}）并送达申请人。`);
      if (onIssued) await onIssued(issued);
    } catch (error) {
      showError(error);
    } finally {
      submit.disabled = false;
    }
  });
  return el;
}
