// The vehicles table: one row per vehicle, kept and updated in place (focus and scrolling survive 200 vehicles
// updating twice a second); per-vehicle actions by role. With 200 moving vehicles the table's layout, not the
// script, is what costs (tests/bench/bench_console.py): so rows are written at most every FLUSH_MS, all of them
// together, and a cell only when what it shows changed.

import { age, askReason, h, renderKeepingFocus, shortOrderId } from "./dom.js";
import { STATE_COLOURS, neverSeen, stateLabel, vehicleState } from "./vehicle-state.js";

/** An instant action (POST /vehicles/{id}/actions), sent to the vehicle itself. */
const instant = (action, label, more = {}) => ({ name: action, label, path: "actions", body: { action }, ...more });

/** Each button takes one of two actions, by the vehicle's state: ``on`` when ``active(view)``, else ``off``; each
 * action is a POST to ``/vehicles/{id}/<path>`` with ``body`` and the reason asked for. A ``motion`` button is not
 * shown for a vehicle never seen: an instant action cannot reach it. A ``work`` button's ``off`` action is not shown
 * for a vehicle standing at its holding bay with a load no order carries (``held_at``): it has no work there to
 * pause or cancel (it waits until Load removed), and Load removed, a fifth button, wrapped its row at 1366 px. */
const BUTTONS = [
  { needs: "vehicle_actions", motion: true, work: true, active: (v) => v.paused,
    off: instant("pause", "Pause"), on: instant("resume", "Resume") },
  { needs: "vehicle_actions", motion: true, work: true, active: () => false,
    off: instant("cancel", "Cancel", { confirm: () => "Cancel this vehicle's current work?" }) },
  { needs: "emergency_stop", motion: true, active: (v) => Boolean(v.e_stop && v.e_stop !== "NONE"),
    off: instant("emergency_stop", "E-stop", { danger: true, confirm: () => "The vehicle stops at once where it is." }),
    on: instant("release_emergency_stop", "Release e-stop") },
  // the fleet manager's record, not an instant action: a vehicle never seen may be taken out of service too
  { needs: "emergency_stop", active: (v) => !v.in_service,
    off: { name: "out_of_service", label: "Out of service", path: "service", body: { in_service: false },
           done: "taken out of service", confirm: outOfService },
    on: { name: "in_service", label: "Back in service", path: "service", body: { in_service: true },
          done: "back in service", confirm: () => "It takes orders again, from where it stands." } },
  // shown only on a vehicle holding a load no order carries, waiting at its bay (GET /vehicles: held_at)
  { needs: "emergency_stop", active: (v) => Boolean(v.held_at), off: null,
    on: { name: "load-removed", label: "Load removed", path: "load-removed", body: {}, done: "load removed",
          confirm: () => "The containers were taken off this vehicle by hand at its holding bay: it is free again." } },
];

/** What taking the vehicle out of service does (POST /vehicles/{id}/service; docs/operations.md, "Health"),
 * its order named: the dispatcher must know that an order goes to another vehicle, or stays with this one. */
function outOfService(view) {
  const order = view.order_id
    ? ` Its order ${view.order_id}: if not loaded yet, it goes back to waiting for another vehicle at once; ` +
      "once loaded, it stays with this vehicle and its load."
    : "";
  return `${view.id} takes no orders until it is back in service (for maintenance, say). It drives no further ` +
    "than the way already released to it, and its place stays reserved where it stops." + order;
}

/** What a state's word alone does not say, on hover: why the vehicle is out of service, or that it never
 * reported. */
function stateNote(view, state) {
  if (state === "out_of_service") return `taken out of service: ${view.service_reason || "no reason given"}`;
  return neverSeen(view) ? "it has never reported to the fleet manager: nothing sent to it can reach it" : "";
}

const FLUSH_MS = 500;
const AGE_EVERY_MS = 1000; // ages grow between updates

/** Sets what an element shows only when it changes (each write would lay the whole table out again). */
function show(element, text, attributes = {}) {
  if (element.textContent !== text) element.textContent = text;
  for (const [name, value] of Object.entries(attributes)) {
    if (element.getAttribute(name) !== value) element.setAttribute(name, value);
  }
}

