// The stream above the Q&A (API.md, Stage): the provider's player in a frame when the
// link has one, a Join button otherwise, and before it opens, when it will.

import { api } from "./api.js";
import { $, el, show, when } from "./ui.js";

const NAMES = {
  youtube: "YouTube", vimeo: "Vimeo", peertube: "PeerTube", jitsi: "Jitsi Meet", bigbluebutton: "BigBlueButton",
};
const MEETINGS = new Set(["jitsi", "bigbluebutton"]);
const LONGEST_WAIT_MS = 2 ** 31 - 1; // setTimeout's ceiling (about 24 days)
let again = null;

function link(href, text, primary) {
  // A new tab: the Q&A stays open here. The app's Referrer-Policy already sends no referrer.
  return el("a", { class: primary ? "button primary" : "button", href, target: "_blank", rel: "noopener noreferrer", text });
}

function draw(join, title) {
  const name = NAMES[join.provider];
  const player = $("player");
  if (join.embed_url) {
    const meeting = MEETINGS.has(join.provider);
    player.replaceChildren(el("iframe", {
      src: join.embed_url,
      title: `${name} ${meeting ? "meeting" : "player"}: ${title}`,
      allow: meeting
        ? "camera; microphone; display-capture; fullscreen; autoplay"
        : "autoplay; fullscreen; picture-in-picture; encrypted-media",
      allowfullscreen: true,
      // Players refuse to play without knowing the embedding site: the origin, never the page's address.
      referrerpolicy: "strict-origin-when-cross-origin",
    }));
    $("stage-actions").replaceChildren(link(join.url, `Open in ${name}`, false));
  } else {
    player.replaceChildren();
    $("stage-actions").replaceChildren(link(join.url, name ? `Join on ${name}` : "Join the session", true));
  }
  player.hidden = !join.embed_url;
  show($("stage-status"), "");
  $("stage").hidden = false;
}

// Ask for the stream with ``token``; draw it, say when it opens, or keep the section hidden
// (no stream, or this token may not have it: the Q&A part of the page says why).
export async function showStage(sessionId, token, title) {
  clearTimeout(again);
  let join;
  try {
    join = await api(`/api/v1/sessions/${sessionId}/join`, { token });
  } catch (problem) {
    if (problem.body.code !== "join_not_open") {
      $("stage").hidden = true;
      return;
    }
    $("player").replaceChildren();
    $("player").hidden = true;
    $("stage-actions").replaceChildren();
    show($("stage-status"), `The stream opens ${when(problem.body.opens_at)}. This page will show it then.`);
    $("stage").hidden = false;
    const wait = Date.parse(problem.body.opens_at) - Date.now() + 1000;
    if (wait > 0 && wait < LONGEST_WAIT_MS) again = setTimeout(() => showStage(sessionId, token, title), wait);
    return;
  }
  draw(join, title);
}
