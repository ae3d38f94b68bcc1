// The corridor map, drawn from the corridor's own geometry in its local frame (metres east and north of the
// origin, the frame of vehicle positions): no tiles. Leaflet gives pan and zoom (mouse, touch, keyboard); the
// vehicles are drawn on one canvas above it, so 200 of them moving cost one redraw per animation frame.

import { h } from "./dom.js";
import { STATE_COLOURS, vehicleState } from "./vehicle-state.js";

const L = window.L;
const SIDE_COLOURS = ["#3b82c4", "#d08a1e", "#7a5bb5", "#3a9a6a"]; // by the map's jurisdiction order
const NODE_STYLE = {
  dock: { radius: 6, color: "#1d4e89", fillColor: "#6fa8dc" },
  gate: { radius: 6, color: "#4a5560", fillColor: "#c9d1d9" }, // until GET /gates says free or held (GATE_STYLE)
  charger: { radius: 4, color: "#1f6b2a", fillColor: "#7ed38b" },
  parking: { radius: 2, color: "#777", fillColor: "#bbb" },
  holding: { radius: 3, color: "#6b5a1f", fillColor: "#e0c96b" },
  inspection: { radius: 4, color: "#6b1f5a", fillColor: "#d38bc6" },
  border: { radius: 3, color: "#000", fillColor: "#000" },
  handoff: { radius: 3, color: "#000", fillColor: "#fff" },
};
// a gate free (green) or held (amber, as a paused vehicle), as on the gates panel: red is the e-stop's
const GATE_STYLE = {
  free: { color: "#14632b", fillColor: "#1b9e3e" },
  held: { color: "#7a5a00", fillColor: "#f2a900" },
};
const TWEEN_MS = 450; // vehicle states come at 2 Hz: glide between them
const PICK_PX = 14;
const OCCUPANCY_MS = 500; // the bridge lanes are repainted at most this often (a repaint redraws the map's canvas)

/** A tooltip's content: Leaflet writes a string given to it as HTML, and names come from the corridor's files and
 * reasons from operators (GET /map, GET /gates): an element with the text, never parsed. */
const text = (words) => h("span", {}, words);

export class CorridorMap {
  constructor(element, canvas, { onSelect }) {
    this.element = element;
    this.canvas = canvas;
    this.onSelect = onSelect;
    this.vehicles = new Map(); // id -> {view, from, to, at}
    this.selected = null;
    this.waiting = new Map(); // vehicle id -> {gate, ...}: in a gate's queue (GET /gates)
    this.nodes = new Map(); // node id -> {x, y, kind, zone, jurisdiction}
    this.gateMarkers = new Map(); // gate id -> its circle marker, styled by setGates
    this.zones = new Map(); // zone id -> {kind, jurisdiction}
    this.crossingLanes = []; // {from, to, layer}: the crossing's segments
    this.bridgeLanes = []; // {id: "VN->CN", segments}: a lane across the bridge
    this.turn = 0; // radians: how the map is turned on screen (see load)
    this.towardsSecondSide = [1, 0];
    this.map = L.map(element, { crs: L.CRS.Simple, minZoom: -4, maxZoom: 4, zoomSnap: 0.25, zoomAnimation: false,
                                attributionControl: false, preferCanvas: true, keyboardPanDelta: 120 });
    this.pathLayer = L.layerGroup().addTo(this.map);
    this.map.on("move zoom resize viewreset", () => this.requestDraw());
    this.map.on("click", (event) => this.pick(event.containerPoint));
    new ResizeObserver(() => { this.map.invalidateSize(); this.resizeCanvas(); }).observe(element);
    this.resizeCanvas();
  }

