// /organise/{slug}: an organiser signs in and does what their role in the festival's
// team allows (the API decides: a refused action says so, nothing is hidden by guess).

import { all, api, download } from "./api.js";
import { forget, recall, remember } from "./tokens.js";
import { $, el, show, showProblem } from "./ui.js";

const slug = $("page").dataset.slug;
const base = `/api/v1/festivals/${encodeURIComponent(slug)}`;
let token = recall("organiser");
let festival = null;

// The UTC instant of a wall-clock time (datetime-local) in the festival's time zone.
function inZone(local, zone) {
  const guess = new Date(`${local}:00Z`);
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-GB", {
      timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    }).formatToParts(guess).map((p) => [p.type, p.value]),
  );
  const shown = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
  return new Date(guess.getTime() - (shown - guess.getTime())).toISOString();
}

function when(iso) {
  return new Intl.DateTimeFormat("en-GB", { timeZone: festival.timezone, dateStyle: "medium", timeStyle: "short" }).format(new Date(iso));
}

async function drawTeam() {
  try {
    const members = (await api(`${base}/members`, { token })).items;
    $("team").replaceChildren(...members.map((m) => el("li", {}, `${m.name ? `${m.name} (${m.email})` : m.email}: ${m.role}${m.status === "invited" ? ", invited" : ""}`)));
    $("team-box").hidden = false;
  } catch (problem) {
    $("team-box").hidden = true; // owners only
  }
}

async function drawSessions() {
  const sessions = await all(`${base}/sessions`, { token });
  $("sessions").replaceChildren(...sessions.map((s) => el("li", {}, `${when(s.starts_at)}: ${s.title}`)));
}

$("invite").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  show($("invite-status"), "");
  try {
    const body = { email: form.email.value.trim(), role: form.role.value };
    await api(`${base}/members`, { method: "POST", body, token });
    show($("invite-status"), `Invitation sent to ${body.email}.`);
    form.email.value = "";
    await drawTeam();
  } catch (problem) {
    showProblem(form, $("invite-problem"), problem);
  }
});

$("add-session").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  show($("session-status"), "");
  show($("session-problem"), "");
  if (!form.starts_at.value || !form.ends_at.value) {
    show($("session-problem"), "Give the session a start and an end.");
    return;
  }
  const body = {
    title: form.title.value.trim(),
    starts_at: inZone(form.starts_at.value, festival.timezone),
    ends_at: inZone(form.ends_at.value, festival.timezone),
  };
  try {
    await api(`${base}/sessions`, { method: "POST", body, token });
    show($("session-status"), `Added “${body.title}”.`);
    form.reset();
    await drawSessions();
  } catch (problem) {
    showProblem(form, $("session-problem"), problem, { 403: "Your role in this team does not include the programme." });
  }
});

$("attendees-csv").addEventListener("click", async () => {
  try {
    await download(`${base}/attendees.csv`, token, `${slug}-attendees.csv`);
    show($("attendees-status"), "Downloaded.");
  } catch (problem) {
    show($("attendees-status"), problem.status === 403
      ? "Your role in this team does not include the attendees."
      : problem.detail);
  }
});

$("sign-out").addEventListener("click", () => {
  forget("organiser");
  window.location.reload();
});

$("forgot").addEventListener("click", async () => {
  const email = $("email").value.trim();
  if (!email) { show($("forgot-status"), "Write your e-mail first, then ask again."); return; }
  try {
    const reply = await api("/api/v1/auth/password-reset", { method: "POST", body: { email } });
    show($("forgot-status"), reply.detail);
  } catch (problem) {
    show($("forgot-status"), problem.detail);
  }
});

$("sign-in").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  try {
    const reply = await api("/api/v1/auth/token", {
      method: "POST", body: { email: form.email.value.trim(), password: form.password.value },
    });
    remember("organiser", reply.access_token);
    token = reply.access_token;
    form.hidden = true;
    await open();
  } catch (problem) {
    show($("problem"), problem.status === 401 ? "E-mail or password is wrong." : problem.detail);
  }
});

async function open() {
  show($("problem"), "");
  festival = await api(base, { token });
  $("festival-name").textContent = festival.name;
  $("signed-in").textContent = "Signed in. What you may do here depends on your role in the team.";
  $("desk").hidden = false;
  await Promise.all([drawTeam(), drawSessions()]);
}

async function main() {
  if (!token) { $("sign-in").hidden = false; return; }
  try {
    await open();
  } catch (problem) {
    if (problem.status === 401 || problem.status === 404) {
      forget("organiser");
      $("sign-in").hidden = false;
    }
    show($("problem"), problem.status === 401 ? "Please sign in again." : problem.detail);
  }
}

main();
