// The admin's screens over /api/v1/admin: regions, offices (address, telephone, opening hours —
// printed on the notices), users (create, disable, reset password, scope), the holiday calendar
// (years covered, upload a year's schedule), parked messages (list, replay) and the audit log.
// A scoped admin sees and changes only what lies in their scope: the API filters, this shows.

import { call } from "./api.js";
import { attempt, form, h, showOk, table, time } from "./ui.js";

if (!document.querySelector('link[href="/console/dashboard.css"]')) {
  document.head.append(h("link", { rel: "stylesheet", href: "/console/dashboard.css" }));
}

const TABS = [
  ["regions", "区划"],
  ["offices", "单位"],
  ["users", "用户"],
  ["calendar", "节假日"],
  ["parked", "停放消息"],
  ["audit", "操作日志"],
];
const ROLE_OPTIONS = [
  ["window_clerk", "代收窗口人员"],
  ["dept_clerk", "审批部门人员"],
  ["dept_lead", "分管领导"],
  ["courier", "快递员"],
  ["supervisor", "监管人员"],
  ["admin", "管理员"],
];
const PARKED_GROUPS = ["notifications", "logistics", "deadlines", "projections"];

function section(title, id, ...children) {
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), ...children);
}

async function regionsTab(body) {
  const data = await call("GET", "/api/v1/admin/regions");
  body.append(
    section(
      `区划（${data.items.length}）`,
      "regions-title",
      table(
        ["代码", "名称", "上级", "纬度", "经度"],
        data.items.map((r) =>
          h(
            "tr",
            { dataset: { code: r.code } },
            h("td", {}, r.code),
            h("td", {}, r.name),
            h("td", {}, r.parent_code || "—"),
            h("td", {}, r.lat),
            h("td", {}, r.lon),
          ),
        ),
      ),
    ),
    section(
      "新增区划",
      "region-new-title",
      form(
        [
          { name: "code", label: "区划代码（6 位）", required: true, maxlength: 6 },
          { name: "name", label: "名称", required: true, maxlength: 100 },
          { name: "parent_code", label: "上级区划代码", maxlength: 6 },
          { name: "lat", label: "纬度", type: "number", required: true },
          { name: "lon", label: "经度", type: "number", required: true },
        ],
        "新增区划",
        async (values) => {
          const made = await attempt(() => call("POST", "/api/v1/admin/regions", { body: values }));
          if (made) {
            showOk(`已新增区划 ${made.name}`);
            await show("regions");
          }
        },
      ),
    ),
  );
}

function officeEdit(office) {
  return form(
    [
      { name: "address", label: "地址", value: office.address, maxlength: 300 },
      { name: "phone", label: "电话", value: office.phone, maxlength: 32 },
      { name: "hours", label: "办公时间", value: office.hours, maxlength: 200, hint: "打印在告知书上" },
    ],
    "保存",
    async (values) => {
      const body = { address: values.address || "", phone: values.phone || "", hours: values.hours || "" };
      const saved = await attempt(() =>
        call("PATCH", `/api/v1/admin/offices/${encodeURIComponent(office.id)}`, { body }),
      );
      if (saved) {
        showOk(`已保存 ${saved.name}`);
        await show("offices");
      }
    },
    { "aria-label": `修改 ${office.name}` },
  );
}

async function officesTab(body) {
  const data = await call("GET", "/api/v1/admin/offices");
  body.append(
    section(
      `单位（${data.items.length}）`,
      "offices-title",
      table(
        ["编号", "名称", "类型", "区划", "地址", "电话", "办公时间", "修改"],
        data.items.map((o) =>
          h(
            "tr",
            { dataset: { id: o.id } },
            h("td", {}, o.id),
            h("td", {}, o.name),
            h("td", {}, o.kind_zh),
            h("td", {}, o.region_code),
            h("td", {}, o.address || "—"),
            h("td", {}, o.phone || "—"),
            h("td", {}, o.hours || "—"),
            h("td", {}, h("details", {}, h("summary", {}, `修改 ${o.name}`), officeEdit(o))),
          ),
        ),
      ),
    ),
    section(
      "新增单位",
      "office-new-title",
      form(
        [
          { name: "id", label: "编号", required: true, maxlength: 64 },
          { name: "name", label: "名称", required: true, maxlength: 200 },
          {
            name: "kind",
            label: "类型",
            type: "select",
            options: [
              ["window", "代收窗口"],
              ["department", "审批部门"],
            ],
          },
          { name: "region_code", label: "区划代码", required: true, maxlength: 6 },
          { name: "address", label: "地址", maxlength: 300 },
          { name: "phone", label: "电话", maxlength: 32 },
          { name: "hours", label: "办公时间", maxlength: 200 },
        ],
        "新增单位",
        async (values) => {
          const made = await attempt(() => call("POST", "/api/v1/admin/offices", { body: values }));
          if (made) {
            showOk(`已新增单位 ${made.name}`);
            await show("offices");
          }
        },
      ),
    ),
  );
}

