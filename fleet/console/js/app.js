// The dispatcher console: sign-in, then the map, gates, vehicles, orders, alarms and KPIs kept live from the
// stream (and a few slow polls for what has no event), reconnecting by itself. See docs/console.md.

import { AlarmsPanel } from "./alarms.js";
import { Api, ApiError, Stream, randomKey } from "./api.js";
import { askReason, h, kept } from "./dom.js";
import { GatesPanel } from "./gates.js";
import { renderKpis } from "./kpis.js";
import { CorridorMap } from "./map.js";
import { OrdersPanel } from "./orders.js";
import { STATE_COLOURS, countStates, stateLabel } from "./vehicle-state.js";
import { VehiclesTable } from "./vehicles.js";

const TOKEN_KEY = "xborder.token";
const STAFF = new Set(["viewer", "dispatcher", "operator", "admin"]);
const GATES_POLL_MS = 2000;
const SUMMARY_POLL_MS = 5000;
const $ = (id) => document.getElementById(id);

/** Calls ``fn`` at most once per ``ms``, the last call winning. */
function debounced(fn, ms) {
  let timer = null;
  return () => {
    if (!timer) timer = setTimeout(() => { timer = null; fn(); }, ms);
  };
}

/** A token refused before it is sent: the browser cannot send it at all. */
class NotAToken extends Error {}

/** Why ``token`` cannot be one, or null: a character no HTTP header carries (a "đ", or a full-width comma of a
 * Chinese input method, typed or pasted with it). The browser refuses to send such a header, and the console said
 * "The fleet manager cannot be reached", sending the night shift to look at a service that runs. */
function notAToken(token) {
  const odd = [...token].find((c) => c.codePointAt(0) < 0x20 || c.codePointAt(0) > 0xff);
  return odd ? `This is not a token: it holds “${odd}”, a character no token has (typed on another keyboard ` +
    "layout?). Type or paste the token again as it was given." : null;
}

function signInMessage(error) {
  if (error instanceof NotAToken) return error.message;
  if (error instanceof ApiError && error.status === 431) {
    return "This is not a token: far too long (the fleet manager refused a request that size). Check what was " +
      "pasted: the token alone.";
  }
  if (error instanceof ApiError && error.status === 401) {
    return "This token is not accepted: it is wrong, or it has expired or been revoked. Check it, or ask your " +
      "supervisor for a current one.";
  }
  if (error instanceof ApiError && error.status === 0) {
    return "The fleet manager cannot be reached. Check that it is running, then try again.";
  }
  return `Sign-in failed: ${error.message}`;
}

function showSignIn(message = "") {
  $("console").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message;
  $("token").focus();
}