  /** Draw the corridor from GET /map?frame=local, turned so that the first side is on the left and the second
   * on the right (a long corridor fills a wide screen). */
  load(geojson) {
    const sides = [...new Set(geojson.features.map((f) => f.properties.jurisdiction).filter(Boolean))];
    this.sides = sides;
    this.sideColour = Object.fromEntries(sides.map((s, i) => [s, SIDE_COLOURS[i % SIDE_COLOURS.length]]));
    const polygons = geojson.features.filter((f) => f.geometry.type === "Polygon");
    const lines = geojson.features.filter((f) => f.geometry.type === "LineString");
    const points = geojson.features.filter((f) => f.geometry.type === "Point");
    for (const f of polygons) {
      const p = f.properties;
      this.zones.set(p.id, { kind: p.kind, jurisdiction: p.jurisdiction, ring: f.geometry.coordinates[0] });
    }
    for (const f of points) {
      const p = f.properties;
      const [x, y] = f.geometry.coordinates;
      this.nodes.set(p.id, { x, y, kind: p.kind, zone: p.zone, jurisdiction: p.jurisdiction });
    }
    this.towardsSecondSide = this.sideAxis(sides);
    this.turn = -Math.atan2(this.towardsSecondSide[1], this.towardsSecondSide[0]);
    for (const f of polygons) {
      const p = f.properties;
      L.polygon(f.geometry.coordinates[0].map((c) => this.latLng(c)), {
        color: this.sideColour[p.jurisdiction], weight: 1, fillOpacity: p.kind === "bridge" ? 0.28 : 0.14,
      }).bindTooltip(text(`${p.name || p.id} (${p.jurisdiction})`)).addTo(this.map);
    }
    for (const f of lines) {
      const p = f.properties;
      const layer = L.polyline(f.geometry.coordinates.map((c) => this.latLng(c)), {
        color: p.crossing ? "#444" : "#9aa3ad", weight: p.crossing ? 2.5 : 1.2, interactive: false,
      }).addTo(this.map);
      if (p.crossing) this.crossingLanes.push({ from: p.from, to: p.to, layer });
    }
    for (const f of points) {
      const p = f.properties;
      const style = NODE_STYLE[p.kind];
      if (!style) continue;
      const marker = L.circleMarker(this.latLng(f.geometry.coordinates), { ...style, weight: 1, fillOpacity: 0.9,
                                                                           interactive: p.kind !== "parking" })
        .bindTooltip(text(`${p.name || p.id}`), { direction: "top" }).addTo(this.map);
      if (p.kind === "gate") this.gateMarkers.set(p.id, Object.assign(marker, { gateName: p.name || p.id }));
    }
    this.bridgeLanes = this.groupBridgeLanes();
    this.drawBorder();
    this.home = L.latLngBounds(points.map((f) => this.latLng(f.geometry.coordinates)));
    this.map.fitBounds(this.home, { padding: [10, 10] });
    this.paintOccupancy();
    this.requestDraw();
  }

  /** The bridge's lanes, one each way: a crossing segment belongs to the lane of the side it leaves (one that
   * starts on the border line or at the handoff pad, to the lane into the side it enters). The maps draw a lane
   * as several segments (deck to border node to deck, and to and from the handoff pad). */
  groupBridgeLanes() {
    const node = (id) => this.nodes.get(id) || {};
    const onLine = (id) => ["border", "handoff"].includes(node(id).kind);
    const other = (side) => this.sides.find((s) => s !== side);
    const lanes = new Map();
    for (const segment of this.crossingLanes) {
      const from = onLine(segment.from) ? other(node(segment.to).jurisdiction) : node(segment.from).jurisdiction;
      const id = `${from}->${other(from)}`;
      if (!lanes.has(id)) lanes.set(id, { id, segments: [] });
      lanes.get(id).segments.push(segment);
    }
    return [...lanes.values()];
  }

  /** Map coordinates (metres east, north) to Leaflet's plane, turned by ``this.turn``. */
  latLng([x, y]) {
    const [c, s] = [Math.cos(this.turn || 0), Math.sin(this.turn || 0)];
    return [x * s + y * c, x * c - y * s];
  }

  /** The border line: through the border-line nodes, across the bridge and a little beyond. */
  drawBorder() {
    const border = [...this.nodes.values()].filter((n) => n.kind === "border" || n.kind === "handoff");
    if (!border.length) return;
    const [ax, ay] = this.towardsSecondSide;
    const centre = [border.reduce((a, n) => a + n.x, 0) / border.length, border.reduce((a, n) => a + n.y, 0) / border.length];
    const bridge = [...this.zones.values()].filter((z) => z.kind === "bridge").flatMap((z) => z.ring);
    // half the bridge's width across the axis, and a half more
    const half = 1.5 * Math.max(1, ...bridge.map(([x, y]) => Math.abs((x - centre[0]) * -ay + (y - centre[1]) * ax)));
    const end = (k) => [centre[0] - ay * half * k, centre[1] + ax * half * k];
    L.polyline([this.latLng(end(-1)), this.latLng(end(1))], { color: "#b00020", weight: 4, dashArray: "10 6" })
      .bindTooltip("border line").addTo(this.map);
  }

