// The live session socket (API.md, Live sessions): one connection that keeps itself up.
//
// It reconnects by itself with exponential back-off and full jitter, resumes with
// ``since=<last seq>`` so the server sends exactly what was missed (or a fresh
// snapshot), and drops any event it has already applied. It never touches the
// page's forms: callers decide what to redraw.

import { api } from "./api.js";

const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 15000;
const PING_MS = 25000;
const CLOSE_POLICY = 1008;

export class LiveSocket {
  constructor({ sessionId, token, onSnapshot, onEvent, onState }) {
    this.sessionId = sessionId;
    this.token = token;
    this.onSnapshot = onSnapshot;
    this.onEvent = onEvent;
    this.onState = onState || (() => {});
    this.lastSeq = null;
    this.attempt = 0;
    this.pending = new Map();
    this.nextId = 1;
    this.ws = null;
    this.stopped = false;
    this.timer = null;
    this.ping = null;
    window.addEventListener("online", () => this.reconnectNow());
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000, "bye");
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const params = new URLSearchParams({ token: this.token });
    if (this.lastSeq !== null) params.set("since", String(this.lastSeq));
    return `${scheme}://${location.host}/ws/sessions/${this.sessionId}?${params}`;
  }

  connect() {
    clearTimeout(this.timer);
    this.state(this.attempt === 0 && this.lastSeq === null ? "connecting" : "reconnecting", "Connecting…");
    const ws = new WebSocket(this.url());
    this.ws = ws;
    let opened = false;
    ws.addEventListener("open", () => {
      opened = true;
      this.attempt = 0;
      this.state("live", "Live");
      clearInterval(this.ping);
      this.ping = setInterval(() => this.send("ping", {}).catch(() => {}), PING_MS);
    });
    ws.addEventListener("message", (message) => this.receive(message.data));
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws) return;
      clearInterval(this.ping);
      this.failPending();
      if (this.stopped) return;
      if (event.code === CLOSE_POLICY || !opened) this.checkAccess(event);
      else this.retry();
    });
  }

  // A refused handshake looks like a network error to a browser: ask the REST
  // mirror why, and stop for good when the token may not be here.
  async checkAccess(event) {
    try {
      await api(`/api/v1/sessions/${this.sessionId}/live`, { token: this.token });
    } catch (problem) {
      if ([401, 403, 404].includes(problem.status)) {
        this.state("denied", problem.detail, problem);
        return;
      }
    }
    if (event.code === CLOSE_POLICY) {
      this.state("denied", event.reason || "The server closed the connection.");
      return;
    }
    this.retry();
  }

  retry() {
    const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** this.attempt);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.attempt += 1;
    const seconds = Math.max(1, Math.round(delay / 1000));
    this.state(navigator.onLine === false ? "offline" : "reconnecting", `Connection lost. Reconnecting in ${seconds} s…`);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  reconnectNow() {
    if (this.stopped || (this.ws && this.ws.readyState <= WebSocket.OPEN)) return;
    this.attempt = 0;
    this.connect();
  }

  receive(text) {
    let frame;
    try { frame = JSON.parse(text); } catch { return; }
    if (frame.type === "ack" || frame.type === "error") {
      const waiting = this.pending.get(frame.id);
      if (!waiting) return;
      this.pending.delete(frame.id);
      if (frame.type === "ack") waiting.resolve(frame.data || {});
      else waiting.reject({ code: frame.code, message: frame.message || "The server refused this." });
      return;
    }
    if (frame.type === "snapshot") {
      this.lastSeq = frame.seq;
      this.onSnapshot(frame.data);
      return;
    }
    if (typeof frame.seq === "number") {
      if (this.lastSeq !== null && frame.seq <= this.lastSeq) return; // already applied
      this.lastSeq = frame.seq;
    }
    this.onEvent(frame.type, frame.data || {});
  }

  // Send a command; resolves with the ack's data, rejects with {code, message}.
  send(type, data) {
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        reject({ code: "offline", message: "Not connected right now. Nothing was lost: try again in a moment." });
        return;
      }
      const id = String(this.nextId++);
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ type, id, data }));
    });
  }

  failPending() {
    for (const { reject } of this.pending.values()) {
      reject({ code: "offline", message: "The connection dropped before the server answered. Try again." });
    }
    this.pending.clear();
  }

  state(name, text, problem) {
    this.onState(name, text, problem);
  }
}

// Draw the connection state into the page's #connection element.
export function showConnection(name, text) {
  const box = document.getElementById("connection");
  if (!box) return;
  box.dataset.state = name;
  document.getElementById("connection-text").textContent = name === "denied" ? "Not connected" : text;
}
