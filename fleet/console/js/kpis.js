// The KPI strip: GET /summary (crossings per hour each way, average gate wait, orders by state, the customs links'
// and the vehicle link's health), the bridge occupancy the map works out and the vehicles by state as the table
// and the map show them (``countStates``: the summary's rule, on the views the table shows now).

import { age, h } from "./dom.js";
import { STATE_COLOURS, stateLabel } from "./vehicle-state.js";

const ACTIVE = ["created", "assigned", "to_pickup", "loaded", "awaiting_clearance", "cleared", "crossing", "to_drop"];

/** ``vehicles``: state -> how many (``countStates``). */
export function renderKpis(element, summary, bridge, sides, vehicles) {
  const crossings = Object.entries(summary.crossings).map(([direction, n]) => `${direction.replace("->", "→")} ${n}`);
  const wait = summary.gate_wait_avg_s == null ? "–" : age(summary.gate_wait_avg_s);
  const chips = Object.entries(vehicles).sort((a, b) => b[1] - a[1]).map(([state, n]) =>
    h("span", { class: "chip", style: `--chip:${STATE_COLOURS[state] || "#999"}` }, `${stateLabel(state)} ${n}`));
  const orders = ACTIVE.filter((s) => summary.orders[s]).map((s) => `${s.replace(/_/g, " ")} ${summary.orders[s]}`);
  const done = ["delivered", "cancelled", "failed"].map((s) => `${s} ${summary.orders[s] || 0}`);
  const links = summary.customs_links.map((link) => h("span", {
    class: `light ${link.up ? "green" : "red"}`, "data-authority": link.authority,
    title: `${link.authority}: last heard ${link.last_heard_s == null ? "never" : age(link.last_heard_s) + " ago"}` +
      (link.missing_seqs ? `, ${link.missing_seqs} events missing` : ""),
  }, `${link.authority} ${link.up ? "up" : "DOWN"}`));
  const [forward, back] = sides.length >= 2 ? [`${sides[0]}→${sides[1]}`, `${sides[1]}→${sides[0]}`] : ["↑", "↓"];
  element.replaceChildren(
    kpi("Crossings / hour", crossings.join(" · ") || "0"),
    kpi("Avg gate wait", wait),
    kpi("Bridge", bridge ? `${forward} ${bridge.forward} · ${back} ${bridge.back} · lanes taken ${bridge.lanes}/${bridge.of}` +
      (bridge.taken.length ? ` (${bridge.taken.map((l) => l.replace("->", "→")).join(", ")})` : "") : "–", "kpi-bridge"),
    kpi("Vehicles", chips),
    kpi("Orders", [orders.join(" · ") || "none active",
                   summary.orders_overdue ? h("span", { class: "overdue" }, ` · overdue ${summary.orders_overdue}`) : "",
                   h("span", { class: "muted" }, ` (${done.join(", ")})`)]),
    kpi("Customs links", links, "kpi-links"),
    kpi("Vehicle link", h("span", { class: `light ${summary.vehicle_link_trouble ? "red" : "green"}`,
                                    title: summary.vehicle_link_trouble || "working" },
                          summary.vehicle_link_trouble ? "TROUBLE" : "up"), "kpi-vehicle-link"),
  );
}

function kpi(label, value, id) {
  return h("div", { class: "kpi", id }, h("span", { class: "kpi-label" }, label), h("span", { class: "kpi-value" }, value));
}