  /** A unit vector from the first side's zones to the second's: which way along the corridor is which direction. */
  sideAxis(sides) {
    const centre = (side) => {
      const ring = [...this.zones.values()].filter((z) => z.jurisdiction === side).flatMap((z) => z.ring);
      return ring.length ? [ring.reduce((a, p) => a + p[0], 0) / ring.length,
                            ring.reduce((a, p) => a + p[1], 0) / ring.length] : [0, 0];
    };
    if (sides.length < 2) return [1, 0];
    const [a, b] = [centre(sides[0]), centre(sides[1])];
    const length = Math.hypot(b[0] - a[0], b[1] - a[1]) || 1;
    return [(b[0] - a[0]) / length, (b[1] - a[1]) / length];
  }

  /** Each gate (GET /gates) free or held, and why, on its marker and in its tooltip (the hold's reason is an
   * operator's text: ``text``). */
  setGates(gates) {
    for (const gate of gates) {
      const marker = this.gateMarkers.get(gate.id);
      if (!marker) continue;
      const shown = `${marker.gateName}: ${gate.held ? `held: ${gate.hold_reason || ""}` : "free"}`;
      if (marker.shown === shown) continue;
      marker.shown = shown;
      marker.setStyle(GATE_STYLE[gate.held ? "held" : "free"]);
      marker.setTooltipContent(text(shown));
    }
  }

  /** The vehicles waiting at a gate for their clearance (drawn in their own colour, not idle's). */
  setWaiting(waiting) {
    this.waiting = waiting;
    this.requestDraw();
  }

  /** A vehicle's latest state (from the stream or GET /vehicles). */
  update(view) {
    if (view.x == null || view.y == null) return;
    const now = performance.now();
    const known = this.vehicles.get(view.id);
    const from = known ? this.position(known, now) : { x: view.x, y: view.y, theta: view.theta || 0 };
    this.vehicles.set(view.id, { view, from, to: { x: view.x, y: view.y, theta: view.theta || 0 }, at: now });
    if (view.id === this.selected) this.drawPaths();
    if (!this.occupancyTimer) {
      this.occupancyTimer = setTimeout(() => { this.occupancyTimer = null; this.paintOccupancy(); }, OCCUPANCY_MS);
    }
    this.requestDraw();
  }

  position(entry, now) {
    const t = Math.min(1, (now - entry.at) / TWEEN_MS);
    let dtheta = entry.to.theta - entry.from.theta;
    dtheta = Math.atan2(Math.sin(dtheta), Math.cos(dtheta));
    return { x: entry.from.x + (entry.to.x - entry.from.x) * t, y: entry.from.y + (entry.to.y - entry.from.y) * t,
             theta: entry.from.theta + dtheta * t, moving: t < 1 };
  }

  select(id) {
    this.selected = id;
    this.drawPaths();
    this.requestDraw();
  }

  focus(id) {
    const entry = this.vehicles.get(id);
    if (entry) this.map.setView(this.latLng([entry.to.x, entry.to.y]), Math.max(this.map.getZoom(), 0));
  }

  /** The selected vehicle's released base (solid) and its unreleased horizon (dashed), through the map's nodes. */
  drawPaths() {
    this.pathLayer.clearLayers();
    const entry = this.vehicles.get(this.selected);
    if (!entry) return;
    const { view } = entry;
    const at = (ids) => ids.map((id) => this.nodes.get(id)).filter(Boolean).map((n) => this.latLng([n.x, n.y]));
    const base = at(view.released_nodes || []);
    const horizon = at(view.horizon_nodes || []);
    if (base.length && horizon.length) horizon.unshift(base[base.length - 1]);
    if (horizon.length > 1) {
      L.polyline(horizon, { color: "#6b7280", weight: 4, dashArray: "6 8", interactive: false })
        .addTo(this.pathLayer);
    }
    if (base.length > 1) {
      L.polyline(base, { color: "#0b63ce", weight: 6, opacity: 0.85, interactive: false }).addTo(this.pathLayer);
    }
  }

