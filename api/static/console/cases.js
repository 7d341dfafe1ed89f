// Cases: the ledger list (filters, cursor pagination), one case with its clock and the actions of
// the user's role, and the department lead's inbox (待阅).

import { electronicResultPanel, filesPanel } from "./files.js";
import { call, documentUrl, newKey, session, staffOptions } from "./api.js";
import {
  caseDocuments,
  historyPanel,
  loadHistory,
  owedItems,
  packageDocuments,
  pickupFacts,
  pickupForm,
  smsPanel,
  takeInForm,
} from "./casepanels.js";
import { custodyPanel } from "./packages.js";
import {
  attempt,
  documentButton,
  dl,
  form,
  h,
  KIND_ZH,
  pager,
  showOk,
  STAGE_ZH,
  STATE_ZH,
  table,
  TERMINAL,
  time,
} from "./ui.js";
import { sealButton } from "./window.js";

const caseLink = (id, text) => h("a", { href: `#/case/${encodeURIComponent(id)}` }, text);

// ------------------------------------------------------------------ the ledger (办件列表 / 办理台账)

export async function casesScreen(root) {
  const matters = (await attempt(() => call("GET", "/api/v1/matters"))) || { items: [] };
  const results = h("div", { class: "ledger" });
  const exports = h("div", { class: "actions ledger-exports" });
  let filters = {};
  let cursors = [null]; // cursors[i] opens page i+1
  let page = 0;

  async function load() {
    const query = { ...filters, cursor: cursors[page] || undefined };
    const data = await attempt(() => call("GET", "/api/v1/ledger", { query }));
    if (!data) return;
    cursors = cursors.slice(0, page + 1);
    if (data.next_cursor) cursors.push(data.next_cursor);
    exports.replaceChildren(...ledgerExports(filters));
    const rows = data.items.map((r) =>
      h(
        "tr",
        { class: "clickable", dataset: { caseId: r.case_id } },
        h("td", {}, caseLink(r.case_id, r.case_no || r.case_id)),
        h("td", {}, time(r.collected_at)),
        h("td", {}, r.matter_name),
        h("td", {}, r.kind_zh),
        h("td", {}, r.applicant),
        h("td", {}, r.phone),
        h("td", {}, r.window),
        h("td", {}, r.department),
        h("td", {}, h("span", { class: `state state-${r.state}` }, r.state_zh)),
      ),
    );
    results.replaceChildren(
      rows.length
        ? table(["受理编号", "收件时间", "事项", "类型", "申请人", "电话", "代收窗口", "审批部门", "状态"], rows)
        : h("p", { class: "muted" }, "没有符合条件的办件。"),
      pager(page, Boolean(data.next_cursor), go, h("span", {}, `第 ${page + 1} 页`)),
    );
  }

  function go(index) {
    page = index;
    load();
  }

  const filterForm = form(
    [
      {
        name: "state",
        label: "状态",
        type: "select",
        options: [["", "全部"], ...Object.entries(STATE_ZH)],
      },
      {
        name: "matter_id",
        label: "事项",
        type: "select",
        options: [["", "全部"], ...matters.items.map((m) => [m.id, m.name])],
      },
      { name: "from", label: "收件日期从", type: "date" },
      { name: "to", label: "至", type: "date" },
      { name: "limit", label: "每页", type: "select", options: [["20", "20 条"], ["50", "50 条"], ["100", "100 条"]] },
    ],
    "查询",
    async (values) => {
      filters = values;
      cursors = [null];
      page = 0;
      await load();
    },
    { class: "form filters" },
  );
  const title = ["supervisor", "admin"].includes(session.me.role) ? "事项办理台账" : "办件列表";
  root.append(h("h1", {}, title), filterForm, exports, results);
  filters = { limit: "20" };
  await load();
}

