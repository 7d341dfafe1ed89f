// Packages: scan or type a code, see the package and its next actions, sign for it with
// per-item discrepancies, report an exception, read its custody chain.

import { packageFiles } from "./files.js";
import { call, newKey, session } from "./api.js";
import { batchCard } from "./batch.js";
import { cameraAvailable, scanQr } from "./scanner.js";
import {
  ACTION_ZH,
  attempt,
  CUSTODY_ZH,
  DISCREPANCY_ZH,
  discrepancyRow,
  documentButton,
  dl,
  EXCEPTION_ZH,
  form,
  h,
  party,
  showOk,
  table,
  time,
} from "./ui.js";

/** A button that shows the package's custody chain (每一次交接) in the TARGET element. */
export function custodyPanel(packageId, target) {
  const holder = h("span", { class: "custody" });
  const button = h("button", { type: "button", class: "link" }, "交接记录");
  button.addEventListener("click", async () => {
    const data = await attempt(() => call("GET", `/api/v1/packages/${packageId}/custody`));
    if (!data) return;
    const name = (id) => session.officeName(id);
    target.replaceChildren(
      h(
        "div",
        { class: "custody-list" },
        h(
          "p",
          { class: data.verified ? "ok-text" : "bad" },
          data.verified ? "交接记录完整（哈希链校验通过）" : `交接记录校验失败：第 ${data.broken_at} 条 ${data.reason || ""}`,
        ),
        table(
          ["#", "环节", "时间", "手机时间", "交出", "接收", "地点", "差异"],
          data.events.map((e) =>
            h(
              "tr",
              { dataset: { kind: e.kind } },
              h("td", {}, e.seq),
              h("td", {}, CUSTODY_ZH[e.kind] || e.kind),
              h("td", {}, time(e.server_time)),
              h("td", {}, time(e.client_time)),
              h("td", {}, party(e.from_party, name)),
              h("td", {}, party(e.to_party, name)),
              h("td", {}, e.place || ""),
              h(
                "td",
                {},
                (e.discrepancies || [])
                  .map((d) => `第 ${d.item_seq} 项${DISCREPANCY_ZH[d.kind] || d.kind}${d.actual_pages != null ? `（实收 ${d.actual_pages} 页）` : ""}${d.note ? `：${d.note}` : ""}`)
                  .join("；"),
              ),
            ),
          ),
        ),
      ),
    );
  });
  holder.append(button);
  return holder;
}

function signForm(pkg, onSigned) {
  const mine = session.me.offices;
  const target = pkg.to_party?.startsWith("office:") ? pkg.to_party.slice(7) : "";
  const office = h(
    "select",
    { name: "office_id", id: "sign-office" },
    mine.map((o) => h("option", { value: o.id, selected: o.id === target }, o.name)),
  );
  const rows = pkg.items.map((item) => discrepancyRow(item));
  const key = newKey();
  const submit = h("button", { type: "submit", class: "primary" }, "签收");
  const el = h(
    "form",
    { class: "form sign" },
    h("h2", {}, "签收（逐项核对）"),
    h("div", { class: "field" }, h("label", { for: "sign-office" }, "签收单位"), office),
    table(["序号", "材料名称", "份数", "页数", "核对结果", "实收页数", "说明"], rows),
    h("div", { class: "actions" }, submit),
  );
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    const discrepancies = rows.map((r) => r.read()).filter(Boolean);
    const signed = await attempt(() =>
      call("POST", `/api/v1/packages/${pkg.id}/sign`, { body: { office_id: office.value, discrepancies }, key }),
    );
    submit.disabled = false;
    if (signed) onSigned(signed, discrepancies.length);
  });
  return el;
}

function exceptionForm(pkg, onDone) {
  const key = newKey();
  return h(
    "details",
    { class: "action" },
    h("summary", {}, "登记异常（破损、丢失、拒收）"),
    form(
      [
        { name: "kind", label: "异常类型", type: "select", options: Object.entries(EXCEPTION_ZH) },
        { name: "note", label: "情况说明", type: "textarea", required: true, max: 500 },
      ],
      "登记异常",
      async (values) => {
        const result = await attempt(() => call("POST", `/api/v1/packages/${pkg.id}/exception`, { body: values, key }));
        if (result) onDone(result, "已登记异常。");
      },
    ),
  );
}

