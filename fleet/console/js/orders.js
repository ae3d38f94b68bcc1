// Orders: the create form (its dock pickers offer only the chosen direction's sides), the list filtered by
// state and direction, a page at a time, cancel, and one order's timeline (its transitions, each consignment's clearance, the gate decisions that
// cleared it and let it cross).

import { askReason, h, inLocalTime, keepingFocus, kept, moment, renderKeepingFocus, shortOrderId, when } from "./dom.js";
import { Paging } from "./paging.js";

const STATES = ["created", "assigned", "to_pickup", "loaded", "awaiting_clearance", "cleared", "crossing",
                "to_drop", "delivered", "cancelled", "failed"];
const FINISHED = new Set(["delivered", "cancelled", "failed"]);
/** The filter's choice of the orders past their latest delivery and not finished (GET /orders?overdue=true). */
const OVERDUE = "overdue";
/** A vehicle's id (the API's VEHICLE_PATTERN); a consignment's has a hyphen. */
const VEHICLE_ID = /^[a-z][a-z0-9_]{0,62}$/;
/** An order's id (fleet/orders/service.py), pasted into Find as a dispatcher has it (an alarm, a vehicle's row). */
const ORDER_ID = /^ord-[0-9a-f]{12}$/;
/** Orders listed at a time (~900 a day at the 2030 demand): Newer and Older move a page. */
const PAGE = 100;

export class OrdersPanel {
  constructor({ api, can, notify, randomKey, serviceNow }) {
    Object.assign(this, { api, can, notify, randomKey, serviceNow });
    this.form = document.getElementById("order-form");
    this.direction = document.getElementById("order-direction");
    this.pickup = document.getElementById("order-pickup");
    this.drop = document.getElementById("order-drop");
    this.error = document.getElementById("order-error");
    this.filter = document.getElementById("order-filter");
    this.directionFilter = document.getElementById("order-direction-filter");
    this.tbody = document.querySelector("#orders tbody");
    this.detail = document.getElementById("order-detail");
    this.total = document.getElementById("orders-total");
    this.columns = document.querySelectorAll("#orders thead th").length;  // a waiting order's reason spans them
    this.filter.append(h("option", { value: OVERDUE }, "overdue (unfinished, past its time)"),
                       ...STATES.map((s) => h("option", { value: s }, s.replace(/_/g, " "))));
    this.find = document.getElementById("order-find");
    this.filter.value = kept.get("orders.state", "");
    this.find.value = kept.get("orders.find", "");
    this.paging = new Paging(PAGE, (page) => this.read(page), "orders");
    this.paging.offset = kept.get("orders.offset", 0);
    for (const [field, name] of [[this.filter, "orders.state"], [this.directionFilter, "orders.direction"],
                                 [this.find, "orders.find"]]) {
      // (the search: Enter, or leaving the field changed)
      field.addEventListener("change", async () => {
        kept.set(name, field.value);
        this.paging.reset();
        await this.refresh();
        const id = this.orderId();
        if (field === this.find && id && this.listed.length) this.show(id);
      });
    }
    this.newer = document.getElementById("orders-newer");
    this.older = document.getElementById("orders-older");
    this.newer.addEventListener("click", () => { this.paging.move(-1); this.refresh(); });
    this.older.addEventListener("click", () => { this.paging.move(1); this.refresh(); });
    this.direction.addEventListener("change", () => this.offerDocks());
    this.form.addEventListener("submit", (event) => { event.preventDefault(); this.create(); });
    // a field the browser refuses itself (out of its range, missing) stops the submit before create(): the API's
    // refusal of an earlier try, still shown, would read as this one's ("invalid" does not bubble: captured)
    this.form.addEventListener("invalid", () => { this.error.textContent = ""; }, true);
    this.selected = kept.get("orders.open", null);
  }