/** The ledger as filtered: printed as PDF in one click, or downloaded as XLSX or CSV. */
function ledgerExports(filters) {
  const query = (format) => {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(filters)) if (name !== "limit" && value) params.set(name, value);
    params.set("format", format);
    return `/api/v1/ledger/export?${params}`;
  };
  const download = (format, label) => {
    const button = h("button", { type: "button", class: "secondary" }, label);
    button.addEventListener("click", async () => {
      const href = await attempt(() => documentUrl(query(format)));
      if (!href) return;
      const link = h("a", { href, download: `事项办理台账.${format}`, class: "download" }, label);
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(href), 60_000);
    });
    return button;
  };
  return [
    documentButton("事项办理台账（PDF）", "/api/v1/ledger/export", query("pdf"), "事项办理台账.pdf"),
    download("xlsx", "导出 Excel"),
    download("csv", "导出 CSV"),
  ];
}

// ------------------------------------------------------------------ one case

function clockPanel(clock) {
  if (!clock) return h("p", { class: "muted" }, "尚未受理：审批部门受理后开始计时（受理当天不计入）。");
  const status = clock.overdue
    ? h("span", { class: "state state-overdue" }, `已超期 ${-clock.remaining} 个工作日`)
    : clock.paused
      ? h("span", { class: "state state-paused" }, "暂停计时（特殊环节进行中）")
      : null;
  return h(
    "div",
    { class: "clock" },
    h(
      "div",
      { class: "clock-figures" },
      h("div", {}, h("small", {}, "到期日"), h("strong", { class: "due-date" }, clock.due_date || "—")),
      h("div", {}, h("small", {}, "已用"), h("strong", {}, `${clock.used} 日`)),
      h("div", {}, h("small", {}, "剩余"), h("strong", {}, `${clock.remaining} 日`)),
      h("div", {}, h("small", {}, "承诺"), h("strong", {}, `${clock.promised} 日`)),
    ),
    status,
    dl([
      ["受理日", clock.accepted_on],
      ["计算至", clock.as_of],
      ["延期", clock.extension_days ? `${clock.extension_days} 个工作日` : ""],
      ["扣除特殊环节", clock.excluded_days ? `${clock.excluded_days} 个工作日` : ""],
      ["提前办结", clock.early === true ? "是" : clock.early === false ? "否" : ""],
    ]),
    clock.provisional ? h("p", { class: "alert warn" }, `暂定计算：${clock.provisional_reason || ""}`) : null,
    clock.stages?.length
      ? table(
          ["特殊环节", "开始", "结束", "工作日", "自然日", "时限"],
          clock.stages.map((s) =>
            h(
              "tr",
              {},
              h("td", {}, s.type_zh),
              h("td", {}, s.start),
              h("td", {}, s.end || "进行中"),
              h("td", {}, s.working_days),
              h("td", {}, s.calendar_days),
              h("td", { class: s.over_limit ? "bad" : "" }, s.limit ? `${s.limit} 日${s.over_limit ? "（已超）" : ""}` : "—"),
            ),
          ),
        )
      : null,
  );
}

