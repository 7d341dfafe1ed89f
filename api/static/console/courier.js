// The courier's phone screen: my packages (to pick up, in hand, delivered today) with the step
// each one needs next; a code typed or scanned with the camera; 送达 with a photo and the
// receiver's finger signature; 异常 with a reason. Every report goes through the offline queue
// (outbox.js, IndexedDB), which shows what is still waiting for the network.

import { call, session } from "./api.js";
import { evidenceFields } from "./evidence.js";
import { Outbox, recall, remember, STEPS } from "./outbox.js";
import { cameraAvailable, scanQr } from "./scanner.js";
import { clearMessages, EXCEPTION_ZH, h, showError, showOk, time } from "./ui.js";

const RETRY_SECONDS = 15;
const LISTS = [
  ["to_pick_up", "待揽收", "没有待揽收的材料包。"],
  ["in_hand", "在手中", "手中没有材料包。"],
  ["delivered_today", "今日已送达", "今天还没有送达记录。"],
];

export async function courierScreen(root, initialCode) {
  const me = session.me.user_id;
  const outbox = new Outbox(me);
  const network = h("p", { class: "network", role: "status" });
  const pendingList = h("ul", { class: "reports", id: "pending" });
  const failedList = h("ul", { class: "reports" });
  const sentList = h("ul", { class: "reports", id: "sent" });
  const pendingCount = h("span", { id: "pending-count" }, "0");
  const failedBox = h("section", { class: "card", hidden: true }, h("h2", {}, "未被接受（请核对后处理）"), failedList);
  const cameraPanel = h("div", { class: "camera-panel", hidden: true });
  const actionPanel = h("section", { class: "card action-panel", id: "courier-action", hidden: true });
  const listsNote = h("p", { class: "muted", id: "lists-note" });
  const listBoxes = Object.fromEntries(
    LISTS.map(([kind, label]) => [
      kind,
      { count: h("span", { class: "count" }, "0"), list: h("ul", { class: "reports my-packages", id: `list-${kind}` }), label },
    ]),
  );
  let leaving = false;

  function setNetwork() {
    network.textContent = navigator.onLine ? "在线：上报立即发送。" : "离线：上报先保存在本机，联网后自动发送。";
    network.className = `network ${navigator.onLine ? "online" : "offline"}`;
  }

  async function render() {
    const data = await outbox.read();
    if (leaving) return;
    setNetwork();
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
              onclick: async () => {
                await outbox.discardFailed(r.key);
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

  // ------------------------------------------------------------------ my packages

  function row(kind, item) {
    const buttons = item.steps.map((step) =>
      h(
        "button",
        {
          type: "button",
          class: `step step-${step}`,
          "aria-label": `${STEPS[step].label} ${item.code}`,
          onclick: () => act(step, { code: item.code, package_id: item.package_id }),
        },
        STEPS[step].label,
      ),
    );
    return h(
      "li",
      { dataset: { code: item.code } },
      h("strong", {}, item.code),
      h("span", { class: "route" }, ` ${item.from_name} → ${item.to_name}`),
      h("small", {}, `${item.state_zh} · ${time(item.at)}${kind === "in_hand" && !item.acknowledged ? " · 窗口已交接，请确认揽收" : ""}`),
      buttons.length ? h("span", { class: "steps" }, buttons) : null,
    );
  }

  function showLists(lists, at, stale) {
    for (const [kind, , empty] of LISTS) {
      const items = (lists && lists[kind]) || [];
      listBoxes[kind].count.textContent = String(items.length);
      listBoxes[kind].list.replaceChildren(...(items.length ? items.map((i) => row(kind, i)) : [h("li", { class: "muted" }, empty)]));
    }
    listsNote.textContent = stale && at ? `未能连接服务器，显示的是 ${time(at)} 的列表。` : "";
  }

  async function loadLists() {
    const key = `lists.${me}`;
    try {
      const answers = await Promise.all(LISTS.map(([kind]) => call("GET", "/api/v1/courier/packages", { query: { list: kind, limit: 100 } })));
      const lists = Object.fromEntries(answers.map((a) => [a.list, a.items]));
      const at = new Date().toISOString();
      await remember(key, { lists, at });
      if (!leaving) showLists(lists, at, false);
    } catch {
      const kept = await recall(key);
      if (!leaving) showLists(kept && kept.lists, kept && kept.at, true);
    }
  }

  // ------------------------------------------------------------------ reporting

  async function queue(step, target, place, extra = {}) {
    await outbox.add(target.code, step, place, { ...extra, package_id: target.package_id });
    clearMessages();
    showOk(`已记录：${target.code} ${STEPS[step].label}${navigator.onLine ? "，正在发送……" : "（离线，联网后自动发送）"}`);
    await render();
    await flush();
  }

  function closeAction() {
    actionPanel.hidden = true;
    actionPanel.replaceChildren();
  }

  /** Step STEP on TARGET ({code, package_id?}): 送达 and 异常 ask for more first. */
  function act(step, target) {
    const where = place.value.trim();
    if (step === "picked_up" || step === "in_transit") {
      queue(step, target, where);
      return;
    }
    const cancel = h("button", { type: "button", class: "secondary", onclick: closeAction }, "取消");
    if (step === "delivered") {
      const evidence = evidenceFields("deliver");
      const confirm = h("button", { type: "submit", class: "primary" }, "确认送达");
      const formEl = h(
        "form",
        { class: "form", "aria-labelledby": "deliver-title" },
        h("h2", { id: "deliver-title" }, `送达 ${target.code}`),
        evidence.element,
        h("div", { class: "actions" }, confirm, cancel),
      );
      formEl.addEventListener("submit", async (event) => {
        event.preventDefault();
        confirm.disabled = true;
        try {
          const images = await evidence.read();
          closeAction();
          await queue("delivered", target, where, { evidence: images });
        } catch (error) {
          showError(error);
        } finally {
          confirm.disabled = false;
        }
      });
      actionPanel.replaceChildren(formEl);
    } else {
      const kind = h(
        "select",
        { id: "exception-kind", name: "kind" },
        Object.entries(EXCEPTION_ZH).map(([value, label]) => h("option", { value }, label)),
      );
      const note = h("textarea", { id: "exception-note", name: "note", maxlength: 500, required: true, rows: 3 });
      const formEl = h(
        "form",
        { class: "form", "aria-labelledby": "exception-title" },
        h("h2", { id: "exception-title" }, `登记异常 ${target.code}`),
        h("div", { class: "field" }, h("label", { for: "exception-kind" }, "异常类型"), kind),
        h("div", { class: "field" }, h("label", { for: "exception-note" }, "原因说明"), note),
        h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "登记异常"), cancel),
      );
      formEl.addEventListener("submit", async (event) => {
        event.preventDefault();
        const reason = note.value.trim();
        if (!reason) {
          showError(new Error("请写明异常原因。"));
          note.focus();
          return;
        }
        closeAction();
        await queue("exception", target, "", { kind: kind.value, note: reason });
      });
      actionPanel.replaceChildren(formEl);
    }
    actionPanel.hidden = false;
    actionPanel.scrollIntoView({ block: "nearest" });
  }

  async function flush() {
    if (!navigator.onLine) {
      await render();
      return;
    }
    const before = (await outbox.read()).failed.length;
    const sent = await outbox.flush();
    if (leaving) return;
    await render();
    const after = await outbox.read();
    if (after.failed.length > before) showError(new Error(`${after.failed[0].code}：${after.failed[0].last_error}`));
    else if (sent.length) showOk(`已发送 ${sent.length} 条上报。`);
    if (sent.length) await loadLists();
  }

  // ------------------------------------------------------------------ the form

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
      code.value = "";
      act(button.dataset.step, { code: raw });
    });
  }
  const camera = cameraAvailable()
    ? h(
        "button",
        {
          type: "button",
          class: "secondary",
          id: "scan-camera",
          onclick: async () => {
            try {
              const text = await scanQr(cameraPanel);
              if (text) {
                code.value = text.trim();
                showOk("已扫描二维码，请选择操作。");
              }
            } catch (error) {
              showError(error);
            }
          },
        },
        "用摄像头扫码",
      )
    : null;

  root.append(
    h("h1", {}, "快递上报"),
    network,
    h(
      "div",
      { class: "card courier-form" },
      h("label", { for: "courier-code" }, "材料包编号"),
      h("div", { class: "code-row" }, code, camera),
      cameraPanel,
      h("label", { for: "courier-place" }, "地点"),
      place,
      h("div", { class: "steps" }, buttons),
    ),
    actionPanel,
    h(
      "section",
      { class: "card", "aria-labelledby": "mine-title" },
      h("h2", { id: "mine-title" }, "我的材料包"),
      listsNote,
      LISTS.map(([kind]) => h("div", { class: "my-list" }, h("h3", {}, listBoxes[kind].label, "（", listBoxes[kind].count, "）"), listBoxes[kind].list)),
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
  if (initialCode) code.value = initialCode;
  setNetwork();
  await render();
  loadLists();
  code.focus();

  const onOnline = () => flush();
  const onOffline = () => render();
  window.addEventListener("online", onOnline);
  window.addEventListener("offline", onOffline);
  const timer = setInterval(flush, RETRY_SECONDS * 1000);
  flush();
  return () => {
    leaving = true;
    clearInterval(timer);
    window.removeEventListener("online", onOnline);
    window.removeEventListener("offline", onOffline);
  };
}
