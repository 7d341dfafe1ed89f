// The courier's phone screen: type or scan a code, tap 揽收 / 运输中 / 送达. Reports go through the
// offline queue (outbox.js), which shows what is still waiting for the network.

import { session } from "./api.js";
import { Outbox, STEPS } from "./outbox.js";
import { clearMessages, h, showError, showOk, time } from "./ui.js";

const RETRY_SECONDS = 15;

export async function courierScreen(root) {
  const outbox = new Outbox(session.me.user_id);
  const network = h("p", { class: "network", role: "status" });
  const pendingList = h("ul", { class: "reports", id: "pending" });
  const failedList = h("ul", { class: "reports" });
  const sentList = h("ul", { class: "reports", id: "sent" });
  const pendingCount = h("span", { id: "pending-count" }, "0");
  const failedBox = h("section", { class: "card", hidden: true }, h("h2", {}, "未被接受（请核对后处理）"), failedList);

  function render() {
    const data = outbox.read();
    network.textContent = navigator.onLine
      ? "在线：上报立即发送。"
      : "离线：上报先保存在本机，联网后自动发送。";
    network.className = `network ${navigator.onLine ? "online" : "offline"}`;
    pendingCount.textContent = String(data.pending.length);
    pendingList.replaceChildren(
      ...(data.pending.length
        ? data.pending.map((r) =>
            h(
              "li",
              { dataset: { key: r.key } },
              h("strong", {}, r.code),
              ` · ${STEPS[r.step].label} · ${time(r.made_at)} 记录`,
              r.attempts ? h("small", {}, `已尝试 ${r.attempts} 次：${r.last_error}`) : null,
            ),
          )
        : [h("li", { class: "muted" }, "没有待发送的上报。")]),
    );
    failedBox.hidden = !data.failed.length;
    failedList.replaceChildren(
      ...data.failed.map((r) =>
        h(
          "li",
          {},
          h("strong", {}, r.code),
          ` · ${STEPS[r.step].label} · ${time(r.made_at)}`,
          h("small", { class: "bad" }, r.last_error),
          h(
            "button",
            {
              type: "button",
              class: "link",
              onclick: () => {
                outbox.discardFailed(r.key);
                render();
              },
            },
            "知道了，移除",
          ),
        ),
      ),
    );
    sentList.replaceChildren(
      ...(data.sent.length
        ? data.sent.map((r) =>
            h("li", {}, h("strong", {}, r.code), ` · ${STEPS[r.step].label} · 现为“${r.state_zh}” · ${time(r.sent_at)} 送达服务器`),
          )
        : [h("li", { class: "muted" }, "还没有上报。")]),
    );
  }

  async function flush() {
    if (!navigator.onLine) {
      render();
      return;
    }
    const before = outbox.read().failed.length;
    const sent = await outbox.flush();
    render();
    const after = outbox.read();
    if (after.failed.length > before) showError(new Error(`${after.failed[0].code}：${after.failed[0].last_error}`));
    else if (sent.length) showOk(`已发送 ${sent.length} 条上报。`);
  }

  const code = h("input", {
    id: "courier-code",
    name: "code",
    placeholder: "扫描或输入材料包编号",
    autocomplete: "off",
    inputmode: "text",
  });
  const place = h("input", { id: "courier-place", name: "place", placeholder: "地点（选填）", maxlength: 200 });
  const buttons = Object.entries(STEPS).map(([step, { label }]) =>
    h("button", { type: "button", class: `step step-${step}`, dataset: { step } }, label),
  );
  for (const button of buttons) {
    button.addEventListener("click", () => {
      const raw = code.value.trim();
      if (!raw) {
        showError(new Error("请先扫描或输入材料包编号。"));
        code.focus();
        return;
      }
      const report = outbox.add(raw, button.dataset.step, place.value.trim());
      clearMessages();
      showOk(`已记录：${raw} ${STEPS[report.step].label}${navigator.onLine ? "，正在发送……" : "（离线，联网后自动发送）"}`);
      code.value = "";
      render();
      flush();
    });
  }

  root.append(
    h("h1", {}, "快递上报"),
    network,
    h(
      "div",
      { class: "card courier-form" },
      h("label", { for: "courier-code" }, "材料包编号"),
      code,
      h("label", { for: "courier-place" }, "地点"),
      place,
      h("div", { class: "steps" }, buttons),
    ),
    h(
      "section",
      { class: "card" },
      h("h2", {}, "待发送 ", pendingCount, " 条"),
      pendingList,
      h("button", { type: "button", class: "secondary", id: "send-now", onclick: flush }, "立即发送"),
    ),
    failedBox,
    h("section", { class: "card" }, h("h2", {}, "已送达服务器"), sentList),
  );
  render();
  code.focus();

  const onOnline = () => flush();
  const onOffline = () => render();
  window.addEventListener("online", onOnline);
  window.addEventListener("offline", onOffline);
  const timer = setInterval(flush, RETRY_SECONDS * 1000);
  flush();
  return () => {
    clearInterval(timer);
    window.removeEventListener("online", onOnline);
    window.removeEventListener("offline", onOffline);
  };
}
