// /: the published festivals.

import { all } from "./api.js";
import { $, dayLabel, el, show } from "./ui.js";

function card(f) {
  const dates = f.starts_on === f.ends_on ? dayLabel(f.starts_on) : `${dayLabel(f.starts_on)} to ${dayLabel(f.ends_on)}`;
  return el("li", { class: "card" },
    el("h2", {}, el("a", { href: `/f/${encodeURIComponent(f.slug)}`, text: f.name })),
    el("p", { class: "meta", text: `${dates} · ${f.mode} · ${f.timezone}` }),
    f.description ? el("p", { text: f.description }) : null,
    el("p", { class: "actions" },
      el("a", { class: "button", href: `/f/${encodeURIComponent(f.slug)}`, text: "Programme" }),
      el("a", { class: "button primary", href: `/f/${encodeURIComponent(f.slug)}/register`, text: "Register" })));
}

async function main() {
  try {
    const festivals = await all("/api/v1/festivals");
    $("festivals").replaceChildren(...festivals.map(card));
    show($("status"), festivals.length ? "" : "No festivals are published yet.");
  } catch (problem) {
    show($("status"), `The festivals could not be loaded: ${problem.detail}`);
  }
}

main();
