// Small DOM helpers shared by the pages: elements, problems next to fields, times.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    // Through the CSSOM: the pages' CSP refuses style attributes (style-src 'self').
    else if (name === "style") node.style.cssText = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const $ = (id) => document.getElementById(id);

export function show(node, message) {
  node.textContent = message || "";
  node.hidden = !message;
}

// Field names from the API (``email``, ``body.email``, ``options.1``) to the page's own.
function fieldKey(name) {
  const path = String(name || "").replace(/^body\./, "").split(".");
  // A registration question's answer has a slot of its own: answers.<question id>.
  return path[0] === "answers" && path[1] ? `answers.${path[1]}` : path[0];
}

// Say what went wrong: each field's message beside it, the rest in the summary.
// Nothing the user typed is touched.
export function showProblem(form, summary, problem, words = {}) {
  clearProblem(form, summary);
  const unplaced = [];
  for (const { field, message } of problem.errors || []) {
    const slot = form && form.querySelector(`[data-error-for="${fieldKey(field)}"]`);
    if (slot) {
      slot.textContent = plain(message);
      const input = form.querySelector(`[name="${fieldKey(field)}"]`);
      if (input) input.setAttribute("aria-invalid", "true");
    } else {
      unplaced.push(`${field}: ${plain(message)}`);
    }
  }
  const field = problem.body && problem.body.field;
  const slot = field && form && form.querySelector(`[data-error-for="${fieldKey(field)}"]`);
  if (slot) {
    slot.textContent = problem.detail;
    const input = form.querySelector(`[name="${fieldKey(field)}"]`);
    if (input) input.setAttribute("aria-invalid", "true");
  }
  let message = words[problem.status] || (problem.errors.length ? "Please check the fields marked below." : problem.detail);
  if (unplaced.length) message = `${message} ${unplaced.join("; ")}`;
  if (summary) show(summary, message);
  const first = form && form.querySelector('[aria-invalid="true"]');
  if (first) first.focus();
}

export function clearProblem(form, summary) {
  if (summary) show(summary, "");
  if (!form) return;
  for (const slot of form.querySelectorAll("[data-error-for]")) slot.textContent = "";
  for (const input of form.querySelectorAll('[aria-invalid="true"]')) input.removeAttribute("aria-invalid");
}

// Pydantic's messages, said a little more plainly.
function plain(message) {
  return String(message || "")
    .replace(/^Value error, /, "")
    .replace(/^String should have at least 1 character$/, "Please fill this in.")
    .replace(/^Field required$/, "Please fill this in.")
    .replace(/^value is not a valid email address: /, "This is not an e-mail address: ");
}

// Times arrive in the festival's zone with its offset: show them as written, not in the browser's zone.
export function clock(iso) {
  return String(iso).slice(11, 16);
}

export function dayOf(iso) {
  return String(iso).slice(0, 10);
}

export function dayLabel(day) {
  const [y, m, d] = day.split("-").map(Number);
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.toLocaleDateString("en-GB", { weekday: "long", day: "numeric", month: "long", timeZone: "UTC" });
}

export function when(iso) {
  if (!iso) return "";
  return `${dayLabel(dayOf(iso))} at ${clock(iso)}`;
}
