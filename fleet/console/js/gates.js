// The gates panel: each gate's queue; for each waiting vehicle one light per customs authority (green: that
// authority lets the vehicle and all it carries cross; red: a hold, a revocation or no authorization; amber:
// still pending) and the gate rule's reasons; an operator's hold and release, with a reason. A free gate is
// green, a held one amber with its reason: red is the e-stop's (and the customs lights' "no").

import { askReason, h, renderKeepingFocus } from "./dom.js";

const BLOCKING = new Set(["hold", "revoked"]);

export function authorityLight(answer) {
  const statuses = Object.values(answer.consignments || {});
  if (answer.vehicle_authorized && statuses.every((s) => s === "released")) return "green";
  if (statuses.some((s) => BLOCKING.has(s))) return "red";
  return answer.vehicle_authorized ? "amber" : "red";
}

export class GatesPanel {
  constructor(element, { api, can, notify, refresh }) {
    Object.assign(this, { element, api, can, notify, refresh });
  }

  /** ``authoritySides``: authority -> side; ``sides``: the map's sides in order (the lights' order). */
  render(gates, authoritySides, sides) {
    const order = Object.keys(authoritySides)
      .sort((a, b) => sides.indexOf(authoritySides[a]) - sides.indexOf(authoritySides[b]));
    // a free gate in green, a held one in amber (as a paused vehicle): the red is the e-stop's
    renderKeepingFocus(this.element, ...gates.map((gate) => h("article", {
      class: `gate ${gate.held ? "held" : "free"}${gate.queue.length ? " busy" : ""}`, "data-gate": gate.id,
      "aria-label": `gate ${gate.id}, ${gate.held ? `held: ${gate.hold_reason || ""}` : "free"}`,
    },
    h("header", {},
      h("strong", {}, gate.id), " ", h("span", { class: "muted" }, gate.side),
      gate.held ? h("span", { class: "badge held", title: `held: ${gate.hold_reason || ""}` },
                    `HELD: ${gate.hold_reason || ""}`)
        : h("span", { class: "badge free", title: "free: the gate rule alone decides who crosses" }, "free"),
      this.can.gates ? h("button", { type: "button", class: "small", "data-key": `hold:${gate.id}`,
                                      onclick: () => this.toggle(gate) },
                         gate.held ? "Release" : "Hold") : null),
    gate.queue.length ? h("ul", { class: "queue" },
                          gate.queue.map((waiting) => queued(gate, waiting, order, authoritySides)))
      : h("p", { class: "muted empty" }, "no queue"))));
  }

  async toggle(gate) {
    const reason = await askReason(gate.held
      ? { title: `Release gate ${gate.id}`, text: `Held: ${gate.hold_reason || ""}`, action: "Release gate" }
      : { title: `Hold gate ${gate.id}`, text: "No vehicle will be let through here until it is released.",
          action: "Hold gate" });
    if (!reason) return;
    try {
      await this.api.post(`/gates/${encodeURIComponent(gate.id)}/${gate.held ? "release" : "hold"}`, { reason });
      this.notify(`gate ${gate.id} ${gate.held ? "released" : "held"}`);
    } catch (error) {
      this.notify(error.message, true);
    }
    this.refresh();
  }
}

/** A vehicle in a gate's queue: one light per authority, the vehicle and its direction (and where it waits, when
 * past the gate: the last node before the crossing), the gate rule's answer. */
function queued(gate, waiting, order, authoritySides) {
  const answer = waiting.allowed ? "crossing allowed" : waiting.reasons.join("; ");
  const consignments = waiting.consignments.join(", ");
  return h("li", { "data-vehicle": waiting.vehicle_id },
    h("span", { class: "lights" }, order.filter((name) => waiting.authorities[name]).map((name) => {
      const light = authorityLight(waiting.authorities[name]);
      return h("span", { class: `light ${light}`, "data-authority": authoritySides[name], "data-light": light,
                         title: `${name}: ${light}` }, authoritySides[name]);
    })),
    h("span", { class: "who", title: consignments }, h("b", {}, waiting.vehicle_id),
      ` ${waiting.direction.replace("->", "→")}`, waiting.at && waiting.at !== gate.id ? ` at ${waiting.at}` : ""),
    // one line, cut short (every gate stays in sight on a laptop's screen); the whole of it on hover
    h("span", { class: waiting.allowed ? "ok" : "reasons", title: `${consignments}: ${answer}` }, answer));
}
