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


def test_tickets_and_keys_agree_with_a_second_ed25519() -> None:
    """Keys made and tickets signed before signing moved from OpenSSL's Ed25519
    (``cryptography``) to libsodium's (PyNaCl) are the ones festivals hold and
    attendees carry: the same key signs the same text, and each side verifies
    the other's, as a third-party scanner with the bundle's key would."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )

    before = Ed25519PrivateKey.generate()
    private = before.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    public = before.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    ticket, festival = uuid.uuid4(), uuid.uuid4()
    head = signing._HEAD.pack(signing.FORMAT, ticket.bytes, festival.bytes, 4)
    carried = signing.b64url(head + before.sign(head))
    assert signing.sign(private, ticket, festival, 4) == carried
    assert _verifies(public, carried)
    assert not _verifies(public, signing.sign(signing.new_keypair()[0], ticket, festival, 4))

    made_private, made_public = signing.new_keypair()
    text = signing.sign(made_private, ticket, festival, 1)
    parsed = signing.parse(text)
    Ed25519PublicKey.from_public_bytes(made_public).verify(parsed.signature, parsed.signed)
    other = Ed25519PrivateKey.from_private_bytes(made_private).public_key()
    assert other.public_bytes(Encoding.Raw, PublicFormat.Raw) == made_public
    with pytest.raises(InvalidSignature):
        Ed25519PublicKey.from_public_bytes(public).verify(parsed.signature, parsed.signed)
