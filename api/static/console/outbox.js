// The courier's offline queue. Couriers work on flaky mobile networks: every report is first
// written to localStorage with its own Idempotency-Key and the phone's time (client_time), then
// sent; a report that got no answer stays queued and is sent again later with the SAME key and
// the SAME body, so the server records it exactly once even when an earlier attempt did arrive
// and only its answer was lost. Reports are sent in the order they were made.

import { call, newKey } from "./api.js";

export const STEPS = {
  picked_up: { path: "picked-up", label: "揽收" },
  in_transit: { path: "in-transit", label: "运输中" },
  delivered: { path: "delivered", label: "送达" },
};

export class Outbox {
  constructor(userId) {
    this.key = `handoff.courier.${userId}`;
    this.sending = null;
  }

  read() {
    try {
      const data = JSON.parse(localStorage.getItem(this.key) || "null");
      if (data && Array.isArray(data.pending)) return { pending: data.pending, failed: data.failed || [], sent: data.sent || [] };
    } catch {
      /* an unreadable entry is replaced below */
    }
    return { pending: [], failed: [], sent: [] };
  }

  write(data) {
    localStorage.setItem(this.key, JSON.stringify(data));
  }

  update(change) {
    const data = this.read();
    change(data);
    this.write(data);
    return data;
  }

  /** Queue one report (before any attempt to send it). */
  add(code, step, place) {
    const now = new Date().toISOString();
    const report = {
      key: newKey(),
      code,
      step,
      body: { client_time: now, ...(place ? { place } : {}) },
      made_at: now,
      attempts: 0,
      last_error: "",
    };
    this.update((d) => d.pending.push(report));
    return report;
  }

  discardFailed(key) {
    this.update((d) => {
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
      const report = this.read().pending[0];
      if (!report) break;
      try {
        if (!report.package_id) {
          const pkg = await call("POST", "/api/v1/scan", { body: { code: report.code } });
          this.change(report.key, (r) => {
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
        this.update((d) => {
          d.pending = d.pending.filter((r) => r.key !== report.key);
          d.sent.unshift({ ...report, state_zh: pkg.state_zh, sent_at: new Date().toISOString() });
          d.sent = d.sent.slice(0, 20);
        });
        delivered.push(report);
      } catch (error) {
        if (error.retryable) {
          this.change(report.key, (r) => {
            r.attempts += 1;
            r.last_error = error.message;
          });
          break; // keep the order: later reports wait for this one
        }
        this.update((d) => {
          d.pending = d.pending.filter((r) => r.key !== report.key);
          d.failed.unshift({ ...report, last_error: error.message });
        });
      }
    }
    return delivered;
  }

  change(key, edit) {
    this.update((d) => {
      const report = d.pending.find((r) => r.key === key);
      if (report) edit(report);
    });
  }
}
