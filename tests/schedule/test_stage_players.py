"""The provider rules: which links play inside the live page, and in which player."""

from __future__ import annotations

import pytest

from schedule.players import Player, player_of

YT = "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"
PT_UUID = "9c9de5e8-0a1e-484a-b099-e80766180a6d"
PT_SHORT = "d6ZiUHJRxpjoZKSeetjSXe"


@pytest.mark.parametrize(
    ("link", "provider", "embed"),
    [
        ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", "youtube", YT),
        ("https://youtube.com/watch?v=dQw4w9WgXcQ&list=PL1&index=2", "youtube", YT),
        ("https://m.youtube.com/watch?v=dQw4w9WgXcQ", "youtube", YT),
        ("https://youtu.be/dQw4w9WgXcQ?si=share-tracker", "youtube", YT),
        ("https://www.youtube.com/live/dQw4w9WgXcQ?feature=shared", "youtube", YT),
        ("https://www.youtube.com/shorts/dQw4w9WgXcQ", "youtube", YT),
        ("https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ", "youtube", YT),
        ("https://youtu.be/dQw4w9WgXcQ?t=90", "youtube", f"{YT}?start=90"),
        (
            "https://www.youtube.com/channel/UCabcdefghijklmnopqrstuv/live",
            "youtube",
            "https://www.youtube-nocookie.com/embed/live_stream?channel=UCabcdefghijklmnopqrstuv",
        ),
        ("https://vimeo.com/76979871", "vimeo", "https://player.vimeo.com/video/76979871"),
        (
            "https://vimeo.com/76979871/8272103f6e",
            "vimeo",
            "https://player.vimeo.com/video/76979871?h=8272103f6e",
        ),
        (
            "https://player.vimeo.com/video/76979871",
            "vimeo",
            "https://player.vimeo.com/video/76979871",
        ),
        ("https://vimeo.com/event/1234567", "vimeo", "https://vimeo.com/event/1234567/embed"),
        (
            f"https://video.example.org/w/{PT_SHORT}",
            "peertube",
            f"https://video.example.org/videos/embed/{PT_SHORT}",
        ),
        (
            f"https://tube.example.net/videos/watch/{PT_UUID}",
            "peertube",
            f"https://tube.example.net/videos/embed/{PT_UUID}",
        ),
        (
            f"https://tube.example.net/videos/embed/{PT_UUID}?start=10",
            "peertube",
            f"https://tube.example.net/videos/embed/{PT_UUID}",
        ),
        (
            "https://8x8.vc/vpaas-magic-cookie-1/Stage",
            "jitsi",
            "https://8x8.vc/vpaas-magic-cookie-1/Stage",
        ),
        (
            "https://jitsi.example.org/FestivalStage",
            "jitsi",
            "https://jitsi.example.org/FestivalStage",
        ),
        (
            "https://bbb.example.org/b/abc-def-ghi",
            "bigbluebutton",
            "https://bbb.example.org/b/abc-def-ghi",
        ),
        (
            "https://meet.example.org/rooms/abc-def-ghi-jkl/join",
            "bigbluebutton",
            "https://meet.example.org/rooms/abc-def-ghi-jkl/join",
        ),
        (
            "https://conf.example.org/bigbluebutton/api/join?meetingID=m&checksum=c",
            "bigbluebutton",
            "https://conf.example.org/bigbluebutton/api/join?meetingID=m&checksum=c",
        ),
    ],
)
def test_a_provider_link_plays_in_its_documented_player(
    link: str, provider: str, embed: str
) -> None:
    assert player_of(link) == Player(provider, embed)


@pytest.mark.parametrize(
    ("link", "provider"),
    [
        # framed meet.jit.si calls end after five minutes: a button, not a player
        ("https://meet.jit.si/FestivalStage", "jitsi"),
        # the provider, but no video to play: its channel page, a mistyped id
        ("https://www.youtube.com/@festival", "youtube"),
        ("https://www.youtube.com/watch?v=short", "youtube"),
        ("https://vimeo.com/festival", "vimeo"),
    ],
)
def test_a_known_provider_without_a_playable_link_gets_a_button(link: str, provider: str) -> None:
    assert player_of(link) == Player(provider, None)


@pytest.mark.parametrize(
    "link",
    [
        "https://stream.example.org/if2020/main",
        "https://zoom.us/j/123456789?pwd=secret",
        "https://teams.microsoft.com/l/meetup-join/19%3ameeting",
        # a page over HTTPS cannot frame plain HTTP, nor should it frame odd ports or credentials
        "http://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://www.youtube.com:8443/watch?v=dQw4w9WgXcQ",
        "https://user:pw@www.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://video.example.org/w/not-a-video-id",
        "https://evil.example/youtube.com/watch?v=dQw4w9WgXcQ",
        "https://youtube.com.evil.example/watch?v=dQw4w9WgXcQ",
        "javascript:alert(1)",
        "https://[::1",
    ],
)
def test_any_other_link_is_no_player(link: str) -> None:
    assert player_of(link) is None


def test_the_frame_origin_is_the_players_not_the_links() -> None:
    youtube = player_of("https://youtu.be/dQw4w9WgXcQ")
    peertube = player_of(f"https://Video.Example.org/w/{PT_SHORT}")
    origins = [p.origin if p else "no player" for p in (youtube, peertube, Player("jitsi", None))]
    assert origins == ["https://www.youtube-nocookie.com", "https://video.example.org", None]