function packageCard(pkg, show) {
  const name = (id) => session.officeName(id);
  const canSign = pkg.next_actions.includes("sign") && ["dept_clerk", "window_clerk"].includes(session.me.role);
  const custody = h("div");
  return h(
    "div",
    { class: "card package" },
    h("p", { class: "big-code" }, h("strong", { class: "package-code" }, pkg.code), " ", h("span", { class: "state" }, pkg.state_zh)),
    dl([
      ["内容", pkg.direction === "result" ? "办理结果" : "申请材料"],
      ["交出", party(pkg.from_party, name)],
      ["接收", party(pkg.to_party, name)],
      ["当前持有", party(pkg.holder, name)],
      ["运单号", pkg.waybill],
      ["最近交接", time(pkg.last_movement_at)],
      ["下一步", pkg.next_actions.map((a) => ACTION_ZH[a] || a).join("、") || "无"],
    ]),
    h(
      "div",
      { class: "actions" },
      h("a", { href: `#/case/${encodeURIComponent(pkg.case_id)}`, class: "button secondary" }, "打开办件"),
      documentButton(
        "转办单",
        "/api/v1/packages/{package_id}/documents/transfer-slip",
        `/api/v1/packages/${pkg.id}/documents/transfer-slip`,
        `转办单-${pkg.code}.pdf`,
      ),
      custodyPanel(pkg.id, custody),
    ),
    custody,
    packageFiles(pkg),
    canSign
      ? signForm(pkg, (signed, count) => show(signed, `已签收材料包 ${signed.code}${count ? `，登记差异 ${count} 项` : "，无差异"}。`))
      : table(
          ["序号", "材料名称", "份数", "页数", "原件/复印件"],
          pkg.items.map((i) =>
            h("tr", {}, h("td", {}, i.seq), h("td", {}, i.name), h("td", {}, i.copies ?? ""), h("td", {}, i.pages || ""), h("td", {}, i.original ? "原件" : "复印件")),
          ),
        ),
    pkg.next_actions.includes("report_exception") ? exceptionForm(pkg, show) : null,
  );
}

export async function scanScreen(root, initialCode) {
  const out = h("div");
  const code = h("input", { id: "scan-code", name: "code", placeholder: "扫描二维码或输入材料包编号", autocomplete: "off" });
  const cameraPanel = h("div", { class: "camera-panel", hidden: true });
  const camera = cameraAvailable()
    ? h(
        "button",
        {
          type: "button",
          class: "secondary",
          onclick: async () => {
            const text = await attempt(() => scanQr(cameraPanel));
            if (text) {
              code.value = text.trim();
              lookUp();
            }
          },
        },
        "用摄像头扫码",
      )
    : null;
  const scanForm = h(
    "form",
    { class: "inline-form" },
    h("label", { for: "scan-code" }, "材料包"),
    code,
    h("button", { type: "submit", class: "primary" }, "查找"),
    camera,
  );

  function show(pkg, message) {
    out.replaceChildren(packageCard(pkg, show));
    if (message) showOk(message);
  }

  async function lookUp() {
    const raw = code.value.trim();
    if (!raw) return;
    const pkg = await attempt(() => call("POST", "/api/v1/scan", { body: { code: raw } }));
    if (!pkg) return;
    code.value = "";
    if (pkg.kind === "manifest") {
      // a 交接单's QR: the whole batch (batch.js)
      out.replaceChildren(
        batchCard(pkg, (card, message) => {
          out.replaceChildren(card);
          showOk(message);
        }),
      );
    } else show(pkg);
  }

  scanForm.addEventListener("submit", (event) => {
    event.preventDefault();
    lookUp();
  });
  root.append(h("h1", {}, "扫码签收"), scanForm, cameraPanel, out);
  code.focus();
  if (initialCode) {
    // opened from a QR code's page (/P/… or /M/…) by a signed-in user
    code.value = initialCode;
    await lookUp();
  }
}