/** Cells whose text may run long, by the class of the span that cuts it short (the whole on hover): the order at a
 * few ems, the errors at the column's width anyway (its header's, or room to spare). Whole, "holds
 * CN-000300000001, CN-000300000002" (a load no order carries) widened the Order column and squeezed the Actions
 * column at 1366 px: every row's buttons wrapped onto two or three lines; a vehicle's error did as much. */
const CUT_SHORT = { order: "cut-short", errors: "cut-short to-column" };

function showCutShort(cell, text, title = text) {
  show(cell.firstChild, text);
  if (cell.title !== title) cell.title = title;
}

export class VehiclesTable {
  constructor(tbody, { api, can, notify, onSelect }) {
    Object.assign(this, { tbody, api, can, notify, onSelect });
    this.rows = new Map(); // id -> {row, cells, view, receivedAt}
    this.waiting = new Map(); // id -> {gate, reasons, allowed}: in a gate's queue
    this.dirty = new Set();
    this.agedAt = 0;
    setInterval(() => this.flush(), FLUSH_MS);
  }

  update(view) {
    const known = this.rows.get(view.id);
    if (known) {
      Object.assign(known, { view, receivedAt: performance.now() });
    } else {
      // a new row is placed and filled soon, once for all that come together (200 at sign-in)
      this.rows.set(view.id, { ...this.build(view), view, receivedAt: performance.now() });
      this.unsorted = true;
      if (!this.soon) this.soon = setTimeout(() => this.flush(), 0);
    }
    this.dirty.add(view.id);
  }

  /** The vehicles waiting at a gate for their clearance, from the gates' queues (GET /gates, every 2 s). */
  setWaiting(waiting) {
    for (const id of new Set([...this.waiting.keys(), ...waiting.keys()])) {
      if (this.rows.has(id) && JSON.stringify(this.waiting.get(id)) !== JSON.stringify(waiting.get(id))) {
        this.dirty.add(id);
      }
    }
    this.waiting = waiting;
  }

  build(view) {
    const cells = Object.fromEntries(["state", "order", "battery", "speed", "age", "errors"].map((k) => [k,
      h("td", {}, CUT_SHORT[k] ? h("span", { class: CUT_SHORT[k] }) : null)]));
    const buttons = BUTTONS.filter((b) => this.can[b.needs]).map((b, k) => {
      const button = h("button", { type: "button", class: "small", "data-key": `act${k}:${view.id}` });
      button.addEventListener("click", () => this.act(this.rows.get(view.id).view, button.choice));
      return { button, ...b };
    });
    const actions = buttons.map((b) => b.button);
    // in place of the motion buttons, for a vehicle never seen
    const noContact = h("span", { class: "muted", hidden: true }, "no contact");
    if (buttons.some((b) => b.motion)) actions.push(noContact);
    const row = h("tr", { "data-vehicle": view.id },
      h("th", { scope: "row" }, h("button", { type: "button", class: "link-button", "data-key": `select:${view.id}`,
                                              onclick: () => this.onSelect(view.id) }, view.id)),
      cells.state, cells.order, cells.battery, cells.speed, cells.age, cells.errors,
      h("td", { class: "actions" }, actions.length ? actions : h("span", { class: "muted" }, "view only")));
    return { row, cells, buttons, noContact };
  }

  sort() {
    const ids = [...this.rows.keys()].sort();
    renderKeepingFocus(this.tbody, ...ids.map((id) => this.rows.get(id).row));
  }

