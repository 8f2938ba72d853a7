// /f/{slug}: the published programme by day, with track and room, in the festival's zone.

import { all, api } from "./api.js";
import { $, clock, dayLabel, dayOf, el, show } from "./ui.js";
import { recall } from "./tokens.js";

const slug = $("page").dataset.slug;
const base = `/api/v1/festivals/${encodeURIComponent(slug)}`;
let festival = null;

function feedLinks(label, query) {
  const path = `${base}/calendar.ics${query}`;
  const webcal = `webcal://${location.host}${path}`;
  return el("li", {},
    el("span", { class: "feed-label", text: label }),
    el("a", { class: "button", href: webcal, "aria-label": `Subscribe to ${label} in your calendar app`, text: "Subscribe" }),
    el("a", { class: "button", href: path, download: `${slug}${query ? "-" + label.replace(/\W+/g, "-").toLowerCase() : ""}.ics`, "aria-label": `Download ${label} as .ics`, text: "Download .ics" }));
}

const NOW_EVERY_MS = 60000;

// The live page: the stream (join_url, for sessions that have one) and the Q&A.
function liveLink(s) {
  if (s.status === "cancelled" || !(s.live_qa || s.join_url)) return null;
  const text = s.join_url && s.live_qa ? "Join live" : s.join_url ? "Join" : "Live Q&A";
  return el("a", { class: "button", href: `/live/${s.id}?festival=${encodeURIComponent(slug)}`, "aria-label": `${text}: ${s.title}`, text });
}

function sessionItem(s) {
  const cancelled = s.status === "cancelled";
  const live = liveLink(s);
  return el("li", { class: `session${cancelled ? " is-cancelled" : ""}`, "data-id": s.id, style: s.track && s.track.colour ? `--track:${s.track.colour}` : null },
    el("p", { class: "time" }, el("time", { datetime: s.starts_at, text: clock(s.starts_at) }), "–", el("time", { datetime: s.ends_at, text: clock(s.ends_at) })),
    el("div", {},
      el("h3", {}, s.title, cancelled ? el("span", { class: "badge badge-cancelled", text: "Cancelled" }) : null, el("span", { class: "badge badge-live", "data-live": "", hidden: true })),
      el("p", { class: "meta" },
        [s.format, s.track && s.track.name, s.room && `${s.room.name}${s.room.kind === "virtual" ? " (online)" : ""}`].filter(Boolean).join(" · ")),
      s.speakers && s.speakers.length ? el("p", { class: "speakers", text: s.speakers.map((p) => p.organisation ? `${p.name} (${p.organisation})` : p.name).join(", ") }) : null,
      s.abstract ? el("details", {}, el("summary", { text: "About this session" }), el("p", { text: s.abstract })) : null,
      live));
}

function draw(items) {
  const byDay = new Map();
  for (const s of items) {
    const day = dayOf(s.starts_at);
    if (!byDay.has(day)) byDay.set(day, []);
    byDay.get(day).push(s);
  }
  const sections = [...byDay.entries()].map(([day, list]) => el("section", { class: "day", "aria-label": dayLabel(day) },
    el("h2", { text: dayLabel(day) }),
    el("ol", { class: "sessions" }, list.map(sessionItem))));
  $("programme").replaceChildren(...sections);
  show($("status"), items.length ? "" : "Nothing in the programme for this choice yet.");
  markLive();
  markOccupancy();
}

// "Live now" on the sessions that are on (GET .../now), with how many are in the live room.
let onNow = [];
async function markLive(fetchNow = false) {
  if (fetchNow) {
    try { onNow = (await api(`${base}/now`)).now; } catch { return; }
  }
  const live = new Map(onNow.map((s) => [s.id, s]));
  for (const badge of document.querySelectorAll("[data-live]")) {
    const item = badge.closest("li.session");
    const s = live.get(item.dataset.id);
    item.classList.toggle("is-live", Boolean(s));
    badge.hidden = !s;
    badge.textContent = !s ? "" : s.presence ? `Live now · ${s.presence} here` : "Live now";
  }
}

// On-site sessions with seats: how full, read with "live now" (GET .../occupancy).
let full = [];
async function markOccupancy(fetchNow = false) {
  if (fetchNow) {
    try { full = await api(`${base}/occupancy`); } catch { return; }
  }
  const counts = new Map(full.map((o) => [o.session_id, o]));
  for (const item of document.querySelectorAll("li.session")) {
    const o = counts.get(item.dataset.id);
    let line = item.querySelector(".occupancy");
    if (!o) { if (line) line.remove(); continue; }
    if (!line) {
      line = el("p", { class: "meta occupancy" });
      item.querySelector("h3").after(line);
    }
    const waiting = o.waiting ? `, ${o.waiting} waiting` : "";
    line.textContent = `${o.reserved} / ${o.capacity} seats taken, ${o.checked_in} in${waiting}`;
  }
}

function fillSelect(select, values) {
  for (const [value, label] of values) select.append(el("option", { value, text: label }));
}

async function load() {
  const filters = new FormData($("filters"));
  const query = new URLSearchParams([...filters.entries()].filter(([, v]) => v));
  const path = query.toString() ? `${base}/programme?${query}` : `${base}/programme`;
  show($("status"), "Loading the programme…");
  try {
    draw(await all(path));
  } catch (problem) {
    show($("status"), "");
    show($("problem"), `The programme could not be loaded: ${problem.detail}`);
  }
}

async function main() {
  try {
    festival = await api(base);
  } catch (problem) {
    show($("status"), "");
    show($("problem"), problem.status === 404 ? "There is no published festival at this address." : problem.detail);
    return;
  }
  document.title = `${festival.name} · Festival`;
  $("festival-name").textContent = festival.name;
  $("festival-meta").textContent = `${dayLabel(festival.starts_on)} to ${dayLabel(festival.ends_on)} · ${festival.mode} · times in ${festival.timezone}`;
  $("festival-description").textContent = festival.description || "";
  const [tracks, rooms] = await Promise.all([all(`${base}/tracks`), all(`${base}/rooms`)]).catch(() => [[], []]);
  $("feeds").replaceChildren(feedLinks("Whole programme", ""), ...tracks.map((t) => feedLinks(t.name, `?track=${t.id}`)));
  const days = [];
  for (let d = new Date(`${festival.starts_on}T00:00:00Z`); d <= new Date(`${festival.ends_on}T00:00:00Z`); d.setUTCDate(d.getUTCDate() + 1)) {
    const iso = d.toISOString().slice(0, 10);
    days.push([iso, dayLabel(iso)]);
  }
  fillSelect($("filter-day"), days);
  fillSelect($("filter-track"), tracks.map((t) => [t.id, t.name]));
  fillSelect($("filter-room"), rooms.map((r) => [r.id, r.name]));
  $("filters").addEventListener("change", load);
  if (recall(`attendee:${slug}`)) document.querySelector('nav a[href$="/register"]')?.remove();
  await load();
  await Promise.all([markLive(true), markOccupancy(true)]);
  setInterval(() => { markLive(true); markOccupancy(true); }, NOW_EVERY_MS);
}

main();
