// The console's entry: sign in with a user name and a password (a session cookie; devices may
// still use a bearer token), then the screens of the user's role, chosen by the URL's
// #/screen/argument; logout and the password change.

import { ApiError, call, learnNames, NetworkError, session } from "./api.js";
import { catalogueScreen } from "./catalogue.js";
import { caseScreen, casesScreen } from "./cases.js";
import { courierScreen } from "./courier.js";
import { indicatorsScreen } from "./indicators.js";
import { scanScreen } from "./packages.js";
import { clearMessages, h, releaseDocuments, showError, showOk } from "./ui.js";
import { archiveScreen, handledScreen } from "./search.js";
import { refreshCount, todoScreen } from "./todo.js";
import { handoverScreen, registerScreen } from "./window.js";

const NAV = {
  window_clerk: [
    ["register", "收件登记"],
    ["todo", "待办"],
    ["handled", "已办办件"],
    ["archive", "办件档案"],
    ["cases", "办件列表"],
    ["handover", "交接快递"],
    ["scan", "扫码签收"],
  ],
  dept_clerk: [
    ["scan", "扫码签收"],
    ["todo", "待办"],
    ["handled", "已办办件"],
    ["archive", "办件档案"],
    ["cases", "办件列表"],
    ["handover", "交接快递"],
    ["supervisions", "督办"],
  ],
  dept_lead: [
    ["todo", "待阅"],
    ["handled", "已办办件"],
    ["archive", "办件档案"],
    ["cases", "办件列表"],
    ["supervisions", "督办"],
  ],
  courier: [
    ["courier", "快递上报"],
    ["todo", "待办"],
  ],
  supervisor: [
    ["dashboard", "监管看板"],
    ["todo", "待办"],
    ["cases", "办理台账"],
    ["archive", "办件档案"],
    ["indicators", "评价指标"],
  ],
  admin: [
    ["admin", "系统管理"],
    ["todo", "待办"],
    ["dashboard", "监管看板"],
    ["cases", "办理台账"],
    ["archive", "办件档案"],
    ["indicators", "评价指标"],
    ["catalogue", "事项清单"],
  ],
};

const SCREENS = {
  register: registerScreen,
  handover: handoverScreen,
  scan: scanScreen,
  cases: casesScreen,
  case: caseScreen,
  inbox: todoScreen, // 待阅 and 已阅 are the lead's queue
  todo: todoScreen,
  archive: archiveScreen,
  handled: handledScreen,
  courier: courierScreen,
  indicators: indicatorsScreen,
  // loaded when first shown: ECharts (1 MB) only for those who open the dashboard
  dashboard: async (...args) => (await import("./dashboard.js")).dashboardScreen(...args),
  supervisions: async (...args) => (await import("./dashboard.js")).supervisionScreen(...args),
  admin: async (...args) => (await import("./admin.js")).adminScreen(...args),
  catalogue: catalogueScreen,
  password: (container) => passwordScreen(container),
};

let leave = null; // the current screen's clean-up (timers, listeners)
let flash = ""; // a message for the next screen shown (the hash may change before it is)

function view() {
  return document.getElementById("view");
}

function field(id, label, attrs) {
  const input = h("input", { id, name: id, required: true, ...attrs });
  return [input, h("div", { class: "field" }, h("label", { for: id }, label), input)];
}

/** The problem's Chinese title; for a lock-out, how long to wait (the server's Retry-After). */
function signInError(error) {
  if (error instanceof ApiError && error.status === 429 && error.problem.retry_after) {
    const minutes = Math.ceil(error.problem.retry_after / 60);
    return new Error(`登录失败次数过多，账号已暂时锁定，请 ${minutes} 分钟后再试。`);
  }
  return error;
}

function loginScreen(reason) {
  document.getElementById("nav").replaceChildren();
  document.getElementById("who").replaceChildren();
  const [user, userField] = field("user_id", "用户名", { autocomplete: "username", maxlength: 64 });
  const [password, passwordField] = field("password", "密码", {
    type: "password",
    autocomplete: "current-password",
    maxlength: 200,
  });
  const button = h("button", { type: "submit", class: "primary" }, "登录");
  const loginForm = h(
    "form",
    { class: "form login", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "登录工作台"),
    h("p", { class: "muted" }, "请输入用户名和密码。连续输错 5 次账号将暂时锁定。"),
    userField,
    passwordField,
    h("div", { class: "actions" }, button),
  );
  loginForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      session.forget();
      const signed = await call("POST", "/api/v1/session", {
        body: { user_id: user.value.trim(), password: password.value },
      });
      password.value = "";
      await start(signed.must_change_password);
    } catch (error) {
      password.value = "";
      showError(signInError(error));
      password.focus();
    } finally {
      button.disabled = false;
    }
  });

  const token = h("input", { id: "token", name: "token", type: "password", required: true, autocomplete: "off" });
  const tokenForm = h(
    "form",
    { class: "form" },
    h("div", { class: "field" }, h("label", { for: "token" }, "访问令牌"), token),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "secondary" }, "用令牌登录")),
  );
  tokenForm.addEventListener("submit", (event) => {
    event.preventDefault();
    session.useToken(token.value.trim());
    start();
  });
  const devices = h(
    "details",
    { class: "devices" },
    h("summary", {}, "设备登录（使用管理员签发的访问令牌）"),
    tokenForm,
  );
  view().replaceChildren(h("section", { class: "screen screen-login" }, loginForm, devices));
  if (reason) showError(reason);
  else clearMessages();
  user.focus();
}

