// Alarms: newest first, a page at a time (older ones on asking), acknowledge one or every one shown (operator),
// and the header's count of open alarms, which always counts every open alarm (from the API's total, not from what
// the list shows).

import { askReason, h, inLocalTime, keepingFocus, moment, renderKeepingFocus } from "./dom.js";
import { Paging } from "./paging.js";

/** Alarms read a request at a time (the API's limit is 500); "Show older" adds one more page. */
const PAGE = 200;
/** Acknowledgements sent at once when acknowledging all shown (a broker loss leaves hundreds). */
const ACKNOWLEDGING_AT_ONCE = 8;

export class AlarmsPanel {
  constructor(list, badge, { api, can, notify, serviceNow }) {
    Object.assign(this, { list, badge, api, can, notify, serviceNow });
    this.shown = [];
    this.openOnly = document.getElementById("alarms-open");
    this.paging = new Paging(PAGE, (page) => this.api.get("/alarms", { open: this.openOnly.checked, ...page }),
                             "alarms");
    this.openOnly.addEventListener("change", () => { this.paging.reset(); this.refresh(); });
    this.more = document.getElementById("alarms-more");
    this.more.addEventListener("click", () => { this.paging.more(); this.refresh(); });
    this.ackShown = document.getElementById("alarms-ack-shown");
    this.ackShown.addEventListener("click", () => this.acknowledgeShown());
    this.count = document.getElementById("alarms-shown");
  }

  /** The pages asked for so far, read again together (new alarms come on top: what is shown moves down). */
  async refresh() {
    try {
      const [open, shown] = await Promise.all([this.api.get("/alarms", { open: true, limit: 1 }), this.paging.load()]);
      this.setCount(open.total);
      this.shown = shown;
      this.render();
    } catch (error) {
      this.notify(`alarms: ${error.message}`, true);
    }
  }

  render() {
    renderKeepingFocus(this.list, ...(this.shown.length ? this.shown.map((alarm) => this.item(alarm))
      : [h("li", { class: "muted" }, "no alarms")]));
    const hidden = this.paging.below;
    this.count.textContent = this.shown.length ? `${this.shown.length} of ${this.paging.total}` : "";
    keepingFocus(this.more, this.list, () => {  // all shown: the keyboard stays by the alarms
      this.more.hidden = hidden <= 0;
      this.more.textContent = `Show ${Math.min(PAGE, hidden)} older (${hidden} not shown)`;
    });
    const open = this.openShown().length;
    this.ackShown.hidden = !this.can.alarms || !open;
    this.ackShown.textContent = `Acknowledge the ${open} shown`;
  }

  openShown() {
    return this.shown.filter((alarm) => !alarm.acknowledged_at);
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

  /** Every open alarm shown acknowledged, once confirmed (a flood: a broker loss leaves two a vehicle); those not
   * shown stay open. */
  async acknowledgeShown() {
    const open = this.openShown();
    const confirmed = await askReason({
      title: `Acknowledge ${open.length} alarms`, action: `Acknowledge ${open.length}`, withReason: false,
      text: `Every open alarm shown (${open.length}) is acknowledged in your name` +
        (this.more.hidden ? "." : "; the older ones not shown stay open.") });
    if (!confirmed) return;
    const queue = [...open];
    let done = 0;
    let refused = null;
    const worker = async () => {
      for (let alarm = queue.shift(); alarm; alarm = queue.shift()) {
        try {
          await this.api.post(`/alarms/${alarm.id}/acknowledge`);
          done += 1;
        } catch (error) {
          refused = error;
          queue.length = 0;  // the rest would be refused alike (a token revoked, the service gone)
        }
      }
    };
    await Promise.all(Array.from({ length: ACKNOWLEDGING_AT_ONCE }, worker));
    if (refused) this.notify(`${done} of ${open.length} alarms acknowledged, then: ${refused.message}`, true);
    else this.notify(`${done} alarms acknowledged`);
    this.refresh();
  }
}
