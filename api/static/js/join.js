// /join#code=…: the link from a team invitation. The code sits in the fragment, which
// the browser never sends to a server; it is posted with the password chosen, and the
// organiser token that comes back opens the festival's organiser page.

import { api } from "./api.js";
import { remember } from "./tokens.js";
import { $, show, showProblem } from "./ui.js";

const code = new URLSearchParams(window.location.hash.slice(1)).get("code") || "";
history.replaceState(history.state, "", window.location.pathname);

if (!code) {
  $("join").hidden = true;
  show($("problem"), "This page needs the link from your invitation e-mail. Open that link again, whole.");
}

$("join").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const body = { code, password: form.password.value };
  if (form.name.value.trim()) body.name = form.name.value.trim();
  try {
    const reply = await api("/api/v1/invitations/accept", { method: "POST", body });
    remember("organiser", reply.access_token);
    window.location.replace(`/organise/${encodeURIComponent(reply.festival)}`);
  } catch (problem) {
    if (problem.status === 410) {
      form.hidden = true;
      show($("problem"), "This invitation was used already or has expired. Ask the festival's owner for a new one.");
    } else {
      showProblem(form, $("problem"), problem, { 401: "This address has an account: give its password." });
    }
  }
});
