// The admin's matter catalogue (事项清单): each matter's version and state, its implementations
// per region (属地: who decides for that region's applicants; 通办范围: where it may be collected),
// the versions kept, and retirement (停止办理). Every change makes a new version; cases keep
// the version they were registered under.

import { call } from "./api.js";
import { attempt, clearMessages, h, KIND_ZH, showOk, table } from "./ui.js";

function codes(text) {
  return text
    .split(/[\s,，、]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

export async function catalogueScreen(root) {
  const [matters, offices, regions] = await Promise.all([
    call("GET", "/api/v1/admin/matters"),
    call("GET", "/api/v1/admin/offices", { query: { kind: "department" } }),
    call("GET", "/api/v1/admin/regions"),
  ]);
  const regionName = new Map(regions.items.map((r) => [r.code, r.name]));
  const officeName = new Map(offices.items.map((o) => [o.id, o.name]));
  const detail = h("div", { class: "catalogue-detail" });

  const rows = matters.items.map((m) =>
    h(
      "tr",
      { dataset: { matter: m.id } },
      h("td", {}, h("strong", {}, m.name), h("small", {}, ` ${KIND_ZH[m.kind] || m.kind}`)),
      h("td", {}, `第 ${m.version} 版`),
      h("td", {}, m.retired ? "已停止办理" : "在办"),
      h(
        "td",
        {},
        m.implementations.length
          ? m.implementations.map((i) => regionName.get(i.region_code) || i.region_code).join("、")
          : "（全市由主管部门办理）",
      ),
      h(
        "td",
        {},
        h("button", { type: "button", class: "secondary", onclick: () => open(m) }, `管理：${m.name}`),
      ),
    ),
  );

  function open(matter) {
    clearMessages();
    detail.replaceChildren(matterCard(matter, { regions, offices, regionName, officeName }, reload));
    detail.scrollIntoView({ block: "start" });
  }

  async function reload(matterId, message) {
    root.replaceChildren();
    await catalogueScreen(root);
    const again = root.querySelector(`tr[data-matter="${CSS.escape(matterId)}"] button`);
    if (again) again.click();
    if (message) showOk(message);
  }

  root.append(
    h("h1", {}, "事项清单"),
    h("p", { class: "muted" }, "每次修改生成新版本；已登记的办件仍按登记时的版本办理。"),
    table(["事项", "版本", "状态", "属地实施区划", "操作"], rows, { class: "catalogue" }),
    detail,
  );
}

function matterCard(matter, known, reload) {
  const base = `/api/v1/admin/matters/${encodeURIComponent(matter.id)}`;
  const departmentOptions = (selected) =>
    known.offices.items.map((o) => h("option", { value: o.id, selected: o.id === selected }, o.name));

  const implementationRows = matter.implementations.map((i) => {
    const region = known.regionName.get(i.region_code) || i.region_code;
    const unit = h("select", { "aria-label": `${region}的审批部门` }, departmentOptions(i.department_office_id));
    const scope = h("input", {
      type: "text",
      value: i.scope.join("、"),
      "aria-label": `${region}的通办范围（区划代码）`,
    });
    const save = async () => {
      const done = await attempt(() =>
        call("PUT", `${base}/implementations/${i.region_code}`, {
          body: { department_office_id: unit.value, scope: codes(scope.value) },
        }),
      );
      if (done) await reload(matter.id, `已保存${region}的实施（第 ${done.version} 版）`);
    };
    const remove = async () => {
      const done = await attempt(() => call("DELETE", `${base}/implementations/${i.region_code}`));
      if (done) await reload(matter.id, `已取消${region}的实施（第 ${done.version} 版）`);
    };
    return h(
      "tr",
      {},
      h("td", {}, `${region}（${i.region_code}）`),
      h("td", {}, unit),
      h("td", {}, scope),
      h(
        "td",
        {},
        h("button", { type: "button", class: "primary", onclick: save }, "保存"),
        " ",
        h("button", { type: "button", class: "secondary", onclick: remove }, "取消实施"),
      ),
    );
  });

  const newRegion = h(
    "select",
    { id: "impl-region" },
    known.regions.items.map((r) => h("option", { value: r.code }, `${r.name}（${r.code}）`)),
  );
  const newUnit = h("select", { id: "impl-unit" }, departmentOptions(""));
  const newScope = h("input", { id: "impl-scope", type: "text", placeholder: "如：441500（全市）" });
  const addForm = h(
    "form",
    { class: "form inline-form" },
    h("div", { class: "field" }, h("label", { for: "impl-region" }, "区划"), newRegion),
    h("div", { class: "field" }, h("label", { for: "impl-unit" }, "审批部门"), newUnit),
    h("div", { class: "field" }, h("label", { for: "impl-scope" }, "通办范围（区划代码）"), newScope),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "设置实施")),
  );
  addForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const done = await attempt(() =>
      call("PUT", `${base}/implementations/${newRegion.value}`, {
        body: { department_office_id: newUnit.value, scope: codes(newScope.value) },
      }),
    );
    if (done) await reload(matter.id, `已设置实施（第 ${done.version} 版）`);
  });

  const versions = h("div", { class: "versions" });
  const showVersions = async () => {
    const data = await attempt(() => call("GET", `${base}/versions`));
    if (!data) return;
    versions.replaceChildren(
      data.items.length
        ? table(
            ["版本", "保存时间", "保存人", "承诺/法定期限", "材料数"],
            data.items.map((v) =>
              h(
                "tr",
                {},
                h("td", {}, `第 ${v.version} 版`),
                h("td", {}, v.at.replace("T", " ").slice(0, 16)),
                h("td", {}, v.actor),
                h("td", {}, `${v.terms.promised_limit} / ${v.terms.legal_limit} 个工作日`),
                h("td", {}, String(v.terms.materials.length)),
              ),
            ),
          )
        : h("p", { class: "muted" }, "尚无修改记录（当前为初始版本）。"),
    );
  };
  const retire = async () => {
    if (!window.confirm(`确定停止办理“${matter.name}”？停止后不能再登记新的办件。`)) return;
    const done = await attempt(() => call("POST", `${base}/retire`, { body: {} }));
    if (done) await reload(matter.id, `“${matter.name}”已停止办理`);
  };

  return h(
    "section",
    { class: "card" },
    h("h2", {}, `${matter.name}（第 ${matter.version} 版${matter.retired ? "，已停止办理" : ""}）`),
    h(
      "p",
      { class: "muted" },
      `主管部门：${known.officeName.get(matter.department_office_id) || matter.department_office_id}。` +
        "通办范围填写可代收的区划代码，以顿号或逗号分隔；实施区划本身总可代收。",
    ),
    matter.implementations.length
      ? table(["实施区划", "审批部门（属地）", "通办范围", "操作"], implementationRows)
      : h("p", {}, "尚未按区划设置实施：由主管部门为全部申请人办理，任何窗口均可代收。"),
    h("h3", {}, "新增或更改一个区划的实施"),
    addForm,
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", class: "secondary", onclick: showVersions }, "查看历次版本"),
      matter.retired ? null : h("button", { type: "button", class: "secondary", onclick: retire }, "停止办理"),
    ),
    versions,
  );
}
