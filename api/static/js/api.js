// A thin client of the public API (shared/API.md): JSON in, JSON or a problem out.

export class ApiProblem extends Error {
  constructor(status, body) {
    super((body && (body.detail || body.title)) || `The server answered ${status}`);
    this.status = status;
    this.body = body || {};
    this.detail = this.body.detail || this.message;
    this.errors = Array.isArray(this.body.errors) ? this.body.errors : [];
  }
}

export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

// fetch(), then the JSON body, or throw an ApiProblem (network failures included).
export async function api(path, { method = "GET", body, token, idempotencyKey, raw = false } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new ApiProblem(0, { detail: "The server could not be reached. Check your connection and try again." });
  }
  if (raw && response.ok) return response;
  const text = await response.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = { detail: text.slice(0, 300) }; }
  }
  if (!response.ok) throw new ApiProblem(response.status, data);
  return data;
}

// Every item of a paginated list ({items, next_cursor}).
export async function all(path, options = {}) {
  const items = [];
  let cursor = null;
  const sep = path.includes("?") ? "&" : "?";
  for (let page = 0; page < 100; page += 1) {
    const url = cursor ? `${path}${sep}limit=200&cursor=${encodeURIComponent(cursor)}` : `${path}${sep}limit=200`;
    const data = await api(url, options);
    items.push(...data.items);
    cursor = data.next_cursor;
    if (!cursor) break;
  }
  return items;
}

// Download an authenticated file (links cannot send a bearer token).
export async function download(path, token, filename) {
  const response = await api(path, { token, raw: true });
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
