// 办件档案: find any case in scope by 受理编号, package code, the applicant's name, phone or ID
// number, matter, state and collection dates (POST /api/v1/archive/search: personal data never
// travels in a URL), newest first, page by page.

import { call } from "./api.js";
import { attempt, form, h, pager, STATE_ZH, table, time } from "./ui.js";

const KEYS = [
  { name: "case_no", label: "受理编号", maxlength: 24, placeholder: "如 441581-20260302-0001-7" },
  { name: "package_code", label: "材料包编号", maxlength: 40, placeholder: "扫码或输入，可不带横线" },
  { name: "applicant_name", label: "申请人姓名", maxlength: 100 },
  { name: "phone", label: "手机号码", maxlength: 20 },
  { name: "id_number", label: "身份证号", maxlength: 20, hint: "按加密散列比对，不保存、不显示号码" },
];

export async function archiveScreen(root) {
  const matters = (await attempt(() => call("GET", "/api/v1/matters"))) || { items: [] };
  const results = h("div", { class: "archive-results", "aria-live": "polite" });
  let criteria = {};
  let cursors = [null];
  let page = 0;

  async function load() {
    const body = { ...criteria, limit: 20 };
    if (cursors[page]) body.cursor = cursors[page];
    const data = await attempt(() => call("POST", "/api/v1/archive/search", { body }));
    if (!data) return;
    cursors = cursors.slice(0, page + 1);
    if (data.next_cursor) cursors.push(data.next_cursor);
    const rows = data.items.map((r) =>
      h(
        "tr",
        { dataset: { caseId: r.case_id } },
        h("td", {}, h("a", { href: `#/case/${encodeURIComponent(r.case_id)}` }, r.case_no || r.case_id)),
        h("td", {}, time(r.collected_at)),
        h("td", {}, r.matter_name),
        h("td", {}, r.applicant),
        h("td", {}, r.phone),
        h("td", {}, r.window),
        h("td", {}, r.department),
        h("td", {}, h("span", { class: `state state-${r.state}` }, r.state_zh)),
      ),
    );
    results.replaceChildren(
      h("p", { class: "muted" }, rows.length ? `第 ${page + 1} 页，${rows.length} 件` : "没有找到符合条件的办件。"),
      rows.length
        ? table(["受理编号", "收件时间", "事项", "申请人", "电话", "代收窗口", "审批部门", "状态"], rows)
        : null,
      pager(page, Boolean(data.next_cursor), go),
    );
  }

  function go(index) {
    page = index;
    load();
  }

  const searchForm = form(
    [
      ...KEYS,
      {
        name: "matter_id",
        label: "事项",
        type: "select",
        options: [["", "全部"], ...matters.items.map((m) => [m.id, m.name])],
      },
      { name: "state", label: "状态", type: "select", options: [["", "全部"], ...Object.entries(STATE_ZH)] },
      { name: "from", label: "收件日期从", type: "date" },
      { name: "to", label: "至", type: "date" },
    ],
    "查询",
    async (values) => {
      const { state, ...rest } = values;
      criteria = { ...rest, ...(state ? { states: [state] } : {}) };
      cursors = [null];
      page = 0;
      await load();
    },
    { class: "form filters archive-form" },
  );
  root.append(
    h("h1", {}, "办件档案"),
    h("p", { class: "muted" }, "按任一条件查询本单位范围内的办件；可组合多个条件。"),
    searchForm,
    results,
  );
}

// 已办办件: the cases the signed-in user took a step on (GET /api/v1/archive/handled), with the
// action and time of the user's last step, newest first, by date range and state, page by page.
export async function handledScreen(root) {
  const results = h("div", { class: "handled-results", "aria-live": "polite" });
  let criteria = {};
  let cursors = [null];
  let page = 0;

  async function load() {
    const query = { ...criteria, limit: 20 };
    if (cursors[page]) query.cursor = cursors[page];
    const data = await attempt(() => call("GET", "/api/v1/archive/handled", { query }));
    if (!data) return;
    cursors = cursors.slice(0, page + 1);
    if (data.next_cursor) cursors.push(data.next_cursor);
    const rows = data.items.map((r) =>
      h(
        "tr",
        { dataset: { caseId: r.case_id } },
        h("td", {}, h("a", { href: `#/case/${encodeURIComponent(r.case_id)}` }, r.case_no || r.case_id)),
        h("td", {}, r.step_zh),
        h("td", {}, time(r.step_at)),
        h("td", {}, r.matter_name),
        h("td", {}, r.applicant),
        h("td", {}, r.window),
        h("td", {}, r.department),
        h("td", {}, h("span", { class: `state state-${r.state}` }, r.state_zh)),
      ),
    );
    results.replaceChildren(
      h("p", { class: "muted" }, rows.length ? `第 ${page + 1} 页，${rows.length} 件` : "没有符合条件的已办办件。"),
      rows.length
        ? table(["受理编号", "本人最后办理", "办理时间", "事项", "申请人", "代收窗口", "审批部门", "当前状态"], rows)
        : null,
      pager(page, Boolean(data.next_cursor), go),
    );
  }

  function go(index) {
    page = index;
    load();
  }

  const filterForm = form(
    [
      { name: "state", label: "当前状态", type: "select", options: [["", "全部"], ...Object.entries(STATE_ZH)] },
      { name: "from", label: "办理日期从", type: "date" },
      { name: "to", label: "至", type: "date" },
    ],
    "查询",
    async (values) => {
      criteria = values;
      cursors = [null];
      page = 0;
      await load();
    },
    { class: "form filters handled-form" },
  );
  root.append(
    h("h1", {}, "已办办件"),
    h("p", { class: "muted" }, "本人办理过的办件（收件登记、签收、受理、办结、发放登记等），按本人最后一次办理的时间倒序。"),
    filterForm,
    results,
  );
  await load();
}