async function signIn(token) {
  let revoked = false;
  const onRevoked = () => {
    if (revoked) return;
    revoked = true;
    sessionStorage.removeItem(TOKEN_KEY);
    if (window.xborder) window.xborder.stop();
    showSignIn("Your token is no longer accepted (it has expired or been revoked). Sign in again.");
  };
  const problem = notAToken(token);
  if (problem) throw new NotAToken(problem);
  const api = new Api(token, onRevoked);
  const session = await api.get("/session");
  if (!STAFF.has(session.role)) {
    throw new Error(`this token is for ${session.role}; the console is for the control room's staff`);
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  if (window.xborder) {
    // a console built before in this tab (signed out by a revoked token, or a sign-in that failed half way) holds
    // the map's container and the page's listeners: the page starts afresh, signed in with the token kept
    location.reload();
    return;
  }
  $("signin").hidden = true;
  $("console").hidden = false;
  window.xborder = new Console(api, session, onRevoked);
  await window.xborder.start();
}

class Console {
  constructor(api, session, onRevoked) {
    this.api = api;
    this.can = session.permissions;
    this.onRevoked = onRevoked;
    this.live = false;
    this.timers = [];
    this.sides = [];
    this.authoritySides = {};
    this.waiting = new Map(); // vehicle id -> its entry in a gate's queue (GET /gates)
    $("role").textContent = `signed in: ${session.role}`;
    $("role").dataset.role = session.role;
    for (const element of document.querySelectorAll("[data-needs]")) element.hidden = !this.can[element.dataset.needs];
    const notify = (message, error = false) => this.notify(message, error);
    this.map = new CorridorMap($("map"), $("vehicle-canvas"), { onSelect: (id) => this.select(id) });
    this.vehicles = new VehiclesTable(document.querySelector("#vehicles tbody"),
                                      { api, can: this.can, notify, onSelect: (id) => this.select(id, true) });
    this.gates = new GatesPanel($("gates"), { api, can: this.can, notify, refresh: () => this.refreshGates() });
    this.clockOffset = 0;  // the service's clock less the browser's, at the last summary
    const serviceNow = () => Date.now() / 1000 + this.clockOffset;
    this.orders = new OrdersPanel({ api, can: this.can, notify, randomKey, serviceNow });
    this.alarms = new AlarmsPanel($("alarms"), $("alarm-count"), { api, can: this.can, notify, serviceNow });
    this.later = {
      orders: debounced(() => this.orders.refresh(), 500),
      alarms: debounced(() => this.alarms.refresh(), 500),
      gates: debounced(() => this.refreshGates(), 300),
      summary: debounced(() => this.refreshSummary(), 1000),
    };
    this.stream = new Stream(api.token, {
      onMessage: (topic, data) => this.onMessage(topic, data),
      onStatus: (status, detail) => this.onStatus(status, detail),
      onUnauthorized: onRevoked,
    });
    $("alarm-count").addEventListener("click", () => { this.showTab("alarms"); $("tab-alarms").focus(); });
    // the next one to sign in here starts afresh: no token, nothing chosen
    $("signout").addEventListener("click", () => { sessionStorage.clear(); location.reload(); });
    $("fleet-estop").addEventListener("click", () => this.fleetStop(true));
    $("fleet-release").addEventListener("click", () => this.fleetStop(false));
    this.tabs();
    const tab = kept.get("tab", "vehicles");
    this.showTab($(`tab-${tab}`) ? tab : "vehicles");
    this.legend();
  }

  async start() {
    const geojson = await this.api.get("/map", { frame: "local" });
    $("corridor-name").textContent = geojson.name;
    this.map.load(geojson);
    this.sides = this.map.sides;
    const docks = Object.fromEntries(this.sides.map((s) => [s, []]));
    for (const f of geojson.features) {
      if (f.properties.kind === "dock" && docks[f.properties.jurisdiction]) docks[f.properties.jurisdiction].push(f.properties.id);
    }
    for (const list of Object.values(docks)) list.sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
    this.orders.setDocks(docks);
    await this.refreshAll();
    this.stream.start();
    this.timers.push(setInterval(() => this.live && this.refreshGates(), GATES_POLL_MS),
                     setInterval(() => this.live && this.refreshSummary(), SUMMARY_POLL_MS));
  }

  stop() {
    this.stream.stop();
    this.timers.forEach(clearInterval);
  }

  async refreshAll() {
    const views = await this.api.get("/vehicles");
    for (const view of views) this.onVehicle(view);
    await this.refreshSummary();
    await Promise.all([this.refreshGates(), this.orders.refresh(), this.alarms.refresh()]);
  }

  async refreshSummary() {
    try {
      const summary = await this.api.get("/summary");
      this.authoritySides = Object.fromEntries(summary.customs_links.map((l) => [l.authority, l.side]));
      this.summary = summary;
      this.clockOffset = summary.at - Date.now() / 1000;
      this.renderKpis();
      this.orders.rerender();
      this.alarms.setCount(summary.open_alarms);
    } catch (error) {
      if (error.status !== 401) this.notify(`summary: ${error.message}`, true);
    }
  }

  renderKpis() {
    if (!this.summary) return;
    renderKpis($("kpis"), this.summary, this.map.bridge, this.sides, countStates(this.vehicles.views(), this.waiting));
  }

  async refreshGates() {
    try {
      const gates = await this.api.get("/gates");
      this.gates.render(gates, this.authoritySides, this.sides);
      this.map.setGates(gates);
      const waiting = new Map(gates.flatMap((gate) => gate.queue.map((w) => [w.vehicle_id, {
        gate: gate.id, at: w.at, allowed: w.allowed, reasons: w.reasons }])));
      this.waiting = waiting;
      this.vehicles.setWaiting(waiting);
      this.map.setWaiting(waiting);
      this.renderKpis();
    } catch (error) {
      if (error.status !== 401) this.notify(`gates: ${error.message}`, true);
    }
  }

  onMessage(topic, data) {
    switch (topic) {
      case "vehicle": this.onVehicle(data); break;
      case "order": this.later.orders(); this.later.summary(); this.later.gates(); break;
      case "alarm": this.later.alarms(); this.later.summary(); break;
      default:
        this.later.gates();
        if (topic === "crossing") this.later.summary();
        if (topic === "clearance" && this.orders.selected) this.later.orders(); // the open timeline's lights
    }
  }

  onVehicle(view) {
    this.map.update(view);
    this.vehicles.update(view);
    if (!this.kpiPending) {
      this.kpiPending = setTimeout(() => { this.kpiPending = null; this.renderKpis(); }, 1000);
    }
  }

  onStatus(status, detail) {
    const link = $("link");
    const banner = $("banner");
    link.dataset.state = status;
    if (status === "open") {
      const wasDown = this.everOpen && !this.live;
      this.live = this.everOpen = true;
      this.downSince = null;
      link.textContent = "live";
      banner.hidden = true;
      if (wasDown) {
        this.notify("reconnected to the fleet manager");
        this.refreshAll().catch((error) => this.notify(error.message, true));
      }
    } else if (status === "closed") {
      this.live = false;
      this.downSince = this.downSince || new Date();  // the drop, not the latest retry that failed
      link.textContent = "disconnected";
      banner.hidden = false;
      banner.textContent = "Disconnected from the fleet manager: what you see is as of " +
        `${this.downSince.toLocaleTimeString()}` +
        ` and may be out of date. Reconnecting (next try in ${(detail.retryInMs / 1000).toFixed(1)} s)…`;
    } else if (!this.live) {
      link.textContent = "connecting…";
    }
  }

  select(id, focusMap = false) {
    this.map.select(id);
    this.vehicles.select(id);
    if (focusMap) this.map.focus(id);
  }

  async fleetStop(stop) {
    const count = this.vehicles.count();
    const reason = await askReason(stop
      ? { title: "Emergency stop: the whole fleet", action: `Stop all ${count} vehicles`,
          text: `All ${count} vehicles stop at once wherever they are, the crossing lanes included. Each stays stopped ` +
            "until the fleet e-stop (or its own) is released." }
      : { title: "Release the fleet e-stop", action: "Release all", text: "Vehicles resume their work." });
    if (!reason) return;
    try {
      await this.api.post(stop ? "/vehicles/emergency-stop" : "/vehicles/release-emergency-stop", { reason });
      this.notify(stop ? "fleet emergency stop sent" : "fleet e-stop released");
    } catch (error) {
      this.notify(error.message, true);
    }
  }

  tabs() {
    const tabs = [...document.querySelectorAll('[role="tab"]')];
    for (const tab of tabs) {
      tab.addEventListener("click", () => this.showTab(tab.id.replace("tab-", "")));
      tab.addEventListener("keydown", (event) => {
        const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
        if (!step) return;
        const next = tabs[(tabs.indexOf(tab) + step + tabs.length) % tabs.length];
        next.focus();
        this.showTab(next.id.replace("tab-", ""));
      });
    }
  }

  showTab(name) {
    kept.set("tab", name);
    for (const tab of document.querySelectorAll('[role="tab"]')) {
      const selected = tab.id === `tab-${name}`;
      tab.setAttribute("aria-selected", String(selected));
      tab.tabIndex = selected ? 0 : -1;
      $(tab.getAttribute("aria-controls")).hidden = !selected;
    }
  }

  legend() {
    $("map-legend").replaceChildren(...Object.entries(STATE_COLOURS).map(([state, colour]) =>
      h("span", {}, h("span", { class: "dot", style: `--dot:${colour}` }), stateLabel(state))),
    h("span", {}, h("span", { class: "swatch base" }), "released"),
    h("span", {}, h("span", { class: "swatch horizon" }), "horizon"));
  }

  notify(message, error = false) {
    const toast = h("div", { class: `toast${error ? " error" : ""}`, role: error ? "alert" : "status" }, message);
    $("toasts").append(toast);
    setTimeout(() => toast.remove(), error ? 8000 : 4000);
  }
}

$("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("signin-error").textContent = "";
  try {
    await signIn($("token").value.trim());
  } catch (error) {
    showSignIn(signInMessage(error));
  }
});

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) signIn(saved).catch((error) => showSignIn(signInMessage(error)));
