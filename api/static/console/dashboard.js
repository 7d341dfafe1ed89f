// The supervisor's dashboard (监管看板): seed 002's indicators for a period, grouped by region,
// window, department or matter, drawn with Apache ECharts (vendored, /console/vendor/echarts/), each chart
// with its data table beside it; the cases behind a figure; trends by day or month; the deadline
// boards, stalled packages, 差评 and their 整改; 督办; ledger exports with the same filters.
// And the department's 督办 queue, where it answers.

import "/console/vendor/echarts/echarts.min.js";
import { call, documentUrl } from "./api.js";
import { attempt, h, percent, showOk, table, time } from "./ui.js";

if (!document.querySelector('link[href="/console/dashboard.css"]')) {
  document.head.append(h("link", { rel: "stylesheet", href: "/console/dashboard.css" }));
}

const echarts = globalThis.echarts;

const GROUPS = [
  ["window_region", "按代收地区县"],
  ["department_region", "按属地区县"],
  ["window", "按代收窗口"],
  ["department", "按审批部门"],
  ["matter", "按事项"],
];
const TRENDS = [
  ["day", "按日"],
  ["month", "按月"],
];
const count = (v) => (v === null || v === undefined ? "—" : `${v}`);
const score = (v) => (v === null || v === undefined ? "—" : Number(v).toFixed(2));
// [figure key, label, format, drill-down figure (the cases behind it) or null]
const COLUMNS = [
  ["cases", "办件数", count, "cases"],
  ["acceptance_rate", "受理率", percent, "accepted"],
  ["decided", "办结数", count, "decided"],
  ["should_be_decided", "应办结数", count, "should_be_decided"],
  ["completion_rate", "办结率", percent, "decided"],
  ["early_rate", "提前办结率", percent, "early"],
  ["overdue", "逾期件数", count, "overdue"],
  ["trips_saved", "少跑次数", count, "trips_saved"],
  ["distance_saved_km", "少跑距离（公里）", (v) => Number(v).toFixed(1), null],
  ["rating_coverage", "评价覆盖率", percent, "rated"],
  ["average_rating", "平均评分", score, "rated"],
  ["bad_rating_rate", "差评率", percent, "bad"],
  ["rectification_rate", "差评整改率（及时）", percent, "not_rectified"],
  ["time_compression", "时限压缩率", percent, null],
  ["instant_share", "即办程度", percent, null],
];
const TILES = [
  "cases",
  "completion_rate",
  "early_rate",
  "overdue",
  "trips_saved",
  "distance_saved_km",
  "average_rating",
  "bad_rating_rate",
  "rectification_rate",
  "time_compression",
  "instant_share",
];
const FORMATS = [
  ["pdf", "导出台账 PDF"],
  ["xlsx", "导出台账 Excel"],
  ["csv", "导出台账 CSV"],
];

let charts = [];

function disposeCharts() {
  for (const chart of charts) chart.dispose();
  charts = [];
}

function resize() {
  for (const chart of charts) chart.resize();
}

/** A chart with its accessible description and, beside it, the same numbers as a table. */
function chartBlock(id, title, description, headers, rows) {
  const canvas = h("div", { class: "chart", id, role: "img", "aria-label": `${title}。${description}` });
  return [
    canvas,
    h(
      "details",
      { class: "chart-data" },
      h("summary", {}, `${title}：数据表`),
      table(headers, rows, { "aria-label": `${title}数据表` }),
    ),
  ];
}

function plainTooltip(params) {
  const list = Array.isArray(params) ? params : [params];
  return list.map((p) => `${p.seriesName} ${p.name}：${p.value ?? "—"}`).join("\n");
}

function barChart(el, groups) {
  const chart = echarts.init(el, null, { renderer: "canvas" });
  chart.setOption({
    animation: false,
    aria: { enabled: true },
    tooltip: { trigger: "axis", formatter: plainTooltip },
    legend: { top: 0, data: ["办件数", "办结数", "逾期件数"] },
    grid: { left: 48, right: 16, top: 40, bottom: 80 },
    xAxis: { type: "category", data: groups.map((g) => g.name), axisLabel: { interval: 0, rotate: 30 } },
    yAxis: { type: "value", minInterval: 1 },
    series: [
      { name: "办件数", type: "bar", data: groups.map((g) => g.figures.cases) },
      { name: "办结数", type: "bar", data: groups.map((g) => g.figures.decided) },
      { name: "逾期件数", type: "bar", data: groups.map((g) => g.figures.overdue) },
    ],
  });
  charts.push(chart);
  return chart;
}

