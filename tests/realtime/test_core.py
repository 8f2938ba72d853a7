"""The pure core: frames, limits, sequence numbers, replay and coalescing (no I/O)."""

from __future__ import annotations

import json
import uuid

import pytest

from realtime.broker import PRESENCE_TTL
from realtime.channel import ChannelLog, Recorded, Stamped, fresh_base
from realtime.coalesce import Coalescer
from realtime.hub import PRESENCE_REFRESH, cadences
from realtime.protocol import (
    CLOSE_POLICY,
    Allowance,
    ClientState,
    Command,
    Event,
    Limits,
    Reply,
    decide,
    sees,
)


def _error(decision: Command | Reply) -> dict[str, object]:
    assert isinstance(decision, Reply)
    frame: dict[str, object] = json.loads(decision.frames[0])
    assert frame["type"] == "error"
    return frame


def _frame(kind: str, data: object, frame_id: object = "a1") -> str:
    return json.dumps({"type": kind, "id": frame_id, "data": data})


@pytest.mark.parametrize(
    ("raw", "code", "frame_id"),
    [
        ("{not json", "bad_json", None),
        ("[1, 2]", "bad_frame", None),
        (_frame("question.shout", {}), "unknown_type", "a1"),
        (_frame("question.ask", {}), "invalid", "a1"),
        (_frame("question.ask", {"text": "hi", "colour": "red"}), "invalid", "a1"),
        (_frame("question.vote", {"question_id": "not-a-uuid"}), "invalid", "a1"),
        (_frame("poll.vote", {"option_ids": []}), "invalid", "a1"),
        (
            _frame("question.moderate", {"question_id": str(uuid.uuid4()), "action": "approve"}),
            "forbidden",
            "a1",
        ),
        (_frame("poll.create", {"question": "Q?", "kind": "text"}), "forbidden", "a1"),
        ("x" * 5000, "too_large", None),
        (_frame("question.ask", {"text": "x" * 5000}), "too_large", "a1"),
    ],
)
def test_bad_frames_get_an_error_with_the_client_id_and_a_code(
    raw: str, code: str, frame_id: object
) -> None:
    frame = _error(decide(ClientState("attendee"), raw, 0.0))
    assert frame["code"] == code
    assert frame["id"] == frame_id


def test_a_valid_frame_becomes_a_command() -> None:
    qid = uuid.uuid4()
    decision = decide(
        ClientState("attendee"), _frame("question.vote", {"question_id": str(qid)}), 0
    )
    assert isinstance(decision, Command)
    assert decision.type == "question.vote"
    assert decision.data.question_id == qid
    assert decision.data.up is True


def test_ping_is_answered_at_once_for_every_role() -> None:
    for role in ("attendee", "moderator", "projector"):
        decision = decide(ClientState(role), _frame("ping", {}, 7), 0)
        assert isinstance(decision, Reply)
        assert json.loads(decision.frames[0]) == {"type": "ack", "id": 7, "data": {"pong": True}}


def test_projector_may_only_ping() -> None:
    state = ClientState("projector")
    frame = _error(decide(state, _frame("question.ask", {"text": "hi"}), 0))
    assert frame["code"] == "forbidden"


def test_questions_are_limited_per_minute_and_refill() -> None:
    state = ClientState("attendee", Limits(questions_per_minute=2, question_burst=2))
    ask = _frame("question.ask", {"text": "why?"})
    assert isinstance(decide(state, ask, 0.0), Command)
    assert isinstance(decide(state, ask, 0.1), Command)
    assert _error(decide(state, ask, 0.2))["code"] == "rate_limited"
    assert isinstance(decide(state, ask, 31.0), Command)


def test_an_attendees_sockets_share_one_allowance() -> None:
    limits = Limits(questions_per_minute=1, question_burst=1)
    shared = Allowance.of(limits)
    tab, phone = ClientState("attendee", limits, shared), ClientState("attendee", limits, shared)
    ask = _frame("question.ask", {"text": "why?"})
    assert isinstance(decide(tab, ask, 0.0), Command)
    assert _error(decide(phone, ask, 0.1))["code"] == "rate_limited"


def test_votes_are_limited_per_second() -> None:
    state = ClientState("attendee", Limits(votes_per_second=1, vote_burst=2))
    vote = _frame("question.vote", {"question_id": str(uuid.uuid4())})
    assert isinstance(decide(state, vote, 0.0), Command)
    assert isinstance(decide(state, vote, 0.0), Command)
    assert _error(decide(state, vote, 0.0))["code"] == "rate_limited"
    assert isinstance(decide(state, vote, 1.0), Command)


def test_repeated_abuse_closes_with_the_policy_code() -> None:
    state = ClientState("attendee", Limits(abuse_errors=3, abuse_window=10))
    first, second = decide(state, "nope", 0), decide(state, "nope", 1)
    third = decide(state, "nope", 2)
    assert isinstance(first, Reply)
    assert first.close is None
    assert isinstance(second, Reply)
    assert second.close is None
    assert isinstance(third, Reply)
    assert third.close == CLOSE_POLICY


