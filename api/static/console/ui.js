// DOM helpers, messages, Chinese labels and the small form builder every screen uses.

import { ApiError, documentUrl, routeExists, session } from "./api.js";

/** h("p", {class: "x", onclick: f}, "text", child): an element; text is always text, never HTML. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "value") el.value = value;
    else if (name === "checked") el.checked = Boolean(value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// ------------------------------------------------------------------ messages

function messages() {
  return document.getElementById("messages");
}

export function clearMessages() {
  messages().replaceChildren();
}

export function showOk(text) {
  messages().replaceChildren(h("div", { class: "alert ok", role: "status" }, text));
}

/** Any error as the user should read it: the problem's Chinese title, its missing list or field errors. */
export function showError(error) {
  const problem = error instanceof ApiError ? error.problem : null;
  const box = h("div", { class: "alert error", role: "alert" }, h("strong", {}, error.message || String(error)));
  if (problem && Array.isArray(problem.missing) && problem.missing.length) {
    box.append(
      h("p", {}, `一次性告知：还缺少以下 ${problem.missing.length} 项材料，请申请人一并补齐后再登记。`),
      h("ol", { class: "missing-list" }, problem.missing.map((m) => h("li", {}, m))),
    );
  }
  if (problem && Array.isArray(problem.errors) && problem.errors.length > 1) {
    box.append(h("ul", {}, problem.errors.map((e) => h("li", {}, `${e.field}：${e.message}`))));
  }
  messages().replaceChildren(box);
  box.scrollIntoView({ block: "nearest" });
}

/** Run an action, showing its error plainly; returns undefined when it failed. */
export async function attempt(action) {
  try {
    return await action();
  } catch (error) {
    showError(error);
    return undefined;
  }
}

// ------------------------------------------------------------------ labels

export const STATE_ZH = {
  collected: "已收件",
  forwarded: "已流转",
  received: "已接收",
  supplement_requested: "待补正",
  accepted: "已受理",
  in_review: "审查中",
  decided: "已办结",
  result_shipped: "结果已寄出",
  ready_for_pickup: "待领取",
  delivered: "已送达",
  archived: "已归档",
  rejected: "不予受理",
  closed_unsupplemented: "补正不来办结",
  withdrawn: "已撤回",
};
export const MODE_ZH = { proxy_collect: "异地代收、属地受理", delegated: "异地委托审批", online: "全程网办" };
export const DELIVERY_ZH = {
  pickup_at_window: "代收窗口自取",
  mail_to_applicant: "邮寄给申请人",
  pickup_at_department: "审批部门自取",
  electronic: "电子送达",
};
export const KIND_ZH = { promised: "承诺件", instant: "即办件" };
export const STAGE_ZH = {
  inspection: "勘验",
  expert_review: "专家评审",
  rectification: "整改",
  entrusted_assessment: "委托评估",
  consultation: "征求意见",
  director_meeting: "主任办公会",
  hearing: "听证",
  public_notice: "公示",
  testing: "检验检测",
  supplement: "补正",
};
export const ACTION_ZH = {
  seal_package: "封装材料包",
  withdraw: "撤回",
  accept: "受理",
  request_supplement: "补正告知",
  reject: "不予受理",
  supplement_supplied: "补正受理",
  open_stage: "启动特殊环节",
  close_stage: "结束特殊环节",
  extend: "延期",
  decide: "办结",
  ship_result: "寄出结果",
  register_pickup: "发放登记",
  deliver: "确认送达",
  archive: "归档",
  rate: "申请人评价",
  picked_up: "揽收",
  in_transit: "运输中",
  delivered: "送达",
  sign: "签收",
  report_exception: "登记异常",
};
export const CUSTODY_ZH = {
  created: "生成",
  sealed: "封装",
  picked_up: "揽收",
  in_transit: "运输中",
  delivered: "送达",
  pushed: "电子推送",
  signed: "签收",
  exception: "异常",
};
export const DISCREPANCY_ZH = {
  missing: "缺失",
  damaged: "破损",
  pages_differ: "页数不符",
  unreadable: "无法识读",
  incomplete: "内容不完整",
  not_matching_paper: "纸质材料与电子材料不符",
};
/**
 * One row of a package's sign form: the item, its check (无差异 or a discrepancy), the pages
 * counted when they differ, a note; `row.read()` gives the discrepancy or null. Several packages on
 * one form (整批签收) prefix the fields' NAMEs with the package id and their LABELs with its code.
 */
