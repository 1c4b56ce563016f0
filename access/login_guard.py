"""How many password guesses a login may have: decided in the database, before the
password is checked, from the attempts every process and instance has recorded
(models/login_attempts.py).

`admit` records the attempt and decides in one transaction, serialised per user name
(PostgreSQL: a transaction-scoped advisory lock on the name; SQLite: the writers' lock
every write takes), so N parallel guesses are decided one after another and each sees
the others as failures: a burst of 50 gets `FREE` checks, not 50. The attempt is a
failure until `settle` says the password was right.

The rules, over the last `WINDOW`:

- per (user name, client address): `FREE` failures since that client's last success
  cost nothing; then each further attempt waits `FIRST_DELAY` after the last failure,
  doubling with each failure up to `MAX_DELAY`;
- per user name: once `CEILING` failures (from any clients) are counted, a client that
  has failed on this name is refused until enough of them have aged out of the window;
  a client without failures on this name is still let through, but at most one check of
  the name per `SLOT` (so that many addresses together still guess slowly).

Why a stranger cannot lock anyone out for long: the delay and the ceiling's refusal fall
on the clients that failed; the real user, from an address that has not failed on their
name, is checked at once, or after at most `SLOT` while the ceiling holds. An attempt
refused without a check counts towards nothing, so hammering does not extend a wait.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.engine import Engine

from etablera.models.database import transaction
from etablera.models.login_attempts import LoginAttempt
from etablera.models.timestamps import utcnow

ATTEMPTS = LoginAttempt
FREE = 5
FIRST_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(minutes=15)
WINDOW = timedelta(hours=1)
CEILING = 20
SLOT = timedelta(seconds=10)
KEEP = timedelta(days=1)                # attempts older than this are deleted now and then
FAILED = ("pending", "failed")


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    attempt: int | None                 # the recorded attempt, to settle once checked
    retry_at: datetime | None           # when a refused client may try again
    why: str                            # for the access log: free | delay | ceiling | slot


def folded(name: str) -> str:
    return (name or "").strip().lower()[:60]


def _lock_key(name: str) -> int:
    """A signed 64-bit key for PostgreSQL's advisory lock on a user name."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


def decide(rows: list, client: str, now: datetime) -> tuple[datetime | None, str]:
    """When `client` may try next given the name's recent attempts `rows` (at, client,
    outcome; oldest first, refused ones left out): (None, "free") when now."""
    pair = [r for r in rows if r.client == client]
    last_ok = max((i for i, r in enumerate(pair) if r.outcome == "ok"), default=-1)
    mine = [r for r in pair[last_ok + 1:] if r.outcome in FAILED]
    retry, why = None, "free"
    if len(mine) >= FREE:
        retry, why = mine[-1].at + min(FIRST_DELAY * 2 ** (len(mine) - FREE), MAX_DELAY), "delay"
    failures = [r for r in rows if r.outcome in FAILED]
    if len(failures) >= CEILING:
        if mine:
            until = failures[len(failures) - CEILING].at + WINDOW
            if retry is None or until > retry:
                retry, why = until, "ceiling"
        elif rows[-1].at + SLOT > now:
            retry, why = rows[-1].at + SLOT, "slot"
    if retry is not None and retry <= now:
        return None, "free"
    return retry, why


def admit(engine: Engine, name: str, client: str | None, now: datetime | None = None) -> Verdict:
    """Record an attempt to log in as `name` from `client` and decide whether its password
    may be checked, in one transaction serialised per name."""
    now = now or utcnow()
    name, client = folded(name), (client or "unknown")[:64]
    with transaction(engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(name)})
        rows = conn.execute(select(ATTEMPTS.c.at, ATTEMPTS.c.client, ATTEMPTS.c.outcome)
                            .where(ATTEMPTS.c.name == name, ATTEMPTS.c.at > now - WINDOW,
                                   ATTEMPTS.c.outcome != "refused")
                            .order_by(ATTEMPTS.c.at, ATTEMPTS.c.id)).all()
        retry, why = decide(rows, client, now)
        attempt = conn.execute(insert(ATTEMPTS).values(name=name, client=client, at=now,
                                                       outcome="pending" if retry is None else "refused")
                               .returning(ATTEMPTS.c.id)).scalar_one()
        if random.random() < 0.02:
            conn.execute(delete(ATTEMPTS).where(ATTEMPTS.c.at < now - KEEP))
    return Verdict(retry is None, attempt if retry is None else None, retry, why)


def settle(engine: Engine, attempt: int, ok: bool) -> None:
    """The checked attempt's outcome: a success clears its client's failures."""
    with transaction(engine) as conn:
        conn.execute(update(ATTEMPTS).where(ATTEMPTS.c.id == attempt).values(outcome="ok" if ok else "failed"))


def counts(engine: Engine, name: str) -> dict[str, int]:
    """The attempts on a name by outcome (for tests and the operator)."""
    with transaction(engine, write=False) as conn:
        rows = conn.execute(select(ATTEMPTS.c.outcome).where(ATTEMPTS.c.name == folded(name))).scalars().all()
    return {outcome: rows.count(outcome) for outcome in ("pending", "failed", "ok", "refused")}
