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

api(`/api/v1/festivals/${encodeURIComponent(slug)}`).then(
  (f) => {
    $("festival-name").textContent = f.name;
    document.title = `Register · ${f.name}`;
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
    const text = String(value).trim();
    if (text || name === "name" || name === "email") body[name] = text;
  }
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
