// /f/{slug}/ticket: QR code, status, agenda link, seats, favourites, cancel.

import { all, api } from "./api.js";
import { forget, recall, remember, takeFromUrl } from "./tokens.js";
import { $, clock, dayLabel, dayOf, el, show } from "./ui.js";

const slug = $("page").dataset.slug;
const base = `/api/v1/festivals/${encodeURIComponent(slug)}`;
let token = null;
let me = null;

function statusText(m) {
  if (m.status === "confirmed") return "Confirmed: you have a place";
  if (m.status === "waitlisted") return m.waitlist_position ? `On the waiting list, position ${m.waitlist_position}` : "On the waiting list";
  if (m.status === "cancelled") return "Cancelled";
  return m.status;
}

async function drawQr() {
  if (!me.ticket || me.status === "cancelled") { $("qr-figure").hidden = true; $("payload-box").hidden = true; return; }
  try {
    const response = await api("/api/v1/me/ticket.svg", { token, raw: true });
    const blob = await response.blob();
    $("qr").src = URL.createObjectURL(blob);
    $("qr-figure").hidden = false;
    $("payload").textContent = me.ticket.qr;
    $("payload-box").hidden = false;
  } catch (problem) {
    show($("problem"), `Your QR code could not be loaded: ${problem.detail}`);
  }
}

function drawAgenda() {
  const feed = recall(`feed:${slug}`);
  $("agenda").hidden = me.status === "cancelled";
  $("new-feed").hidden = Boolean(feed);
  $("agenda-url").closest(".copy-row").hidden = !feed;
  if (!feed) { $("copy-status").textContent = "This device does not hold your agenda link. Make a new one (the old one stops working)."; return; }
  const url = `${location.origin}/api/v1/me/agenda.ics?token=${encodeURIComponent(feed)}`;
  $("agenda-url").value = url;
  $("subscribe-agenda").href = url.replace(/^https?:/, "webcal:");
}

$("copy-agenda").addEventListener("click", async () => {
  const input = $("agenda-url");
  try {
    await navigator.clipboard.writeText(input.value);
    $("copy-status").textContent = "Link copied.";
  } catch {
    input.select();
    $("copy-status").textContent = "Select the link and copy it (Ctrl+C or long press).";
  }
});

$("new-feed").addEventListener("click", async () => {
  try {
    const reply = await api("/api/v1/me/feed-token", { method: "POST", token });
    remember(`feed:${slug}`, reply.feed_token);
    drawAgenda();
    $("copy-status").textContent = "New agenda link made.";
  } catch (problem) {
    $("copy-status").textContent = problem.detail;
  }
});

function seatOf(id) {
  return me.seats.find((s) => s.session_id === id);
}

async function toggle(button, method, path, done) {
  button.disabled = true;
  try {
    const reply = await api(path, { method, token });
    done(reply);
    $("sessions-status").textContent = "";
  } catch (problem) {
    $("sessions-status").textContent = problem.detail;
  } finally {
    button.disabled = false;
  }
}

function sessionItem(s) {
  const seat = seatOf(s.id);
  const favourite = me.favourites.includes(s.id);
  const li = el("li", { class: "session", "data-id": s.id });
  const seatText = seat ? (seat.status === "confirmed" ? "Seat reserved" : `Waiting for a seat${seat.waitlist_position ? `, position ${seat.waitlist_position}` : ""}`) : "";
  const fav = el("button", { type: "button", "aria-pressed": favourite ? "true" : "false", "data-do": "favourite", text: favourite ? "★ Favourite" : "☆ Favourite", "aria-label": `Favourite: ${s.title}` });
  fav.addEventListener("click", () => toggle(fav, favourite ? "DELETE" : "PUT", `/api/v1/me/favourites/${s.id}`, () => {
    me.favourites = favourite ? me.favourites.filter((f) => f !== s.id) : [...me.favourites, s.id];
    redraw(li, s);
  }));
  const actions = [fav];
  if (s.capacity && s.status !== "cancelled") {
    const reserve = el("button", { type: "button", "data-do": "seat", text: seat ? "Release seat" : "Reserve seat", "aria-label": `${seat ? "Release seat" : "Reserve seat"}: ${s.title}` });
    reserve.addEventListener("click", () => toggle(reserve, seat ? "DELETE" : "PUT", `/api/v1/me/seats/${s.id}`, (reply) => {
      me.seats = me.seats.filter((x) => x.session_id !== s.id);
      if (reply) me.seats.push(reply);
      redraw(li, s);
    }));
    actions.push(reserve);
  }
  if (s.live_qa && s.status !== "cancelled") {
    actions.push(el("a", { class: "button", href: `/live/${s.id}?festival=${encodeURIComponent(slug)}`, text: "Live Q&A", "aria-label": `Live Q&A: ${s.title}` }));
  }
  li.append(
    el("p", { class: "time", text: `${dayLabel(dayOf(s.starts_at))}, ${clock(s.starts_at)}–${clock(s.ends_at)}` }),
    el("div", {}, el("h3", { text: s.title }), el("p", { class: "meta", text: [s.format, s.room && s.room.name, s.capacity ? `${s.capacity} seats` : null].filter(Boolean).join(" · ") }),
      seatText ? el("p", { class: "badge", text: seatText }) : null,
      el("div", { class: "actions" }, actions)));
  return li;
}