  /** The map's docks by side; the directions are every ordered pair of sides. */
  setDocks(docksBySide) {
    this.docks = docksBySide;
    const sides = Object.keys(docksBySide);
    const directions = sides.flatMap((a) => sides.filter((b) => b !== a).map((b) => `${a}->${b}`));
    this.direction.replaceChildren(...directions.map((d) => h("option", { value: d }, d.replace("->", " → "))));
    // the list's filter: both, or one of the map's directions (the one kept from before, if the map still has it)
    this.directionFilter.replaceChildren(h("option", { value: "" }, "both"),
                                         ...directions.map((d) => h("option", { value: d }, d.replace("->", " → "))));
    const keptDirection = kept.get("orders.direction", "");
    this.directionFilter.value = directions.includes(keptDirection) ? keptDirection : "";
    this.offerDocks();
  }

  offerDocks() {
    const [from, to] = this.direction.value.split("->");
    this.pickup.replaceChildren(...(this.docks[from] || []).map((d) => h("option", { value: d }, d)));
    this.drop.replaceChildren(...(this.docks[to] || []).map((d) => h("option", { value: d }, d)));
  }

  async create() {
    const consignments = document.getElementById("order-consignments").value.split(/[\s,]+/).filter(Boolean);
    const body = { consignments, pickup: this.pickup.value, drop: this.drop.value, direction: this.direction.value,
                   priority: Number(document.getElementById("order-priority").value) || 1 };
    const due = document.getElementById("order-due").value;  // the browser's own time zone, sent with its offset
    if (due) body.latest_delivery = new Date(due).toISOString();
    this.error.textContent = "";
    try {
      const order = await this.api.post("/orders", body, { "Idempotency-Key": this.randomKey() });
      this.notify(`order ${order.id} created`);
      document.getElementById("order-consignments").value = "";
      document.getElementById("order-due").value = "";
      this.paging.reset();  // the first page: the new order on top
      await this.refresh();
      this.show(order.id);
    } catch (error) {
      this.error.textContent = error.message;
    }
  }

  /** The page shown read again (on the stream's news too: a later page keeps to its orders, ``Paging``). */
  async refresh() {
    try {
      this.listed = await this.paging.load();
      kept.set("orders.offset", this.paging.offset);
      await this.rerender();
      this.showPlace();  // with the rows it counts
      if (this.selected) await this.show(this.selected, false);
    } catch (error) {
      this.notify(`orders: ${error.message}`, true);
    }
  }

  /** A page of the orders the filter and Find ask for; for an order's id, that order alone, whatever the filter
   *  (or none: not found). */
  async read(page) {
    const id = this.orderId();
    if (id) {
      const order = await this.api.get(`/orders/${encodeURIComponent(id)}`).catch((error) => {
        if (error.status === 404) return null;
        throw error;
      });
      return { orders: order ? [order] : [], total: order ? 1 : 0 };
    }
    const filter = this.filter.value === OVERDUE ? { overdue: true } : { state: this.filter.value };
    return this.api.get("/orders", { ...filter, direction: this.directionFilter.value, ...this.found(), ...page });
  }

  /** Which of how many orders are listed, on which page; Newer and Older while there are (the keyboard on one
   *  that goes out of use moves to the other, or the list). */
  showPlace() {
    const { offset, total, page, pageCount, below } = this.paging;
    this.total.textContent = this.listed.length
      ? `${offset + 1}-${offset + this.listed.length} of ${total} · page ${page}/${pageCount}` : `0 of ${total}`;
    keepingFocus(this.older, offset > 0 ? this.newer : this.tbody, () => { this.older.disabled = below === 0; });
    keepingFocus(this.newer, below > 0 ? this.older : this.tbody, () => { this.newer.disabled = offset === 0; });
  }

  /** The order id in the Find field (however typed), or null. */
  orderId() {
    const text = this.find.value.trim().toLowerCase();
    return ORDER_ID.test(text) ? text : null;
  }

  /** What the Find field asks for otherwise: a vehicle's orders (its id: lower-case, no hyphen) or a consignment's
   *  (its id: capitals and a hyphen, however typed). */
  found() {
    const text = this.find.value.trim();
    if (!text) return {};
    return VEHICLE_ID.test(text) ? { vehicle_id: text } : { consignment: text.toUpperCase() };
  }

