// /f/{slug}/register: the form; on success the tokens are kept and the ticket page opens
// (or, where the festival confirms addresses, the page says to look for the e-mail).

import { api, newKey } from "./api.js";
import { recall, remember } from "./tokens.js";
import { $, clearProblem, show, showProblem } from "./ui.js";

const slug = $("page").dataset.slug;
const form = $("register");
let key = null; // one Idempotency-Key per attempt, reused while the input is unchanged
let keyed = "";

if (recall(`attendee:${slug}`)) $("already").hidden = false;

let termsVersion = null; // the festival's terms, when it has some: agreed to with the registration
let asked = []; // the festival's own questions, in order

// One question of the festival's form, its error slot named as the server names it.
function questionField(q) {
  const box = document.createElement(q.kind === "text" ? "div" : "fieldset");
  box.className = "field";
  const id = `q-${q.id}`;
  const title = document.createElement(q.kind === "text" ? "label" : "legend");
  title.textContent = q.label;
  if (!q.required) {
    const optional = document.createElement("span");
    optional.className = "optional";
    optional.textContent = " (optional)";
    title.append(optional);
  }
  if (q.kind === "text") title.htmlFor = id;
  box.append(title);
  const describedBy = [`${id}-error`];
  if (q.help) {
    const help = document.createElement("p");
    help.className = "meta";
    help.id = `${id}-help`;
    help.textContent = q.help;
    box.append(help);
    describedBy.unshift(help.id);
  }
  const name = `answers.${q.id}`;
  if (q.kind === "text") {
    const input = document.createElement("input");
    Object.assign(input, { id, name, maxLength: 2000, required: q.required });
    input.setAttribute("aria-describedby", describedBy.join(" "));
    box.append(input);
  } else {
    const options = q.kind === "yes_no" ? [["yes", "Yes"], ["no", "No"]] : q.choices.map((c) => [c, c]);
    options.forEach(([value, text], n) => {
      const label = document.createElement("label");
      label.className = "check";
      const input = document.createElement("input");
      Object.assign(input, { type: q.kind === "choices" ? "checkbox" : "radio", name, value });
      if (n === 0) input.setAttribute("aria-describedby", describedBy.join(" "));
      label.append(input, ` ${text}`);
      box.append(label);
    });
  }
  const error = document.createElement("p");
  error.className = "field-error";
  error.id = `${id}-error`;
  error.dataset.errorFor = name;
  box.append(error);
  return box;
}

// The answers as the API takes them: by question id, only those given.
function answers() {
  const given = {};
  for (const q of asked) {
    const inputs = [...form.querySelectorAll(`[name="answers.${q.id}"]`)];
    if (q.kind === "text") {
      const text = inputs[0].value.trim();
      if (text) given[q.id] = text;
    } else if (q.kind === "choices") {
      const chosen = inputs.filter((i) => i.checked).map((i) => i.value);
      if (chosen.length) given[q.id] = chosen;
    } else {
      const chosen = inputs.find((i) => i.checked);
      if (chosen) given[q.id] = q.kind === "yes_no" ? chosen.value === "yes" : chosen.value;
    }
  }
  return given;
}

api(`/api/v1/festivals/${encodeURIComponent(slug)}/questions`).then(
  (questions) => {
    asked = questions;
    $("questions").replaceChildren(...questions.map(questionField));
  },
  () => {},
);

api(`/api/v1/festivals/${encodeURIComponent(slug)}`).then(
  (f) => {
    $("festival-name").textContent = f.name;
    document.title = `Register · ${f.name}`;
    if (f.mode === "hybrid") { // the others decide the participation themselves
      $("participation-box").disabled = false;
      $("participation-box").hidden = false;
    }
    if (f.terms) {
      termsVersion = f.terms_version;
      $("terms").textContent = f.terms;
      $("consent").hidden = false;
    }
  },
  () => {},
);

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearProblem(form, $("form-problem"));
  const body = {};
  for (const [name, value] of new FormData(form)) {
    if (name.startsWith("answers.")) continue; // gathered below, typed
    const text = String(value).trim();
    if (text || name === "name" || name === "email") body[name] = text;
  }
  if (asked.length) body.answers = answers();
  if (termsVersion) {
    if (!$("consent-terms").checked) {
      $("consent-terms-error").textContent = "Please agree to the festival's terms to register.";
      $("consent-terms").setAttribute("aria-invalid", "true");
      $("consent-terms").focus();
      return;
    }
    body.consent = { terms_version: termsVersion, photo: $("consent-photo").checked, contact: $("consent-contact").checked };
  }
  const fingerprint = JSON.stringify(body);
  if (fingerprint !== keyed) { key = newKey(); keyed = fingerprint; }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const reply = await api(`/api/v1/festivals/${encodeURIComponent(slug)}/registrations`, { method: "POST", body, idempotencyKey: key });
    if (reply.status === "pending") { // the festival confirms addresses: the link is in the e-mail
      form.hidden = true;
      $("check-email").textContent = reply.detail;
      $("check-email").hidden = false;
      $("check-email").focus();
      return;
    }
    remember(`attendee:${slug}`, reply.attendee_token);
    remember("attendee:last", reply.attendee_token);
    remember(`feed:${slug}`, reply.feed_token);
    window.location.assign(`/f/${encodeURIComponent(slug)}/ticket`);
  } catch (problem) {
    // Only "already registered" is about the e-mail; any other 409 (registration
    // closed, say) is shown as the server words it.
    const duplicate = problem.status === 409 && problem.body.code === "already_registered";
    if (duplicate && !problem.body.field) problem.body.field = "email";
    showProblem(form, $("form-problem"), problem, {
      ...(duplicate ? { 409: "Someone already registered with this e-mail address. Use the link from your confirmation e-mail to see that ticket." } : {}),
      404: "This festival does not exist or is not open for registration.",
      0: problem.detail,
    });
  } finally {
    button.disabled = false;
  }
});