/** Change one's own password; FORCED after an admin's reset (nothing else works until then). */
function passwordScreen(container, forced = false) {
  const [old, oldField] = field("old_password", forced ? "管理员提供的一次性密码" : "原密码", {
    type: "password",
    autocomplete: "current-password",
    maxlength: 200,
  });
  const [fresh, freshField] = field("new_password", "新密码", {
    type: "password",
    autocomplete: "new-password",
    minlength: 10,
    maxlength: 200,
  });
  const [again, againField] = field("new_password_again", "再次输入新密码", {
    type: "password",
    autocomplete: "new-password",
    maxlength: 200,
  });
  const button = h("button", { type: "submit", class: "primary" }, "修改密码");
  const passwordForm = h(
    "form",
    { class: "form login" },
    h("h1", {}, "修改密码"),
    h(
      "p",
      { class: "muted" },
      forced ? "管理员重置了您的密码，请先设置自己的新密码。" : "新密码至少 10 个字符，且不能与用户名相同。",
    ),
    oldField,
    freshField,
    againField,
    h("div", { class: "actions" }, button),
  );
  passwordForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (fresh.value !== again.value) {
      showError(new Error("两次输入的新密码不一致"));
      return;
    }
    button.disabled = true;
    try {
      await call("POST", "/api/v1/session/password", {
        body: { old_password: old.value, new_password: fresh.value },
      });
      for (const input of [old, fresh, again]) input.value = "";
      if (forced) {
        flash = "密码已修改。";
        await start();
      } else showOk("密码已修改，您在其他设备上的登录已退出。");
    } catch (error) {
      showError(error);
    } finally {
      button.disabled = false;
    }
  });
  container.replaceChildren(passwordForm);
  old.focus();
}

async function signOut() {
  if (!session.token) {
    try {
      await call("DELETE", "/api/v1/session");
    } catch {
      // an expired session is already over; the login screen follows either way
    }
  }
  session.forget();
  location.hash = "";
  loginScreen();
}

function shell() {
  const me = session.me;
  const items = NAV[me.role] || [];
  document.getElementById("nav").replaceChildren(
    ...items.map(([name, label]) => h("a", { href: `#/${name}`, dataset: { screen: name } }, label)),
  );
  // The name often says the role already (“黄建国（分管领导）”): the role is added only when it does not.
  const who = me.name.includes(me.role_zh) ? me.name : `${me.name}（${me.role_zh}）`;
  document.getElementById("who").replaceChildren(
    h("span", {}, who),
    session.token ? null : h("a", { href: "#/password", class: "link" }, "修改密码"),
    h("button", { type: "button", class: "link", onclick: signOut }, "退出"),
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
  if (session.me.role === "dept_lead") allowed.push("inbox"); // old links to 待阅 open the queue
  if (!session.token) allowed.push("password");
  const [name, ...args] = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if (name !== "todo") refreshCount();
  if (!allowed.includes(name)) {
    if (allowed.length) location.replace(`#/${allowed[0]}`);
    else view().replaceChildren(h("p", {}, "您的角色没有可用的功能。"));
    return;
  }
  if (flash) {
    showOk(flash);
    flash = "";
  }
  for (const link of document.querySelectorAll("#nav a")) {
    link.classList.toggle("active", link.dataset.screen === name);
  }
  const container = h("section", { class: `screen screen-${name}` });
  view().replaceChildren(container);
  try {
    leave = (await SCREENS[name](container, ...args)) || null;
  } catch (error) {
    if (error instanceof ApiError && error.problem.type === "password_change_required") {
      document.getElementById("nav").replaceChildren();
      passwordScreen(container, true);
    }
    showError(error);
  }
}

async function start(mustChange = false) {
  try {
    session.me = await call("GET", "/api/v1/me");
    session.keepForOffline(session.me);
  } catch (error) {
    const kept = error instanceof NetworkError ? session.keptForOffline() : null;
    if (kept) {
      // a courier's phone without network: its screen works from the offline queue (courier.js)
      session.me = kept;
      shell();
      await route();
      return;
    }
    if (error.status === 401) {
      const hadToken = Boolean(session.token);
      session.forget();
      // no session yet is no error; an expired one or a refused token is said
      loginScreen(hadToken || error.problem.type === "session_expired" ? error : undefined);
      return;
    }
    view().replaceChildren(h("button", { type: "button", class: "primary", onclick: () => start() }, "重试"));
    showError(error);
    return;
  }
  shell();
  if (!mustChange) await learnNames();
  if (mustChange) {
    document.getElementById("nav").replaceChildren();
    const container = h("section", { class: "screen screen-password" });
    view().replaceChildren(container);
    clearMessages();
    passwordScreen(container, true);
    return;
  }
  await route();
}

window.addEventListener("hashchange", route);
start();