function rateValue(v) {
  return v === null || v === undefined ? null : Math.round(v * 1000) / 10;
}

function trendChart(el, groups) {
  const chart = echarts.init(el, null, { renderer: "canvas" });
  chart.setOption({
    animation: false,
    aria: { enabled: true },
    tooltip: { trigger: "axis", formatter: plainTooltip },
    legend: { top: 0, data: ["办件数", "办结率（%）"] },
    grid: { left: 48, right: 48, top: 48, bottom: 40 },
    xAxis: { type: "category", data: groups.map((g) => g.key) },
    yAxis: [
      { type: "value", minInterval: 1, name: "件" },
      { type: "value", name: "%", max: 100 },
    ],
    series: [
      { name: "办件数", type: "bar", data: groups.map((g) => g.figures.cases) },
      {
        name: "办结率（%）",
        type: "line",
        yAxisIndex: 1,
        connectNulls: true,
        data: groups.map((g) => rateValue(g.figures.completion_rate)),
      },
    ],
  });
  charts.push(chart);
  return chart;
}

function query(filters, extra = {}) {
  return { from: filters.from, to: filters.to, ...extra };
}

function caseLink(id, label) {
  return h("a", { href: `#/case/${encodeURIComponent(id)}` }, label || id);
}

/** The 督办 form for one case: a note, sent to the department (and an SMS to its lead). */
function superviseForm(caseId, done) {
  const note = h("input", { id: `note-${caseId}`, maxlength: 1000, required: true, placeholder: "督办意见" });
  const button = h("button", { type: "submit", class: "secondary" }, "督办");
  const el = h(
    "form",
    { class: "inline-form" },
    h("label", { for: `note-${caseId}`, class: "sr-only" }, `对办件 ${caseId} 的督办意见`),
    note,
    button,
  );
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    const answer = await attempt(() =>
      call("POST", `/api/v1/cases/${encodeURIComponent(caseId)}/supervision`, { body: { note: note.value.trim() } }),
    );
    button.disabled = false;
    if (answer) {
      showOk(`已督办：${answer.case_no || caseId}（已通知审批部门及其分管领导）`);
      note.value = "";
      if (done) await done();
    }
  });
  return el;
}

async function drillDown(holder, filters, group, key, figure, label) {
  const data = await attempt(() =>
    call("GET", "/api/v1/dashboard/cases", { query: query(filters, { group, key, figure, limit: 200 }) }),
  );
  if (!data) return;
  holder.hidden = false;
  holder.replaceChildren(
    h("h2", { id: "drill-title", tabindex: "-1" }, `${label}：${data.figure_zh} ${data.count} 件`),
    data.items.length
      ? table(
          ["受理编号", "事项", "代收窗口", "审批部门", "收件日", "状态", "督办"],
          data.items.map((r) =>
            h(
              "tr",
              { dataset: { caseId: r.case_id } },
              h("td", {}, caseLink(r.case_id, r.case_no || r.case_id)),
              h("td", {}, r.matter_name),
              h("td", {}, r.window),
              h("td", {}, r.department),
              h("td", {}, r.collected_on),
              h("td", {}, r.state_zh),
              h("td", {}, superviseForm(r.case_id, refreshSupervisions)),
            ),
          ),
          { class: "drill" },
        )
      : h("p", { class: "muted" }, "没有办件。"),
  );
  holder.querySelector("#drill-title").focus();
}

function figuresTable(data, filters, drillHolder) {
  const rows = data.groups.map((g) =>
    h(
      "tr",
      { dataset: { key: g.key } },
      h("th", { scope: "row" }, g.name),
      COLUMNS.map(([name, label, show, figure]) => {
        const value = show(g.figures[name]);
        if (!figure) return h("td", { dataset: { name } }, value);
        const button = h(
          "button",
          { type: "button", class: "link", "aria-label": `${g.name} ${label} ${value}，查看办件` },
          value,
        );
        button.addEventListener("click", () => drillDown(drillHolder, filters, data.group, g.key, figure, g.name));
        return h("td", { dataset: { name } }, button);
      }),
    ),
  );
  return table([data.group_zh.replace("按", ""), ...COLUMNS.map(([, label]) => label)], rows, {
    class: "figures-table",
    "aria-label": `评价指标（${data.group_zh}）`,
  });
}

