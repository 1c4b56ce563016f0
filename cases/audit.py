"""The tamper-evident audit trail: how an event's hash is made, and how to check a chain.

hash = SHA-256 over the previous event's hash and the event's own content in a canonical
JSON form. Changing, removing or reordering any event of a case breaks every hash after
it; `verify` walks each case's chain and reports the first break, and also checks that
the case's stored state is the state its last event led to.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import Connection, select

from etablera.models import AuditEvent, Case
from etablera.statemachine.messages import Code, render

GENESIS = "0" * 64
EVENTS = AuditEvent.__table__
CASES = Case.__table__
HASHED = ("case_id", "seq", "at", "recorded_at", "actor", "trigger", "from_state", "to_state",
          "municipality", "reason", "note", "skipped", "data")


_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _instant(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds")


def event_hash(prev_hash: str, event: dict) -> str:
    """SHA-256 over the previous hash and the event's fields (HASHED order) as a JSON list:
    canonical (fixed order, sorted keys inside `data`, UTC instants) and injective."""
    body = [event.get(k) for k in HASHED]
    body[2], body[3] = _instant(body[2]), _instant(body[3])          # at, recorded_at
    return hashlib.sha256((prev_hash + _CANONICAL.encode(body)).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Break:
    """One break of a chain: the case, the event (None: the case as a whole), and what is
    wrong as a code of the message catalogue (`audit_*`) with its parameters."""
    case_id: int
    seq: int | None
    code: str
    params: dict = field(default_factory=dict)

    @property
    def problem(self) -> str:
        return render(self.code, self.params, "en")

    def text(self, lang: str = "en") -> str:
        """`case N event S: problem` in `lang` (sv | en)."""
        problem = render(self.code, self.params, lang)
        if self.seq is None:
            return render("audit_break_case", {"case": self.case_id, "problem": Code(problem)}, lang)
        return render("audit_break_event", {"case": self.case_id, "seq": self.seq, "problem": Code(problem)}, lang)

    def __str__(self) -> str:
        return self.text("en")


def verify(conn: Connection, case_ids: list[int] | None = None, *, store=None) -> tuple[int, int, list[Break]]:
    """Check every chain (or those of `case_ids`). Returns (cases, events, breaks).
    Streams the events in (case, seq) order, so memory stays flat on large databases.
    With `store` (cases/document_store.py) also each note's text and each document's file
    against the digest its event recorded (cases/document_check.py)."""
    heads = {}
    query = select(CASES.c.id, CASES.c.state, CASES.c.last_seq, CASES.c.last_hash)
    if case_ids:
        query = query.where(CASES.c.id.in_(case_ids))
    for row in conn.execute(query):
        heads[row.id] = row
    cases = len(heads)
    breaks: list[Break] = []
    events = 0
    current, prev_hash, expected_seq, last_to = None, GENESIS, 1, None

    def close_chain(case_id):
        head = heads.pop(case_id, None)
        if head is None:
            breaks.append(Break(case_id, None, "audit_events_without_case"))
            return
        if head.last_seq != expected_seq - 1 or head.last_hash != prev_hash:
            breaks.append(Break(case_id, None, "audit_head_mismatch"))
        if head.state != last_to:
            breaks.append(Break(case_id, None, "audit_state_mismatch",
                                  {"stored": Code(str(head.state)), "last": Code(str(last_to))}))

    query = select(*[EVENTS.c[k] for k in HASHED + ("prev_hash", "hash")]).order_by(EVENTS.c.case_id, EVENTS.c.seq)
    if case_ids:
        query = query.where(EVENTS.c.case_id.in_(case_ids))
    broken_case = None
    for row in conn.execution_options(yield_per=10_000).execute(query).mappings():
        events += 1
        if row["case_id"] != current:
            if current is not None:
                close_chain(current)
            current, prev_hash, expected_seq, broken_case = row["case_id"], GENESIS, 1, None
        if broken_case == current:
            prev_hash, expected_seq, last_to = row["hash"], row["seq"] + 1, row["to_state"]
            continue
        if row["seq"] != expected_seq:
            breaks.append(Break(current, row["seq"], "audit_event_missing", {"expected": expected_seq}))
            broken_case = current
        elif row["prev_hash"] != prev_hash:
            breaks.append(Break(current, row["seq"], "audit_not_linked"))
            broken_case = current
        elif event_hash(prev_hash, dict(row)) != row["hash"]:
            breaks.append(Break(current, row["seq"], "audit_content_changed"))
            broken_case = current
        prev_hash, expected_seq, last_to = row["hash"], row["seq"] + 1, row["to_state"]
    if current is not None:
        close_chain(current)
    for case_id in list(heads):
        breaks.append(Break(case_id, None, "audit_no_events"))
    if store is not None:
        from etablera.cases.document_check import journal_breaks
        breaks.extend(journal_breaks(conn, store, case_ids))
    return cases, events, breaks


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
