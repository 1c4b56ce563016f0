"""The tamper-evident audit trail: how an event's hash is made, and how to check a chain.

hash = SHA-256 over the previous event's hash and the event's own content in a canonical
JSON form. Changing, removing or reordering any event of a case breaks every hash after
it; `verify` walks each case's chain and reports the first break, and replays the chain
against the case row and its measures (cases/replay.py): the state, the municipality, the
person (through the HMAC the registration bound, statemachine/binding.py) and every other
column the events determine. `audit anchor` (cases/anchor.py) keeps the chain heads outside
the database, so that a database rewritten with recomputed chains is found as well.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime

import orjson
from sqlalchemy import Connection, select

from etablera.cases.breaks import Break, Note
from etablera.cases.document_check import journal_breaks
from etablera.cases.sealing import hashed_form
from etablera.models import AuditEvent, Case
from etablera.models.timestamps import UTC_ISO, utc_digits
from etablera.statemachine.messages import Code

GENESIS = "0" * 64
EVENTS = AuditEvent
CASES = Case
HASHED = ("case_id", "seq", "at", "recorded_at", "actor", "trigger", "from_state", "to_state",
          "municipality", "reason", "note", "skipped", "data")


# The canonical JSON: compact, keys sorted, UTF-8 as it is. orjson writes it (a fifth of the
# standard library's time, a fortieth of a persisted step); the standard library's, which
# wrote every hash before, spells it the same but for floats in exponent form (1e+16 for
# 1e16) and NaN, and writes what orjson refuses (integers beyond 64 bits, keys that are not
# strings). tests/test_event_hash.py holds the two together.
_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _instant(value: datetime) -> str:
    """isoformat(timespec="microseconds") of the instant in UTC (tests/test_utc_digits.py)."""
    return utc_digits(value, UTC_ISO)


def _body(event: dict) -> list:
    form = hashed_form(event)
    body = [form.get(k) for k in HASHED]
    body[2], body[3] = _instant(body[2]), _instant(body[3])          # at, recorded_at
    return body


def event_hash(prev_hash: str, event: dict) -> str:
    """SHA-256 over the previous hash and the event's fields (HASHED order) as a JSON list:
    canonical (fixed order, sorted keys inside `data`, UTC instants) and injective. Each
    erasable value with a salt counts as its commitment (cases/sealing.py), so erasing it
    leaves the hash as it was."""
    return _hash(prev_hash, _body(event))


def _hash(prev_hash: str, body: list) -> str:
    try:
        text = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        return _standard_hash(prev_hash, body)
    return hashlib.sha256(prev_hash.encode() + text).hexdigest()


def _standard_hash(prev_hash: str, body: list) -> str:
    return hashlib.sha256((prev_hash + _CANONICAL.encode(body)).encode("utf-8")).hexdigest()


def hash_holds(prev_hash: str, event: dict, digest: str) -> bool:
    """Whether `digest` is the event's hash: as `event_hash` makes it, or as the standard
    library's JSON spelled an event holding a float in exponent form when it was written."""
    body = _body(event)
    return _hash(prev_hash, body) == digest or _standard_hash(prev_hash, body) == digest


@dataclass
class Verification:
    cases: int = 0
    events: int = 0
    breaks: list[Break] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)


FROM_FILE = object()          # verify's default key: the configured key file's (cases/audit_key.py)
_END = object()               # what an exhausted _Peek shows
_NONE_LEFT = float("inf")


def _key(item, name: str):
    return _NONE_LEFT if item is _END else item[name]


class _Peek:
    """An iterator that shows its next item without taking it."""

    def __init__(self, iterable):
        self._it, self._next = iter(iterable), None
        self._advance()

    def _advance(self):
        self._next = next(self._it, _END)

    def peek(self):
        return self._next

    def take(self):
        item = self._next
        self._advance()
        return item


def verify(conn: Connection, case_ids: list[int] | None = None, *, store=None, key=FROM_FILE,
           anchor=None) -> tuple[int, int, list[Break]]:
    """`check`'s (cases, events, breaks)."""
    result = check(conn, case_ids, store=store, key=key, anchor=anchor)
    return result.cases, result.events, result.breaks


