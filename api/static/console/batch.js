// 整批签收 by the manifest's QR (交接单): scanning it on the scan screen lists the batch; signing
// signs every package addressed to the chosen office at once, each with its own discrepancies
// (one request, one Idempotency-Key; the server records one custody event per package).

import { call, newKey, session } from "./api.js";
import { attempt, discrepancyRow, h, showOk, table, time } from "./ui.js";

function discrepancyRows(pkg) {
  return pkg.items.map((item) => discrepancyRow(item, { name: `${pkg.id}-`, label: `${pkg.code} ` }));
}

/** The batch of a scanned manifest, with the form that signs it; SHOW(message) after signing. */
export function batchCard(manifest, show) {
  const signable = manifest.packages.filter((p) => p.signable);
  const targets = new Set(signable.map((p) => p.to_party).filter((p) => p && p.startsWith("office:")).map((p) => p.slice(7)));
  const office = h(
    "select",
    { name: "office_id", id: "batch-office" },
    session.me.offices.map((o) => h("option", { value: o.id, selected: targets.has(o.id) }, o.name)),
  );
  const perPackage = manifest.packages.map((pkg) => {
    const rows = pkg.signable ? discrepancyRows(pkg) : [];
    const block = h(
      "li",
      { class: "batch-package", dataset: { code: pkg.code } },
      h("strong", { class: "package-code" }, pkg.code),
      " ",
      h("span", { class: "state" }, pkg.state_zh),
      pkg.signable
        ? h(
            "details",
            {},
            h("summary", {}, `逐项核对（${pkg.items.length} 项，有差异时展开登记）`),
            table(["序号", "材料名称", "份数", "页数", "核对结果", "实收页数", "说明"], rows),
          )
        : h("small", { class: "muted" }, " 不在本次签收范围"),
    );
    return { pkg, rows, block };
  });
  const key = newKey();
  const submit = h("button", { type: "submit", class: "primary", disabled: !signable.length }, `整批签收（${signable.length} 个材料包）`);
  const el = h(
    "form",
    { class: "card form batch", "aria-labelledby": "batch-title" },
    h("h2", { id: "batch-title" }, "交接单整批签收"),
    h(
      "p",
      {},
      `${manifest.office_name} 于 ${time(manifest.created_at)} 交给 ${manifest.courier_name}，共 ${manifest.packages.length} 个材料包。`,
    ),
    h("div", { class: "field" }, h("label", { for: "batch-office" }, "签收单位"), office),
    h("ol", { class: "batch-list" }, perPackage.map((p) => p.block)),
    h("div", { class: "actions" }, submit),
  );
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    const packages = perPackage
      .map(({ pkg, rows }) => ({ package_id: pkg.id, discrepancies: rows.map((r) => r.read()).filter(Boolean) }))
      .filter((p) => p.discrepancies.length);
    const result = await attempt(() =>
      call("POST", `/api/v1/manifests/${encodeURIComponent(manifest.id)}/sign`, {
        body: { office_id: office.value, packages },
        key,
      }),
    );
    submit.disabled = false;
    if (!result) return;
    const count = packages.reduce((n, p) => n + p.discrepancies.length, 0);
    show(
      h(
        "div",
        { class: "card success" },
        h("h2", {}, "已整批签收"),
        h("ul", {}, result.signed.map((p) => h("li", {}, h("strong", {}, p.code), ` ${p.state_zh}`))),
        result.skipped.length ? h("p", { class: "muted" }, `未签收：${result.skipped.map((s) => `${s.code}（${s.reason}）`).join("；")}`) : null,
      ),
      `已整批签收 ${result.signed.length} 个材料包${count ? `，登记差异 ${count} 项` : "，无差异"}。`,
    );
  });
  return el;
}
