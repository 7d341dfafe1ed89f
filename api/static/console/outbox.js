// The courier's offline queue. Couriers work on flaky mobile networks: every report is first
// written to IndexedDB (so it survives closing the tab, a reload or the phone killing the browser)
// with its own Idempotency-Key and the phone's time (client_time), then sent; a report that got
// no answer stays queued and is sent again later with the SAME key and the SAME body, so the
// server records it exactly once even when an earlier attempt did arrive and only its answer was
// lost. Reports are sent in the order they were made. One queue per user; a queue an older
// console kept in localStorage is moved over once.

import { call, newKey } from "./api.js";

export const STEPS = {
  picked_up: { path: "picked-up", label: "揽收" },
  in_transit: { path: "in-transit", label: "运输中" },
  delivered: { path: "delivered", label: "送达" },
  exception: { path: "exception", label: "异常" },
};

const DB_NAME = "handoff-console";
const STORE = "courier";
let opening = null;

function database() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    opening.catch(() => {
      opening = null;
    });
  }
  return opening;
}

/** One read-modify-write of the record KEY in one transaction (CHANGE may be undefined: a read). */
async function transact(key, change) {
  const db = await database();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, change ? "readwrite" : "readonly");
    const store = tx.objectStore(STORE);
    let result;
    const got = store.get(key);
    got.onsuccess = () => {
      result = got.result;
      if (change) {
        result = change(result);
        store.put(result, key);
      }
    };
    tx.oncomplete = () => resolve(result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

/** A small remembered value of this phone (the last lists seen, for when the network is gone). */
export function remember(key, value) {
  return transact(key, () => value);
}

export function recall(key) {
  return transact(key);
}

function normal(data) {
  if (data && Array.isArray(data.pending)) return { pending: data.pending, failed: data.failed || [], sent: data.sent || [] };
  return { pending: [], failed: [], sent: [] };
}

export class Outbox {
  constructor(userId) {
    this.key = `handoff.courier.${userId}`;
    this.sending = null;
    this.ready = this.adopt();
  }

  /** Move a queue an older console kept in localStorage into IndexedDB (once). */
  async adopt() {
    let old = null;
    try {
      old = JSON.parse(localStorage.getItem(this.key) || "null");
    } catch {
      old = null;
    }
    if (!old) return;
    await transact(this.key, (data) => {
      const now = normal(data);
      const known = new Set(now.pending.map((r) => r.key));
      now.pending.push(...normal(old).pending.filter((r) => !known.has(r.key)));
      return now;
    });
    localStorage.removeItem(this.key);
  }

  async read() {
    await this.ready;
    return normal(await transact(this.key));
  }

  async update(change) {
    await this.ready;
    return transact(this.key, (data) => {
      const now = normal(data);
      change(now);
      return now;
    });
  }

  /**
   * Queue one report (before any attempt to send it). EXTRA: evidence images for 揽收 and 送达
   * ([{content_type, data_base64}]), or {kind, note} for 异常.
   */
  async add(code, step, place, extra = {}) {
    const now = new Date().toISOString();
    const body =
      step === "exception"
        ? { kind: extra.kind, note: extra.note }
        : {
            client_time: now,
            ...(place ? { place } : {}),
            ...(extra.evidence && extra.evidence.length ? { evidence: extra.evidence } : {}),
          };
    const report = {
      key: newKey(),
      code,
      step,
      body,
      made_at: now,
      attempts: 0,
      last_error: "",
      ...(extra.package_id ? { package_id: extra.package_id } : {}),
    };
    await this.update((d) => d.pending.push(report));
    return report;
  }

  async discardFailed(key) {
    await this.update((d) => {
      d.failed = d.failed.filter((r) => r.key !== key);
    });
  }

  /** Send what is pending, in order; one run at a time. Resolves to the reports sent now. */
  flush() {
    if (!this.sending) {
      this.sending = this.sendAll().finally(() => {
        this.sending = null;
      });
    }
    return this.sending;
  }

  async sendAll() {
    const delivered = [];
    for (;;) {
      const report = (await this.read()).pending[0];
      if (!report) break;
      try {
        if (!report.package_id) {
          const pkg = await call("POST", "/api/v1/scan", { body: { code: report.code } });
          await this.change(report.key, (r) => {
            r.package_id = pkg.id;
            r.code = pkg.code;
          });
          report.package_id = pkg.id;
          report.code = pkg.code;
        }
        const pkg = await call("POST", `/api/v1/packages/${report.package_id}/${STEPS[report.step].path}`, {
          body: report.body,
          key: report.key,
        });
        await this.update((d) => {
          d.pending = d.pending.filter((r) => r.key !== report.key);
          const { body, ...kept } = report; // the photos stay on the server, not in the phone's history
          d.sent.unshift({ ...kept, evidence: (body.evidence || []).length, state_zh: pkg.state_zh, sent_at: new Date().toISOString() });
          d.sent = d.sent.slice(0, 20);
        });
        delivered.push(report);
      } catch (error) {
        if (error.retryable) {
          await this.change(report.key, (r) => {
            r.attempts += 1;
            r.last_error = error.message;
          });
          break; // keep the order: later reports wait for this one
        }
        await this.update((d) => {
          d.pending = d.pending.filter((r) => r.key !== report.key);
          const { body, ...kept } = report;
          d.failed.unshift({ ...kept, last_error: error.message });
        });
      }
    }
    return delivered;
  }

  change(key, edit) {
    return this.update((d) => {
      const report = d.pending.find((r) => r.key === key);
      if (report) edit(report);
    });
  }
}
