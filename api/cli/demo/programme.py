"""Demo programme: a step of `festival demo`.

Both demo festivals get a programme in the spirit of their editions. Rows go
through the import machinery (:func:`schedule.imports.apply_rows`), so they
pass the same checks as the API, and every row has a stable key: loading the
demo again finds them all and changes nothing. The sessions are written as
the draft the festival was published from, so the change log starts empty.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from festival.models import Account, Festival
from festival.settings import Settings
from schedule.import_formats import Parsed, RoomRow, SessionRow, SpeakerRow
from schedule.imports import apply_rows

SPEAKERS = {
    "amara": SpeakerRow(
        "Amara Okello",
        "demo-amara",
        "Leads digital programmes in East Africa.",
        "Partner network Uganda",
    ),
    "lucas": SpeakerRow(
        "Lucas de Vries", "demo-lucas", "Chief digital officer.", "Innovation office"
    ),
    "priya": SpeakerRow(
        "Priya Raman", "demo-priya", "Researches civic tech in South Asia.", "Civic Lab"
    ),
    "grace": SpeakerRow(
        "Grace Nakato",
        "demo-grace",
        "Agronomist working with farmer cooperatives.",
        "Farmers' cooperative West Nile",
    ),
    "joseph": SpeakerRow(
        "Joseph Mugisha",
        "demo-joseph",
        "Extension officer in the Rwenzori region.",
        "Rwenzori farmers' union",
    ),
    "sofia": SpeakerRow(
        "Sofia Alvarez",
        "demo-sofia",
        "Facilitates power-aware partnerships.",
        "Shift the Power collective",
    ),
    "tom": SpeakerRow("Tom Bakker", "demo-tom", "Information security lead.", "Security desk"),
    "fatima": SpeakerRow(
        "Fatima Diallo", "demo-fatima", "Builds mobile tools for health workers.", "Sahel Digital"
    ),
}
ROOMS = {
    "innovation-festival-2020": [
        RoomRow(
            "Main Stage",
            "demo-2020-main",
            "virtual",
            "https://stream.example.org/if2020/main",
            None,
            0,
        ),
        RoomRow(
            "Stage Two",
            "demo-2020-two",
            "virtual",
            "https://stream.example.org/if2020/two",
            None,
            1,
        ),
        RoomRow(
            "Workshop Room A",
            "demo-2020-wsa",
            "virtual",
            "https://meet.example.org/if2020-a",
            40,
            2,
        ),
        RoomRow(
            "Hackathon Space",
            "demo-2020-hack",
            "virtual",
            "https://meet.example.org/if2020-hack",
            120,
            3,
        ),
    ],
    "innovation-impulse": [
        RoomRow("Plenary Hall, The Hague", "demo-2025-hall", "physical", None, 250, 0),
        RoomRow(
            "Online Stage",
            "demo-2025-online",
            "virtual",
            "https://stream.example.org/ii2025/main",
            None,
            1,
        ),
        RoomRow("Workshop Room 1", "demo-2025-ws1", "physical", None, 30, 2),
        RoomRow("Workshop Room 2", "demo-2025-ws2", "physical", None, 24, 3),
    ],
}
TRACK_COLOURS = {
    "Digital Journey": "#1f6feb",
    "Global South Showcase": "#d97706",
    "Food & Agriculture": "#15803d",
    "Shifting the Power": "#9333ea",
    "Security & Partnerships": "#b91c1c",
    "Plenary": "#334155",
}
# (key, day index, start, end, title, format, track, room, speakers, capacity, live_qa, abstract)
PROGRAMMES: dict[
    str, list[tuple[str, int, str, str, str, str, str, str, list[str], int | None, bool, str]]
] = {
    "innovation-festival-2020": [
        (
            "opening",
            0,
            "09:00",
            "09:45",
            "Opening keynote: innovating when everything moved online",
            "keynote",
            "Plenary",
            "Main Stage",
            ["lucas", "amara"],
            None,
            True,
            "Why this year's festival is fully online, and what we learned getting here.",
        ),
        (
            "journey",
            0,
            "10:00",
            "11:00",
            "Digital Journey: results of the first year",
            "talk",
            "Digital Journey",
            "Main Stage",
            ["lucas"],
            None,
            False,
            "What the organisation-wide Digital Journey delivered, in numbers and stories.",
        ),
        (
            "showcase",
            0,
            "11:15",
            "12:30",
            "Showcase: the most inspiring digital innovations from the Global South",
            "panel",
            "Global South Showcase",
            "Stage Two",
            ["priya", "fatima", "amara"],
            None,
            False,
            "Teams from three continents present tools that changed their work.",
        ),
        (
            "lunch1",
            0,
            "12:30",
            "13:30",
            "Lunch break",
            "break",
            "Plenary",
            "Main Stage",
            [],
            None,
            False,
            "Time to stretch.",
        ),
        (
            "hackathon",
            0,
            "13:30",
            "17:00",
            "Food hackathon: farmers' challenges from West Nile and Rwenzori, Uganda",
            "hackathon",
            "Food & Agriculture",
            "Hackathon Space",
            ["grace", "joseph"],
            120,
            False,
            "Two farmer groups bring real challenges; teams build answers in an afternoon.",
        ),
        (
            "pat",
            0,
            "14:00",
            "15:30",
            "Workshop: the Power Awareness Tool",
            "workshop",
            "Shifting the Power",
            "Workshop Room A",
            ["sofia"],
            25,
            True,
            "Use the Power Awareness Tool to map power in your own partnerships.",
        ),
        (
            "keynote2",
            1,
            "09:00",
            "09:45",
            "Keynote: shifting the power in digital development",
            "keynote",
            "Plenary",
            "Main Stage",
            ["sofia", "amara"],
            None,
            False,
            "What local leadership means for how we build and fund digital tools.",
        ),
        (
            "cop",
            1,
            "10:00",
            "11:30",
            "Community of practice: shifting the power",
            "panel",
            "Shifting the Power",
            "Stage Two",
            ["sofia", "priya"],
            None,
            False,
            "An open conversation of the community of practice, with stories from partners.",
        ),
        (
            "security",
            1,
            "11:45",
            "12:45",
            "Security of online civil society partnerships",
            "workshop",
            "Security & Partnerships",
            "Workshop Room A",
            ["tom"],
            30,
            False,
            "Practical steps to protect partners, data and conversations online.",
        ),
        (
            "pitches",
            1,
            "13:30",
            "15:30",
            "Food hackathon: pitches and jury",
            "hackathon",
            "Food & Agriculture",
            "Main Stage",
            ["grace", "joseph"],
            None,
            False,
            "Teams present their solutions to the farmers and the jury.",
        ),
        (
            "closing",
            1,
            "15:45",
            "16:30",
            "Closing: what we take home",
            "talk",
            "Plenary",
            "Main Stage",
            ["lucas"],
            None,
            False,
            "Highlights, thanks and the road to next year.",
        ),
    ],
    "innovation-impulse": [
        (
            "opening",
            0,
            "09:30",
            "10:15",
            "Opening keynote: partnerships for the next decade",
            "keynote",
            "Plenary",
            "Plenary Hall, The Hague",
            ["amara", "lucas"],
            None,
            True,
            "Welcome in The Hague and online: where digital partnerships go next.",
        ),
        (
            "journey",
            0,
            "10:30",
            "11:30",
            "Digital Journey: five years on",
            "talk",
            "Digital Journey",
            "Online Stage",
            ["lucas"],
            None,
            False,
            "What changed since the first Digital Journey results, and what did not.",
        ),
        (
            "showcase",
            0,
            "11:45",
            "13:00",
            "Showcase: digital innovations from the Global South",
            "panel",
            "Global South Showcase",
            "Plenary Hall, The Hague",
            ["priya", "fatima"],
            None,
            False,
            "Innovators present their work on site and online.",
        ),
        (
            "pat",
            0,
            "14:00",
            "15:30",
            "Workshop: the Power Awareness Tool in practice",
            "workshop",
            "Shifting the Power",
            "Workshop Room 1",
            ["sofia"],
            24,
            True,
            "Hands-on with the Power Awareness Tool, in small groups.",
        ),
        (
            "hackathon",
            0,
            "14:00",
            "17:00",
            "Food hackathon: farmers' challenges from West Nile and Rwenzori",
            "hackathon",
            "Food & Agriculture",
            "Workshop Room 2",
            ["grace", "joseph"],
            20,
            False,
            "A hybrid hackathon with two farmers' groups from Uganda.",
        ),
        (
            "cop",
            1,
            "09:30",
            "11:00",
            "Community of practice: shifting the power",
            "panel",
            "Shifting the Power",
            "Plenary Hall, The Hague",
            ["sofia", "amara", "priya"],
            None,
            False,
            "The community of practice meets in person for the first time.",
        ),
        (
            "security",
            1,
            "11:15",
            "12:30",
            "Security of online civil society partnerships",
            "workshop",
            "Security & Partnerships",
            "Workshop Room 1",
            ["tom"],
            30,
            False,
            "Threat modelling for partnerships that live online.",
        ),
        (
            "closing",
            1,
            "13:30",
            "14:15",
            "Closing keynote",
            "keynote",
            "Plenary",
            "Online Stage",
            ["lucas", "fatima"],
            None,
            False,
            "What we heard, and what we will do with it.",
        ),
    ],
}


def _at(day: date, clock: str, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.fromisoformat(clock), zone).astimezone(UTC)


def parsed_programme(festival: Festival) -> Parsed:
    """The demo programme of ``festival`` as import rows (empty for other festivals)."""
    zone = ZoneInfo(festival.timezone)
    rows = []
    for (
        key,
        day,
        start,
        end,
        title,
        kind,
        track,
        room,
        who,
        capacity,
        live_qa,
        abstract,
    ) in PROGRAMMES.get(festival.slug, []):
        on = date.fromordinal(festival.starts_on.toordinal() + day)
        rows.append(
            SessionRow(
                where=f"demo {key}",
                key=f"demo-{festival.slug}-{key}",
                title=title,
                starts_at=_at(on, start, zone),
                ends_at=_at(on, end, zone),
                abstract=abstract,
                format=kind,
                track=track,
                room=room,
                speakers=[SPEAKERS[w] for w in who],
                capacity=capacity,
                live_qa=live_qa,
                language="en",
                present=frozenset(
                    {
                        "title",
                        "starts_at",
                        "ends_at",
                        "abstract",
                        "format",
                        "track",
                        "room",
                        "speakers",
                        "capacity",
                        "live_qa",
                        "language",
                    }
                ),
            )
        )
    rooms = {r.name: r for r in ROOMS.get(festival.slug, [])}
    return Parsed("csv", rows, rooms, dict(TRACK_COLOURS))


async def load(
    session: AsyncSession, owner: Account, festivals: list[Festival], settings: Settings
) -> list[str]:
    """Give each demo festival its programme (idempotent); return lines worth printing."""
    lines = []
    for festival in festivals:
        parsed = parsed_programme(festival)
        if not parsed.sessions:
            continue
        published_at, festival.published_at = festival.published_at, None
        try:  # the demo programme is the draft the festival was published from
            summary = await apply_rows(session, festival, parsed)
        finally:
            festival.published_at = published_at
        await session.flush()
        base = f"{settings.base_url}/api/v1/festivals/{festival.slug}"
        lines.append(
            f"programme: {festival.slug}: {summary.created['sessions']} sessions added, "
            f"{summary.unchanged['sessions']} already there; {base}/calendar.ics"
        )
    return lines
