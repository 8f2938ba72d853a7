// /live/{session_id}: ask, upvote, sort, see the highlighted question, answer polls.

import { LiveSocket, showConnection } from "./socket.js";
import { api } from "./api.js";
import { askForToken, forget, recall, remember, takeFromUrl } from "./tokens.js";
import { $, el, show } from "./ui.js";
import { drawResults } from "./results.js";
import { showStage } from "./stage.js";

const page = $("page");
const sessionId = page.dataset.session;
const questions = new Map();
const polls = new Map(); // id -> {poll, card, results}
const votedKey = `festival.voted.${sessionId}`;
const voted = new Set(JSON.parse(localStorage.getItem(votedKey) || "[]"));
let sort = "votes";
let preModeration = true;
let socket = null;

function announce(text) {
  $("announcer").textContent = text;
}

function visible(q) {
  return q.status !== "dismissed";
}

function ordered() {
  const list = [...questions.values()].filter(visible);
  if (sort === "votes") list.sort((a, b) => b.votes - a.votes || a.created_at.localeCompare(b.created_at));
  else list.sort((a, b) => b.created_at.localeCompare(a.created_at));
  return list;
}

function questionItem(q) {
  const mine = voted.has(q.id);
  return el("li", { class: `question${q.highlighted ? " is-highlighted" : ""}`, "data-id": q.id, "data-status": q.status },
    el("p", { class: "question-text", text: q.text }),
    el("p", { class: "meta" },
      q.anonymous ? "Anonymous" : q.author || "",
      q.status === "answered" ? el("span", { class: "badge", text: "Answered" }) : null,
      q.status === "pending" ? el("span", { class: "badge", text: "Waiting for approval" }) : null),
    el("button", {
      type: "button", class: "vote", "aria-pressed": mine ? "true" : "false",
      "aria-label": `${mine ? "Take back your vote" : "Upvote"}: ${q.votes} ${q.votes === 1 ? "vote" : "votes"}`,
      "data-votes": String(q.votes),
      onclick: () => vote(q.id),
    }, el("span", { "aria-hidden": "true", text: "▲ " }), String(q.votes)));
}

function drawQuestions() {
  const list = $("questions");
  const focused = document.activeElement && document.activeElement.closest("li.question");
  const focusId = focused && focused.dataset.id;
  list.replaceChildren(...ordered().map(questionItem));
  if (focusId) {
    const again = list.querySelector(`li[data-id="${focusId}"] button`);
    if (again) again.focus();
  }
  $("no-questions").hidden = list.children.length > 0;
  const top = [...questions.values()].find((q) => q.highlighted && visible(q));
  $("highlight").hidden = !top;
  if (top) {
    $("highlight-text").textContent = top.text;
    $("highlight-author").textContent = top.anonymous ? "Anonymous" : top.author || "";
  }
}

async function vote(id) {
  const up = !voted.has(id);
  try {
    const reply = await socket.send("question.vote", { question_id: id, up });
    if (reply.up) voted.add(id); else voted.delete(id);
    localStorage.setItem(votedKey, JSON.stringify([...voted]));
    const q = questions.get(id);
    if (q && typeof reply.votes === "number") q.votes = reply.votes;
    drawQuestions();
  } catch (err) {
    show($("problem"), err.message);
  }
}

// --- polls: a card per poll, made once, so a ballot being filled in is never redrawn.

function ballotInputs(poll) {
  const name = `poll-${poll.id}`;
  if (poll.kind === "single" || poll.kind === "multiple") {
    const type = poll.kind === "single" ? "radio" : "checkbox";
    return el("fieldset", {},
      el("legend", { text: poll.kind === "single" ? "Pick one" : `Pick ${poll.max_choices ? `up to ${poll.max_choices}` : "any"}` }),
      poll.options.map((o) => el("label", { class: "check" }, el("input", { type, name, value: o.id }), ` ${o.text}`)));
  }
  if (poll.kind === "rating") {
    const scale = poll.scale || 5;
    return el("fieldset", { class: "rating" },
      el("legend", { text: `Your rating, 1 to ${scale}` }),
      Array.from({ length: scale }, (_, i) => el("label", { class: "check" }, el("input", { type: "radio", name, value: String(i + 1) }), ` ${i + 1}`)));
  }
  const id = `${name}-text`;
  return el("div", { class: "field" }, el("label", { for: id, text: "Your answer" }), el("input", { id, name, maxlength: "500" }));
}

function ballot(form, poll) {
  const name = `poll-${poll.id}`;
  if (poll.kind === "text") return { poll_id: poll.id, text: form.elements[name].value };
  const picked = [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);
  if (poll.kind === "rating") return { poll_id: poll.id, rating: Number(picked[0]) };
  return { poll_id: poll.id, option_ids: picked };
}

function pollCard(poll) {
  const status = el("p", { class: "meta", role: "status" });
  const form = el("form", { class: "stack ballot" }, ballotInputs(poll),
    el("button", { type: "submit", class: "primary", text: "Send answer" }), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const entry = polls.get(poll.id);
    try {
      await socket.send("poll.vote", ballot(form, entry.poll));
      status.textContent = "Your answer was counted. You can change it while the poll is open.";
    } catch (err) {
      status.textContent = err.message;
    }
  });
  const results = el("div", { class: "results", "aria-live": "polite" });
  const card = el("article", { class: "poll card", "data-poll": poll.id },
    el("h3", { text: poll.question }), el("p", { class: "badge poll-status" }), form, results);
  return { poll, card, form, results, shown: null };
}

function drawPoll(entry) {
  const { poll, card, form } = entry;
  card.dataset.status = poll.status;
  card.querySelector(".poll-status").textContent = poll.status === "open" ? "Open" : "Closed";
  for (const input of form.elements) input.disabled = poll.status !== "open";
  drawResults(entry.results, poll, entry.shown);
}

