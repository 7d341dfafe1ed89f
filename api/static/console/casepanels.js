// The case page's workplace panels (seed 002's 办件档案): 过程信息 with names, the SMS with their
// status (resend a failed one, correct the applicant's phone), every document of the case and of
// its packages (one click prints it), and the window's forms: take in 补正 / 容缺 materials,
// 发放登记 with the applicant's data prefilled.

import { call, newKey, session } from "./api.js";
import { attempt, documentButton, dl, form, h, showOk, table, time } from "./ui.js";
import { addToBatch } from "./window.js";

// ------------------------------------------------------------------ 过程信息

/** The case's events (GET /cases/{id}/events); the names they carry are learned for the page. */
export async function loadHistory(caseId) {
  const data = await call("GET", `/api/v1/cases/${encodeURIComponent(caseId)}/events`);
  session.learn(data.names);
  return data.events;
}

export function historyPanel(events) {
  return h(
    "section",
    { class: "card history-card" },
    h("h2", {}, "过程信息"),
    events.length
      ? h(
          "ol",
          { class: "history" },
          events.map((e) =>
            h(
              "li",
              { dataset: { type: e.type } },
              h("strong", {}, e.title),
              " ",
              h("span", { class: "who" }, e.actor_name),
              " ",
              h("span", { class: "muted" }, time(e.at)),
              e.package_code ? h("span", { class: "muted" }, ` · 材料包 ${e.package_code}`) : null,
              e.opinion ? h("span", { class: "opinion" }, `意见：${e.opinion}`) : null,
              e.detail ? h("span", { class: "detail" }, e.detail) : null,
            ),
          ),
        )
      : h("p", { class: "muted" }, "暂无记录。"),
  );
}

// ------------------------------------------------------------------ 短信回执

const CLERKS = ["window_clerk", "dept_clerk"];

export function smsPanel(c, rerender) {
  const clerk = CLERKS.includes(session.me.role);
  const rows = (c.sms || []).map((n) =>
    h(
      "tr",
      { class: n.failed ? "failed" : "", dataset: { smsId: n.id || "" } },
      h("td", {}, time(n.at)),
      h("td", {}, n.template_zh),
      h("td", {}, n.audience === "applicant" ? "申请人" : "工作人员"),
      h("td", {}, n.recipient),
      h("td", { class: n.failed ? "bad" : "" }, n.status_zh, n.reason ? ` ${n.reason}` : ""),
      h(
        "td",
        {},
        clerk && n.failed && n.id
          ? h(
              "button",
              {
                type: "button",
                class: "secondary",
                onclick: async (event) => {
                  event.target.disabled = true;
                  const sent = await attempt(() => call("POST", `/api/v1/sms/${encodeURIComponent(n.id)}/resend`));
                  if (sent) {
                    await rerender();
                    showOk(`已重发“${sent.template_zh}”短信至 ${sent.recipient}。`);
                  } else event.target.disabled = false;
                },
              },
              "重发",
            )
          : null,
      ),
    ),
  );
  const phoneForm =
    clerk && c.state !== "archived"
      ? h(
          "details",
          { class: "action" },
          h("summary", {}, "改正申请人手机号码"),
          form(
            [
              { name: "phone", label: "正确的手机号码", required: true, maxlength: 20 },
              { name: "reason", label: "改正原因", type: "textarea", required: true, max: 500, value: "申请人告知原号码有误" },
            ],
            "保存新号码",
            async (values) => {
              const view = await attempt(() =>
                call("POST", `/api/v1/cases/${encodeURIComponent(c.id)}/applicant-phone`, { body: values }),
              );
              if (view) {
                await rerender();
                showOk(`申请人手机号码已改为 ${view.applicant.phone}，已记入过程信息。失败的短信可点“重发”发往新号码。`);
              }
            },
          ),
        )
      : null;
  return h(
    "section",
    { class: "card sms-card" },
    h("h2", {}, "短信"),
    rows.length
      ? table(["时间", "短信", "对象", "号码", "状态", "操作"], rows)
      : h("p", { class: "muted" }, "暂无短信。"),
    phoneForm,
  );
}

// ------------------------------------------------------------------ documents

/** A case document: TAIL is the path after documents/, its route template with `{…}` for ids. */
function caseDoc(c, label, tail, file) {
  const template = tail
    .replace(/^stage-notice\/.*/, "stage-notice/{notice_id}")
    .replace(/^supplement-notice\/.*/, "supplement-notice/{number}");
  return documentButton(
    label,
    `/api/v1/cases/{case_id}/documents/${template}`,
    `/api/v1/cases/${encodeURIComponent(c.id)}/documents/${tail}`,
    `${file}-${c.case_no || c.id}.pdf`,
  );
}

/** Every document the case has now: the receipt notice and the registration card always, the
 * written notices and decisions the case view lists (so a button is shown only where its
 * document applies), and the pickup receipt after 发放登记. */
export function caseDocuments(c) {
  const docs = [caseDoc(c, "申请材料接收通知书", "receipt-notice", "接收通知书")];
  for (const d of c.documents || []) docs.push(caseDoc(c, d.title, d.path, d.title));
  docs.push(caseDoc(c, "审批流程登记卡", "registration-card", "登记卡"));
  if (c.pickup) docs.push(caseDoc(c, "办理结果发放登记", "pickup-receipt", "发放登记"));
  return h("section", { class: "card documents-card" }, h("h2", {}, "文书"), h("div", { class: "documents" }, docs));
}

/** A package's documents: the transfer slip of materials going out (never of a result), the
 * courier label once a carrier gave a waybill, and the custody report. */
