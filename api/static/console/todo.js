// 待办: what needs the signed-in user now (GET /api/v1/todo), one card per kind of work, each
// item a link to the screen where it is done; and the figure beside 待办 in the navigation.

import { call } from "./api.js";
import { attempt, h, time } from "./ui.js";
import { addToBatch } from "./window.js";

/** Where an item of SECTION is acted upon: the case page (with the action to open), or a screen. */
function target(section, item) {
  const onCase = (action) => `#/case/${encodeURIComponent(item.case_id)}${action ? `/${action}` : ""}`;
  switch (section) {
    case "to_pick_up":
    case "in_hand":
    case "delivered_today":
      return "#/courier";
    case "locked":
      return "#/admin/users";
    case "calendar":
      return "#/admin/calendar";
    case "to_sign":
    case "results_incoming":
      return "#/scan";
    case "to_seal":
      return onCase("seal");
    case "pickup":
      return onCase("pickup");
    case "supplements":
    case "ious":
      return onCase("supplement");
    case "prereview":
      return onCase("accept");
    case "stages":
      return onCase("stage");
    case "to_ship":
      return onCase("result");
    case "unread":
      return onCase("remark");
    default:
      return onCase("");
  }
}

function itemRow(section, item) {
  const when = item.due_on
    ? h("span", { class: item.overdue ? "when late" : "when" }, `${item.overdue ? "已过期限" : "期限"} ${item.due_on}`)
    : item.at
      ? h("span", { class: "when" }, time(item.at))
      : null;
  const extra = [];
  if (section === "sealed" && item.package_id) {
    extra.push(
      h(
        "button",
        {
          type: "button",
          class: "link",
          onclick: () => {
            addToBatch({ id: item.package_id, code: item.package_code, state_zh: item.state_zh });
            location.hash = "#/handover";
          },
        },
        "加入交接批次并去交接",
      ),
    );
  }
  const subject = item.subject || item.case_no || item.case_id;
  return h(
    "li",
    item.case_id ? { dataset: { caseId: item.case_id } } : {},
    h("a", { href: target(section, item), class: "todo-action" }, `${item.action_zh}：${subject}`),
    item.matter_name ? h("span", {}, item.matter_name) : null,
    item.applicant && item.applicant !== subject ? h("span", { class: "muted" }, item.applicant) : null,
    item.case_id ? null : item.state_zh ? h("span", { class: "muted" }, item.state_zh) : null,
    item.package_code ? h("span", { class: "package-code" }, item.package_code) : null,
    item.note ? h("span", { class: "muted" }, item.note) : null,
    when,
    extra,
  );
}

/** Where the rest of a section too long for the queue is found. */
function more(role, count) {
  const where = role === "courier" ? "请在“快递上报”中查看全部。" : "请在“办件档案”中按状态查询。";
  return h("p", { class: "more" }, `另有 ${count} 项，${where}`);
}

function sectionCard(role, s) {
  return h(
    "section",
    { class: "card todo-section", dataset: { section: s.key }, "aria-labelledby": `todo-${s.key}` },
    h("h2", { id: `todo-${s.key}` }, s.title, " ", h("span", { class: "count" }, `（${s.count}）`)),
    s.items.length ? h("ul", {}, s.items.map((item) => itemRow(s.key, item))) : h("p", { class: "muted" }, "暂无。"),
    s.count > s.items.length ? more(role, s.count - s.items.length) : null,
  );
}

export async function todoScreen(root) {
  const data = await attempt(() => call("GET", "/api/v1/todo"));
  if (!data) return;
  showCount(data.total);
  const title = data.role === "dept_lead" ? "待阅与已阅" : "待办";
  root.append(
    h("h1", {}, title, " ", h("span", { class: "muted" }, `共 ${data.total} 项待处理`)),
    data.sections.length
      ? h("div", { class: "todo-sections" }, data.sections.map((s) => sectionCard(data.role, s)))
      : h("p", { class: "muted" }, "您的角色没有待办队列。"),
  );
}

/** The figure beside 待办 in the navigation (the items to act upon, not the ones only shown). */
export function showCount(total) {
  const link = document.querySelector('#nav a[data-screen="todo"]');
  if (!link) return;
  link.querySelector(".nav-count")?.remove();
  if (total > 0) link.append(h("span", { class: "nav-count", "aria-label": `${total} 项待办` }, String(total)));
}

export async function refreshCount() {
  if (!document.querySelector('#nav a[data-screen="todo"]')) return;
  try {
    const data = await call("GET", "/api/v1/todo", { query: { limit: 1 } });
    showCount(data.total);
  } catch {
    // the figure is a convenience: the screen itself says what went wrong
  }
}