  /** Why each waiting order among ``orders`` waits (GET /waiting: the dispatch loop's answer, asked about these
   *  orders: the most urgent waiting ones need not be the ones listed), by order id; empty when none is waiting,
   *  or when it cannot be read (a standby answers only the leader's name). */
  async whyWaiting(orders) {
    const ids = orders.filter((order) => order.state === "created").map((order) => order.id);
    if (!ids.length) return new Map();
    const waiting = await this.api.get("/waiting", { order_id: ids, limit: ids.length }).catch(() => []);
    return new Map(waiting.map((w) => [w.order_id, w.because]));
  }

  /** The listed orders drawn again as they were read: an order becomes overdue with time alone, no news; and why
   *  the waiting ones wait read again (a vehicle free, a gate lane passed: no order's news either). */
  async rerender() {
    if (!this.listed) return;
    this.waiting = await this.whyWaiting(this.listed);
    const none = this.orderId() ? `No order ${this.orderId()}: not found.` : "No orders match.";
    renderKeepingFocus(this.tbody, ...(this.listed.length ? this.listed.flatMap((order) => this.rows(order))
      : [h("tr", {}, h("td", { colspan: this.columns, class: "muted" }, none))]));
  }

  /** The order's row and, while it waits, a row under it saying why: one line across the table, cut short (the
   *  whole on hover, and in the order's detail). In its own cell the reason wrapped to ~7 lines, and the table
   *  overflowed a laptop's panel, its Cancel column cut off (found with many orders waiting). */
  rows(order) {
    const because = this.waiting && this.waiting.get(order.id);
    if (!because) return [this.row(order)];
    const why = h("td", { colspan: this.columns, class: "muted waiting-why" },
                  inLocalTime(because, this.serviceNow()));
    why.title = why.textContent;
    return [this.row(order, "waits"),
            h("tr", { "data-why-of": order.id, class: `why-row${order.id === this.selected ? " selected" : ""}` }, why)];
  }

  row(order, waits = "") {
    return h("tr", { "data-order": order.id, "data-state": order.state,
                     class: `${waits}${order.id === this.selected ? " selected" : ""}` },
      h("th", { scope: "row" }, h("button", { type: "button", class: "link-button", "data-key": `open:${order.id}`,
                                   title: order.id, onclick: () => this.show(order.id) },
        shortOrderId(order.id))),  // the whole id on hover
      h("td", { class: "state wraps" }, order.state.replace(/_/g, " ")),
      h("td", {}, order.direction.replace("->", "→")),
      h("td", { class: "wraps" }, h("span", {}, order.pickup), " → ", h("span", {}, order.drop)),
      h("td", {}, order.vehicle_id || ""),
      h("td", { class: "wraps" }, order.consignments.flatMap((c, i) => [i ? ", " : "", h("span", {}, c)])),
      this.due(order),
      h("td", {}, this.can.orders && !FINISHED.has(order.state)
        ? h("button", { type: "button", class: "small", "aria-label": `cancel order ${order.id}`,
                        "data-key": `cancel:${order.id}`, onclick: () => this.cancel(order) }, "Cancel") : ""));
  }

  /** Its latest delivery (its day too, when not today), marked overdue while it is not finished past it (on the
   *  service's clock: simulated time may run faster than the browser's). */
  due(order) {
    if (order.latest_delivery == null) return h("td", {}, "");
    const now = this.serviceNow();
    const overdue = !FINISHED.has(order.state) && order.latest_delivery < now;
    const at = new Date(order.latest_delivery * 1000);
    return h("td", { class: overdue ? "overdue" : "",
                     title: `${overdue ? "overdue: past its latest delivery" : "latest delivery"}, ${at.toLocaleString()}` },
      (overdue ? "⚠ " : "") + when(order.latest_delivery, now, { withSeconds: false }));
  }

  async cancel(order) {
    const reason = await askReason({ title: `Cancel order ${order.id.slice(0, 12)}`, action: "Cancel order",
                                     text: `${order.consignments.join(", ")}: ${order.pickup} → ${order.drop}` });
    if (!reason) return;
    try {
      await this.api.post(`/orders/${encodeURIComponent(order.id)}/cancel`, { reason });
      this.notify(`order ${order.id.slice(0, 12)} cancelled`);
    } catch (error) {
      this.notify(error.message, true);
    }
    this.refresh();
  }