def test_abuse_strikes_expire_after_the_window() -> None:
    state = ClientState("attendee", Limits(abuse_errors=2, abuse_window=10))
    decide(state, "nope", 0)
    late = decide(state, "nope", 11)
    assert isinstance(late, Reply)
    assert late.close is None


def test_audiences() -> None:
    assert [sees(r, "all") for r in ("attendee", "moderator", "projector")] == [True] * 3
    assert [sees(r, "staff") for r in ("attendee", "moderator", "projector")] == [
        False,
        True,
        True,
    ]
    assert [sees(r, "moderators") for r in ("attendee", "moderator", "projector")] == [
        False,
        True,
        False,
    ]


def _ev(n: int) -> Event:
    return Event("presence", {"count": n})


def test_channel_log_numbers_without_gaps_and_replays_exactly() -> None:
    log = ChannelLog(size=10)
    seqs = [log.append(_ev(i)).seq for i in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    assert [s.seq for s in log.since(2) or []] == [3, 4, 5]
    assert log.since(5) == []


def test_channel_log_says_when_the_events_are_gone() -> None:
    log = ChannelLog(size=3)
    for i in range(6):
        log.append(_ev(i))
    assert log.since(2) is None
    assert [s.seq for s in log.since(3) or []] == [4, 5, 6]
    assert log.since(9) is None


def test_recorded_numbers_ignore_duplicates_and_report_a_gap() -> None:
    log = ChannelLog(size=10, last_seq=4)
    assert log.record(Stamped(5, _ev(5))) is Recorded.KEPT
    assert log.record(Stamped(5, _ev(5))) is Recorded.SEEN
    assert log.record(Stamped(8, _ev(8))) is Recorded.GAP
    assert log.since(5) is None
    assert log.since(7) == [Stamped(8, _ev(8))]


def test_a_new_epoch_is_reported_and_numbers_of_the_old_one_resume_nothing() -> None:
    log = ChannelLog(size=10, last_seq=103, base=100)
    assert log.record(Stamped(104, _ev(1), 100)) is Recorded.KEPT
    # The broker lost its numbers and began again above them, at 5000.
    assert log.record(Stamped(5001, _ev(2), 5000)) is Recorded.RESTARTED
    assert (log.base, log.last_seq) == (5000, 5001)
    assert log.record(Stamped(105, _ev(3), 100)) is Recorded.SEEN  # late, from the old epoch
    assert log.since(104) is None  # a client still on the old numbering re-reads
    assert log.since(5000) == [Stamped(5001, _ev(2), 5000)]
    assert log.record(Stamped(5002, _ev(4), 5000)) is Recorded.KEPT


def test_an_epoch_begun_by_the_clock_lies_above_the_last_one() -> None:
    first = fresh_base()
    assert fresh_base(first + 10**9) == first + 10**9
    assert fresh_base() >= first


def test_a_count_whose_publication_failed_goes_out_again_unless_a_newer_came() -> None:
    coalescer = Coalescer(interval=0.1)
    coalescer.offer("q:1", 1, 10)
    coalescer.offer("q:2", 1, 20)
    taken = coalescer.take(0.0)
    coalescer.offer("q:2", 2, 21)
    coalescer.again(taken)
    assert coalescer.take(1.0) == {"q:1": (1, 10), "q:2": (2, 21)}


def test_coalescer_lets_out_at_most_once_per_interval_and_keeps_the_newest() -> None:
    coalescer = Coalescer(interval=0.1)
    coalescer.offer("q:1", 1, 1)
    assert coalescer.take(0.0) == {"q:1": (1, 1)}
    coalescer.offer("q:1", 3, 3)
    assert not coalescer.offer("q:1", 2, 2)
    assert coalescer.take(0.05) == {}
    assert coalescer.take(0.1) == {"q:1": (3, 3)}
    assert coalescer.take(1.0) == {}


def test_coalescer_converges_on_the_last_value_of_a_storm() -> None:
    coalescer = Coalescer(interval=0.1)
    released: dict[str, int] = {}
    for tick in range(1000):
        coalescer.offer("q:1", tick + 1, tick + 1)
        for key, (_, value) in coalescer.take(tick * 0.001).items():
            released[key] = value
    assert len([t for t in range(1000) if t % 100 == 0]) == 10
    for key, (_, value) in coalescer.take(5.0).items():
        released[key] = value
    assert released == {"q:1": 1000}


def test_a_big_room_hears_its_presence_more_rarely_than_its_counts() -> None:
    assert cadences(100, 0.1) == (0.1, 0.1)
    counts, presence = cadences(10_000, 0.1)
    assert counts == 1.0
    assert presence > counts
    # Still often enough that a node's count outlives no refresh: the broker
    # forgets a node that said nothing for PRESENCE_TTL.
    assert cadences(10**6, 0.1)[1] + PRESENCE_REFRESH < PRESENCE_TTL
