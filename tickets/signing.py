"""Signed ticket payloads: what a QR code carries, and how anyone verifies it.

The payload is base64url (no padding) of 101 bytes::

    format   1 byte   0x01
    ticket  16 bytes  the ticket's UUID
    festival 16 bytes the festival's UUID
    version  4 bytes  big-endian unsigned; rises when a ticket is reissued
    sig     64 bytes  Ed25519 signature of the 37 bytes above

so a third-party scanner holding the festival's public key (from the check-in
bundle) can tell a real ticket from a forged one offline. The signature says
nothing of revocation: the bundle's revoked list and the server do. See
``docs/tickets.md``.
"""

from __future__ import annotations

import base64
import binascii
import struct
import uuid
from dataclasses import dataclass
from functools import lru_cache

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

FORMAT = 1
_HEAD = struct.Struct(">B16s16sI")
SIGNATURE_LENGTH = 64
PAYLOAD_LENGTH = _HEAD.size + SIGNATURE_LENGTH
MAX_TEXT_LENGTH = 400


class BadPayload(ValueError):
    """Not a ticket payload at all: garbage, truncated, wrong format."""


@dataclass(frozen=True)
class Payload:
    ticket_id: uuid.UUID
    festival_id: uuid.UUID
    version: int
    signed: bytes
    signature: bytes


def new_keypair() -> tuple[bytes, bytes]:
    """(private, public) raw Ed25519 keys, 32 bytes each (the private one is RFC 8032's seed)."""
    private = SigningKey.generate()
    return bytes(private), bytes(private.verify_key)


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def sign(private_key: bytes, ticket_id: uuid.UUID, festival_id: uuid.UUID, version: int) -> str:
    """The payload text of one version of a ticket."""
    head = _HEAD.pack(FORMAT, ticket_id.bytes, festival_id.bytes, version)
    signature = _private(private_key).sign(head).signature
    return b64url(head + signature)


def parse(text: str) -> Payload:
    """Decode a payload without verifying it; ``BadPayload`` if it cannot be one."""
    if not isinstance(text, str) or len(text) > MAX_TEXT_LENGTH:
        raise BadPayload("not a ticket payload")
    text = text.strip()
    if not text or not _ALPHABET.issuperset(text):
        raise BadPayload("not base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise BadPayload("not base64url") from exc
    if len(raw) != PAYLOAD_LENGTH:
        raise BadPayload("wrong length: truncated or not a ticket")
    if b64url(raw) != text:
        # The last character carries unused bits; only the canonical spelling is a
        # ticket, so that any one-character change is refused.
        raise BadPayload("not the canonical encoding")
    fmt, ticket, festival, version = _HEAD.unpack(raw[: _HEAD.size])
    if fmt != FORMAT:
        raise BadPayload("unknown payload format")
    return Payload(
        ticket_id=uuid.UUID(bytes=ticket),
        festival_id=uuid.UUID(bytes=festival),
        version=version,
        signed=raw[: _HEAD.size],
        signature=raw[_HEAD.size :],
    )


def verify(public_key: bytes, payload: Payload) -> bool:
    try:
        _public(public_key).verify(payload.signed, payload.signature)
    except BadSignatureError:
        return False
    return True


_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


# Ed25519 by libsodium (PyNaCl): a verify, the door's largest single cost, took
# 62 us here against 112 us with OpenSSL's (the ``cryptography`` package). Ed25519
# signatures are deterministic, so tickets signed by either verify with either.
@lru_cache(maxsize=256)
def _private(raw: bytes) -> SigningKey:
    return SigningKey(raw)


@lru_cache(maxsize=256)
def _public(raw: bytes) -> VerifyKey:
    return VerifyKey(raw)
