"""The payload format on its own: round trip, and no one-character change survives."""

from __future__ import annotations

import uuid

import pytest

from tickets import signing


def _verifies(public: bytes, text: str) -> bool:
    try:
        return signing.verify(public, signing.parse(text))
    except signing.BadPayload:
        return False


def test_payload_round_trips_and_is_compact() -> None:
    private, public = signing.new_keypair()
    ticket, festival = uuid.uuid4(), uuid.uuid4()
    text = signing.sign(private, ticket, festival, 7)
    assert len(text) == 135
    parsed = signing.parse(text)
    assert (parsed.ticket_id, parsed.festival_id, parsed.version) == (ticket, festival, 7)
    assert signing.verify(public, parsed)


def test_every_one_character_change_is_refused() -> None:
    private, public = signing.new_keypair()
    text = signing.sign(private, uuid.uuid4(), uuid.uuid4(), 1)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    accepted = [
        (at, c)
        for at in range(len(text))
        for c in alphabet
        if c != text[at] and _verifies(public, text[:at] + c + text[at + 1 :])
    ]
    assert accepted == []


def test_another_key_does_not_verify() -> None:
    private, _ = signing.new_keypair()
    _, other_public = signing.new_keypair()
    text = signing.sign(private, uuid.uuid4(), uuid.uuid4(), 1)
    assert not signing.verify(other_public, signing.parse(text))


@pytest.mark.parametrize("text", ["", "a", "====", "é" * 135, "A" * 135, "A" * 5000])
def test_non_payloads_are_bad_payloads(text: str) -> None:
    with pytest.raises(signing.BadPayload):
        signing.parse(text)
