// /reset#code=…: the link from a password e-mail. The code sits in the fragment, which
// the browser never sends to a server; it is posted once with the new password.

import { api } from "./api.js";
import { remember } from "./tokens.js";
import { $, show, showProblem } from "./ui.js";

const code = new URLSearchParams(window.location.hash.slice(1)).get("code") || "";
history.replaceState(history.state, "", window.location.pathname);

if (!code) {
  $("reset").hidden = true;
  show($("problem"), "This page needs the link from your e-mail. Open that link again, whole.");
}

$("reset").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  try {
    const reply = await api("/api/v1/auth/password", { method: "POST", body: { code, password: form.password.value } });
    remember("organiser", reply.access_token);
    form.hidden = true;
    $("done").hidden = false;
  } catch (problem) {
    if (problem.status === 410) {
      form.hidden = true;
      show($("problem"), "This link was used already or has expired. Ask for a new one from the sign-in form.");
    } else {
      showProblem(form, $("problem"), problem);
    }
  }
});
