// /present/{session_id}: the projector. Read-only: the highlighted question and the current poll.

import { LiveSocket, showConnection } from "./socket.js";
import { askForToken, forget, remember, takeFromUrl } from "./tokens.js";
import { $, show } from "./ui.js";
import { drawResults } from "./results.js";

const sessionId = $("page").dataset.session;
const questions = new Map();
const polls = new Map();
const results = new Map();
let current = null; // the poll on screen: the one opened last, kept after it closes

function draw() {
  const top = [...questions.values()].find((q) => q.highlighted && q.status !== "dismissed");
  $("highlight").hidden = !top;
  if (top) {
    $("highlight-text").textContent = top.text;
    $("highlight-author").textContent = top.anonymous ? "" : top.author || "";
  }
  const poll = current && polls.get(current);
  $("poll").hidden = !poll;
  if (poll) {
    $("poll-question").textContent = poll.status === "closed" ? `${poll.question} (closed)` : poll.question;
    $("poll").dataset.poll = poll.id;
    drawResults($("poll-results"), poll, results.get(poll.id) || emptyResults(poll));
  }
  $("idle").hidden = Boolean(top || poll);
}

function emptyResults(poll) {
  if (poll.kind === "rating") return { poll_id: poll.id, total: 0, average: null, histogram: {} };
  if (poll.kind === "text") return { poll_id: poll.id, total: 0, words: {} };
  return { poll_id: poll.id, total: 0, options: poll.options.map((o) => ({ ...o, count: 0 })) };
}

function onSnapshot(data) {
  questions.clear();
  for (const q of data.questions || []) questions.set(q.id, q);
  polls.clear();
  for (const poll of data.polls || []) {
    polls.set(poll.id, poll);
    if (poll.results) results.set(poll.id, poll.results);
  }
  const open = (data.polls || []).filter((p) => p.status === "open");
  if (!current || !polls.has(current)) current = open.length ? open[open.length - 1].id : null;
  draw();
}

function onEvent(type, data) {
  if (type === "question.added" || type === "question.updated") {
    questions.set(data.id, { ...questions.get(data.id), ...data });
  } else if (type === "poll.opened" || type === "poll.closed" || type === "poll.created") {
    polls.set(data.id, { ...polls.get(data.id), ...data });
    if (type === "poll.opened") current = data.id;
  } else if (type === "poll.results") {
    results.set(data.poll_id, data);
  } else {
    return;
  }
  draw();
}

async function start() {
  const key = `present:${sessionId}`;
  let token = takeFromUrl(key);
  if (!token) token = await askForToken("Paste the projector link the moderator made.");
  remember(key, token);
  const socket = new LiveSocket({
    sessionId, token, onSnapshot, onEvent,
    onState: async (name, text) => {
      showConnection(name, text);
      if (name !== "denied") { show($("problem"), ""); return; }
      show($("problem"), `This screen cannot show the session: ${text}`);
      forget(key);
      socket.token = await askForToken("Paste another projector link.");
      remember(key, socket.token);
      socket.start();
    },
  });
  window.festivalSocket = socket;
  socket.start();
}

start();
