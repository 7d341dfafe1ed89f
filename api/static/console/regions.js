// The applicant's region (属地) on the registration form: it decides which department the case
// goes to. The choices are the regions of the published catalogue; typing an address that names
// one (海丰县…, 陆丰市…) chooses it, until the clerk chooses by hand.

import { h } from "./ui.js";

let known = null;

/** code → name of every region the published catalogue names (windows' and implementations'). */
async function regionNames() {
  if (!known) {
    const response = await fetch("/api/v1/public/matters", { cache: "no-store" });
    if (!response.ok) throw new Error("区划列表加载失败");
    const data = await response.json();
    const names = new Map();
    for (const r of data.regions) names.set(r.code, r.name);
    for (const m of data.items) for (const i of m.implementations) names.set(i.region_code, i.region_name);
    known = [...names.entries()].sort(([a], [b]) => a.localeCompare(b));
  }
  return known;
}

/** The region an address names: the earliest name in it (the longer one on a tie), or "". */
export function regionFromAddress(address, names) {
  let best = null;
  for (const [code, name] of names) {
    const at = address.indexOf(name);
    if (at < 0) continue;
    if (!best || at < best.at || (at === best.at && name.length > best.name.length)) best = { code, name, at };
  }
  return best ? best.code : "";
}

/** The form's field: a select the picker fills once the form exists. */
export const REGION_FIELD = {
  name: "applicant_region",
  label: "申请人所属区划",
  type: "select",
  options: [["", "未指定（由事项主管部门办理）"]],
  value: "",
  hint: "决定属地审批部门；地址中写明县（市、区）时自动选择",
};

/** Fill the region select of ``formEl`` and follow its address field. */
export async function wireRegionPicker(formEl) {
  const select = formEl.querySelector('select[name="applicant_region"]');
  const address = formEl.querySelector('input[name="address"]');
  if (!select) return;
  let names;
  try {
    names = await regionNames();
  } catch {
    return; // the form still works: the matter's own department decides
  }
  select.append(...names.map(([code, name]) => h("option", { value: code }, `${name}（${code}）`)));
  let chosenByHand = false;
  select.addEventListener("change", () => {
    chosenByHand = true;
  });
  if (address) {
    address.addEventListener("input", () => {
      if (chosenByHand) return;
      select.value = regionFromAddress(address.value, names);
    });
  }
}
