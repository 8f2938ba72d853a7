// /moderate/{session_id}: the queue, polls with live results, CSV downloads, the projector link.

import { LiveSocket, showConnection } from "./socket.js";
import { api, download, newKey } from "./api.js";
import { askForToken, forget, remember, takeFromUrl } from "./tokens.js";
import { $, clearProblem, el, show, showProblem } from "./ui.js";
import { drawResults } from "./results.js";

const page = $("page");
const sessionId = page.dataset.session;
const questions = new Map();
const cards = new Map(); // question id -> li, kept so an edit in progress survives updates
const polls = new Map(); // poll id -> {poll, card, results, shown}
let filter = "pending";
let socket = null;
let token = null;

const ACTIONS = {
  approve: "Approve",
  dismiss: "Dismiss",
  highlight: "Highlight",
  unhighlight: "Stop highlighting",
  answer: "Mark answered",
  reopen: "Reopen",
};

function actionsFor(q) {
  const out = [];
  if (q.status === "pending") out.push("approve");
  if (q.status !== "dismissed") out.push("dismiss");
  if (q.status !== "dismissed") out.push(q.highlighted ? "unhighlight" : "highlight");
  if (q.status === "approved") out.push("answer");
  if (q.status === "answered" || q.status === "dismissed") out.push("reopen");
  return out;
}

async function moderate(q, action, text) {
  try {
    const data = { question_id: q.id, action };
    if (text !== undefined) data.text = text;
    const reply = await socket.send("question.moderate", data);
    if (reply.question) apply(reply.question);
    show($("problem"), "");
    return true;
  } catch (err) {
    show($("problem"), err.message);
    return false;
  }
}

function editForm(q, li) {
  const id = `edit-${q.id}`;
  const area = el("textarea", { id, name: "text", rows: "3", maxlength: "2000" });
  area.value = q.text;
  const form = el("form", { class: "stack edit" },
    el("label", { for: id, text: "Edit the question" }), area,
    el("div", { class: "row" },
      el("button", { type: "submit", class: "primary", text: "Save" }),
      el("button", { type: "button", text: "Cancel", onclick: () => { li.dataset.editing = ""; form.remove(); } })));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (await moderate(q, "edit", area.value.trim())) { li.dataset.editing = ""; form.remove(); draw(questions.get(q.id)); }
  });
  return form;
}

function fill(li, q) {
  const editor = li.querySelector("form.edit");
  const body = el("div", { class: "question-body" },
    el("p", { class: "question-text", text: q.text }),
    el("p", { class: "meta" },
      `${q.anonymous ? "Anonymous" : q.author || "?"} · ${q.votes} ${q.votes === 1 ? "vote" : "votes"} `,
      el("span", { class: `badge status-${q.status}`, text: q.status }),
      q.highlighted ? el("span", { class: "badge badge-highlight", text: "highlighted" }) : null),
    el("div", { class: "actions" },
      actionsFor(q).map((action) => el("button", {
        type: "button", "data-action": action, text: ACTIONS[action],
        "aria-label": `${ACTIONS[action]}: ${q.text.slice(0, 60)}`,
        onclick: () => moderate(q, action),
      })),
      el("button", { type: "button", "data-action": "edit", text: "Edit", onclick: () => {
        if (li.dataset.editing) return;
        li.dataset.editing = "1";
        const form = editForm(q, li);
        li.append(form);
        form.querySelector("textarea").focus();
      } })));
  const focusAction = document.activeElement && li.contains(document.activeElement) && document.activeElement.dataset.action;
  li.replaceChildren(body);
  if (editor) li.append(editor);
  li.dataset.status = q.status;
  li.classList.toggle("is-highlighted", q.highlighted);
  if (focusAction) {
    const again = li.querySelector(`[data-action="${focusAction}"]`) || li.querySelector("button");
    if (again) again.focus();
  }
}

function shown(q) {
  if (filter === "all") return true;
  if (filter === "approved") return q.status === "approved" || q.status === "answered";
  return q.status === "pending";
}

function draw(q) {
  if (!q) return;
  let li = cards.get(q.id);
  if (!li) { li = el("li", { class: "question", "data-id": q.id }); cards.set(q.id, li); }
  fill(li, q);
  order();
}

function order() {
  const list = $("queue");
  const items = [...questions.values()].filter(shown)
    .sort((a, b) => Number(b.highlighted) - Number(a.highlighted) || b.votes - a.votes || a.created_at.localeCompare(b.created_at));
  const wanted = items.map((q) => cards.get(q.id)).filter(Boolean);
  const same = wanted.length === list.children.length && wanted.every((li, i) => list.children[i] === li);
  if (!same) {
    const focused = document.activeElement;
    list.replaceChildren(...wanted);
    if (focused && wanted.some((li) => li.contains(focused))) focused.focus();
  }
  $("no-questions").hidden = wanted.length > 0;
}

function apply(q) {
  const known = questions.has(q.id);
  questions.set(q.id, { ...questions.get(q.id), ...q });
  if (!known) $("announcer").textContent = `New question: ${q.text}`;
  draw(questions.get(q.id));
}

// --- polls