function upsertPoll(poll) {
  if (poll.status === "draft") return;
  let entry = polls.get(poll.id);
  if (!entry) {
    entry = pollCard(poll);
    polls.set(poll.id, entry);
    $("polls").prepend(entry.card);
  }
  entry.poll = { ...entry.poll, ...poll };
  if (poll.results) entry.shown = poll.results;
  drawPoll(entry);
  $("polls-box").hidden = polls.size === 0;
}

// --- events

function onSnapshot(data) {
  preModeration = data.pre_moderation;
  questions.clear();
  for (const q of data.questions || []) questions.set(q.id, q);
  const seen = new Set();
  for (const poll of data.polls || []) { upsertPoll(poll); seen.add(poll.id); }
  for (const [id, entry] of polls) if (!seen.has(id)) { entry.card.remove(); polls.delete(id); }
  $("polls-box").hidden = polls.size === 0;
  drawQuestions();
}

function onEvent(type, data) {
  if (type === "question.added" || type === "question.updated") {
    const known = questions.has(data.id);
    questions.set(data.id, { ...questions.get(data.id), ...data });
    if (!known && visible(data)) announce(`New question: ${data.text}`);
    if (data.highlighted) announce(`Now answering: ${data.text}`);
    drawQuestions();
  } else if (type === "question.votes") {
    for (const [id, n] of Object.entries(data.counts || {})) {
      const q = questions.get(id);
      if (q) q.votes = n;
    }
    drawQuestions();
  } else if (type === "poll.opened" || type === "poll.closed") {
    upsertPoll(data);
    announce(type === "poll.opened" ? `A poll opened: ${data.question}` : `The poll closed: ${data.question}`);
  } else if (type === "poll.results") {
    const entry = polls.get(data.poll_id);
    if (entry) { entry.shown = data; drawPoll(entry); }
  } else if (type === "session.settings") {
    preModeration = data.pre_moderation;
  } else if (type === "notice") { // news for this attendee only (a seat came free for them)
    $("notice").textContent = data.text;
    $("notice").hidden = false;
    announce(data.text);
  }
}

// --- asking: the text stays in the box (and survives a reload) until the server has it.

const draftKey = `festival.draft.${sessionId}`;
$("question-text").value = sessionStorage.getItem(draftKey) || "";
$("question-text").addEventListener("input", (event) => sessionStorage.setItem(draftKey, event.target.value));

$("ask").addEventListener("submit", async (event) => {
  event.preventDefault();
  const box = $("question-text");
  const text = box.value.trim();
  const slot = $("question-text-error");
  if (!text) { slot.textContent = "Please write your question first."; box.focus(); return; }
  slot.textContent = "";
  try {
    const reply = await socket.send("question.ask", { text, anonymous: $("anonymous").checked });
    box.value = "";
    sessionStorage.removeItem(draftKey);
    const q = reply.question;
    if (q) { questions.set(q.id, { ...questions.get(q.id), ...q }); drawQuestions(); }
    $("ask-status").textContent = q && q.status === "pending"
      ? "Thanks! Your question will appear once a moderator approves it."
      : "Thanks! Your question was sent.";
  } catch (err) {
    slot.textContent = err.message;
  }
});

for (const radio of document.querySelectorAll('input[name="sort"]')) {
  radio.addEventListener("change", () => { sort = radio.value; drawQuestions(); });
}

// The festival this session belongs to, when the link said so (from the programme or ticket page).
function festivalSlug() {
  const given = new URLSearchParams(location.search).get("festival");
  if (given) remember(`festival-of:${sessionId}`, given);
  return given || recall(`festival-of:${sessionId}`);
}

function tokenForPage() {
  const key = `live:${sessionId}`;
  const given = takeFromUrl(key);
  if (given) return given;
  const slug = festivalSlug();
  return (slug && recall(`attendee:${slug}`)) || recall("attendee:last");
}

// The session's title (for the heading and the player's name), when the festival is known.
async function title() {
  const slug = festivalSlug();
  if (!slug) return "the session";
  try {
    const s = await api(`/api/v1/festivals/${encodeURIComponent(slug)}/sessions/${sessionId}`);
    document.querySelector("h1").textContent = `Live Q&A: ${s.title}`;
    document.title = `${s.title} · Live Q&A`;
    return s.title;
  } catch {
    return "the session"; // the generic heading stays
  }
}

// A session without live Q&A still has its stream: the page shows that alone.
function withoutQa() {
  for (const part of document.querySelectorAll("[data-qa], #polls-box, #highlight")) part.hidden = true;
  $("no-qa").hidden = false;
  $("connection").hidden = true;
}

const named = title();

async function start() {
  let token = tokenForPage();
  if (!token) token = await askForToken("To take part, open the link from your registration, or paste your access link or token here.");
  remember(`live:${sessionId}`, token);
  named.then((name) => showStage(sessionId, token, name));
  socket = new LiveSocket({
    sessionId, token, onSnapshot, onEvent,
    onState: async (name, text, problem) => {
      showConnection(name, text);
      if (name !== "denied") { show($("problem"), ""); return; }
      if (problem && problem.body.code === "live_qa_off") { withoutQa(); return; }
      show($("problem"), `You cannot join this session: ${text}`);
      forget(`live:${sessionId}`);
      const next = await askForToken("Paste another access link or token.");
      remember(`live:${sessionId}`, next);
      named.then((title) => showStage(sessionId, next, title));
      socket.token = next;
      socket.start();
    },
  });
  window.festivalSocket = socket;
  socket.start();
}

start();
