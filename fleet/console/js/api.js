// The fleet manager's HTTP API and its live stream, as the console uses them (docs/api.md).

export const API = "/api/v1";

export class ApiError extends Error {
  constructor(status, detail, field) {
    super(ApiError.describe(status, detail, field));
    this.status = status;
    this.field = field;
  }

  /** The API's refusal in one line, each message after the field it is about: a list of errors (FastAPI's) each
   * after its own place in the body, a message that names its field already as it is. */
  static describe(status, detail, field) {
    if (status === 0) return "the fleet manager cannot be reached";
    if (Array.isArray(detail)) {
      return detail.map((d) => (d.loc ? `${d.loc.filter((p) => p !== "body").join(".")}: ` : "") +
                                (d.msg || JSON.stringify(d))).join("; ");
    }
    if (!detail) return (field ? `${field}: ` : "") + `HTTP ${status}`;
    return field && !detail.startsWith(`${field}:`) ? `${field}: ${detail}` : detail;
  }
}

/** Bearer-token requests; a 401 anywhere calls onUnauthorized (the token was revoked or expired). */
export class Api {
  constructor(token, onUnauthorized) {
    this.token = token;
    this.onUnauthorized = onUnauthorized;
  }

  async request(method, path, body, headers = {}) {
    let reply;
    try {
      reply = await fetch(API + path, {
        method,
        headers: { Authorization: `Bearer ${this.token}`, ...(body ? { "Content-Type": "application/json" } : {}),
                   ...headers },
        body: body ? JSON.stringify(body) : undefined,
      });
    } catch {
      throw new ApiError(0);
    }
    const data = await reply.json().catch(() => null);
    if (!reply.ok) {
      if (reply.status === 401 && this.onUnauthorized) this.onUnauthorized();
      throw new ApiError(reply.status, data && data.detail, data && data.field);
    }
    return data;
  }

  /** ``params``: name -> value, or a list of values (the parameter repeated). */
  get(path, params) {
    const pairs = Object.entries(params || {}).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => [k, x]));
    const query = params ? "?" + new URLSearchParams(pairs.filter(([, v]) => v !== "" && v != null)) : "";
    return this.request("GET", path + (query === "?" ? "" : query));
  }

  post(path, body, headers) {
    return this.request("POST", path, body, headers);
  }
}

/** A random key for an order's Idempotency-Key (crypto.randomUUID needs a secure context; this does not). */
export function randomKey() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

const UNAUTHORIZED = 4401;
const RETRY_MS = [500, 1000, 2000, 4000, 5000];

/**
 * The WebSocket stream, reconnecting by itself: after a drop it retries (0.5 s, 1 s, 2 s, 4 s, then every 5 s)
 * and reports each change through onStatus("connecting" | "open" | "closed", detail). The token goes in the
 * first message, not the URL. A 4401 close (token refused) stops retrying and calls onUnauthorized.
 */
export class Stream {
  constructor(token, { onMessage, onStatus, onUnauthorized }) {
    Object.assign(this, { token, onMessage, onStatus, onUnauthorized });
    this.attempt = 0;
    this.stopped = false;
    this.socket = null;
    this.timer = null;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.socket) this.socket.close(1000, "signed out");
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.onStatus("connecting");
    const socket = new WebSocket(`${scheme}://${location.host}${API}/stream`);
    this.socket = socket;
    socket.onopen = () => {
      socket.send(JSON.stringify({ token: this.token }));
      this.attempt = 0;
      this.onStatus("open");
    };
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      this.onMessage(message.topic, message.data);
    };
    socket.onclose = (event) => {
      if (this.socket !== socket || this.stopped) return;
      if (event.code === UNAUTHORIZED) {
        this.stopped = true;
        this.onUnauthorized();
        return;
      }
      const wait = RETRY_MS[Math.min(this.attempt, RETRY_MS.length - 1)];
      this.attempt += 1;
      this.onStatus("closed", { code: event.code, retryInMs: wait });
      this.timer = setTimeout(() => this.connect(), wait);
    };
  }
}
