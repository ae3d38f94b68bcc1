// Small DOM helpers: build elements without innerHTML (nothing from the API is ever parsed as HTML).

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value == null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : value);
  }
  element.append(...children.flat().filter((c) => c != null && c !== false));
  return element;
}

export function when(seconds) {
  return seconds == null ? "" : new Date(seconds * 1000).toLocaleTimeString();
}

export function age(seconds) {
  if (seconds == null) return "never";
  if (seconds < 60) return `${seconds.toFixed(0)} s`;
  if (seconds < 3600) return `${(seconds / 60).toFixed(0)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

const dialog = () => document.getElementById("ask");

/**
 * Ask for a reason (every staff action gives one) and, for a dangerous action, confirmation: resolves to the
 * reason, or null when cancelled.
 */
export function askReason({ title, text = "", action, suggested = "" }) {
  const box = dialog();
  document.getElementById("ask-title").textContent = title;
  document.getElementById("ask-text").textContent = text;
  const ok = document.getElementById("ask-ok");
  ok.textContent = action;
  const reason = document.getElementById("ask-reason");
  reason.value = suggested;
  return new Promise((resolve) => {
    const cancel = document.getElementById("ask-cancel");
    const done = (value) => {
      cancel.removeEventListener("click", onCancel);
      box.removeEventListener("close", onClose);
      resolve(value);
    };
    const onCancel = () => box.close("cancel");
    const onClose = () => done(box.returnValue === "ok" && reason.value.trim() ? reason.value.trim() : null);
    cancel.addEventListener("click", onCancel);
    box.addEventListener("close", onClose);
    box.returnValue = "";
    box.showModal();
    reason.select();
  });
}
