"""Claims with a lease, attempts and dead letters: the sending half of an outbox, shared
by the reminder deliveries (reminders/outbox.py) and the webhook deliveries
(cases/webhooks.py).

A row is `pending`, `sending` (claimed), `sent`, `failed` (tried again by a later run) or
`dead` (failed `max_attempts` times: shown, never dropped). A claim is a conditional
UPDATE only one sender can win; a claim left behind by a sender that died is taken again
after the lease (the message may have gone out: at least once). The table needs the
columns id, status, attempts, last_error, claimed_at, sent_at.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Table, and_, or_, true, update
from sqlalchemy.engine import Engine

from etablera.models.database import transaction
from etablera.models.timestamps import utcnow


def claimable(table: Table, started: datetime, stale: datetime) -> ColumnElement[bool]:
    """A row a run that began at `started` may claim: pending; failed before this run;
    claimed before `stale` by a sender that never finished."""
    d = table.c
    return or_(d.status == "pending",
               and_(d.status == "failed", or_(d.claimed_at.is_(None), d.claimed_at < started)),
               and_(d.status == "sending", d.claimed_at < stale))


def claim(engine: Engine, table: Table, row_id: int, started: datetime, stale: datetime,
          also: ColumnElement[bool] | None = None) -> tuple[int, datetime] | None:
    """Claim row `row_id` (status -> sending) if it is still claimable and `also` holds:
    (its attempts so far, the claim's time), or None when another sender took it first."""
    d = table.c
    with transaction(engine) as conn:
        now = utcnow()
        taken = conn.execute(update(table).where(d.id == row_id, claimable(table, started, stale),
                                                 true() if also is None else also)
                             .values(status="sending", claimed_at=now).returning(d.attempts)).first()
    return None if taken is None else (taken.attempts, now)


def finish(engine: Engine, table: Table, row_id: int, claimed_at: datetime, attempts: int, error: str | None,
           max_attempts: int, failed_values: dict | None = None, then=None) -> str | None:
    """Mark a claimed row sent, failed or dead (`attempts`: before this one), if the claim
    is still ours (a lease that ran out may have passed it on: then None). `failed_values`:
    more columns for a failure (a back-off); `then(conn)`: more writes in the same transaction."""
    d = table.c
    attempts += 1
    now = utcnow()
    if error is None:
        values = {"status": "sent", "sent_at": now, "attempts": attempts, "last_error": None}
    else:
        values = {"status": "dead" if attempts >= max_attempts else "failed", "attempts": attempts,
                  "last_error": error[:500], **(failed_values or {})}
    with transaction(engine) as conn:
        changed = conn.execute(update(table).where(d.id == row_id, d.status == "sending", d.claimed_at == claimed_at)
                               .values(**values)).rowcount
        if changed != 1:
            return None
        if then is not None:
            then(conn, now)
    return values["status"]
