// Small DOM helpers: build elements without innerHTML (nothing from the API is ever parsed as HTML).

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value == null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    // through the CSSOM: the Content-Security-Policy (style-src 'self') refuses a style attribute set as markup
    else if (name === "style") element.style.cssText = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  element.append(...children.flat().filter((c) => c != null && c !== false));
  return element;
}

/** A moment as the clock shows it, with its day when that is not the day of ``now`` (seconds since the epoch;
 * the service's clock where the caller knows it): on a border open day and night, 02:00 today and 02:00 tomorrow
 * must not look alike. */
export function when(seconds, now = Date.now() / 1000, { withSeconds = true } = {}) {
  if (seconds == null) return "";
  const at = new Date(seconds * 1000);
  const today = at.toDateString() === new Date(now * 1000).toDateString();
  return at.toLocaleString([], { ...(today ? {} : { month: "short", day: "numeric" }), hour: "2-digit",
                                 minute: "2-digit", ...(withSeconds ? { second: "2-digit" } : {}) });
}

/** How the API's sentences write a moment (a waiting order's reason, an alarm; fleet/orders/model.py,
 * ``moment_in_words``): "2030-01-01 01:00 UTC". */
const MOMENT_IN_WORDS = /\b(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}) UTC\b/g;

/** The API's words with each moment in them shown as every other time here, in the browser's zone (``when``), the
 * UTC one on hover: the API writes them in UTC, read on both sides of the border (UTC+7, UTC+8); beside the Due
 * column's 08:00 a reason saying 01:00 read as another time. Text and ``<time>`` elements, for ``h``. */
export function inLocalTime(text, now) {
  const parts = [];
  let from = 0;
  for (const match of text.matchAll(MOMENT_IN_WORDS)) {
    const seconds = Date.parse(`${match[1]}T${match[2]}:00Z`) / 1000;
    parts.push(text.slice(from, match.index), h("time", { datetime: new Date(seconds * 1000).toISOString(),
                                                          title: match[0] }, when(seconds, now, { withSeconds: false })));
    from = match.index + match[0].length;
  }
  parts.push(text.slice(from));
  return parts;
}

/** An order's id short enough for a laptop's tables ("ord-859b3ea01dbb": "859b3ea0"); show the whole on hover. */
export function shortOrderId(id) {
  return id.replace(/^ord-/, "").slice(0, 8);
}

/** ``when`` as a ``<time>`` element, the whole date and time on hover. */
export function moment(seconds, now) {
  const at = new Date(seconds * 1000);
  return h("time", { datetime: at.toISOString(), title: at.toLocaleString() }, when(seconds, now));
}

/** Below this a duration is shown in minutes and seconds: a gate wait of 1 min 30 s is not "2 min". */
const SECONDS_SHOWN_BELOW_S = 5 * 60;

/** A duration (an age, a wait), as exact as it matters: seconds under a minute, minutes and seconds under
 * SECONDS_SHOWN_BELOW_S, whole minutes (those begun not counted) under an hour, then hours. */
export function age(seconds) {
  if (seconds == null) return "never";
  const whole = Math.round(seconds);
  if (whole < 60) return `${whole} s`;
  if (whole < SECONDS_SHOWN_BELOW_S) return `${Math.floor(whole / 60)} min ${whole % 60} s`;
  if (whole < 3600) return `${Math.floor(whole / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/**
 * Replace a container's children (a re-render from the API) without losing the keyboard's place: the element
 * that had the focus is found again by its ``data-key``, or else the container itself takes the focus (a
 * keyboard user's next Tab goes on from there, not from the top of the page).
 */
export function renderKeepingFocus(container, ...children) {
  const active = document.activeElement;
  const had = active && active !== container && container.contains(active);
  const key = had ? active.dataset.key : null;
  container.replaceChildren(...children);
  if (!had) return;
  const again = key && container.querySelector(`[data-key="${CSS.escape(key)}"]`);
  if (again) {
    again.focus({ preventScroll: true });
  } else {
    container.tabIndex = -1;
    container.focus({ preventScroll: true });
  }
}

/** Runs ``change`` (a paging button hidden or disabled, its list re-drawn); had ``control`` the focus and is it now out
 * of use, ``fallback`` (a list, the button beside it) takes it: the keyboard stays where it was, not at the page's
 * top. */
export function keepingFocus(control, fallback, change) {
  const had = document.activeElement === control;
  change();
  if (!had || !(control.hidden || control.disabled)) return;
  if (!fallback.hasAttribute("tabindex") && fallback.tabIndex < 0) fallback.tabIndex = -1;
  fallback.focus({ preventScroll: true });
}

/** What the dispatcher chose on the page (the panel, the orders' filter and search, the open order), kept for the
 * browser tab as the token is: a reload (F5, a browser restarted with its tabs) brings the console back as it was. */
export const kept = {
  get(name, fallback) {
    const value = sessionStorage.getItem(`xborder.view.${name}`);
    return value == null ? fallback : JSON.parse(value);
  },
  set(name, value) {
    sessionStorage.setItem(`xborder.view.${name}`, JSON.stringify(value));
  },
};

const dialog = () => document.getElementById("ask");

/** Tab and Shift+Tab go round the open dialog's controls: a modal dialog alone would let the focus out of the
 * page (to the browser's own controls) after its last one. */
function trapFocus(box) {
  box.addEventListener("keydown", (event) => {
    if (event.key !== "Tab") return;
    const controls = [...box.querySelectorAll("input, button, select, textarea")].filter((c) => !c.disabled);
    const [first, last] = [controls[0], controls[controls.length - 1]];
    if (event.shiftKey ? document.activeElement === first : document.activeElement === last) {
      event.preventDefault();
      (event.shiftKey ? last : first).focus();
    }
  });
}
trapFocus(dialog());

/**
 * Ask for a reason (every staff action gives one) and, for a dangerous action, confirmation: resolves to the
 * reason, or null when cancelled. ``withReason`` false: confirmation alone (an action the API takes no reason
 * for), resolving to true, or null when cancelled.
 */
export function askReason({ title, text = "", action, suggested = "", withReason = true }) {
  const box = dialog();
  document.getElementById("ask-title").textContent = title;
  document.getElementById("ask-text").textContent = text;
  const ok = document.getElementById("ask-ok");
  ok.textContent = action;
  const reason = document.getElementById("ask-reason");
  reason.value = suggested;
  // a disabled field is not validated: hidden but required, it would refuse every submit
  reason.hidden = reason.disabled = document.getElementById("ask-reason-label").hidden = !withReason;
  const opener = document.activeElement;
  return new Promise((resolve) => {
    const cancel = document.getElementById("ask-cancel");
    const done = (value) => {
      cancel.removeEventListener("click", onCancel);
      box.removeEventListener("close", onClose);
      if (opener && opener.isConnected) opener.focus(); // the keyboard goes on from where it was
      resolve(value);
    };
    const onCancel = () => box.close("cancel");
    const answer = () => (withReason ? reason.value.trim() || null : true);
    const onClose = () => done(box.returnValue === "ok" ? answer() : null);
    cancel.addEventListener("click", onCancel);
    box.addEventListener("close", onClose);
    box.returnValue = "";
    box.showModal();
    if (withReason) reason.select();
    else ok.focus();
  });
}
