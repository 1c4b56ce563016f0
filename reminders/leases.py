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
from functools import lru_cache

from sqlalchemy import ColumnElement, Table, and_, bindparam, or_, update
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
    return claim_many(engine, table, [row_id], started, stale, also).get(row_id)


def claim_many(engine: Engine, table: Table, row_ids: list[int], started: datetime, stale: datetime,
               also: ColumnElement[bool] | None = None) -> dict[int, tuple[int, datetime]]:
    """Claim those of `row_ids` still claimable (and `also`), all with one statement, a
    transaction by itself (`single`: on PostgreSQL no BEGIN and COMMIT round trips):
    {id: (its attempts so far, the claim's time)} of the rows won. A row another sender
    took first is missing. Send each soon: its lease runs from this moment (`renew`)."""
    statement = _claim_statement(table)
    if also is not None:
        statement = statement.where(also)
    with transaction(engine, single=True) as conn:
        now = utcnow()
        taken = conn.execute(statement, {"lease_rows": list(row_ids), "lease_started": started,
                                         "lease_stale": stale, "lease_now": now}).all()
    return {row.id: (row.attempts, now) for row in taken}


def renew(engine: Engine, table: Table, row_id: int, claimed_at: datetime) -> datetime | None:
    """The claim of `row_id` made at `claimed_at` starts its lease again now (a claimed row
    whose turn came late): the new claim's time, or None if the claim is no longer ours."""
    with transaction(engine, single=True) as conn:
        now = utcnow()
        changed = conn.execute(_renew_statement(table), {"lease_row": row_id, "lease_claimed": claimed_at,
                                                          "lease_now": now}).rowcount
    return now if changed == 1 else None


def finish(engine: Engine, table: Table, row_id: int, claimed_at: datetime, attempts: int, error: str | None,
           max_attempts: int, failed_values: dict | None = None, then=None) -> str | None:
    """Mark a claimed row sent, failed or dead (`attempts`: before this one), if the claim
    is still ours (a lease that ran out may have passed it on: then None). `failed_values`:
    more columns for a failure (a back-off); `then(conn)`: more writes in the same transaction."""
    attempts += 1
    now = utcnow()
    if error is None:
        values = {"status": "sent", "sent_at": now, "attempts": attempts, "last_error": None}
    else:
        values = {"status": "dead" if attempts >= max_attempts else "failed", "attempts": attempts,
                  "last_error": error[:500], **(failed_values or {})}
    with transaction(engine) as conn:
        changed = conn.execute(_finish_statement(table, tuple(values)),
                               {"lease_row": row_id, "lease_claimed": claimed_at,
                                **{f"lease_{k}": v for k, v in values.items()}}).rowcount
        if changed != 1:
            return None
        if then is not None:
            then(conn, now)
    return values["status"]


# Built once per table (and set of columns): a statement built at each call cost more of a
# delivery's time than its round trips (the claimable condition alone ~0.25 ms).

@lru_cache(maxsize=None)
def _claim_statement(table: Table):
    d = table.c
    return (update(table).where(d.id.in_(bindparam("lease_rows", expanding=True)),
                                claimable(table, bindparam("lease_started"), bindparam("lease_stale")))
            .values(status="sending", claimed_at=bindparam("lease_now")).returning(d.id, d.attempts))


@lru_cache(maxsize=None)
def _renew_statement(table: Table):
    d = table.c
    return (update(table).where(d.id == bindparam("lease_row"), d.status == "sending",
                                d.claimed_at == bindparam("lease_claimed"))
            .values(claimed_at=bindparam("lease_now")))


@lru_cache(maxsize=None)
def _finish_statement(table: Table, columns: tuple[str, ...]):
    d = table.c
    return (update(table).where(d.id == bindparam("lease_row"), d.status == "sending",
                                d.claimed_at == bindparam("lease_claimed"))
            .values({name: bindparam(f"lease_{name}") for name in columns}))