/** The actions of the user's role on this case, each a small form posting to the case's route. */
function actions(c, rerender, hint) {
  const role = session.me.role;
  const me = session.me.user_id;
  const next = new Set(c.next_actions);
  const terminal = TERMINAL.includes(c.state);
  const dept = role === "dept_clerk";
  const windowClerk = role === "window_clerk";
  const openStages = c.stages.filter((s) => !s.end_on);
  const offices = session.me.offices.map((o) => [o.id, o.name]);
  const post = (path, body, key) => call("POST", `/api/v1/cases/${c.id}/${path}`, { body: body || {}, key });
  const done = (label) => async () => {
    await rerender();
    showOk(`${label}：已完成。`);
  };

  const list = [];
  // HINT (from a 待办 link: #/case/<id>/<hint>) opens the action the item waits for
  const hinted = (path) => Boolean(hint) && path.startsWith(hint);
  const add = (label, content, open = false) =>
    list.push(h("details", { class: "action", open }, h("summary", {}, label), content));
  const simple = (path, label, fields, build = (v) => v, submit = label) =>
    list.push(
      h(
        "details",
        { class: "action", open: hinted(path) },
        h("summary", {}, label),
        form(fields, submit, async (values) => {
          const view = await attempt(() => post(path, build(values)));
          if (view) await done(label)();
        }),
      ),
    );

  if (windowClerk && next.has("seal_package") && c.mode === "online")
    add("电子材料（上传并推送）", filesPanel(c, () => rerender()), true);
  else if (windowClerk && next.has("seal_package")) add("封装材料包", sealButton(c.id, () => rerender()), true);
  if (dept && next.has("accept")) simple("accept", "受理", [], undefined, "受理（开始计时）");
  if (dept && next.has("request_supplement"))
    simple("supplement", "补正告知", [
      { name: "items", label: "需补正的材料（每行一项）", type: "lines", required: true },
      { name: "due_on", label: "补正期限", type: "date", required: true },
    ]);
  if (dept && next.has("supplement_supplied")) simple("supplement/supplied", "补正受理", []);
  if (dept && !terminal && c.supplements.some((s) => !s.supplied_at))
    simple("supplement/close", "补正不来办结（补正期限届满后）", [
      {
        name: "opinion",
        label: "办结意见",
        type: "textarea",
        required: true,
        max: 2000,
        value: "申请人在补正期限内未补正材料，按补正不来办结。",
      },
    ]);
  if (dept && next.has("reject"))
    simple("reject", "不予受理", [{ name: "reason", label: "理由", type: "textarea", required: true, max: 2000 }]);
  if (dept && next.has("open_stage"))
    simple("stages", "启动特殊环节", [
      {
        name: "stage_type",
        label: "环节",
        type: "select",
        options: Object.entries(STAGE_ZH).filter(([k]) => k !== "supplement"),
      },
      { name: "reason", label: "原因", type: "textarea", required: true, max: 2000 },
      { name: "legal_basis", label: "法律依据", required: true, value: "《中华人民共和国行政许可法》第四十五条" },
      { name: "expected_days", label: "预计工作日", type: "number", min: 1, max: 3650 },
      { name: "start_on", label: "开始日期（默认今天）", type: "date" },
    ]);
  if (dept && next.has("close_stage"))
    for (const s of openStages)
      simple(`stages/${encodeURIComponent(s.id)}/close`, `结束特殊环节：${s.type_zh}`, [
        { name: "end_on", label: "结束日期（默认今天）", type: "date" },
      ]);
  if (dept && next.has("extend"))
    simple("extensions", "延期", [
      { name: "days", label: "延长工作日（累计不超过 10 日）", type: "number", min: 1, max: 10, required: true },
      { name: "approver", label: "批准人", required: true, maxlength: 100 },
      { name: "reason", label: "理由", type: "textarea", required: true, max: 2000 },
    ]);
  if (dept && next.has("decide"))
    simple("decision", "办结", [
      {
        name: "outcome",
        label: "决定",
        type: "select",
        options: [
          ["approved", "准予许可"],
          ["denied", "不予许可"],
        ],
      },
      { name: "opinion", label: "审批意见", type: "textarea", required: true, max: 2000 },
    ]);
  if (dept && next.has("ship_result") && c.delivery === "pickup_at_department") {
    const key = newKey();
    add(
      "通知领取",
      form([], "结果已备好，通知申请人来本单位领取", async () => {
        const view = await attempt(() => post("result", {}, key));
        if (view) await done("通知领取")();
      }),
      hint === "result",
    );
  } else if (dept && next.has("ship_result") && c.delivery === "electronic") {
    add("出具电子办理结果", electronicResultPanel(c, () => rerender()), true);
  } else if (dept && next.has("ship_result")) {
    const key = newKey();
    add(
      "寄出结果",
      form([{ name: "carrier", label: "承运方（选填，默认按单位设置）", maxlength: 32 }], "生成并封装结果材料包（交快递后即为已寄出）", async (values) => {
        const view = await attempt(() => post("result", values, key));
        if (view) await done("寄出结果")();
      }),
      hint === "result",
    );
  }
  if ((dept || windowClerk) && next.has("register_pickup")) {
    const pickupOffice = c.delivery === "pickup_at_department" ? c.department_office_id : c.window_office_id;
    if (offices.some(([id]) => id === pickupOffice)) add("发放登记", pickupForm(c, pickupOffice, rerender), hint === "pickup");
  }
  if (windowClerk && !terminal && c.state !== "collected" && owedItems(c).length)
    add("收取补正/容缺材料", takeInForm(c, rerender), hint === "supplement");
  if (dept && next.has("deliver")) simple("delivered", "确认送达", [], undefined, "结果已送达");
  if (dept && next.has("archive")) simple("archive", "归档", []);
  if ((dept || windowClerk) && !terminal && c.ious.some((i) => !i.fulfilled_at))
    simple("ious/fulfil", "容缺材料补齐", [
      {
        name: "material",
        label: "已补齐的材料",
        type: "select",
        options: c.ious.filter((i) => !i.fulfilled_at).map((i) => [i.material, `${i.material}（${i.due_on} 前）`]),
      },
    ]);
  if (dept && !terminal)
    simple("copies", "抄送分管领导", [
      {
        name: "lead",
        label: "分管领导",
        type: "select",
        required: true,
        load: () => staffOptions("dept_lead", c.department_office_id),
      },
      { name: "note", label: "说明", maxlength: 500 },
    ]);
  if (dept && c.rating?.bad && !c.rating.rectified)
    simple("rating/rectify", "差评整改", [{ name: "note", label: "整改说明", type: "textarea", required: true }]);
  if ((dept || windowClerk) && next.has("withdraw"))
    simple("withdraw", "撤回申请", [{ name: "reason", label: "撤回原因", type: "textarea", required: true, max: 2000 }]);
  if (role === "dept_lead" && c.lead_copies.some((l) => l.lead === me && !l.remark))
    add(
      "批阅",
      form([{ name: "remark", label: "批阅意见", type: "textarea", required: true, max: 2000 }], "提交批阅", async (values) => {
        const view = await attempt(() => post("remarks", values));
        if (view) await done("批阅")();
      }),
      true,
    );
  return list;
}