export function discrepancyRow(item, { name = "", label = "" } = {}) {
  const field = (what) => `${what}-${name}${item.seq}`;
  const kind = h(
    "select",
    { name: field("kind"), "aria-label": `${label}第 ${item.seq} 项核对结果` },
    h("option", { value: "" }, "无差异"),
    Object.entries(DISCREPANCY_ZH).map(([value, text]) => h("option", { value }, text)),
  );
  const pages = h("input", {
    type: "number",
    min: 0,
    name: field("pages"),
    placeholder: "实收页数",
    "aria-label": `${label}第 ${item.seq} 项实收页数`,
    disabled: true,
  });
  const note = h("input", {
    name: field("note"),
    maxlength: 500,
    placeholder: "说明",
    "aria-label": `${label}第 ${item.seq} 项说明`,
  });
  kind.addEventListener("change", () => {
    pages.disabled = kind.value !== "pages_differ";
  });
  const row = h(
    "tr",
    {},
    h("td", {}, item.seq),
    h("td", {}, item.name),
    h("td", {}, item.copies ?? ""),
    h("td", {}, item.pages || ""),
    h("td", {}, kind),
    h("td", {}, pages),
    h("td", {}, note),
  );
  row.read = () =>
    kind.value
      ? {
          item_seq: item.seq,
          kind: kind.value,
          ...(note.value.trim() ? { note: note.value.trim() } : {}),
          ...(kind.value === "pages_differ" && pages.value !== "" ? { actual_pages: Number(pages.value) } : {}),
        }
      : null;
  return row;
}

export const EXCEPTION_ZH = { damaged: "破损", lost: "丢失", refused: "拒收", other: "其他" };
export const TERMINAL = ["archived", "rejected", "closed_unsupplemented", "withdrawn"];

// ------------------------------------------------------------------ formatting

const TIME = new Intl.DateTimeFormat("zh-CN", {
  timeZone: "Asia/Shanghai",
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
});

/** An ISO time as 2026-03-02 09:30 in China time (as every document shows it). */
export function time(iso) {
  if (!iso) return "";
  const parts = Object.fromEntries(TIME.formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
}

export function percent(value) {
  return value === null || value === undefined ? "—" : `${(value * 100).toFixed(1)}%`;
}

/** office:win-441581 → its name; courier:courier-07 → 快递员 吴海波（政务专递） (the id when unknown). */
export function party(text, officeName) {
  if (!text) return "";
  const [kind, id] = text.split(/:(.*)/s);
  if (kind === "office") return officeName(id);
  if (kind === "courier") return `快递员 ${session.personName(id)}`;
  if (kind === "applicant") return "申请人";
  return text;
}

/** The 上一页 / 下一页 buttons of a keyset-paged list: page is 0-based, hasNext says whether the
 * server gave a next cursor, go(index) loads a page; middle is shown between them when given. */
export function pager(page, hasNext, go, middle = null) {
  return h(
    "div",
    { class: "pager" },
    h("button", { type: "button", class: "secondary", disabled: page === 0, onclick: () => go(page - 1) }, "上一页"),
    middle,
    h("button", { type: "button", class: "secondary", disabled: !hasNext, onclick: () => go(page + 1) }, "下一页"),
  );
}

export function table(headers, rows, attrs = {}) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      attrs,
      h("thead", {}, h("tr", {}, headers.map((t) => h("th", {}, t)))),
      h("tbody", {}, rows),
    ),
  );
}

export function dl(pairs) {
  return h(
    "dl",
    { class: "facts" },
    pairs.filter(([, v]) => v !== null && v !== undefined && v !== "").map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
  );
}

// ------------------------------------------------------------------ forms

/**
 * A form from field specs: {name, label, type (text|textarea|date|number|select|checkbox|lines),
 * options: [[value, label]], required, min, max, value, hint}. onSubmit(values) gets the values
 * (numbers as numbers, lines as arrays, empty optional fields left out).
 */