function userActions(user) {
  const toggle = h("button", { type: "button", class: "secondary" }, user.active ? "停用" : "启用");
  toggle.addEventListener("click", async () => {
    const saved = await attempt(() =>
      call("PATCH", `/api/v1/admin/users/${encodeURIComponent(user.id)}`, { body: { active: !user.active } }),
    );
    if (saved) {
      showOk(`${saved.name} 已${saved.active ? "启用" : "停用"}`);
      await show("users");
    }
  });
  const reset = h("button", { type: "button", class: "secondary" }, "重置密码");
  const shown = h("span", { class: "one-time", "aria-live": "polite" });
  reset.addEventListener("click", async () => {
    const answer = await attempt(() =>
      call("POST", `/api/v1/admin/users/${encodeURIComponent(user.id)}/password`, { body: {} }),
    );
    if (answer) {
      shown.replaceChildren(`一次性密码：`, h("code", {}, answer.password), "（只显示这一次，首次登录须修改）");
    }
  });
  const scopeId = `scope-${user.id}`;
  const scope = h("input", { id: scopeId, value: user.scope, maxlength: 200, required: true });
  const scopeForm = h(
    "form",
    { class: "inline-form" },
    h("label", { for: scopeId, class: "sr-only" }, `${user.name} 的权限范围`),
    scope,
    h("button", { type: "submit", class: "secondary" }, "改范围"),
  );
  scopeForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const saved = await attempt(() =>
      call("PATCH", `/api/v1/admin/users/${encodeURIComponent(user.id)}`, { body: { scope: scope.value.trim() } }),
    );
    if (saved) showOk(`${saved.name} 的范围已改为 ${saved.scope}`);
  });
  return h("div", { class: "actions" }, toggle, reset, scopeForm, shown);
}

async function usersTab(body) {
  const data = await call("GET", "/api/v1/admin/users");
  body.append(
    section(
      `用户（${data.items.length}）`,
      "users-title",
      table(
        ["用户名", "姓名", "角色", "范围", "手机", "状态", "操作"],
        data.items.map((u) =>
          h(
            "tr",
            { dataset: { id: u.id } },
            h("td", {}, u.id),
            h("td", {}, u.name),
            h("td", {}, u.role_zh),
            h("td", {}, u.scope),
            h("td", {}, u.phone || "—"),
            h("td", {}, u.active ? "在用" : "已停用"),
            h("td", {}, userActions(u)),
          ),
        ),
      ),
    ),
    section(
      "新增用户",
      "user-new-title",
      form(
        [
          { name: "id", label: "用户名", required: true, maxlength: 64 },
          { name: "name", label: "姓名", required: true, maxlength: 100 },
          { name: "role", label: "角色", type: "select", options: ROLE_OPTIONS },
          { name: "scope", label: "权限范围", required: true, maxlength: 200, hint: "如 office:win-441581 或 region:4415" },
          { name: "phone", label: "手机（接收工作短信）", maxlength: 20 },
        ],
        "新增用户",
        async (values) => {
          const made = await attempt(() => call("POST", "/api/v1/admin/users", { body: values }));
          if (made) {
            showOk(`已新增用户 ${made.name}，请为其重置密码后告知本人`);
            await show("users");
          }
        },
      ),
    ),
  );
}