function tiles(total) {
  return h(
    "div",
    { class: "figures" },
    TILES.map((name) => {
      const [, label, show] = COLUMNS.find(([n]) => n === name);
      const unit = name === "distance_saved_km" ? " 公里" : "";
      return h(
        "div",
        { class: "figure card", dataset: { name } },
        h("small", {}, label),
        h("strong", {}, `${show(total[name])}${unit}`),
      );
    }),
  );
}

async function board(kind, title) {
  const data = await call("GET", "/api/v1/deadlines", { query: { kind, limit: 20 } });
  return h(
    "section",
    { class: "card", "aria-labelledby": `board-${kind}` },
    h("h2", { id: `board-${kind}` }, `${title}（${data.items.length}${data.next_cursor ? "+" : ""}）`),
    data.items.length
      ? table(
          ["受理编号", "事项", "审批部门", "承诺期限", "法定期限", "已用/剩余"],
          data.items.map((r) =>
            h(
              "tr",
              {},
              h("td", {}, caseLink(r.case_id, r.case_no || r.case_id)),
              h("td", {}, r.matter_name),
              h("td", {}, r.department),
              h("td", { class: r.overdue ? "bad" : "" }, r.due_on || "—"),
              h("td", { class: r.legal_overdue ? "bad" : "" }, r.legal_due_on || "—"),
              h("td", {}, r.used === null || r.used === undefined ? "—" : `${r.used} / ${r.remaining ?? "—"}`),
            ),
          ),
        )
      : h("p", { class: "muted" }, "无。"),
  );
}

async function stalled() {
  const data = await call("GET", "/api/v1/packages/stalled", { query: { limit: 20 } });
  return h(
    "section",
    { class: "card", "aria-labelledby": "stalled-title" },
    h("h2", { id: "stalled-title" }, `滞留材料包（超过 ${data.stall_days} 个工作日无交接）`),
    data.items.length
      ? table(
          ["材料包", "办件", "状态", "最后交接", "工作日"],
          data.items.map((r) =>
            h(
              "tr",
              {},
              h("td", {}, r.code),
              h("td", {}, caseLink(r.case_id)),
              h("td", {}, r.state_zh),
              h("td", {}, time(r.last_movement_at)),
              h("td", {}, r.working_days),
            ),
          ),
        )
      : h("p", { class: "muted" }, "无。"),
  );
}

async function ratings(filters) {
  const data = await call("GET", "/api/v1/dashboard/ratings", { query: query(filters) });
  return h(
    "section",
    { class: "card", "aria-labelledby": "ratings-title" },
    h("h2", { id: "ratings-title" }, `差评与整改（${data.items.length}）`),
    data.items.length
      ? table(
          ["受理编号", "事项", "审批部门", "评分", "意见", "整改期限", "整改情况", "答复"],
          data.items.map((r) =>
            h(
              "tr",
              { dataset: { status: r.status } },
              h("td", {}, caseLink(r.case_id, r.case_no || r.case_id)),
              h("td", {}, r.matter_name),
              h("td", {}, r.department),
              h("td", {}, r.score),
              h("td", {}, r.comment),
              h("td", {}, r.rectify_due_on || "—"),
              h("td", { class: r.status === "overdue" || r.status === "late" ? "bad" : "" }, r.status_zh),
              h("td", {}, r.rectification || ""),
            ),
          ),
        )
      : h("p", { class: "muted" }, "所选期间没有差评。"),
  );
}

async function supervisions(state) {
  const data = await call("GET", "/api/v1/supervisions", { query: { state, limit: 50 } });
  return data.items;
}

