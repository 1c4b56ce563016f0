"""The event feed (händelseflöde): the state changes of cases, in an order other systems
can follow from a cursor without missing one (GET /api/v1/events, the webhooks).

An item is a state change: an audit event whose trigger is one of the process's
(statemachine/process.py TRIGGERS, registration included) or a correction (which moves
the state back). It carries the case id, seq, trigger, from and to state, time and
municipality: no personal data, no notes, no reasons.

The order, and why nothing is skipped
-------------------------------------
Ids are handed out when a row is inserted, not when its transaction commits: on
PostgreSQL a transaction holding id 10 may commit after one holding id 11, and a reader
that had already gone past 11 would never see 10. The audit trail is append-only (a
trigger refuses UPDATE), so no position can be stamped at commit. Instead each event
carries the id of the transaction that wrote it (`txid`, a column default:
pg_current_xact_id()), and the feed
- orders by (txid, id), the cursor being the last (txid, id) handed out (opaque text);
- serves only events of transactions certainly finished: txid below the xmin of the
  reading snapshot (pg_snapshot_xmin(pg_current_snapshot())), the oldest transaction
  still running. Any event that becomes visible later was written by a transaction still
  running then, so its txid is at least that xmin: it sorts after every cursor already
  handed out. Nothing is skipped; a late commit only arrives later.
A long-running (or idle-in-transaction) transaction holds the feed back while it runs:
the feed is delayed, never loses an event. On SQLite txid is 0: writers take turns
(BEGIN IMMEDIATE and the writers' lock), so id order is commit order already.

Per case the feed is in seq order: every use case that writes an event (cases/service.py
advance and register, measures.py, person.py, assignment.py, notes.py, documents.py,
corrections.py, holds.py, followup.py, importing.py for new cases) reads the case
(journal.load_case) before its first write in the transaction and appends with a
version check (journal.append). A later step of a case therefore read the earlier step's
commit before it wrote anything, so its transaction id — assigned at its first write —
is larger than the earlier step's. (A use case that wrote before reading the case could
break this; keep load_case first. The two that write several cases in one transaction,
assignment.reassign_all and reminders/recompute.py, write `assign` and due-date events,
which are not in the feed.)
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Collection
from datetime import timezone

from sqlalchemy import literal_column, select, true, tuple_, union_all
from sqlalchemy.engine import Connection, Engine

from etablera.models import AuditEvent
from etablera.access.principal import Principal
from etablera.models.database import transaction
from etablera.statemachine.errors import BadInput
from etablera.statemachine.process import CASEWORK, TRIGGERS

EVENTS = AuditEvent
FEED_TRIGGERS = tuple(t.name for t in TRIGGERS) + (CASEWORK.correct,)
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
START = (0, 0)
# The oldest transaction still running when the statement's snapshot was taken (PostgreSQL).
XMIN = literal_column("pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
_POSITION = re.compile(r"^([0-9]{1,19})\.([0-9]{1,10})$")
_FIELDS = (EVENTS.c.txid, EVENTS.c.id, EVENTS.c.case_id, EVENTS.c.seq, EVENTS.c.trigger, EVENTS.c.from_state,
           EVENTS.c.to_state, EVENTS.c.at, EVENTS.c.municipality)


def encode(position: tuple[int, int]) -> str:
    """A position as the opaque cursor the API hands out."""
    return base64.urlsafe_b64encode(f"{position[0]}.{position[1]}".encode()).decode().rstrip("=")


def decode(cursor: str | None) -> tuple[int, int]:
    """The position of a cursor (none: the start). A cursor not from this feed: BadInput."""
    if not cursor:
        return START
    try:
        found = _POSITION.match(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except (binascii.Error, UnicodeDecodeError, ValueError):
        found = None
    if found is None or len(cursor) > 60:
        raise BadInput("feed_cursor", field="after")
    return int(found[1]), int(found[2])


def check_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise BadInput("limit_range", field="limit", max=MAX_LIMIT)
    return limit


def read(engine: Engine, who: Principal, after: str | None = None, limit: int | None = None) -> dict:
    """A page of the feed for `who` (an `events:read` token): the state changes in their
    municipalities after the cursor `after`, and `next`, the cursor to ask with next time
    (the same cursor when nothing new has come)."""
    position, limit = decode(after), check_limit(limit)
    with transaction(engine, write=False) as conn:
        items, last = page(conn, position, limit, who.municipalities)
    return {"events": items, "next": encode(last)}


def page(conn: Connection, after: tuple[int, int] = START, limit: int = DEFAULT_LIMIT,
         municipalities: Collection[str] | None = None) -> tuple[list[dict], tuple[int, int]]:
    """The state changes after `after`, at most `limit`, of these municipalities (None:
    all): (items, the position to continue from — `after` itself when there are none).
    One statement: on PostgreSQL the horizon (XMIN) and the rows come from one snapshot."""
    limit = check_limit(limit)
    # `|| ''`: not by ix_audit_trigger_at (SQLite would pick it and sort the whole trail):
    # the feed's index, in order, filtered.
    query = select(*_FIELDS).where((EVENTS.c.trigger + "").in_(FEED_TRIGGERS))
    if municipalities is not None:
        query = query.where(EVENTS.c.municipality.in_(sorted(set(municipalities))) if municipalities else ~true())
    order = (EVENTS.c.txid, EVENTS.c.id)
    if conn.dialect.name == "postgresql":
        # A row comparison is one range of the index on PostgreSQL.
        query = query.where(tuple_(*order) > tuple_(*after), EVENTS.c.txid < XMIN).order_by(*order).limit(limit)
    else:
        # SQLite seeks a row comparison by its first column only and would walk every event
        # of that txid (all of them: it is 0 there) up to the cursor: two seeks instead.
        same = query.where(EVENTS.c.txid == after[0], EVENTS.c.id > after[1]).order_by(*order).limit(limit)
        later = query.where(EVENTS.c.txid > after[0]).order_by(*order).limit(limit)
        both = union_all(same.subquery().select(), later.subquery().select()).subquery()
        query = select(both).order_by(both.c.txid, both.c.id).limit(limit)
    rows = conn.execute(query).all()
    items = [item(row._asdict()) for row in rows]
    return items, ((rows[-1].txid, rows[-1].id) if rows else after)


def item(row) -> dict:
    """One feed item (the API's, and a webhook's CloudEvent data)."""
    return {"position": encode((row["txid"], row["id"])), "event_id": row["id"], "case_id": row["case_id"],
            "seq": row["seq"], "trigger": row["trigger"], "from_state": row["from_state"],
            "to_state": row["to_state"], "at": _utc(row["at"]), "municipality": row["municipality"]}


def _utc(moment) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