async function calendarTab(body) {
  const data = await call("GET", "/api/v1/admin/calendar");
  body.append(
    section(
      "节假日安排",
      "calendar-title",
      data.warning ? h("p", { class: "alert warn" }, data.warning) : null,
      h("p", { id: "covered-years" }, `已覆盖年份：${data.covered_years.join("、") || "无"}`),
      table(
        ["年份", "来源", "方式", "生效", "节假日", "调休上班", "载入人", "载入时间"],
        data.schedules.map((s) =>
          h(
            "tr",
            {},
            h("td", {}, s.year),
            h("td", {}, s.source),
            h("td", {}, s.origin === "uploaded" ? "上传" : "内置"),
            h("td", {}, s.in_effect ? "是" : "否"),
            h("td", {}, s.holidays),
            h("td", {}, s.workdays),
            h("td", {}, s.loaded_by || "—"),
            h("td", {}, s.loaded_at ? time(s.loaded_at) : "—"),
          ),
        ),
      ),
    ),
    section(
      "上传一年的安排",
      "calendar-upload-title",
      form(
        [
          { name: "year", label: "年份", type: "number", required: true, min: 2000, max: 2100 },
          { name: "source", label: "依据（国务院办公厅通知）", required: true, maxlength: 200 },
          { name: "holidays", label: "放假日期（每行一个 YYYY-MM-DD）", type: "lines", rows: 6 },
          { name: "workdays", label: "调休上班日期（每行一个）", type: "lines", rows: 3 },
        ],
        "上传",
        async (values) => {
          const list = (items) => `[${(items || []).map((d) => JSON.stringify(d)).join(", ")}]`;
          const toml = [
            `year = ${values.year}`,
            `source = ${JSON.stringify(values.source || "")}`,
            `holidays = ${list(values.holidays)}`,
            `workdays = ${list(values.workdays)}`,
          ].join("\n");
          const done = await attempt(() => call("POST", "/api/v1/admin/calendar", { body: { toml } }));
          if (done) {
            showOk(`已载入 ${done.year} 年：${done.holidays} 个放假日，${done.workdays} 个调休上班日`);
            await show("calendar");
          }
        },
      ),
    ),
  );
}

async function parkedTab(body) {
  for (const group of PARKED_GROUPS) {
    const id = `parked-${group}`;
    let data;
    try {
      data = await call("GET", "/api/v1/admin/parked", { query: { group } });
    } catch (error) {
      body.append(section(`停放消息：${group}`, id, h("p", { class: "muted" }, error.message)));
      continue;
    }
    const replay = h("button", { type: "button", class: "secondary", dataset: { group } }, `重放 ${group}`);
    replay.addEventListener("click", async () => {
      const done = await attempt(() => call("POST", "/api/v1/admin/parked/replay", { body: { group } }));
      if (done) {
        showOk(`${group}：已重放 ${done.replayed} 条`);
        await show("parked");
      }
    });
    body.append(
      section(
        `停放消息：${group}（${data.items.length}）`,
        id,
        data.items.length
          ? table(
              ["编号", "类型", "最后错误"],
              data.items.map((m) => h("tr", {}, h("td", {}, m.id), h("td", {}, m.type), h("td", {}, m.last_error))),
            )
          : h("p", { class: "muted" }, "没有停放的消息。"),
        data.items.length ? h("div", { class: "actions" }, replay) : null,
      ),
    );
  }
}

async function auditTab(body) {
  const holder = h("tbody");
  const more = h("button", { type: "button", class: "secondary" }, "更多");
  let cursor = null;
  async function page() {
    const data = await call("GET", "/api/v1/admin/audit", { query: { limit: 50, cursor } });
    for (const e of data.items) {
      holder.append(
        h("tr", {}, h("td", {}, time(e.at)), h("td", {}, e.actor), h("td", {}, e.action_zh), h("td", {}, e.target)),
      );
    }
    cursor = data.next_cursor;
    more.hidden = !cursor;
  }
  more.addEventListener("click", () => attempt(page));
  body.append(
    section(
      "操作日志",
      "audit-title",
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { id: "audit-log" },
          h("thead", {}, h("tr", {}, ["时间", "操作人", "操作", "对象"].map((t) => h("th", {}, t)))),
          holder,
        ),
      ),
      h("div", { class: "actions" }, more),
    ),
  );
  await page();
}

const RENDER = {
  regions: regionsTab,
  offices: officesTab,
  users: usersTab,
  calendar: calendarTab,
  parked: parkedTab,
  audit: auditTab,
};

let show = async () => {};

export async function adminScreen(root, tab = "offices") {
  const current = RENDER[tab] ? tab : "offices";
  const body = h("div", { id: "admin-body" });
  root.append(
    h("h1", {}, "系统管理"),
    h(
      "nav",
      { class: "tabs", "aria-label": "管理项目" },
      TABS.map(([name, label]) =>
        h("a", { href: `#/admin/${name}`, "aria-current": name === current ? "page" : null }, label),
      ),
    ),
    body,
  );
  show = async (name) => {
    body.replaceChildren();
    await RENDER[name](body);
  };
  await show(current);
}