function supervisionTable(items, answering) {
  return table(
    ["受理编号", "事项", "审批部门", "督办意见", "督办时间", "答复", answering ? "答复督办" : "状态"],
    items.map((r) =>
      h(
        "tr",
        { dataset: { caseId: r.case_id, open: String(r.open) } },
        h("td", {}, caseLink(r.case_id, r.case_no || r.case_id)),
        h("td", {}, r.matter_name),
        h("td", {}, r.department),
        h("td", {}, r.note),
        h("td", {}, time(r.at)),
        h("td", {}, r.answer || "—"),
        h("td", {}, answering && r.open ? answerForm(r) : r.open ? "待答复" : `已答复 ${time(r.answered_at)}`),
      ),
    ),
  );
}

function answerForm(row) {
  const id = `answer-${row.case_id}`;
  const input = h("input", { id, maxlength: 2000, required: true, placeholder: "办理情况" });
  const el = h(
    "form",
    { class: "inline-form" },
    h("label", { for: id, class: "sr-only" }, `答复办件 ${row.case_no || row.case_id} 的督办`),
    input,
    h("button", { type: "submit", class: "secondary" }, "答复"),
  );
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    const done = await attempt(() =>
      call("POST", `/api/v1/cases/${encodeURIComponent(row.case_id)}/supervision/answer`, {
        body: { answer: input.value.trim() },
      }),
    );
    if (done) {
      showOk(`已答复督办：${row.case_no || row.case_id}`);
      const cell = el.parentElement;
      cell.previousElementSibling.textContent = input.value.trim();
      cell.replaceChildren("已答复");
      cell.parentElement.dataset.open = "false";
      const left = document.querySelectorAll('tr[data-open="true"]').length;
      const counter = document.getElementById("supervision-count");
      if (counter) counter.textContent = `待答复 ${left} 件。`;
    }
  });
  return el;
}

function filterForm(filters, onSubmit) {
  const from = h("input", { id: "dash-from", type: "date", value: filters.from });
  const to = h("input", { id: "dash-to", type: "date", value: filters.to });
  const group = h(
    "select",
    { id: "dash-group" },
    GROUPS.map(([value, label]) => h("option", { value, selected: value === filters.group }, label)),
  );
  const trend = h(
    "select",
    { id: "dash-trend" },
    TRENDS.map(([value, label]) => h("option", { value, selected: value === filters.trend }, label)),
  );
  const el = h(
    "form",
    { class: "form filters", "aria-label": "看板筛选" },
    h("div", { class: "field" }, h("label", { for: "dash-from" }, "收件日期从"), from),
    h("div", { class: "field" }, h("label", { for: "dash-to" }, "至"), to),
    h("div", { class: "field" }, h("label", { for: "dash-group" }, "分组"), group),
    h("div", { class: "field" }, h("label", { for: "dash-trend" }, "趋势"), trend),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "查询")),
  );
  el.addEventListener("submit", (event) => {
    event.preventDefault();
    onSubmit({ from: from.value, to: to.value, group: group.value, trend: trend.value });
  });
  return el;
}

function exports(filters) {
  const holder = h("div", { class: "actions exports" });
  for (const [format, label] of FORMATS) {
    const button = h("button", { type: "button", class: "secondary", dataset: { format } }, label);
    button.addEventListener("click", async () => {
      button.disabled = true;
      const params = new URLSearchParams({ format });
      if (filters.from) params.set("from", filters.from);
      if (filters.to) params.set("to", filters.to);
      const href = await attempt(() => documentUrl(`/api/v1/ledger/export?${params}`));
      button.disabled = false;
      if (href) {
        const link = h(
          "a",
          { href, download: `事项办理台账.${format}`, class: "button secondary", dataset: { format } },
          `下载${label.replace("导出", "")}`,
        );
        holder.querySelectorAll(`a[data-format="${format}"]`).forEach((a) => a.remove());
        holder.append(link);
      }
    });
    holder.append(button);
  }
  return holder;
}

function yearStart() {
  const now = new Date();
  const y = now.getFullYear();
  return `${y}-01-01`;
}

