// /f/{slug}/ticket, "Your data": download everything the festival holds about me,
// erase it, and answer the festival's terms when they are new or changed.

import { api, download } from "./api.js";
import { forget, recall } from "./tokens.js";
import { $, show } from "./ui.js";

const slug = $("page").dataset.slug;

function token() {
  return recall(`attendee:${slug}`);
}

async function drawConsent() {
  const consent = await api("/api/v1/me/consent", { token: token() });
  const asking = consent.asks_again && Boolean(consent.terms);
  $("consent-box").hidden = !asking;
  if (!asking) return;
  $("consent-terms").textContent = consent.terms;
  $("consent-changed").hidden = !consent.agreed_terms_version;
  $("consent-photo").checked = Boolean(consent.photo);
  $("consent-contact").checked = Boolean(consent.contact);
  $("consent-form").dataset.version = consent.terms_version || "";
}

$("consent-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = {
    terms_version: event.target.dataset.version || null,
    photo: $("consent-photo").checked,
    contact: $("consent-contact").checked,
  };
  try {
    await api("/api/v1/me/consent", { method: "PUT", body, token: token() });
    $("consent-box").hidden = true;
    show($("data-status"), "Thank you: your answer is recorded.");
  } catch (problem) {
    show($("consent-problem"), problem.detail);
    if (problem.status === 422) await drawConsent();
  }
});

$("export-data").addEventListener("click", async () => {
  try {
    await download("/api/v1/me/export", token(), `${slug}-my-data.json`);
    show($("data-status"), "Your data was downloaded as a JSON file.");
  } catch (problem) {
    show($("data-status"), problem.detail);
  }
});

$("erase-data").addEventListener("click", async () => {
  if (!window.confirm("Erase your name, address, ticket and everything else the festival holds about you? This cannot be undone.")) return;
  try {
    await api("/api/v1/me", { method: "DELETE", token: token() });
  } catch (problem) {
    show($("data-status"), problem.detail);
    return;
  }
  for (const key of [`attendee:${slug}`, `feed:${slug}`, "attendee:last"]) forget(key);
  for (const id of ["ticket", "agenda", "sessions-box", "settings-box", "cancel-box", "consent-box", "data-box"]) {
    const node = $(id);
    if (node) node.hidden = true;
  }
  show($("problem"), "");
  $("erased").hidden = false;
});

async function main() {
  if (!token()) return;
  try {
    await api("/api/v1/me", { token: token() });
  } catch {
    return; // the ticket's own script says what is wrong
  }
  $("data-box").hidden = false;
  try {
    await drawConsent();
  } catch (problem) {
    show($("consent-problem"), problem.detail);
  }
}

main();
