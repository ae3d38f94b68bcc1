// One word for a vehicle's state, the most pressing first: the same words, and the same rule, as the metrics
// and GET /summary (fleet/api/metrics.py vehicle_state, vehicles_by_state): a vehicle in a gate's queue (GET
// /gates) is waiting at the gate. The KPI strip, the map and the table all ask ``vehicleState``, so that they
// agree.

export const STATE_COLOURS = {
  driving: "#1b9e3e",
  idle: "#5b8def",
  paused: "#f2b705",
  emergency_stop: "#d7263d",
  manual: "#e07a1f",
  error: "#b5179e",
  offline: "#6c757d",
  unknown: "#adb5bd",
  out_of_service: "#343a40",
  waiting_at_gate: "#17a2b8",
};

/** What the console writes for a state word where the word alone would mislead (``unknown``: the fleet manager
 * has never heard from the vehicle, no state, no connection). */
const STATE_LABELS = { unknown: "never seen" };

export function stateLabel(state) {
  return STATE_LABELS[state] || state.replace(/_/g, " ");
}

/** The vehicle never reported (a configured vehicle whose agent never ran): nothing sent to it can reach it. */
export function neverSeen(view) {
  return view.connection == null;
}

/** ``waiting``: the vehicle is in a gate's queue (GET /gates), loaded, awaiting its clearance: standing there it is
 * held up by customs, not free for work. */
export function vehicleState(view, waiting = null) {
  if (!view.in_service) return "out_of_service";
  if (view.connection !== "ONLINE") return view.connection ? "offline" : "unknown";
  if (view.e_stop && view.e_stop !== "NONE") return "emergency_stop";
  // VDA 5050 operatingMode: MANUAL, SERVICE, TEACHIN: people drive it, it takes no order
  if (view.operating_mode && !["AUTOMATIC", "SEMIAUTOMATIC"].includes(view.operating_mode)) return "manual";
  if (view.errors && view.errors.length) return "error";
  if (view.paused) return "paused";
  if (view.driving) return "driving";
  return waiting ? "waiting_at_gate" : "idle";
}

/** How many vehicles are in each state (``vehicleState``), for the KPI strip: ``views`` the latest view of each
 * vehicle, ``waiting`` vehicle id -> its entry in a gate's queue. Counted here, from what the table and the map
 * show, rather than taken from GET /summary's ``vehicles`` (the same counts, polled every 5 s): the vehicles'
 * views come on the stream, so that the strip changes with the table, not up to 5 s after it. */
export function countStates(views, waiting) {
  const counts = {};
  for (const view of views) {
    const state = vehicleState(view, waiting.get(view.id));
    counts[state] = (counts[state] || 0) + 1;
  }
  return counts;
}