function redraw(li, s) {
  const focus = document.activeElement && li.contains(document.activeElement) ? document.activeElement.dataset.do : null;
  const fresh = sessionItem(s);
  li.replaceWith(fresh);
  if (focus) fresh.querySelector(`[data-do="${focus}"]`)?.focus();
}

async function drawSessions() {
  if (me.status === "cancelled") { $("sessions-box").hidden = true; return; }
  try {
    const items = await all(`${base}/programme`);
    $("sessions").replaceChildren(...items.filter((s) => s.format !== "break").map(sessionItem));
    $("sessions-box").hidden = items.length === 0;
  } catch (problem) {
    $("sessions-status").textContent = `The programme could not be loaded: ${problem.detail}`;
    $("sessions-box").hidden = false;
  }
}

$("cancel").addEventListener("click", async () => {
  if (!window.confirm("Cancel your registration? Your place goes to the next person on the waiting list.")) return;
  try {
    await api("/api/v1/me/registration", { method: "DELETE", token });
    // The tokens died with the registration: show what is now true, ask the server nothing.
    forget(`attendee:${slug}`);
    forget(`feed:${slug}`);
    me = { ...me, status: "cancelled", ticket: null };
    $("ticket-status").textContent = statusText(me);
    $("ticket-status").dataset.status = me.status;
    $("cancel-box").hidden = true;
    $("sessions-box").hidden = true;
    $("settings-box").hidden = true;
    await drawQr();
    drawAgenda();
  } catch (problem) {
    show($("problem"), problem.detail);
  }
});

// On site or online, and what the attendee answered the festival's questions.
function drawAnswers() {
  const line = $("participation");
  line.hidden = me.status === "cancelled";
  line.textContent = me.participation === "online"
    ? "Online: join the sessions from their live pages. This ticket does not admit on site."
    : "On site: show this code at the door.";
  const list = $("answers");
  list.replaceChildren();
  for (const answer of me.answers || []) {
    const term = document.createElement("dt");
    term.textContent = answer.label;
    const value = document.createElement("dd");
    const v = answer.value;
    value.textContent = v === true ? "Yes" : v === false ? "No" : Array.isArray(v) ? v.join(", ") : v;
    list.append(term, value);
  }
  $("answers-box").hidden = !(me.answers || []).length;
}

// Reminders on or off, and the devices signed in to this registration.
async function drawSettings() {
  $("settings-box").hidden = me.status === "cancelled";
  $("reminders").checked = me.reminders !== false;
  const list = $("devices");
  list.replaceChildren();
  for (const device of await api("/api/v1/me/devices", { token })) {
    const item = document.createElement("li");
    const when = new Date(device.created_at).toLocaleDateString();
    item.append(`${device.label} (since ${when})${device.current ? ", this one" : ""} `);
    if (!device.current) {
      const out = document.createElement("button");
      out.type = "button";
      out.textContent = "Sign out";
      out.setAttribute("aria-label", `Sign out ${device.label}`);
      out.addEventListener("click", async () => {
        try {
          await api(`/api/v1/me/devices/${device.id}`, { method: "DELETE", token });
          await drawSettings();
        } catch (problem) { show($("problem"), problem.detail); }
      });
      item.append(out);
    }
    list.append(item);
  }
}

$("reminders").addEventListener("change", async (event) => {
  const on = event.target.checked;
  try {
    me = await api("/api/v1/me", { method: "PATCH", body: { reminders: on }, token });
    $("reminders-status").textContent = on ? "Reminders are on." : "Reminders are off.";
  } catch (problem) {
    event.target.checked = !on;
    show($("problem"), problem.detail);
  }
});

async function load() {
  me = await api("/api/v1/me", { token });
  $("ticket").hidden = false;
  $("attendee-name").textContent = me.name;
  $("ticket-status").textContent = statusText(me);
  $("ticket-status").dataset.status = me.status;
  $("cancel-box").hidden = me.status === "cancelled";
  await drawQr();
  drawAgenda();
  drawAnswers();
  await drawSessions();
  await drawSettings();
}

async function main() {
  token = takeFromUrl(`attendee:${slug}`);
  if (!token) { $("no-token").hidden = false; return; }
  remember("attendee:last", token);
  try {
    await load();
  } catch (problem) {
    if (problem.status === 401 || problem.status === 403) {
      forget(`attendee:${slug}`);
      $("no-token").hidden = false;
    }
    show($("problem"), problem.status === 401 ? "This ticket link is no longer valid." : problem.detail);
  }
}

main();
