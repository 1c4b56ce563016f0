"""Erasable values in the audit chain: each is bound by a keyed hash, so the value itself
can be erased (gallring, cases/retention.py) and the chain still verifies (pure).

An audit event's hash (cases/audit.py) covers its content with every *erasable* value
replaced by its commitment `sealed:` + HMAC-SHA256(salt, value), where the salt is 16
random bytes made for that one value when the event was written (`journal.link`). The
salts are kept on the event (`audit_events.salts`, outside the hash); the values stay
where they always were (the event's note, its data), so every reader sees them as before.

Erasure replaces each value by its commitment and drops its salt: the hash is unchanged
(it covered the commitment all along), and without the salt nobody can test a guess
against the commitment, not even someone who holds the audit key or the database. A
value changed in the database no longer gives its commitment, so the chain breaks as
before.

Why a random salt per value rather than the audit key (cases/audit_key.py): it binds as
well (a keyed hash whose key is erased with the value), and every writer (the bulk
writers, a migration) can seal without the key file, and a lost key file does not leave
every event with a name or a note unverifiable.

Erasable values, by retention category:
- `justifications`: the event's `note` (a step's justification, a correction's, a hold's reason);
- `identity`: the registration's `data.details.*` and `update_person`'s `data.changes.*.old/new`.

Events written before the salts (migration 0013 gave every intact chain its salts) carry
none: their values are hashed as they are, exactly as before.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets

from etablera.statemachine.process import CASEWORK, REGISTER as REGISTER_TRIGGER

SEALED = "sealed:"
ERASED_PERSON = ""              # the case row's identity number once erased (the column is NOT NULL)
_CONTEXT = b"etablera/erasable/v1\x00"
_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
CATEGORY_OF_ROOT = {"note": "justifications", "details": "identity", "changes": "identity"}
REGISTER, UPDATE_PERSON = REGISTER_TRIGGER.name, CASEWORK.update_person


def commitment(salt: str, value) -> str:
    """`sealed:` + the hex HMAC-SHA256 of the value (canonical JSON) under its salt (hex)."""
    digest = hmac.new(bytes.fromhex(salt), _CONTEXT + _CANONICAL.encode(value).encode("utf-8"), hashlib.sha256)
    return SEALED + digest.hexdigest()


def is_sealed(value) -> bool:
    return isinstance(value, str) and value.startswith(SEALED) and len(value) == len(SEALED) + 64


def erasable(event: dict) -> list[tuple[str, object]]:
    """The erasable values the event holds that are not erased: (path, value), where a path
    is `note`, `details.NAME` or `changes.NAME.old|new`."""
    found: list[tuple[str, object]] = []
    note = event.get("note")
    if note is not None and not is_sealed(note):
        found.append(("note", note))
    data = event.get("data") or {}
    trigger = event.get("trigger")
    if trigger == REGISTER:
        for name, value in (data.get("details") or {}).items():
            if value is not None and not is_sealed(value):
                found.append((f"details.{name}", value))
    elif trigger == UPDATE_PERSON:
        for name, change in (data.get("changes") or {}).items():
            for side in ("old", "new"):
                value = (change or {}).get(side)
                if value is not None and not is_sealed(value):
                    found.append((f"changes.{name}.{side}", value))
    return found


def new_salts(event: dict) -> dict | None:
    """A fresh salt for each erasable value of a new event (None: it holds none)."""
    return {path: secrets.token_hex(16) for path, _ in erasable(event)} or None


def _get(event: dict, path: str):
    if path == "note":
        return event.get("note")
    node = event.get("data") or {}
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _with(event: dict, values: dict) -> dict:
    """A copy of the event with the values at `values`' paths replaced (data copied only
    where it changes)."""
    out = dict(event)
    if "note" in values:
        out["note"] = values["note"]
    nested = {p: v for p, v in values.items() if p != "note"}
    if nested:
        data = dict(out.get("data") or {})
        for path, value in nested.items():
            parts = path.split(".")
            node = data
            for part in parts[:-1]:
                node[part] = dict(node.get(part) or {})
                node = node[part]
            node[parts[-1]] = value
        out["data"] = data
    return out


def hashed_form(event: dict) -> dict:
    """The event as its hash covers it: each salted value replaced by its commitment."""
    salts = event.get("salts")
    if not salts:
        return event
    values = {}
    for path, salt in salts.items():
        value = _get(event, path)
        if value is not None and not is_sealed(value):
            values[path] = commitment(salt, value)
    return _with(event, values) if values else event


def erased(event: dict, categories: set[str]) -> tuple[dict, bool]:
    """The event with its values of `categories` erased (each replaced by its commitment,
    its salt dropped): (note, data, salts) to store, and whether anything changed. A value
    without a salt (an event of a chain that was already broken when the salts came) is
    replaced by a commitment under a salt thrown away: it is erased all the same."""
    salts = dict(event.get("salts") or {})
    values = {}
    for path, value in erasable(event):
        if CATEGORY_OF_ROOT[path.split(".")[0]] in categories:
            values[path] = commitment(salts.pop(path, None) or secrets.token_hex(16), value)
    if not values:
        return event, False
    out = _with(event, values)
    out["salts"] = salts or None
    return out, True


def shown(value):
    """A value as a reader shows it: None once erased (its commitment is nobody's business)."""
    return None if is_sealed(value) else value
