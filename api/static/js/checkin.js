// /checkin/{slug}: scan (camera where the browser has a barcode detector) or paste, then a big answer.

import { api, newKey } from "./api.js";
import { askForToken, forget, remember, takeFromUrl } from "./tokens.js";
import { $, clearProblem, show, showProblem } from "./ui.js";

const slug = $("page").dataset.slug;
const key = `checkin:${slug}`;
const form = $("scan");
let token = null;
let lastCheckin = null;
let busy = false;

const REASONS = {
  already_checked_in: "Already checked in",
  invalid: "Not a valid ticket",
  revoked: "Ticket cancelled or replaced",
  wrong_list: "Not on this list",
  wrong_festival: "Ticket for another festival",
};

for (const name of ["gate", "list"]) {
  const saved = localStorage.getItem(`festival.checkin.${slug}.${name}`);
  if (saved) form.elements[name].value = saved;
  form.elements[name].addEventListener("change", () => localStorage.setItem(`festival.checkin.${slug}.${name}`, form.elements[name].value));
}

function result(kind, title, name, reason) {
  const box = $("result");
  box.dataset.result = kind;
  $("result-title").textContent = title;
  $("result-name").textContent = name || "";
  $("result-reason").textContent = reason || "";
  box.focus();
}

// When, on this device's clock: the door is where the festival is.
function local(iso) {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return "";
  const time = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (at.toDateString() === new Date().toDateString()) return `today at ${time}`;
  return `${at.toLocaleDateString([], { weekday: "long", day: "numeric", month: "long" })} at ${time}`;
}

function reasonOf(body) {
  if (body.result === "already_checked_in") {
    return `First checked in ${local(body.checked_in_at)}${body.gate ? ` at gate ${body.gate}` : ""}.`;
  }
  return body.detail || "";
}

async function check(qr) {
  if (busy) return;
  busy = true;
  clearProblem(form, $("problem"));
  $("undo").hidden = true;
  const body = { qr, list: form.elements.list.value.trim() || "festival" };
  const gate = form.elements.gate.value.trim();
  if (gate) body.gate = gate;
  try {
    const reply = await api(`/api/v1/festivals/${encodeURIComponent(slug)}/checkins`, { method: "POST", token, body, idempotencyKey: newKey() });
    lastCheckin = reply.id;
    result("ok", "Welcome!", reply.attendee && reply.attendee.name, "Checked in.");
    $("undo").hidden = false;
    form.elements.qr.value = "";
  } catch (problem) {
    if (problem.body.result) {
      const b = problem.body;
      result("refused", REASONS[b.result] || b.title || "Refused", b.attendee && b.attendee.name, reasonOf(b));
      form.elements.qr.select();
    } else if (problem.status === 401 || problem.status === 403) {
      forget(key);
      result("none", "Not signed in", "", problem.detail);
      token = await askForToken("This device needs a check-in link or token from the organiser.");
      remember(key, token);
    } else {
      showProblem(form, $("problem"), problem, { 0: problem.detail });
    }
  } finally {
    busy = false;
    refreshOccupancy();
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const qr = form.elements.qr.value.trim();
  if (!qr) { $("qr-error").textContent = "Scan or paste a ticket code first."; form.elements.qr.focus(); return; }
  check(qr);
});

$("undo").addEventListener("click", async () => {
  if (!lastCheckin) return;
  try {
    await api(`/api/v1/festivals/${encodeURIComponent(slug)}/checkins/${lastCheckin}`, { method: "DELETE", token });
    result("none", "Check-in undone", "", "Scan the ticket again when needed.");
    $("undo").hidden = true;
    lastCheckin = null;
  } catch (problem) {
    show($("problem"), problem.detail);
  }
});

// The camera, only where the browser can read QR codes itself (no library is fetched).
async function camera() {
  if (!("BarcodeDetector" in window)) return;
  const formats = await window.BarcodeDetector.getSupportedFormats().catch(() => []);
  if (!formats.includes("qr_code") || !navigator.mediaDevices) return;
  $("camera-box").hidden = false;
  const video = $("camera");
  const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
  let stream = null;
  let seen = { value: "", at: 0 };
  async function tick() {
    if (!stream) return;
    try {
      const codes = await detector.detect(video);
      const value = codes.length ? codes[0].rawValue : "";
      const now = Date.now();
      if (value && (value !== seen.value || now - seen.at > 4000)) {
        seen = { value, at: now };
        form.elements.qr.value = value;
        await check(value);
      }
    } catch { /* a frame that could not be read */ }
    setTimeout(tick, 250);
  }
  $("camera-toggle").addEventListener("click", async () => {
    if (stream) {
      for (const track of stream.getTracks()) track.stop();
      stream = null;
      video.hidden = true;
      $("camera-toggle").textContent = "Start camera";
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    } catch (err) {
      show($("problem"), "The camera could not be started. Paste or type the ticket code instead.");
      return;
    }
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    $("camera-toggle").textContent = "Stop camera";
    tick();
  });
}

// Live occupancy of the list this door scans for (checked in of capacity, and who
// waits for a seat), read from the check-in stats every 15 seconds and after each scan.
const occupancy = document.createElement("p");
occupancy.id = "occupancy";
occupancy.className = "meta";
occupancy.setAttribute("aria-live", "polite");
$("result").after(occupancy);

async function refreshOccupancy() {
  if (!token) return;
  const list = form.elements.list.value.trim() || "festival";
  try {
    const stats = await api(`/api/v1/festivals/${encodeURIComponent(slug)}/checkins/stats`, { token });
    const door = (stats.lists || []).find((item) => item.list === list);
    if (!door) { occupancy.textContent = ""; return; }
    const of = door.capacity === null || door.capacity === undefined ? door.expected : door.capacity;
    let text = `${door.title}: ${door.checked_in} / ${of} checked in`;
    if (door.capacity !== null && door.capacity !== undefined) text += `, ${door.waiting} waiting`;
    occupancy.textContent = text;
  } catch { /* the next poll tries again */ }
}

async function main() {
  token = takeFromUrl(key);
  if (!token) {
    token = await askForToken("This device needs a check-in link or token from the organiser.");
    remember(key, token);
  }
  camera();
  form.elements.qr.focus();
  refreshOccupancy();
  setInterval(refreshOccupancy, 15000);
  form.elements.list.addEventListener("change", refreshOccupancy);
}

main();
