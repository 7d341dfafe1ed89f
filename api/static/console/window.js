// The proxy window (代收窗口): register a case against the matter's checklist, seal its package,
// print the receipt notice and the transfer slip, and hand a batch of packages to a courier.

import { call, newKey, session, staffOptions } from "./api.js";
import {
  attempt,
  clearMessages,
  DELIVERY_ZH,
  documentButton,
  fillSelect,
  dl,
  form,
  h,
  KIND_ZH,
  MODE_ZH,
  showError,
  showOk,
  STATE_ZH,
  table,
} from "./ui.js";
import { REGION_FIELD, wireRegionPicker } from "./regions.js";

// ------------------------------------------------------------------ the batch to hand over

// Kept in localStorage under the signed-in user's id, so that a closed tab, a reload or a new
// sign-in of the same user finds the batch where it was (and another user never sees it).
const BATCH_PREFIX = "handoff.console.batch.";

function batchKey() {
  return BATCH_PREFIX + (session.me?.user_id || "");
}

export function loadBatch() {
  try {
    const batch = JSON.parse(localStorage.getItem(batchKey()) || "null");
    if (batch && Array.isArray(batch.packages)) return batch;
  } catch {
    /* a damaged entry starts a new batch */
  }
  return { key: newKey(), packages: [] };
}

function saveBatch(batch) {
  localStorage.setItem(batchKey(), JSON.stringify(batch));
}

export function addToBatch(pkg) {
  const batch = loadBatch();
  if (!batch.packages.some((p) => p.id === pkg.id)) {
    batch.packages.push({ id: pkg.id, code: pkg.code, state_zh: pkg.state_zh });
    saveBatch(batch);
  }
}

// ------------------------------------------------------------------ sealing (also used by the case screen)

/** 封装材料包: one Idempotency-Key per button, so a double click or a retry seals once. */
export function sealButton(caseId, onSealed) {
  const key = newKey();
  const out = h("div", { class: "sealed" });
  const button = h("button", { type: "button", class: "primary" }, "封装材料包");
  button.addEventListener("click", async () => {
    button.disabled = true;
    const pkg = await attempt(() => call("POST", `/api/v1/cases/${caseId}/packages`, { body: {}, key }));
    button.disabled = false;
    if (!pkg) return;
    addToBatch(pkg);
    button.remove();
    out.classList.add("done");
    showOk(`材料包 ${pkg.code} 已封装，已加入待交接批次。`);
    out.replaceChildren(
      h("p", { class: "big-code" }, "材料包 ", h("strong", { class: "package-code" }, pkg.code), ` · ${pkg.state_zh}`),
      documentButton(
        "转办单",
        "/api/v1/packages/{package_id}/documents/transfer-slip",
        `/api/v1/packages/${pkg.id}/documents/transfer-slip`,
        `转办单-${pkg.code}.pdf`,
      ),
      h("a", { href: "#/handover", class: "button secondary" }, "去交接快递"),
    );
    if (onSealed) onSealed(pkg);
  });
  out.append(button);
  return out;
}

export function receiptButton(caseId, caseNo) {
  return documentButton(
    "接收通知书",
    "/api/v1/cases/{case_id}/documents/receipt-notice",
    `/api/v1/cases/${caseId}/documents/receipt-notice`,
    `接收通知书-${caseNo || caseId}.pdf`,
  );
}

// ------------------------------------------------------------------ registration

export async function registerScreen(root) {
  const windows = session.me.offices.filter((o) => o.kind === "window");
  const q = h("input", { type: "search", name: "q", placeholder: "事项名称，如：防雷", autocomplete: "off" });
  const found = h("div", { class: "matter-list" });
  const area = h("div", { class: "registration" });

  async function search() {
    const data = await attempt(() => call("GET", "/api/v1/matters", { query: { q: q.value.trim() } }));
    if (!data) return;
    found.replaceChildren(
      ...(data.items.length
        ? data.items.map((m) =>
            h(
              "button",
              { type: "button", class: "matter", onclick: () => openMatter(m) },
              h("strong", {}, m.name),
              h("small", {}, `${KIND_ZH[m.kind] || m.kind} · 承诺 ${m.promised_limit} 个工作日 · 法定 ${m.legal_limit} 个工作日`),
            ),
          )
        : [h("p", { class: "muted" }, "没有找到符合的事项。")]),
    );
  }

  function openMatter(matter) {
    clearMessages();
    found.replaceChildren();
    area.replaceChildren(registrationForm(matter, windows, () => area.replaceChildren()));
    area.scrollIntoView({ block: "start" });
  }

  const searchForm = h(
    "form",
    { class: "inline-form" },
    h("label", { for: "matter-q" }, "查找事项"),
    q,
    h("button", { type: "submit", class: "primary" }, "查找"),
  );
  q.id = "matter-q";
  searchForm.addEventListener("submit", (event) => {
    event.preventDefault();
    search();
  });
  root.append(h("h1", {}, "收件登记"), searchForm, found, area);
  if (!windows.length) showError(new Error("您的权限范围内没有代收窗口，不能收件登记。"));
  await search();
}

