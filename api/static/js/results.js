// Poll results as bars (choices, ratings) or a word cloud (text): exact counts, drawn with the DOM.

import { el } from "./ui.js";

function bar(label, count, total, key) {
  const share = total ? Math.round((count / total) * 100) : 0;
  return el("li", { class: "bar", "data-option": key, "data-count": String(count) },
    el("span", { class: "bar-label", text: label }),
    el("span", { class: "bar-track", "aria-hidden": "true" },
      el("span", { class: "bar-fill", style: `width:${share}%` })),
    el("span", { class: "bar-count", text: `${count} (${share}%)` }));
}

// Replace ``box``'s content with ``results`` of ``poll`` (API.md poll.results shapes).
export function drawResults(box, poll, results) {
  box.replaceChildren();
  if (!results) return;
  const total = results.total || 0;
  if (results.options) {
    const votes = results.options.reduce((sum, o) => sum + o.count, 0);
    box.append(el("ol", { class: "bars", "aria-label": `Results: ${total} ${total === 1 ? "answer" : "answers"}` },
      results.options.map((o) => bar(o.text, o.count, votes, o.id))));
  } else if (results.histogram) {
    const values = Object.entries(results.histogram);
    box.append(el("p", { class: "average", text: results.average === null || results.average === undefined ? "No ratings yet" : `Average ${results.average}` }));
    box.append(el("ol", { class: "bars", "aria-label": `Ratings: ${total}` },
      values.map(([value, count]) => bar(value, count, total, value))));
  } else if (results.words) {
    const entries = Object.entries(results.words);
    const top = Math.max(1, ...entries.map(([, n]) => n));
    box.append(el("p", { class: "cloud", "aria-label": `Words: ${entries.map(([w, n]) => `${w} ${n}`).join(", ") || "none yet"}` },
      entries.map(([word, n]) => el("span", { class: "word", "data-count": String(n), style: `font-size:${(1 + 2.2 * (n / top)).toFixed(2)}em`, title: `${n}`, text: word }))));
  }
  box.append(el("p", { class: "meta total", "data-total": String(total), text: `${total} ${total === 1 ? "answer" : "answers"}` }));
}