def check(conn: Connection, case_ids: list[int] | None = None, *, store=None, key=FROM_FILE,
          anchor=None) -> Verification:
    """Check every chain (or those of `case_ids`) and replay it against the case row and its
    measures (cases/replay.py says which columns and why those). Returns the cases, the
    events, the breaks and the notes.

    Streams the cases by id, the events in (case, seq) order and the measures in (case, id)
    order side by side, so memory stays flat on large databases (one case's events at a
    time). `key`: the audit key that bound each person's number (by default the configured
    key file's; None: the numbers are not checked). `anchor` (cases/anchor.py, its
    signature already checked): a database whose chains were rewritten since it was made
    is reported (a head at an anchored seq with another hash, fewer events than anchored,
    a case missing); a chain grown since is fine. With `store` (cases/document_store.py)
    also each note's text and each document's file against the digest its event
    recorded (cases/document_check.py)."""
    from etablera.cases.audit_key import key_path, load_key
    from etablera.cases.replay import PERSONAL, Diverged, Replay
    from etablera.cases.sealing import ERASED_PERSON
    from etablera.models import Measure
    from etablera.statemachine.binding import person_hmac, same

    key_file = None
    if key is FROM_FILE:
        key_file = key_path(conn.engine)
        key = load_key(conn.engine)
    measures_table = Measure
    stream = conn.execution_options(yield_per=10_000)
    case_query = select(CASES).order_by(CASES.c.id)
    event_query = (select(*[EVENTS.c[k] for k in HASHED + ("salts", "prev_hash", "hash")])
                   .order_by(EVENTS.c.case_id, EVENTS.c.seq))
    measure_query = select(measures_table).order_by(measures_table.c.case_id, measures_table.c.id)
    if case_ids:
        case_query = case_query.where(CASES.c.id.in_(case_ids))
        event_query = event_query.where(EVENTS.c.case_id.in_(case_ids))
        measure_query = measure_query.where(measures_table.c.case_id.in_(case_ids))
    rows = _Peek(stream.execute(case_query).mappings())
    events = _Peek(stream.execute(event_query).mappings())
    measures = _Peek(stream.execute(measure_query).mappings())
    result = Verification()
    breaks = result.breaks
    heads = _Peek(())
    if anchor is not None:
        if anchor.problem is not None:
            breaks.append(Break(None, None, anchor.problem, anchor.problem_params))
        else:
            wanted = set(case_ids) if case_ids else None
            heads = _Peek(h for h in anchor.heads() if wanted is None or h[0] in wanted)
    unbound = unchecked = 0
    unknown: set[str] = set()

    def chain_of(case_id: int, chain: list) -> tuple[bool, int, str, str | None]:
        """The chain's own checks: (intact, next seq, head hash, last to_state)."""
        prev_hash, expected_seq, last_to, intact = GENESIS, 1, None, True
        for row in chain:
            if intact:
                if row["seq"] != expected_seq:
                    breaks.append(Break(case_id, row["seq"], "audit_event_missing", {"expected": expected_seq}))
                    intact = False
                elif row["prev_hash"] != prev_hash:
                    breaks.append(Break(case_id, row["seq"], "audit_not_linked"))
                    intact = False
                elif not hash_holds(prev_hash, dict(row), row["hash"]):
                    breaks.append(Break(case_id, row["seq"], "audit_content_changed"))
                    intact = False
            prev_hash, expected_seq, last_to = row["hash"], row["seq"] + 1, row["to_state"]
        return intact, expected_seq, prev_hash, last_to

    while True:
        case_id = min(_key(rows.peek(), "id"), _key(events.peek(), "case_id"))
        if case_id is _NONE_LEFT:
            break
        row = rows.take() if rows.peek() is not _END and rows.peek()["id"] == case_id else None
        chain = []
        while events.peek() is not _END and events.peek()["case_id"] == case_id:
            chain.append(events.take())
        mine = []
        while measures.peek() is not _END and measures.peek()["case_id"] <= case_id:
            measure = measures.take()
            if measure["case_id"] == case_id:
                mine.append(measure)
            else:                         # a measure of a case with neither row nor events
                breaks.append(Break(measure["case_id"], None, "audit_measure_unrecorded", {"measure": measure["id"]}))
        while heads.peek() is not _END and heads.peek()[0] <= case_id:
            head = heads.take()
            if head[0] == case_id:
                _check_anchored(case_id, head, chain, breaks)
            else:
                breaks.append(Break(head[0], None, "audit_anchor_case_missing", {"seq": head[1]}))
        result.events += len(chain)
        if row is None:
            breaks.append(Break(case_id, None, "audit_events_without_case"))
            continue
        result.cases += 1
        if not chain:
            breaks.append(Break(case_id, None, "audit_no_events"))
            continue
        intact, expected_seq, head_hash, last_to = chain_of(case_id, chain)
        if row["last_seq"] != expected_seq - 1 or row["last_hash"] != head_hash:
            breaks.append(Break(case_id, None, "audit_head_mismatch"))
        if row["state"] != last_to:
            breaks.append(Break(case_id, None, "audit_state_mismatch",
                                {"stored": Code(str(row["state"])), "last": Code(str(last_to))}))
        if not intact:
            continue                      # the chain's break is the finding; a replay of it says nothing more
        replay = Replay()
        try:
            for event in chain:
                replay.apply(event)
        except Diverged as exc:
            breaks.append(Break(case_id, exc.seq, "audit_replay_diverges",
                                {"trigger": exc.trigger, "state": exc.state}))
            continue
        unknown.update(replay.unknown)
        for column in replay.column_differences(row):
            if column == "state":
                continue                  # reported above (audit_state_mismatch)
            if column in PERSONAL:        # personal data: the column only, never the values
                breaks.append(Break(case_id, None, "audit_column_mismatch", {"column": Code(column)}))
            else:
                breaks.append(Break(case_id, None, "audit_column_differs",
                                    {"column": Code(column), "stored": _shown(row[column]),
                                     "replayed": _shown(replay.case.get(column))}))
        if row["person"] == ERASED_PERSON and not row["active"]:
            pass                          # erased (gallring) after the case ended: nothing left to compare
        elif replay.person_hmac is None:
            unbound += 1
        elif key is None:
            unchecked += 1
        elif row["person"] is not None and not same(person_hmac(key, row["person"]), replay.person_hmac):
            breaks.append(Break(case_id, None, "audit_person_mismatch"))
        seen = set()
        for measure in mine:
            seen.add(measure["id"])
            if measure["id"] not in replay.measures:
                breaks.append(Break(case_id, None, "audit_measure_unrecorded", {"measure": measure["id"]}))
                continue
            for column in replay.measure_differences(measure["id"], measure):
                breaks.append(Break(case_id, None, "audit_measure_differs",
                                    {"measure": measure["id"], "column": Code(column),
                                     "stored": _shown(measure[column]),
                                     "replayed": _shown(replay.measures[measure["id"]][column])}))
        for measure_id in sorted(set(replay.measures) - seen):
            breaks.append(Break(case_id, None, "audit_measure_missing", {"measure": measure_id}))
    while measures.peek() is not _END:
        measure = measures.take()
        breaks.append(Break(measure["case_id"], None, "audit_measure_unrecorded", {"measure": measure["id"]}))
    while heads.peek() is not _END:
        head = heads.take()
        breaks.append(Break(head[0], None, "audit_anchor_case_missing", {"seq": head[1]}))
    if unchecked:
        breaks.append(Break(None, None, "audit_key_missing", {"count": unchecked, "file": Code(str(key_file or "–"))}))
    if unbound:
        result.notes.append(Note("audit_note_unbound", {"count": unbound}))
    if unknown:
        result.notes.append(Note("audit_note_unknown_events", {"triggers": Code(", ".join(sorted(unknown)))}))
    if store is not None:
        breaks.extend(journal_breaks(conn, store, case_ids))
    return result


def _check_anchored(case_id: int, head: tuple, chain: list, breaks: list[Break]) -> None:
    """A chain against its anchored head (case, seq, hash): the event at that seq must have
    that hash (every later event may have been added since)."""
    _, seq, digest = head
    event = next((e for e in chain if e["seq"] == seq), None)
    if event is None:
        breaks.append(Break(case_id, None, "audit_anchor_fewer_events", {"seq": seq}))
    elif event["hash"] != digest:
        breaks.append(Break(case_id, seq, "audit_anchor_rewritten"))


def _shown(value):
    """A column's value as a break shows it: instants in full (a minute is not enough)."""
    if isinstance(value, datetime):
        return Code(value.isoformat())
    if isinstance(value, str):
        return Code(value)
    return value


def events_in(query, municipality: str | None, since: datetime | None, until: datetime | None):
    """`query` over audit events, narrowed to a municipality (where the case was at the
    event) and a period [since, until)."""
    if municipality:
        query = query.where(EVENTS.c.municipality == municipality)
    if since:
        query = query.where(EVENTS.c.at >= since)
    if until:
        query = query.where(EVENTS.c.at < until)
    return query