function materialRow(material, index) {
  const id = `m-${index}`;
  const received = h("input", { type: "checkbox", id, name: "received", "aria-label": `已收：${material.name}` });
  const tolerated = material.tolerable
    ? h("input", { type: "checkbox", name: "tolerated", "aria-label": `容缺：${material.name}` })
    : null;
  const copies = h("input", { type: "number", name: "copies", min: 1, max: 999, value: material.copies || 1 });
  const pages = h("input", { type: "number", name: "pages", min: 0, max: 99999, value: "", placeholder: "页" });
  const original = h(
    "select",
    { name: "original" },
    h("option", { value: "1", selected: material.original !== false }, "原件"),
    h("option", { value: "0", selected: material.original === false }, "复印件"),
  );
  received.addEventListener("change", () => {
    if (tolerated) tolerated.disabled = received.checked;
  });
  const tags = [
    material.required ? h("span", { class: "tag" }, "必需") : h("span", { class: "tag plain" }, "非必需"),
    material.tolerable ? h("span", { class: "tag warn" }, "可容缺") : null,
  ];
  const row = h(
    "tr",
    { dataset: { material: material.name } },
    h("td", {}, received),
    h("td", {}, h("label", { for: id }, material.name), " ", tags, material.notes ? h("small", {}, material.notes) : null),
    h("td", {}, copies),
    h("td", {}, pages),
    h("td", {}, original),
    h("td", {}, tolerated || "—"),
  );
  row.read = () => ({
    name: material.name,
    received: received.checked,
    tolerated: Boolean(tolerated && tolerated.checked && !received.checked),
    copies: Number(copies.value) || 1,
    pages: pages.value === "" ? undefined : Number(pages.value),
    original: original.value === "1",
  });
  return row;
}

function registrationForm(matter, windows, onClose) {
  const rows = matter.materials.map(materialRow);
  const checklist = table(["已收", "材料名称", "份数", "页数", "原件/复印件", "容缺"], rows, { class: "checklist" });
  const applicant = form(
    [
      { name: "name", label: "申请人（单位或个人）", required: true, maxlength: 100 },
      { name: "phone", label: "联系电话", required: true, maxlength: 20, type: "tel" },
      { name: "id_number", label: "身份证号", maxlength: 18, hint: "加密保存，只显示脱敏号码" },
      { name: "organisation", label: "单位名称", maxlength: 200 },
      { name: "address", label: "地址", maxlength: 300 },
      REGION_FIELD,
      {
        name: "mode",
        label: "办理方式",
        type: "select",
        options: matter.modes.map((m) => [m, MODE_ZH[m] || m]),
        value: matter.modes.includes("proxy_collect") ? "proxy_collect" : matter.modes[0],
      },
      {
        name: "delivery",
        label: "结果送达方式",
        type: "select",
        options: Object.entries(DELIVERY_ZH),
        value: "pickup_at_window",
      },
      {
        name: "window_office_id",
        label: "代收窗口",
        type: "select",
        options: windows.map((o) => [o.id, o.name]),
        value: windows[0]?.id,
      },
    ],
    "登记收件",
    async (values) => {
      const materials = rows.map((r) => r.read());
      for (const r of rows) r.classList.remove("is-missing");
      const body = {
        matter_id: matter.id,
        mode: values.mode,
        delivery: values.delivery,
        window_office_id: values.window_office_id,
        applicant: {
          name: values.name,
          phone: values.phone,
          ...(values.id_number ? { id_number: values.id_number } : {}),
          ...(values.organisation ? { organisation: values.organisation } : {}),
          ...(values.address ? { address: values.address } : {}),
          ...(values.applicant_region ? { region_code: values.applicant_region } : {}),
        },
        materials: materials
          .filter((m) => m.received)
          .map((m) => ({
            name: m.name,
            copies: m.copies,
            original: m.original,
            ...(m.pages === undefined ? {} : { pages: m.pages }),
          })),
        tolerated: materials.filter((m) => m.tolerated).map((m) => m.name),
      };
      try {
        const created = await call("POST", "/api/v1/cases", { body });
        registered(created);
      } catch (error) {
        const missing = error.problem?.missing || [];
        for (const r of rows) r.classList.toggle("is-missing", missing.includes(r.dataset.material));
        showError(error);
      }
    },
    { class: "form applicant" },
  );
  wireRegionPicker(applicant);
  const result = h("div", { class: "result" });

  function registered(created) {
    applicant.remove();
    checklist.classList.add("done");
    showOk(`已登记收件：${created.case_no || created.id}`);
    result.replaceChildren(
      h(
        "div",
        { class: "card success" },
        h("h2", {}, "已登记收件"),
        dl([
          ["受理编号", h("strong", { class: "case-no" }, created.case_no || "—")],
          ["事项", created.matter.name],
          ["状态", STATE_ZH[created.state] || created.state_zh],
          ["转报期限", created.forwarding_due ? `${created.forwarding_due} 前转报审批部门` : ""],
          ["容缺材料", created.ious.map((i) => `${i.material}（${i.due_on} 前补齐）`).join("；")],
          ["进度查询链接", created.tracking_url],
        ]),
        h(
          "div",
          { class: "actions" },
          receiptButton(created.id, created.case_no),
          sealButton(created.id),
          h("a", { href: `#/case/${encodeURIComponent(created.id)}`, class: "button secondary" }, "打开办件"),
          h("button", { type: "button", class: "secondary", onclick: onClose }, "登记下一件"),
        ),
      ),
    );
  }

  return h(
    "div",
    { class: "card" },
    h("h2", {}, matter.name),
    h(
      "p",
      { class: "muted" },
      `${KIND_ZH[matter.kind] || matter.kind} · 承诺 ${matter.promised_limit} 个工作日 · 法定 ${matter.legal_limit} 个工作日。` +
        "请逐项核对材料：收到的打勾；可容缺的材料未带齐时勾选“容缺”，申请人须在期限内补齐。",
    ),
    checklist,
    applicant,
    result,
  );
}

