// The console's entry: log in with a bearer token, then the screens of the user's role,
// chosen by the URL's #/screen/argument.

import { call, session } from "./api.js";
import { caseScreen, casesScreen, inboxScreen } from "./cases.js";
import { courierScreen } from "./courier.js";
import { indicatorsScreen } from "./indicators.js";
import { scanScreen } from "./packages.js";
import { clearMessages, h, releaseDocuments, showError } from "./ui.js";
import { handoverScreen, registerScreen } from "./window.js";

const NAV = {
  window_clerk: [
    ["register", "收件登记"],
    ["cases", "办件列表"],
    ["handover", "交接快递"],
    ["scan", "扫码签收"],
  ],
  dept_clerk: [
    ["scan", "扫码签收"],
    ["cases", "办件列表"],
    ["handover", "交接快递"],
  ],
  dept_lead: [
    ["inbox", "待阅"],
    ["cases", "办件列表"],
  ],
  courier: [["courier", "快递上报"]],
  supervisor: [
    ["cases", "办理台账"],
    ["indicators", "评价指标"],
  ],
  admin: [
    ["cases", "办理台账"],
    ["indicators", "评价指标"],
  ],
};

const SCREENS = {
  register: registerScreen,
  handover: handoverScreen,
  scan: scanScreen,
  cases: casesScreen,
  case: caseScreen,
  inbox: inboxScreen,
  courier: courierScreen,
  indicators: indicatorsScreen,
};

let leave = null; // the current screen's clean-up (timers, listeners)

function view() {
  return document.getElementById("view");
}

function loginScreen(reason) {
  document.getElementById("nav").replaceChildren();
  document.getElementById("who").replaceChildren();
  const input = h("input", {
    id: "token",
    name: "token",
    type: "password",
    required: true,
    autocomplete: "off",
    placeholder: "粘贴访问令牌",
  });
  const loginForm = h(
    "form",
    { class: "form login" },
    h("h1", {}, "登录工作台"),
    h("p", { class: "muted" }, "请粘贴管理员发给您的访问令牌（只保存在本窗口，关闭后需重新登录）。"),
    h("div", { class: "field" }, h("label", { for: "token" }, "访问令牌"), input),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "登录")),
  );
  loginForm.addEventListener("submit", (event) => {
    event.preventDefault();
    session.login(input.value.trim());
    start();
  });
  view().replaceChildren(loginForm);
  if (reason) showError(reason);
  else clearMessages();
  input.focus();
}

function shell() {
  const me = session.me;
  const items = NAV[me.role] || [];
  document.getElementById("nav").replaceChildren(
    ...items.map(([name, label]) => h("a", { href: `#/${name}`, dataset: { screen: name } }, label)),
  );
  document.getElementById("who").replaceChildren(
    h("span", {}, `${me.name}（${me.role_zh}）`),
    h(
      "button",
      {
        type: "button",
        class: "link",
        onclick: () => {
          session.logout();
          location.hash = "";
          loginScreen();
        },
      },
      "退出",
    ),
  );
}

async function route() {
  if (!session.me) return;
  if (leave) {
    leave();
    leave = null;
  }
  releaseDocuments();
  clearMessages();
  const allowed = (NAV[session.me.role] || []).map(([name]) => name);
  if (session.me.role !== "courier") allowed.push("case");
  const [name, ...args] = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if (!allowed.includes(name)) {
    if (allowed.length) location.replace(`#/${allowed[0]}`);
    else view().replaceChildren(h("p", {}, "您的角色没有可用的功能。"));
    return;
  }
  for (const link of document.querySelectorAll("#nav a")) {
    link.classList.toggle("active", link.dataset.screen === name);
  }
  const container = h("section", { class: `screen screen-${name}` });
  view().replaceChildren(container);
  try {
    leave = (await SCREENS[name](container, ...args)) || null;
  } catch (error) {
    showError(error);
  }
}

async function start() {
  if (!session.token) {
    loginScreen();
    return;
  }
  try {
    session.me = await call("GET", "/api/v1/me");
  } catch (error) {
    if (error.status === 401) {
      session.logout();
      loginScreen(error);
      return;
    }
    view().replaceChildren(h("button", { type: "button", class: "primary", onclick: start }, "重试"));
    showError(error);
    return;
  }
  shell();
  await route();
}

window.addEventListener("hashchange", route);
start();
