// The supervisor's indicators (seed 002's 通办评价指标) over the cases in scope.

import { call } from "./api.js";
import { h, percent } from "./ui.js";

const FIGURES = [
  ["cases", "办件数", (v) => `${v} 件`],
  ["acceptance_rate", "受理率", percent],
  ["completion_rate", "办结率", percent],
  ["early_rate", "提前办结率", percent],
  ["overdue", "逾期件数", (v) => `${v} 件`],
  ["overdue_rate", "逾期率", percent],
  ["trips_saved", "少跑次数", (v) => `${v} 次`],
  ["distance_saved_km", "少跑距离", (v) => `${Number(v).toFixed(1)} 公里`],
  ["rating_coverage", "评价覆盖率", percent],
  ["average_rating", "平均评分", (v) => (v === null || v === undefined ? "—" : `${Number(v).toFixed(2)} 分`)],
  ["bad_rating_rate", "差评率", percent],
  ["rectification_rate", "差评整改率", percent],
];

export async function indicatorsScreen(root) {
  root.append(h("h1", {}, "通办评价指标"));
  const data = await call("GET", "/api/v1/indicators");
  root.append(
    h(
      "div",
      { class: "figures" },
      FIGURES.filter(([name]) => name in data).map(([name, label, show]) =>
        h("div", { class: "figure card", dataset: { name } }, h("small", {}, label), h("strong", {}, show(data[name]))),
      ),
    ),
    h("p", { class: "muted" }, "按您权限范围内的办件计算；比率的分母为 0 时显示“—”。"),
  );
}