  /** Bridge lanes: a lane with a segment on some vehicle's released base is shown taken (all its segments);
   * and who is on the bridge, each way. */
  paintOccupancy() {
    const taken = new Set();
    const onBridge = { forward: 0, back: 0 };
    for (const { view } of this.vehicles.values()) {
      const base = view.released_nodes || [];
      for (let i = 1; i < base.length; i++) taken.add(`${base[i - 1]}>${base[i]}`);
      const node = this.nodes.get(view.last_node);
      const zone = node && this.zones.get(node.zone);
      if (zone && zone.kind === "bridge") {
        const theta = view.theta || 0;
        const along = Math.cos(theta) * this.towardsSecondSide[0] + Math.sin(theta) * this.towardsSecondSide[1];
        onBridge[along >= 0 ? "forward" : "back"] += 1;
      }
    }
    const takenLanes = [];
    for (const lane of this.bridgeLanes) {
      const busy = lane.segments.some((s) => taken.has(`${s.from}>${s.to}`));
      if (busy) takenLanes.push(lane.id);
      for (const segment of lane.segments) {
        if (segment.busy !== busy) segment.layer.setStyle({ color: busy ? "#e8590c" : "#444", weight: busy ? 4 : 2.5 });
        segment.busy = busy;
      }
    }
    this.bridge = { ...onBridge, lanes: takenLanes.length, of: this.bridgeLanes.length, taken: takenLanes };
  }

  resizeCanvas() {
    const ratio = window.devicePixelRatio || 1;
    const { width, height } = this.element.getBoundingClientRect();
    this.canvas.width = Math.round(width * ratio);
    this.canvas.height = Math.round(height * ratio);
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
    this.requestDraw();
  }

  requestDraw() {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.draw());
  }

  /** All vehicles, one path per colour (a fill and a stroke per state, not per vehicle: with 200 vehicles
   * the canvas calls were most of a frame's cost), the selected one outlined on top. */
  draw() {
    this.frame = null;
    const context = this.context || (this.context = this.canvas.getContext("2d"));
    const ratio = window.devicePixelRatio || 1;
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, this.canvas.width, this.canvas.height);
    const now = performance.now();
    let moving = false;
    const size = Math.max(5, Math.min(14, 6 * 2 ** (this.map.getZoom() / 2)));
    const outline = [[size * 1.3, 0], [-size, size * 0.8], [-size * 0.5, 0], [-size, -size * 0.8]];
    const paths = new Map(); // colour -> Path2D
    let selected = null;
    for (const [id, entry] of this.vehicles) {
      const p = this.position(entry, now);
      moving ||= p.moving;
      const point = this.map.latLngToContainerPoint(this.latLng([p.x, p.y]));
      const angle = -(p.theta + this.turn); // turned as the map is; the screen's y grows downwards
      const [c, s] = [Math.cos(angle), Math.sin(angle)];
      const colour = STATE_COLOURS[vehicleState(entry.view, this.waiting.get(id))];
      const path = paths.get(colour) || paths.set(colour, new Path2D()).get(colour);
      const arrow = new Path2D();
      outline.forEach(([x, y], i) => arrow[i ? "lineTo" : "moveTo"](point.x + x * c - y * s, point.y + x * s + y * c));
      arrow.closePath();
      path.addPath(arrow);
      if (id === this.selected) selected = arrow;
    }
    context.lineWidth = 1;
    context.strokeStyle = "rgba(0,0,0,0.6)";
    for (const [colour, path] of paths) {
      context.fillStyle = colour;
      context.fill(path);
      context.stroke(path);
    }
    if (selected) {
      context.lineWidth = 3;
      context.strokeStyle = "#000";
      context.stroke(selected);
    }
    if (moving) this.requestDraw();
  }

  pick(point) {
    let best = null;
    let bestDistance = PICK_PX;
    const now = performance.now();
    for (const [id, entry] of this.vehicles) {
      const p = this.position(entry, now);
      const distance = point.distanceTo(this.map.latLngToContainerPoint(this.latLng([p.x, p.y])));
      if (distance < bestDistance) [best, bestDistance] = [id, distance];
    }
    if (best) this.onSelect(best);
  }
}