// ------------------------------------------------------------------ hand-over to a courier

export async function handoverScreen(root) {
  const offices = session.me.offices;
  let batch = loadBatch();
  const list = h("div");
  const done = h("div");

  function render() {
    list.replaceChildren(
      batch.packages.length
        ? table(
            ["材料包编号", "状态", ""],
            batch.packages.map((p) =>
              h(
                "tr",
                {},
                h("td", { class: "package-code" }, p.code),
                h("td", {}, p.state_zh),
                h(
                  "td",
                  {},
                  h(
                    "button",
                    {
                      type: "button",
                      class: "link",
                      onclick: () => {
                        batch.packages = batch.packages.filter((x) => x.id !== p.id);
                        saveBatch(batch);
                        render();
                      },
                    },
                    "移出",
                  ),
                ),
              ),
            ),
          )
        : h("p", { class: "muted" }, "批次中还没有材料包：请扫描或输入材料包编号加入。"),
    );
  }

  const code = h("input", { name: "code", placeholder: "扫描或输入材料包编号", autocomplete: "off", id: "batch-code" });
  const add = h(
    "form",
    { class: "inline-form" },
    h("label", { for: "batch-code" }, "加入材料包"),
    code,
    h("button", { type: "submit", class: "secondary" }, "加入"),
  );
  add.addEventListener("submit", async (event) => {
    event.preventDefault();
    const raw = code.value.trim();
    if (!raw) return;
    const pkg = await attempt(() => call("POST", "/api/v1/scan", { body: { code: raw } }));
    if (!pkg) return;
    if (!pkg.next_actions.includes("picked_up")) {
      showError(new Error(`材料包 ${pkg.code} 当前状态为“${pkg.state_zh}”，不能交接给快递员。`));
      return;
    }
    addToBatch(pkg);
    batch = loadBatch();
    code.value = "";
    clearMessages();
    render();
  });

  const handForm = form(
    [
      { name: "office_id", label: "交出单位", type: "select", options: offices.map((o) => [o.id, o.name]) },
      {
        name: "courier",
        label: "快递员",
        type: "select",
        required: true,
        load: () => staffOptions("courier", offices[0]?.id),
      },
    ],
    "交接给快递员（生成交接单）",
    async (values) => {
      if (!batch.packages.length) {
        showError(new Error("批次中没有材料包。"));
        return;
      }
      const manifest = await attempt(() =>
        call("POST", "/api/v1/manifests", {
          body: { office_id: values.office_id, courier: values.courier, package_ids: batch.packages.map((p) => p.id) },
          key: batch.key,
        }),
      );
      if (!manifest) return;
      const handed = batch.packages;
      localStorage.removeItem(batchKey());
      batch = loadBatch();
      render();
      const courierName = couriers.selectedOptions[0]?.textContent || manifest.courier;
      showOk(`已交接 ${handed.length} 个材料包给快递员 ${courierName}。`);
      done.replaceChildren(
        h(
          "div",
          { class: "card success" },
          h("h2", {}, "交接单"),
          dl([
            ["交接单号", manifest.id],
            ["快递员", courierName],
            ["材料包", handed.map((p) => p.code).join("、")],
          ]),
          documentButton(
            "材料交接单",
            "/api/v1/manifests/{manifest_id}/documents/manifest",
            `/api/v1/manifests/${manifest.id}/documents/manifest`,
            `交接单-${manifest.id}.pdf`,
          ),
        ),
      );
    },
  );
  // The couriers offered are those who serve the office handing over: chosen again with the office.
  const couriers = handForm.querySelector("select[name=courier]");
  handForm.querySelector("select[name=office_id]").addEventListener("change", (event) => {
    fillSelect(couriers, () => staffOptions("courier", event.target.value));
  });
  root.append(h("h1", {}, "交接快递"), add, list, handForm, done);
  render();
}
