// /f/{slug}/confirm#code=…: the link from the confirmation e-mail. The code sits in
// the fragment, which the browser never sends to a server; it is posted once, the
// tokens are kept as after a registration, and the ticket page opens.

import { api } from "./api.js";
import { remember } from "./tokens.js";
import { $ } from "./ui.js";

const slug = $("page").dataset.slug;
const code = new URLSearchParams(window.location.hash.slice(1)).get("code") || "";
history.replaceState(history.state, "", window.location.pathname); // the code is used up either way

function fail(text) {
  $("confirming").hidden = true;
  $("confirm-problem").textContent = text;
  $("confirm-problem").hidden = false;
  $("register-again").hidden = false;
}

if (!code) {
  fail("This page needs the link from your e-mail. Open that link again, whole.");
} else {
  api("/api/v1/registrations/confirm", { method: "POST", body: { code } }).then(
    (reply) => {
      remember(`attendee:${slug}`, reply.attendee_token);
      remember("attendee:last", reply.attendee_token);
      remember(`feed:${slug}`, reply.feed_token);
      window.location.replace(`/f/${encodeURIComponent(slug)}/ticket`);
    },
    (problem) => fail(problem.status === 410
      ? "This link was used already or has expired. If you confirmed before, your ticket is on the device you confirmed with; otherwise register again."
      : problem.detail || "The registration could not be confirmed. Try the link again in a moment."),
  );
}
