// Tokens from magic links: taken from ?token=, kept in localStorage, stripped from the URL.

const PREFIX = "festival.token.";

export function remember(key, token) {
  try { localStorage.setItem(PREFIX + key, token); } catch { /* private mode: this page only */ }
  memory.set(key, token);
}

const memory = new Map();

export function recall(key) {
  try { return localStorage.getItem(PREFIX + key) || memory.get(key) || null; } catch { return memory.get(key) || null; }
}

export function forget(key) {
  try { localStorage.removeItem(PREFIX + key); } catch { /* ignore */ }
  memory.delete(key);
}

// A token pasted as a whole magic link or as the bare token.
export function tokenFrom(text) {
  const value = text.trim();
  try {
    const url = new URL(value);
    return url.searchParams.get("token") || "";
  } catch {
    return value;
  }
}

// The ?token= of this page's URL, remembered under ``key`` and removed from the address bar.
export function takeFromUrl(key) {
  const url = new URL(window.location.href);
  const token = url.searchParams.get("token");
  if (token) {
    remember(key, token);
    url.searchParams.delete("token");
    history.replaceState(history.state, "", url.pathname + url.search + url.hash);
  }
  return token || recall(key);
}

// Ask for a token with the page's token form; resolves when one is given.
export function askForToken(why) {
  const form = document.getElementById("token-form");
  document.getElementById("token-why").textContent = why;
  form.hidden = false;
  const input = document.getElementById("token-input");
  input.focus();
  return new Promise((resolve) => {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const token = tokenFrom(input.value);
      if (!token) return;
      form.hidden = true;
      resolve(token);
    }, { once: true });
  });
}