  /** Writes the rows that changed, and every row's age once a second. */
  flush() {
    clearTimeout(this.soon);
    this.soon = null;
    if (this.unsorted) {
      this.unsorted = false;
      this.sort();
    }
    const now = performance.now();
    const all = now - this.agedAt >= AGE_EVERY_MS;
    if (all) this.agedAt = now;
    const ids = all ? [...this.rows.keys()] : [...this.dirty];
    this.dirty.clear();
    for (const id of ids) {
      const { view, cells, buttons, noContact, receivedAt } = this.rows.get(id);
      if (noContact.hidden === neverSeen(view)) noContact.hidden = !neverSeen(view);
      for (const b of buttons) {
        const choice = b.motion && neverSeen(view) ? null : b.active(view) ? b.on
          : b.work && view.held_at ? null : b.off;
        if (b.button.choice === choice) continue;
        b.button.choice = choice;
        b.button.hidden = !choice;
        if (!choice) continue;
        b.button.textContent = choice.label;
        b.button.dataset.action = choice.name;
        b.button.className = `small${choice.danger ? " danger" : ""}`;
        b.button.setAttribute("aria-label", `${choice.label} ${id}`);
      }
      const waiting = this.waiting.get(id);
      const state = vehicleState(view, waiting);
      // at its gate, or past it at the last node before the crossing (GET /gates: ``at``)
      const [where, place] = state !== "waiting_at_gate" ? [] : waiting.at && waiting.at !== waiting.gate
        ? ["waiting at ", waiting.at] : ["waiting at gate ", waiting.gate];
      const label = where ? where + place : stateLabel(state);
      if (cells.state.dataset.state !== state || cells.state.textContent !== label) {
        // the gate's id on a line of its own: one long word in the column squeezed every row's buttons apart
        cells.state.replaceChildren(h("span", { class: "dot", style: `--dot:${STATE_COLOURS[state]}` }),
          ...(where ? [where, h("span", { class: "gate-id" }, place)] : [label]));
        cells.state.dataset.state = state;
      }
      // the planner found no way for now (GET /vehicles: stalled_because): say why it stands still
      const stalled = view.stalled_because ? `waiting: ${view.stalled_because}` : "";
      cells.state.title = where
        ? [`${label} for customs clearance: ` +
           (waiting.allowed ? "crossing allowed" : waiting.reasons.join("; ")), stalled].filter(Boolean).join("\n")
        : [stateNote(view, state), stalled].filter(Boolean).join("\n"); // (out of service and stalled: both)
      const held = (view.held_load || []).join(", ");
      // the order's id short, as in the orders table (the whole of it on hover): with it whole, a vehicle waiting
      // at a gate pushed its row's buttons onto a second line at 1366 px
      const order = view.order_id ? shortOrderId(view.order_id)
        : held ? `holds ${held}` : view.job ? `(${view.job})` : "";
      showCutShort(cells.order, order,
                   held ? `holds ${held}: a load no order carries: take it off by hand at the bay, then Load removed`
                        : [view.order_id && `order ${view.order_id}`, view.job && `job: ${view.job}`]
                          .filter(Boolean).join(", "));
      show(cells.battery, view.battery == null ? "" : `${view.battery.toFixed(0)} %`,
           { class: view.battery != null && view.battery < 20 ? "warn" : "" });
      show(cells.speed, neverSeen(view) ? "" : `${(view.speed || 0).toFixed(1)} m/s`,
           { "data-speed": (view.speed || 0).toFixed(3) });
      // a reporting vehicle's view is not sent again for its age alone: only a silent one's age grows here
      const seconds = view.state_age_s == null ? null
        : view.state_age_s + (view.reporting ? 0 : (now - receivedAt) / 1000);
      show(cells.age, age(seconds));
      showCutShort(cells.errors, (view.errors || []).join("; "));
    }
  }

  select(id) {
    for (const [vehicle, { row }] of this.rows) row.classList.toggle("selected", vehicle === id);
    const entry = this.rows.get(id);
    if (entry) entry.row.scrollIntoView({ block: "nearest" });
  }

  /** ``view``: the vehicle's latest view (what the confirmation says of it). */
  async act(view, { label, path, body, done, confirm }) {
    const id = view.id;
    const text = confirm ? confirm(view) : "";
    const reason = await askReason({ title: `${label} ${id}`, text, action: label,
                                     suggested: text ? "" : "dispatcher console" });
    if (!reason) return;
    try {
      // The reply's view is not shown: the stream may already have brought a newer one (the vehicle's answer),
      // and nothing more would come to correct it while the vehicle stands still. The stream says what it does.
      await this.api.post(`/vehicles/${encodeURIComponent(id)}/${path}`, { ...body, reason });
      this.notify(`${id}: ${done || `${label.toLowerCase()} sent`}`);
    } catch (error) {
      this.notify(`${id}: ${error.message}`, true);
    }
  }

  count() {
    return this.rows.size;
  }

  /** The latest view of each vehicle. */
  views() {
    return [...this.rows.values()].map((entry) => entry.view);
  }
}