  /** The gate decision that cleared the order or let the vehicle cross (its audit record), or null if it cannot be
   *  read. */
  async decision(seq) {
    const page = await this.api.get("/audit", { after: seq - 1, limit: 1 }).catch(() => null);
    const record = page && page.records[0];
    return record && record.seq === seq && record.kind === "decision" ? record : null;
  }

  /** A gate decision by its audit number, and the customs events it relied on. */
  decisionItem(record) {
    const relied = record.body.relied_on || [];
    return h("div", { class: "decision", "data-audit-seq": record.seq },
      `gate decision, audit record #${record.seq} at `, moment(Date.parse(record.recorded_at) / 1000, this.serviceNow()),
      ": ",
      h("b", {}, record.body.crossing_allowed ? "crossing allowed" : "crossing refused"),
      `, on ${relied.length} customs event${relied.length === 1 ? "" : "s"}`,
      h("ul", { class: "relied-on" }, relied.map((id) => h("li", { class: "muted" }, id))));
  }

  /** The order's timeline: transitions (the crossing record among them) and each consignment's clearance. */
  async show(id, scroll = true) {
    this.selected = id;
    kept.set("orders.open", id);
    for (const row of this.tbody.rows) row.classList.toggle("selected", (row.dataset.order || row.dataset.whyOf) === id);
    try {
      const order = await this.api.get(`/orders/${encodeURIComponent(id)}`);
      const clearances = await Promise.all(order.consignments.map((c) =>
        this.api.get(`/consignments/${encodeURIComponent(c)}/clearance`).catch(() => null)));
      // cleared at its gate (or before the crossing) and the crossing: each on a gate decision of its own
      const decided = order.timeline.filter((t) => ["cleared", "crossing"].includes(t.to_state)
                                                   && t.cause.decision_audit_seq != null);
      const decisions = new Map(await Promise.all(decided.map(async (t) =>
        [t, await this.decision(t.cause.decision_audit_seq)])));
      this.detail.hidden = false;
      this.detail.replaceChildren(
        h("h3", {}, `Order ${order.id}`, h("span", { class: "badge", "data-state": order.state }, order.state)),
        h("p", { class: "muted" }, `${order.direction} · ${order.pickup} → ${order.drop} · vehicle ${order.vehicle_id ||
          "none yet"} · created by ${order.created_by}` + (order.latest_delivery == null ? ""
          : ` · deliver by ${new Date(order.latest_delivery * 1000).toLocaleString()}`)),
        order.state === "created" && this.waiting && this.waiting.has(order.id)
          ? h("p", { class: "waiting-why" }, h("b", {}, "Waiting: "),
              inLocalTime(this.waiting.get(order.id), this.serviceNow())) : "",
        h("h4", {}, "Clearance"),
        h("ul", { class: "clearance" }, order.consignments.map((c, i) => h("li", {}, h("b", {}, c), " ",
          clearances[i] ? Object.entries(clearances[i])
            .filter(([k]) => !["crossing_allowed", "direction", "reasons"].includes(k))
            .map(([k, v]) => h("span", { class: `light ${v === "released" ? "green" : "amber"}` }, `${k} ${v}`))
            : "unknown"))),
        h("h4", {}, "Timeline"),
        h("ol", { class: "timeline" }, order.timeline.map((t) => h("li", {
          class: t.to_state === "crossing" ? "crossing-record" : "" },
          moment(t.at, this.serviceNow()), " ", h("b", {}, `${t.from_state || "–"} → ${t.to_state}`), " ", t.reason,
          t.cause && t.cause.kind ? h("span", { class: "muted" }, ` (${t.cause.kind})`) : "",
          decisions.get(t) ? this.decisionItem(decisions.get(t)) : ""))),
      );
      if (scroll) this.detail.scrollIntoView({ block: "nearest" });
    } catch (error) {
      if (error.status === 404 && this.selected === id) {  // kept from before a reload, and gone (another store)
        this.selected = null;
        kept.set("orders.open", null);
      }
      this.notify(`order ${id}: ${error.message}`, true);
    }
  }
}
