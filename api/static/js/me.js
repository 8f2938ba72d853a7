// /f/{slug}/me: "send me my link", and the link it sends (/f/{slug}/me#code=…). The
// code sits in the fragment, which the browser never sends to a server; it is posted
// once, the new tokens are kept, and the ticket page opens.

import { api } from "./api.js";
import { remember } from "./tokens.js";
import { $, clearProblem, showProblem } from "./ui.js";

const slug = $("page").dataset.slug;
const form = $("ask-link");
const codeIn = () => new URLSearchParams(window.location.hash.slice(1)).get("code") || "";

api(`/api/v1/festivals/${encodeURIComponent(slug)}`).then(
  (f) => { $("festival-name").textContent = f.name; document.title = `Sign in · ${f.name}`; },
  () => {},
);

// A short name for this device in the attendee's list of devices.
function deviceName() {
  const ua = navigator.userAgent;
  const browser = /Edg\//.test(ua) ? "Edge" : /Firefox\//.test(ua) ? "Firefox"
    : /Chrom(e|ium)\//.test(ua) ? "Chrome" : /Safari\//.test(ua) ? "Safari" : "A browser";
  const system = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS"
    : /Windows/.test(ua) ? "Windows" : /Mac OS X/.test(ua) ? "macOS" : /Linux/.test(ua) ? "Linux" : "";
  return system ? `${browser} on ${system}` : browser;
}

async function redeem(code) {
  history.replaceState(history.state, "", window.location.pathname); // used up either way
  form.hidden = true;
  $("signing-in").hidden = false;
  try {
    const reply = await api("/api/v1/auth/attendee", { method: "POST", body: { code, device: deviceName() } });
    remember(`attendee:${slug}`, reply.attendee_token);
    remember("attendee:last", reply.attendee_token);
    remember(`feed:${slug}`, reply.feed_token);
    window.location.replace(`/f/${encodeURIComponent(slug)}/ticket`);
  } catch (problem) {
    $("signing-in").hidden = true;
    $("sign-in-problem").textContent = problem.status === 410
      ? "This link was used already or has expired. Ask for a new one below."
      : problem.detail || "You could not be signed in. Try the link again in a moment.";
    $("sign-in-problem").hidden = false;
    form.hidden = false;
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearProblem(form, $("form-problem"));
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const email = String(new FormData(form).get("email") || "").trim();
    const reply = await api(`/api/v1/festivals/${encodeURIComponent(slug)}/access-links`, { method: "POST", body: { email } });
    form.hidden = true;
    $("link-sent").textContent = reply.detail;
    $("link-sent").hidden = false;
    $("link-sent").focus();
  } catch (problem) {
    showProblem(form, $("form-problem"), problem, {
      404: "This festival does not exist or is not open.",
      0: problem.detail,
    });
  } finally {
    button.disabled = false;
  }
});

// The link opened in a fresh tab, or in this one already on this page (the fragment
// alone changes: no reload).
if (codeIn()) redeem(codeIn());
window.addEventListener("hashchange", () => { if (codeIn()) redeem(codeIn()); });
