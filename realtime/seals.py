"""The seal of an anonymous question: found again by its asker's token alone.

An anonymous question keeps no author (DESIGN.md): no name, no ``author_id``,
no hash a server secret could open. Its asker may still want it in their own
export (GDPR Article 15), so it carries a seal: HMAC-SHA-256 of the question's
id, keyed by a digest of the asker's bearer secret (``Principal.seal_key``),
which the server never stores (it keeps another digest, ``token_hash``). With
that token the export finds the question; a dump, even with every server
secret, cannot. Each question's seal differs, so seals do not link questions
to one another either. Not guaranteed: another device's token (a second
sign-in) does not open the seals of questions asked from the first.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid


def seal(key: bytes | None, question_id: uuid.UUID) -> str | None:
    if key is None:
        return None
    return hmac.new(key, question_id.bytes, hashlib.sha256).hexdigest()
