// Alarms: newest first, acknowledge (operator), and the header's count of open alarms, which always counts
// every open alarm (from the API's total, not from what the list shows).

import { h, inLocalTime, moment, renderKeepingFocus } from "./dom.js";

export class AlarmsPanel {
  constructor(list, badge, { api, can, notify, serviceNow }) {
    Object.assign(this, { list, badge, api, can, notify, serviceNow });
    this.openOnly = document.getElementById("alarms-open");
    this.openOnly.addEventListener("change", () => this.refresh());
  }

  async refresh() {
    try {
      const [shown, open] = await Promise.all([
        this.api.get("/alarms", { open: this.openOnly.checked, limit: 200 }),
        this.api.get("/alarms", { open: true, limit: 1 }),
      ]);
      this.setCount(open.total);
      renderKeepingFocus(this.list, ...shown.alarms.map((alarm) => this.item(alarm)),
        shown.total > shown.alarms.length ? h("li", { class: "muted" }, `… and ${shown.total - shown.alarms.length} more`)
          : "");
      if (!shown.alarms.length) renderKeepingFocus(this.list, h("li", { class: "muted" }, "no alarms"));
    } catch (error) {
      this.notify(`alarms: ${error.message}`, true);
    }
  }

  setCount(count) {
    this.badge.dataset.count = String(count);
    this.badge.querySelector("b").textContent = String(count);
    this.badge.setAttribute("aria-label", `${count} open alarms`);
  }

  item(alarm) {
    const cleared = alarm.cleared_at != null && !alarm.acknowledged_at;  // its cause ended: open until acknowledged
    return h("li", { class: `alarm${alarm.acknowledged_at ? " acknowledged" : cleared ? " cleared" : ""}`,
                     "data-alarm": alarm.id, "data-kind": alarm.kind },
      moment(alarm.raised_at, this.serviceNow()), " ", h("b", {}, alarm.kind.replace(/_/g, " ")), " ",
      h("span", {}, inLocalTime(alarm.message, this.serviceNow())),
      cleared ? h("span", { class: "cleared-at" }, " · cleared at ", moment(alarm.cleared_at, this.serviceNow())) : "",
      alarm.acknowledged_at
        ? h("span", { class: "muted" }, ` acknowledged by ${alarm.acknowledged_by} at `,
            moment(alarm.acknowledged_at, this.serviceNow()))
        : this.can.alarms ? h("button", { type: "button", class: "small", "aria-label": `acknowledge alarm ${alarm.id}`,
                                          "data-key": `ack:${alarm.id}`,
                                          onclick: () => this.acknowledge(alarm) }, "Acknowledge") : "");
  }

  async acknowledge(alarm) {
    try {
      await this.api.post(`/alarms/${alarm.id}/acknowledge`);
    } catch (error) {
      this.notify(error.message, true);
    }
    this.refresh();
  }
}
