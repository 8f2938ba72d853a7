"""Which player a stream link opens in: the provider rules, pure (a URL in, a verdict out).

The live page shows a session's stream above its Q&A: inside the page when the
link belongs to a provider whose player may be framed, else behind a *Join*
button. Each rule turns a link people paste (a watch page, a share link, a
meeting room) into the URL that provider documents for framing:

- **YouTube** (``youtube.com/watch?v=``, ``/live/``, ``/shorts/``, ``/embed/``,
  ``youtu.be/``, a channel's ``/channel/<id>/live``): the privacy-enhanced
  player, ``https://www.youtube-nocookie.com/embed/<id>`` (no cookies until
  the viewer plays);
- **Vimeo** (``vimeo.com/<id>``, an unlisted ``vimeo.com/<id>/<hash>``,
  ``vimeo.com/event/<id>``): ``https://player.vimeo.com/video/<id>[?h=<hash>]``,
  or the event's ``/embed``;
- **PeerTube** (any host: ``/w/<id>``, ``/videos/watch/<id>``,
  ``/videos/embed/<id>``, where the id is a UUID or a 22-character short
  UUID): ``https://<host>/videos/embed/<id>``;
- **Jitsi Meet** (``8x8.vc/<tenant>/<room>``, or a host named ``jitsi.…``):
  the room itself. ``meet.jit.si`` is recognised but not framed: its framed
  calls end after five minutes (jitsi.org/api), so its rooms get the button;
- **BigBlueButton** (a host named ``bbb.…``, or a Greenlight room ``/b/…``,
  ``/rooms/…``, or an API join link ``/bigbluebutton/api/join?…``): the link
  itself.

Anything else (and any link that is not ``https:``, since a page served over
HTTPS cannot frame plain HTTP) is no player: the page shows a button. Query
strings and fragments of a watch link are dropped from the embed URL, except
what the player needs (Vimeo's hash, a YouTube start time).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

PROVIDERS = ("youtube", "vimeo", "peertube", "jitsi", "bigbluebutton")
_YOUTUBE_HOSTS = {"youtube.com", "m.youtube.com", "music.youtube.com", "youtube-nocookie.com"}
_YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
_YOUTUBE_CHANNEL = re.compile(r"^UC[A-Za-z0-9_-]{22}$")
_NUMBER = re.compile(r"^[0-9]{1,12}$")
_HASH = re.compile(r"^[0-9a-f]{6,20}$")
_PEERTUBE = re.compile(
    r"^/(?:w|videos/watch|videos/embed)/"
    r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[1-9A-HJ-NP-Za-km-z]{22})/?$"
)
_BBB_PATH = re.compile(
    r"^/(?:b|rooms)/[a-z0-9]{3}-[a-z0-9]{3}-[a-z0-9]{3}(?:-[a-z0-9]{3})?(?:/join)?/?$"
)
_SECONDS = re.compile(r"^[0-9]{1,6}s?$")


@dataclass(frozen=True)
class Player:
    """A stream link's provider, and the URL of its player for a frame (None: a button)."""

    provider: str
    embed_url: str | None

    @property
    def origin(self) -> str | None:
        """The origin the page must allow in ``frame-src`` for this player."""
        if self.embed_url is None:
            return None
        parts = urlsplit(self.embed_url)
        return f"{parts.scheme}://{parts.netloc}"


def player_of(url: str) -> Player | None:
    """The player of a stream link, or None when no provider rule knows it."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower().removeprefix("www.")
        port = parts.port
    except ValueError:
        return None
    if parts.scheme != "https" or not host or port not in (None, 443) or parts.username:
        return None
    path = parts.path or "/"
    query = parse_qs(parts.query)
    for rule in (_youtube, _vimeo, _jitsi, _bigbluebutton, _peertube):
        found = rule(host, path, query, url.strip())
        if found is not None:
            return found
    return None


def _youtube(host: str, path: str, query: dict[str, list[str]], url: str) -> Player | None:
    if host not in _YOUTUBE_HOSTS and host != "youtu.be":
        return None
    segments = [s for s in path.split("/") if s]
    video: str | None = None
    if host == "youtu.be":
        video = segments[0] if len(segments) == 1 else None
    elif segments == ["watch"]:
        video = (query.get("v") or [""])[0]
    elif len(segments) == 2 and segments[0] in ("live", "shorts", "embed", "v"):
        video = segments[1]
    elif len(segments) == 3 and segments[::2] == ["channel", "live"]:
        channel = segments[1]
        if not _YOUTUBE_CHANNEL.match(channel):
            return Player("youtube", None)
        return Player(
            "youtube", f"https://www.youtube-nocookie.com/embed/live_stream?channel={channel}"
        )
    if not video or not _YOUTUBE_ID.match(video):
        return Player("youtube", None)
    start = (query.get("t") or query.get("start") or [""])[0]
    suffix = f"?start={start.removesuffix('s')}" if _SECONDS.match(start) else ""
    return Player("youtube", f"https://www.youtube-nocookie.com/embed/{video}{suffix}")


def _vimeo(host: str, path: str, query: dict[str, list[str]], url: str) -> Player | None:
    if host not in ("vimeo.com", "player.vimeo.com"):
        return None
    segments = [s for s in path.split("/") if s]
    if host == "player.vimeo.com" and len(segments) == 2 and segments[0] == "video":
        segments = segments[1:]
    if len(segments) in (1, 2) and _NUMBER.match(segments[0]):
        given = segments[1] if len(segments) == 2 else (query.get("h") or [""])[0]
        secret = f"?h={given}" if _HASH.match(given) else ""
        return Player("vimeo", f"https://player.vimeo.com/video/{segments[0]}{secret}")
    if len(segments) in (2, 3) and segments[0] == "event" and _NUMBER.match(segments[1]):
        return Player("vimeo", f"https://vimeo.com/event/{segments[1]}/embed")
    return Player("vimeo", None)


def _jitsi(host: str, path: str, query: dict[str, list[str]], url: str) -> Player | None:
    room = path.strip("/")
    if host == "meet.jit.si":
        return Player("jitsi", None)
    if host == "8x8.vc" or host.startswith("jitsi."):
        return Player("jitsi", url.split("#")[0] if room else None)
    return None


def _bigbluebutton(host: str, path: str, query: dict[str, list[str]], url: str) -> Player | None:
    api_join = path.startswith("/bigbluebutton/api/join")
    if api_join or _BBB_PATH.match(path) or (host.startswith("bbb.") and path.strip("/")):
        return Player("bigbluebutton", url.split("#")[0])
    return None


def _peertube(host: str, path: str, query: dict[str, list[str]], url: str) -> Player | None:
    found = _PEERTUBE.match(path)
    if found is None:
        return None
    netloc = urlsplit(url).netloc.lower()  # the instance's own host, "www." and all
    return Player("peertube", f"https://{netloc}/videos/embed/{found.group(1)}")