function caseBody(c, rerender, events, hint) {
  const officeName = (id) => session.officeName(id);
  const custody = h("div");
  const packages = (c.packages || []).map((p) =>
    h(
      "tr",
      {},
      h("td", { class: "package-code" }, p.code),
      h("td", {}, p.direction === "result" ? "办理结果" : p.purpose === "supplement" ? "补正/容缺材料" : "申请材料"),
      h("td", {}, p.state_zh),
      h("td", {}, p.waybill || ""),
      h(
        "td",
        {},
        packageDocuments(p),
        " ",
        custodyPanel(p.id, custody),
      ),
    ),
  );
  const acts = actions(c, rerender, hint);
  return [
    h(
      "div",
      { class: "case-head" },
      h("h1", {}, c.matter.name),
      h(
        "p",
        {},
        h("strong", { class: "case-no" }, c.case_no || c.id),
        " ",
        h("span", { class: `state state-${c.state}` }, c.state_zh),
        h("span", { class: "muted" }, ` ${KIND_ZH[c.matter.kind] || ""} · ${c.mode_zh} · ${c.delivery_zh}`),
      ),
      dl([
        ["代收窗口", officeName(c.window_office_id)],
        ["审批部门", officeName(c.department_office_id)],
        ["收件时间", time(c.collected_at)],
      ]),
    ),
    h(
      "div",
      { class: "columns" },
      h(
        "div",
        {},
        acts.length ? h("section", { class: "card actions-card" }, h("h2", {}, "办理"), acts) : null,
        h(
          "section",
          { class: "card" },
          h("h2", {}, "计时"),
          h("div", { class: "clock-holder" }, clockPanel(c.clock)),
          h(
            "button",
            {
              type: "button",
              class: "link",
              onclick: async (event) => {
                const data = await attempt(() => call("GET", `/api/v1/cases/${c.id}/clock`));
                if (data) event.target.previousElementSibling.replaceChildren(clockPanel(data.clock));
              },
            },
            "刷新计时",
          ),
        ),
        h(
          "section",
          { class: "card" },
          h("h2", {}, "申请人"),
          dl([
            ["姓名", c.applicant.name],
            ["电话", c.applicant.phone],
            ["身份证号", c.applicant.id_number_masked],
            ["单位", c.applicant.organisation],
            ["地址", c.applicant.address],
          ]),
        ),
        caseDocuments(c),
        smsPanel(c, rerender),
      ),
      h(
        "div",
        {},
        h(
          "section",
          { class: "card" },
          h("h2", {}, "材料"),
          table(
            ["材料名称", "份数", "页数", "原件/复印件"],
            c.materials.map((m) =>
              h("tr", {}, h("td", {}, m.name), h("td", {}, m.copies), h("td", {}, m.pages || ""), h("td", {}, m.original ? "原件" : "复印件")),
            ),
          ),
          c.ious.length
            ? [
                h("h3", {}, "容缺材料"),
                h(
                  "ul",
                  {},
                  c.ious.map((i) => h("li", {}, `${i.material}：${i.fulfilled_at ? `已于 ${time(i.fulfilled_at)} 补齐` : `${i.due_on} 前补齐`}`)),
                ),
              ]
            : null,
          c.supplements.length
            ? [
                h("h3", {}, "补正"),
                h(
                  "ul",
                  {},
                  c.supplements.map((s) =>
                    h("li", {}, `${s.items.join("、")}（${s.due_on} 前）${s.supplied_at ? ` · 已于 ${time(s.supplied_at)} 补正` : ""}`),
                  ),
                ),
              ]
            : null,
        ),
        h(
          "section",
          { class: "card" },
          h("h2", {}, "材料包"),
          packages.length ? table(["编号", "内容", "状态", "运单号", "文书与交接记录"], packages) : h("p", { class: "muted" }, "尚未封装。"),
          custody,
        ),
        c.stages.length || c.extensions.length
          ? h(
              "section",
              { class: "card" },
              h("h2", {}, "特殊环节与延期"),
              c.stages.map((s) =>
                h(
                  "div",
                  { class: "stage" },
                  h("strong", {}, s.type_zh),
                  ` ${s.start_on} 至 ${s.end_on || "进行中"}`,
                  dl([
                    ["原因", s.reason],
                    ["法律依据", s.legal_basis],
                    ["预计", s.expected_days ? `${s.expected_days} 个工作日` : ""],
                  ]),
                ),
              ),
              c.extensions.map((e) => h("p", {}, `延期 ${e.days} 个工作日（${e.on}，批准人 ${e.approver}）：${e.reason}`)),
            )
          : null,
        c.lead_copies.length
          ? h(
              "section",
              { class: "card" },
              h("h2", {}, "领导待阅与批阅"),
              c.lead_copies.map((l) =>
                h("p", {}, `${session.personName(l.lead)}（${time(l.copied_at)} 抄送${l.note ? `：${l.note}` : ""}）`, h("br"), l.remark ? `批阅：${l.remark}` : "待阅"),
              ),
            )
          : null,
        c.pickup || c.rating || c.outcome
          ? h(
              "section",
              { class: "card" },
              h("h2", {}, "结果"),
              dl([
                ["决定", c.outcome === "approved" ? "准予许可" : c.outcome === "denied" ? "不予许可" : ""],
                ["审批意见", c.opinion],
                ["终止原因", c.closed_reason],

                ["评价", c.rating ? `${c.rating.score} 分 ${c.rating.comment}${c.rating.bad ? (c.rating.rectified ? "（差评，已整改）" : "（差评，待整改）") : ""}` : ""],
              ]),
              c.pickup ? [h("h3", {}, "发放登记"), pickupFacts(c)] : null,
            )
          : null,
        events ? historyPanel(events) : null,
      ),
    ),
  ];
}

export async function caseScreen(root, caseId, hint) {
  let first = true;
  async function load() {
    const [c, events] = await Promise.all([
      attempt(() => call("GET", `/api/v1/cases/${encodeURIComponent(caseId)}`)),
      loadHistory(caseId).catch(() => null), // names and 过程信息; the case shows without them
    ]);
    if (c) root.replaceChildren(...caseBody(c, load, events, first ? hint : undefined));
    first = false;
  }
  if (!caseId) {
    root.append(h("p", {}, "请从办件列表选择办件。"));
    return;
  }
  await load();
}