function pollCard(poll) {
  const results = el("div", { class: "results", "aria-live": "polite" });
  const card = el("article", { class: "poll card", "data-poll": poll.id },
    el("h3", { text: poll.question }),
    el("p", { class: "meta" }, el("span", { class: "badge poll-status" }), ` ${poll.kind}${poll.hide_results ? " · results hidden from attendees until closed" : ""}`),
    el("div", { class: "actions" },
      el("button", { type: "button", class: "primary", "data-do": "open", text: "Open poll", onclick: () => pollAction("poll.open", poll.id) }),
      el("button", { type: "button", "data-do": "close", text: "Close poll", onclick: () => pollAction("poll.close", poll.id) })),
    results);
  return { poll, card, results, shown: null };
}

async function pollAction(type, pollId) {
  try {
    const reply = await socket.send(type, { poll_id: pollId });
    if (reply.poll) upsertPoll(reply.poll);
    show($("problem"), "");
  } catch (err) {
    show($("problem"), err.message);
  }
}

function upsertPoll(poll) {
  let entry = polls.get(poll.id);
  if (!entry) { entry = pollCard(poll); polls.set(poll.id, entry); $("polls").prepend(entry.card); }
  entry.poll = { ...entry.poll, ...poll };
  if (poll.results) entry.shown = poll.results;
  const status = entry.poll.status;
  entry.card.dataset.status = status;
  entry.card.querySelector(".poll-status").textContent = { draft: "Draft", open: "Open", closed: "Closed" }[status] || status;
  entry.card.querySelector('[data-do="open"]').hidden = status !== "draft";
  entry.card.querySelector('[data-do="close"]').hidden = status !== "open";
  drawResults(entry.results, entry.poll, entry.shown);
}

$("poll-kind").addEventListener("change", () => {
  const kind = $("poll-kind").value;
  $("options-field").hidden = kind === "rating" || kind === "text";
});

$("new-poll").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearProblem(form, $("poll-problem"));
  const kind = form.elements.kind.value;
  const data = { question: form.elements.question.value.trim(), kind, hide_results: form.elements.hide_results.checked };
  if (kind === "single" || kind === "multiple") {
    data.options = form.elements.options.value.split("\n").map((s) => s.trim()).filter(Boolean);
  }
  if (!data.question) { $("poll-question-error").textContent = "Please write the poll's question."; return; }
  try {
    const reply = await socket.send("poll.create", data);
    if (reply.poll) upsertPoll(reply.poll);
    form.reset();
    $("options-field").hidden = false;
  } catch (err) {
    showProblem(form, $("poll-problem"), { status: 422, errors: [], detail: err.message, body: {} });
  }
});

// --- events

function onSnapshot(data) {
  $("pre-moderation").checked = Boolean(data.pre_moderation);
  questions.clear();
  for (const q of data.questions || []) questions.set(q.id, q);
  for (const id of [...cards.keys()]) if (!questions.has(id)) cards.delete(id);
  for (const q of questions.values()) draw(q);
  order();
  for (const poll of data.polls || []) upsertPoll(poll);
}

function onEvent(type, data) {
  if (type === "question.added" || type === "question.updated") apply(data);
  else if (type === "question.votes") {
    for (const [id, n] of Object.entries(data.counts || {})) {
      const q = questions.get(id);
      if (q) { q.votes = n; draw(q); }
    }
  } else if (type === "poll.created" || type === "poll.opened" || type === "poll.closed") upsertPoll(data);
  else if (type === "poll.results") {
    const entry = polls.get(data.poll_id);
    if (entry) { entry.shown = data; drawResults(entry.results, entry.poll, data); }
  } else if (type === "session.settings") $("pre-moderation").checked = Boolean(data.pre_moderation);
}

for (const radio of document.querySelectorAll('input[name="show"]')) {
  radio.addEventListener("change", () => { filter = radio.value; order(); });
}

$("pre-moderation").addEventListener("change", async (event) => {
  const box = event.currentTarget;
  try {
    const reply = await api(`/api/v1/sessions/${sessionId}/live`, { method: "PATCH", token, body: { pre_moderation: box.checked } });
    box.checked = reply.pre_moderation;
  } catch (problem) {
    box.checked = !box.checked;
    show($("problem"), problem.detail);
  }
});

async function csv(kind) {
  try {
    await download(`/api/v1/sessions/${sessionId}/${kind}.csv`, token, `${kind}-${sessionId}.csv`);
  } catch (problem) {
    show($("problem"), problem.detail);
  }
}
$("download-questions").addEventListener("click", () => csv("questions"));
$("download-polls").addEventListener("click", () => csv("polls"));

$("projector-link").addEventListener("click", async () => {
  try {
    const reply = await api(`/api/v1/sessions/${sessionId}/projector-links`, { method: "POST", token, idempotencyKey: newKey() });
    const url = new URL(reply.url);
    const here = `${location.origin}${url.pathname}${url.search}`;
    $("projector-url").replaceChildren("Open on the projector: ", el("a", { href: here, target: "_blank", rel: "noopener", text: here }));
  } catch (problem) {
    show($("problem"), problem.detail);
  }
});

async function start() {
  const key = `moderate:${sessionId}`;
  token = takeFromUrl(key);
  if (!token) token = await askForToken("Paste the moderator link or token you were given.");
  remember(key, token);
  socket = new LiveSocket({
    sessionId, token, onSnapshot, onEvent,
    onState: async (name, text) => {
      showConnection(name, text);
      if (name !== "denied") { show($("problem"), ""); return; }
      show($("problem"), `You cannot moderate this session: ${text}`);
      forget(key);
      token = await askForToken("Paste another moderator link or token.");
      remember(key, token);
      socket.token = token;
      socket.start();
    },
  });
  window.festivalSocket = socket;
  socket.start();
}

start();
