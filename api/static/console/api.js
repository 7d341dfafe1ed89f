// Talking to the JSON API (/api/v1): the session cookie set at sign-in (HttpOnly, so never seen
// here) with its CSRF token echoed on every state-changing request, or a device's bearer token;
// problem+json errors, Idempotency-Keys, PDF documents as blobs, and which routes the served
// OpenAPI document declares.

const TOKEN_KEY = "handoff.console.token";
const OFFLINE_ME = "handoff.console.offline-me"; // a courier's identity, for opening the screen offline
const SAFE = ["GET", "HEAD", "OPTIONS"];

/** The CSRF cookie's value (set with the session; not HttpOnly, so that it can be echoed). */
function csrfToken() {
  const found = document.cookie.split(";").map((c) => c.trim()).find((c) => c.startsWith("handoff_csrf="));
  return found ? decodeURIComponent(found.slice("handoff_csrf=".length)) : "";
}

export const session = {
  token: sessionStorage.getItem(TOKEN_KEY) || "", // a device's bearer token, when it signs in with one
  me: null, // GET /api/v1/me: user_id, name, role, role_zh, scope, offices
  useToken(token) {
    this.token = token;
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  forget() {
    this.token = "";
    this.me = null;
    this.people = {};
    this.names = {};
    sessionStorage.clear(); // the device token; an unsent hand-over batch stays, under its user's id
    localStorage.removeItem(OFFLINE_ME);
  },
  /** Remember a courier's identity (name, role, offices) for a start without network (the PWA). */
  keepForOffline(me) {
    if (me && me.role === "courier") localStorage.setItem(OFFLINE_ME, JSON.stringify(me));
    else localStorage.removeItem(OFFLINE_ME);
  },
  keptForOffline() {
    try {
      return JSON.parse(localStorage.getItem(OFFLINE_ME) || "null");
    } catch {
      return null;
    }
  },
  people: {}, // user id → name, of the couriers and leads the user may see (staffOptions)
  names: {}, // user or office id → name, learned from the cases the user opened (过程信息)
  personName(id) {
    return this.people[id] || this.names[id] || id;
  },
  officeName(id) {
    const office = (this.me?.offices || []).find((o) => o.id === id);
    return office ? office.name : this.names[id] || this.me?.office_names?.[id] || id;
  },
  learn(names) {
    Object.assign(this.names, names || {});
  },
};

/** An answer of the API that is not 2xx: `problem` is its problem+json body (Chinese `title`). */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.title);
    this.status = status;
    this.problem = problem;
  }
  /** Worth sending again later (server trouble, rate limit, expired login), not a refusal. */
  get retryable() {
    return this.status >= 500 || this.status === 408 || this.status === 429 || this.status === 401;
  }
}

/** The request never got an answer: no network, or the connection broke. */
export class NetworkError extends Error {
  constructor() {
    super("网络连接失败，请检查网络后重试");
    this.retryable = true;
  }
}

/** A random Idempotency-Key (crypto.randomUUID needs a secure context; getRandomValues does not). */
export function newKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function url(path, query) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") params.set(name, value);
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

async function send(method, path, { body, key, query, accept = "application/json" } = {}) {
  const headers = { Accept: `${accept}, application/problem+json` };
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  else if (!SAFE.includes(method)) headers["X-CSRF-Token"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (key) headers["Idempotency-Key"] = key;
  let response;
  try {
    response = await fetch(url(path, query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: session.token ? "omit" : "same-origin",
    });
  } catch {
    throw new NetworkError();
  }
  if (!response.ok) {
    let problem = null;
    try {
      problem = await response.json();
    } catch {
      problem = null;
    }
    if (!problem || typeof problem.title !== "string") {
      problem = { title: `请求失败（HTTP ${response.status}）`, status: response.status };
    }
    throw new ApiError(response.status, problem);
  }
  return response;
}

/** A JSON call; throws ApiError (with the Chinese title) or NetworkError. */
export async function call(method, path, options = {}) {
  const response = await send(method, path, options);
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

/** A PDF (or any file) with the Authorization header, as an object URL the page can open. */
export async function documentUrl(path) {
  const response = await send("GET", path, { accept: "application/pdf" });
  return URL.createObjectURL(await response.blob());
}

let routes = null;

const shape = (path) => path.replace(/\{[^}]*\}/g, "{}");

/**
 * Whether the served OpenAPI document declares METHOD TEMPLATE: routes that other work adds
 * (documents, the lead's inbox) are used when the server has them. Path parameter names do not
 * matter: /api/v1/cases/{id}/x and /api/v1/cases/{case_id}/x are the same route.
 */
export async function routeExists(method, template) {
  if (!routes) {
    let response;
    try {
      response = await fetch("/api/v1/openapi.json", { cache: "no-store" });
    } catch {
      throw new NetworkError();
    }
    const spec = await response.json();
    routes = new Set();
    for (const [path, operations] of Object.entries(spec.paths || {})) {
      for (const verb of Object.keys(operations)) routes.add(`${verb.toUpperCase()} ${shape(path)}`);
    }
  }
  return routes.has(`${method.toUpperCase()} ${shape(template)}`);
}

/** Learn the names of the couriers and leads in the user's scope, for showing names instead of ids. */
export async function learnNames() {
  if (session.me?.role === "courier") return;
  await Promise.all(["courier", "dept_lead"].map((role) => staffOptions(role).catch(() => [])));
}

/** [[id, name]] of the couriers or leads (ROLE) who may be named for OFFICE_ID: names shown, ids sent. */
export async function staffOptions(role, officeId) {
  const data = await call("GET", "/api/v1/staff", { query: { role, office_id: officeId } });
  for (const item of data.items) session.people[item.id] = item.name;
  return data.items.map((item) => [item.id, item.name]);
}