export function form(fields, submitLabel, onSubmit, attrs = {}) {
  const controls = {};
  const rows = fields.map((f) => {
    let control;
    const common = { name: f.name, id: `f-${f.name}-${Math.random().toString(36).slice(2, 8)}`, required: f.required };
    if (f.type === "textarea" || f.type === "lines") {
      control = h("textarea", { ...common, rows: f.rows || 3, maxlength: f.max }, f.value || "");
    } else if (f.type === "select") {
      control = h(
        "select",
        common,
        (f.options || []).map(([value, label]) => h("option", { value, selected: value === f.value }, label)),
      );
      if (f.load) fillSelect(control, f.load);
    } else if (f.type === "checkbox") {
      control = h("input", { ...common, type: "checkbox", checked: f.value });
    } else {
      control = h("input", {
        ...common,
        type: f.type || "text",
        min: f.min,
        max: f.max,
        maxlength: f.type === "number" ? undefined : f.maxlength,
        value: f.value ?? "",
        placeholder: f.placeholder,
        autocomplete: "off",
      });
    }
    controls[f.name] = control;
    const label = h("label", { for: common.id }, f.label, f.required ? h("span", { class: "req" }, " *") : null);
    return h(
      "div",
      { class: `field ${f.type === "checkbox" ? "check" : ""}` },
      f.type === "checkbox" ? [control, label] : [label, control],
      f.hint ? h("small", {}, f.hint) : null,
    );
  });
  const button = h("button", { type: "submit", class: "primary" }, submitLabel);
  const el = h("form", { class: "form", ...attrs }, rows, h("div", { class: "actions" }, button));
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = {};
    for (const f of fields) {
      const c = controls[f.name];
      if (f.type === "checkbox") values[f.name] = c.checked;
      else if (f.type === "number") {
        if (c.value !== "") values[f.name] = Number(c.value);
      } else if (f.type === "lines") {
        const lines = c.value.split("\n").map((s) => s.trim()).filter(Boolean);
        if (lines.length) values[f.name] = lines;
      } else if (c.value.trim() !== "") values[f.name] = c.value.trim();
    }
    button.disabled = true;
    try {
      await onSubmit(values, el);
    } finally {
      button.disabled = false;
    }
  });
  return el;
}

/**
 * Fill a picker from LOAD (async → [[value, label]]): names shown, ids sent. Until it answers, and
 * when nobody may be chosen, the only option is an empty one that a required select refuses.
 */
export async function fillSelect(select, load) {
  select.replaceChildren(h("option", { value: "" }, "正在加载……"));
  let options;
  try {
    options = await load();
  } catch (error) {
    select.replaceChildren(h("option", { value: "" }, "名单加载失败"));
    showError(error);
    return;
  }
  select.replaceChildren(
    h("option", { value: "" }, options.length ? "请选择" : "（没有可选的人员）"),
    ...options.map(([value, label]) => h("option", { value }, label)),
  );
}

// ------------------------------------------------------------------ documents

const objectUrls = [];

/** Forget the PDFs fetched by the previous screen. */
export function releaseDocuments() {
  while (objectUrls.length) URL.revokeObjectURL(objectUrls.pop());
}

/** The hidden frame every document is printed from (one for the page, reused). */
function printFrame() {
  let frame = document.getElementById("print-frame");
  if (!frame) {
    frame = h("iframe", {
      id: "print-frame",
      title: "打印",
      "aria-hidden": "true",
      tabindex: "-1",
      class: "print-frame",
    });
    document.body.append(frame);
  }
  return frame;
}

/**
 * Print a fetched document in one click: its PDF (an object URL) loads into a hidden frame whose
 * load prints it — no new tab. Where the browser cannot print a PDF from a frame, the download
 * link beside the button is the fallback.
 */
export function printInFrame(href) {
  const frame = printFrame();
  frame.dataset.printed = "";
  frame.onload = () => {
    if (!frame.getAttribute("src")) return;
    try {
      frame.contentWindow.focus();
      frame.contentWindow.print();
      frame.dataset.printed = "1";
    } catch {
      frame.dataset.printed = "failed"; // the download link stays
    }
  };
  frame.setAttribute("src", href);
}

/**
 * A button that fetches a PDF with the Authorization header and prints it at once through the
 * hidden frame; a download link (the same file) appears beside it. `template` is the route as
 * the OpenAPI document names it.
 */
export function documentButton(label, template, path, filename) {
  const holder = h("span", { class: "doc" });
  const button = h("button", { type: "button", class: "secondary print" }, `打印：${label}`);
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      if (!(await routeExists("GET", template))) {
        showError(new Error(`“${label}”的下载接口尚未开放（${template}）`));
        return;
      }
      const href = await documentUrl(path);
      objectUrls.push(href);
      printInFrame(href);
      holder.querySelector("a.download")?.remove();
      holder.append(h("a", { href, download: filename, class: "button link download" }, `下载：${label}`));
    } catch (error) {
      showError(error);
    } finally {
      button.disabled = false;
    }
  });
  holder.append(button);
  return holder;
}