export function packageDocuments(p) {
  const path = (tail) => `/api/v1/packages/${encodeURIComponent(p.id)}/${tail}`;
  return h(
    "span",
    { class: "doc" },
    p.direction !== "result"
      ? documentButton("转办单", "/api/v1/packages/{package_id}/documents/transfer-slip", path("documents/transfer-slip"), `转办单-${p.code}.pdf`)
      : null,
    p.waybill
      ? documentButton("快递面单", "/api/v1/packages/{package_id}/documents/courier-label", path("documents/courier-label"), `快递面单-${p.waybill}.pdf`)
      : null,
    documentButton("监管链报告", "/api/v1/packages/{package_id}/custody-report", path("custody-report"), `监管链报告-${p.code}.pdf`),
  );
}

// ------------------------------------------------------------------ the window's day

/** What the applicant still owes: open 补正 items and unfulfilled 容缺 materials. */
export function owedItems(c) {
  const owed = [];
  for (const s of c.supplements || []) if (!s.supplied_at) owed.push(...s.items);
  for (const i of c.ious || []) if (!i.fulfilled_at) owed.push(i.material);
  return [...new Set(owed)];
}

/** 收取补正 / 容缺材料: the items brought in become a supplement package (its slip printed at once). */
export function takeInForm(c, rerender) {
  const owed = owedItems(c);
  const key = newKey();
  const out = h("div", { class: "taken-in" });
  const fields = owed.flatMap((name, i) => [
    { name: `item${i}`, label: `已收：${name}`, type: "checkbox", value: true },
    { name: `pages${i}`, label: `${name} 页数`, type: "number", min: 0, max: 99999 },
  ]);
  const taken = form(fields, "封装补正材料包（打印转办单）", async (values) => {
    const items = owed
      .map((name, i) => (values[`item${i}`] ? { name, pages: values[`pages${i}`] || 0 } : null))
      .filter(Boolean);
    if (!items.length) {
      out.replaceChildren(h("p", { class: "bad" }, "请勾选申请人交来的材料。"));
      return;
    }
    const pkg = await attempt(() =>
      call("POST", `/api/v1/cases/${encodeURIComponent(c.id)}/supplement-packages`, { body: { items }, key }),
    );
    if (!pkg) return;
    addToBatch(pkg);
    showOk(`补正材料包 ${pkg.code} 已封装，已加入待交接批次。`);
    out.replaceChildren(
      h("p", { class: "big-code" }, "补正材料包 ", h("strong", { class: "package-code" }, pkg.code)),
      packageDocuments(pkg),
      h("a", { href: "#/handover", class: "button secondary" }, "去交接快递"),
      h("button", { type: "button", class: "link", onclick: () => rerender() }, "刷新办件"),
    );
  });
  return [h("p", { class: "muted" }, `申请人尚欠：${owed.join("、")}`), taken, out];
}

const ID_TYPES = [
  ["resident_id", "居民身份证"],
  ["hk_macao_permit", "港澳居民来往内地通行证"],
  ["taiwan_permit", "台湾居民来往大陆通行证"],
  ["passport", "护照"],
  ["other", "其他有效证件"],
];
const METHODS = [
  ["window", "窗口现场领取"],
  ["self_service", "自助终端领取"],
];

/** 发放登记: 本人领取 prefills the applicant's name and ID (the number on file, shown masked). */
export function pickupForm(c, officeId, rerender) {
  const applicantId = c.applicant.id_number_masked;
  const el = form(
    [
      {
        name: "who",
        label: "是否本人领取",
        type: "select",
        options: [
          ["self", "申请人本人领取"],
          ["proxy", "委托他人代领"],
        ],
      },
      { name: "receiver_name", label: "领取人姓名", required: true, maxlength: 100, value: c.applicant.name },
      { name: "id_type", label: "证件类型", type: "select", options: ID_TYPES },
      {
        name: "receiver_id_number",
        label: "证件号码",
        maxlength: 20,
        placeholder: applicantId ? `${applicantId}（与登记一致可不填）` : "",
        hint: applicantId ? "本人领取：核对证件与登记号码一致后可不填；代领必填" : "代领必填",
      },
      { name: "method", label: "领取方式", type: "select", options: METHODS },
      { name: "note", label: "意见", maxlength: 500, value: "已核对身份，结果已发放" },
    ],
    "发放登记",
    async (values) => {
      const { who, ...rest } = values;
      const body = { ...rest, office_id: officeId, by_proxy: who === "proxy" };
      const view = await attempt(() => call("POST", `/api/v1/cases/${encodeURIComponent(c.id)}/pickup`, { body }));
      if (view) {
        await rerender();
        showOk("发放登记：已完成。可在“文书”中打印办理结果发放登记。");
      }
    },
  );
  const who = el.querySelector('select[name="who"]');
  const name = el.querySelector('input[name="receiver_name"]');
  const number = el.querySelector('input[name="receiver_id_number"]');
  who.addEventListener("change", () => {
    const self = who.value === "self";
    name.value = self ? c.applicant.name : "";
    number.value = "";
    number.placeholder = self && applicantId ? `${applicantId}（与登记一致可不填）` : "";
    number.required = !self;
  });
  return el;
}

/** The pickup as registered (名称, 证件, 方式, 意见). */
export function pickupFacts(c) {
  const p = c.pickup;
  if (!p) return null;
  return dl([
    ["领取人", `${p.name}${p.by_proxy ? "（代领）" : "（本人）"}`],
    ["证件", `${p.id_type_zh || "居民身份证"} ${p.id_number_masked || ""}`],
    ["领取方式", p.method_zh],
    ["意见", p.note],
    ["时间", time(p.at)],
    ["地点", session.officeName(p.office_id)],
  ]);
}