function todayText() {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

export async function dashboardScreen(root) {
  const filters = { from: yearStart(), to: todayText(), group: "window_region", trend: "month" };
  disposeCharts();
  window.addEventListener("resize", resize);
  const body = h("div", { id: "dashboard" });
  root.append(
    h("h1", {}, "监管看板"),
    filterForm(filters, (next) => {
      Object.assign(filters, next);
      draw();
    }),
    exports(filters),
    body,
  );

  async function draw() {
    disposeCharts();
    body.replaceChildren(h("p", { class: "muted" }, "正在加载……"));
    const [grouped, trend] = await Promise.all([
      call("GET", "/api/v1/dashboard", { query: query(filters, { group: filters.group }) }),
      call("GET", "/api/v1/dashboard", { query: query(filters, { group: filters.trend }) }),
    ]);
    const drillHolder = h("section", { class: "card", id: "drill", "aria-live": "polite", hidden: true });
    const groupHeaders = [grouped.group_zh.replace("按", ""), "办件数", "办结数", "逾期件数"];
    const groupRows = grouped.groups.map((g) =>
      h("tr", {}, h("th", { scope: "row" }, g.name), h("td", {}, g.figures.cases), h("td", {}, g.figures.decided), h("td", {}, g.figures.overdue)),
    );
    const trendRows = trend.groups.map((g) =>
      h("tr", {}, h("th", { scope: "row" }, g.key), h("td", {}, g.figures.cases), h("td", {}, percent(g.figures.completion_rate))),
    );
    const summary = grouped.groups.map((g) => `${g.name} ${g.figures.cases} 件`).join("，") || "没有办件";
    const trendSummary = trend.groups.map((g) => `${g.key} ${g.figures.cases} 件`).join("，") || "没有办件";
    body.replaceChildren(
      h(
        "p",
        { class: "muted" },
        `收件日期 ${grouped.from || "不限"} 至 ${grouped.to || "不限"}，权限范围内共 ${grouped.total.cases} 件；比率的分母为 0 时显示“—”；差评整改率只计在整改期限内完成的。`,
      ),
      tiles(grouped.total),
      h(
        "section",
        { class: "card", "aria-labelledby": "by-group-title" },
        h("h2", { id: "by-group-title" }, `评价指标（${grouped.group_zh}）`),
        chartBlock("chart-groups", `办件量${grouped.group_zh}`, summary, groupHeaders, groupRows),
        figuresTable(grouped, filters, drillHolder),
        h("p", { class: "muted" }, "点击表中数字查看背后的办件，可在列表中直接督办。"),
      ),
      drillHolder,
      h(
        "section",
        { class: "card", "aria-labelledby": "trend-title" },
        h("h2", { id: "trend-title" }, `趋势（${trend.group_zh}）`),
        chartBlock("chart-trend", `办件量与办结率${trend.group_zh}`, trendSummary, ["日期", "办件数", "办结率"], trendRows),
      ),
    );
    barChart(body.querySelector("#chart-groups"), grouped.groups);
    trendChart(body.querySelector("#chart-trend"), trend.groups);
    const lists = await Promise.all([
      board("overdue", "已逾期（承诺期限）"),
      board("legal_overdue", "已超法定期限"),
      board("due_soon", "即将到期"),
      stalled(),
      ratings(filters),
      supervisionSection(),
    ]);
    body.append(...lists);
  }

  await draw();
  return () => {
    window.removeEventListener("resize", resize);
    disposeCharts();
  };
}

async function supervisionSection() {
  const items = await supervisions("all");
  return h(
    "section",
    { class: "card", id: "supervision-section", "aria-labelledby": "supervision-title" },
    h("h2", { id: "supervision-title" }, `督办（${items.filter((i) => i.open).length} 件待答复）`),
    items.length ? supervisionTable(items, false) : h("p", { class: "muted" }, "没有督办。"),
  );
}

/** The dashboard's 督办 list again, after a case was put under 督办 from a drill-down. */
async function refreshSupervisions() {
  const old = document.getElementById("supervision-section");
  if (old) old.replaceWith(await supervisionSection());
}

/** The department's 督办 queue: open ones first; each answered here. */
export async function supervisionScreen(root) {
  const items = await supervisions("all");
  const open = items.filter((i) => i.open).length;
  root.append(
    h("h1", {}, "督办"),
    h("p", { class: "muted" }, h("span", { id: "supervision-count" }, `待答复 ${open} 件。`), "监管人员督办的办件请尽快办理并答复。"),
    items.length ? supervisionTable(items, true) : h("p", { class: "muted" }, "没有督办。"),
  );
}
