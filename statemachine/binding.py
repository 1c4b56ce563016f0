"""Binding the person into the audit chain: the identity number's keyed hash (pure).

A registration event records `person_hmac` = HMAC-SHA256(key, the 12-digit number) with a
key held outside the database (cases/audit_key.py). The chain then covers the number
without holding it: `audit verify` recomputes the HMAC of the number the case row stores
and compares, so a number changed in the database is found, and once the number itself is
erased (the data-lifecycle issue) the chain still verifies. Without the key, nobody who
reads the database can test a guessed number against the recorded HMAC.
"""

from __future__ import annotations

import hashlib
import hmac

PERSON = b"etablera/person/v1\x00"          # domain separation: the key signs anchors too
KEY_ID = b"etablera/key-id/v1\x00"


def person_hmac(key: bytes, person: str) -> str:
    """The hex HMAC-SHA256 of an identity number (12 digits, as the case row stores it)."""
    return hmac.new(key, PERSON + person.encode("utf-8"), hashlib.sha256).hexdigest()


def key_id(key: bytes) -> str:
    """A short public name of a key (what an anchor was signed with), not the key."""
    return hashlib.sha256(KEY_ID + key).hexdigest()[:16]


def same(a: str | None, b: str | None) -> bool:
    """Constant-time comparison of two hex digests (None never matches)."""
    return a is not None and b is not None and hmac.compare_digest(a, b)
