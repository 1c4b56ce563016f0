"""Where the database's schema stands against this version's migrations: the revision
alembic recorded in the database (`alembic_version`) beside the newest one shipped
(the head). Read by `etablera migrate`, by `etablera web` in production (which refuses
to start behind) and by `/readyz`; the upgrade itself is models/database.py's `upgrade`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError, ProgrammingError

from etablera.models.database import MIGRATIONS, transaction

AT_HEAD, BEHIND, UNKNOWN = "at_head", "behind", "unknown"


@dataclass(frozen=True)
class SchemaState:
    current: str | None     # None: no schema yet (no alembic_version table, or it is empty)
    head: str

    @property
    def status(self) -> str:
        """at_head; behind (an older revision of this version's, or none yet: `etablera
        migrate` brings it up); unknown (a revision this version does not ship: a newer
        version has migrated the database)."""
        if self.current == self.head:
            return AT_HEAD
        if self.current is None or self.current in _revisions():
            return BEHIND
        return UNKNOWN

    def as_dict(self) -> dict:
        return {"revision": self.current, "head": self.head, "status": self.status}


@lru_cache(maxsize=1)
def _script():
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config)


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest migration this version ships (read from the files once per process)."""
    return _script().get_current_head()


@lru_cache(maxsize=1)
def _revisions() -> frozenset[str]:
    return frozenset(r.revision for r in _script().walk_revisions())


def current_revision(conn: Connection) -> str | None:
    """The database's revision: one short query (None: no schema yet)."""
    try:
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except (OperationalError, ProgrammingError) as exc:
        if "alembic_version" in str(exc.orig):        # no such table: a database never migrated
            return None
        raise


def schema_state(engine: Engine) -> SchemaState:
    """The database's revision beside the head. Raises the driver's error when the
    database cannot be reached (models/outage.py says which outage)."""
    head = head_revision()
    with transaction(engine, write=False, single=True) as conn:
        return SchemaState(current_revision(conn), head)


# pg_advisory_lock's key for a schema upgrade: any number the application uses for nothing else.
_UPGRADE_LOCK = 0x65746162          # "etab"


def migrate(engine: Engine) -> tuple[SchemaState, SchemaState]:
    """Upgrade the schema to the head (`etablera migrate`); (before, after). On
    PostgreSQL two at once take turns on an advisory lock, the second finding the work
    done, instead of both running the same migration."""
    from etablera.models.database import upgrade
    if engine.dialect.name != "postgresql":
        before = schema_state(engine)
        upgrade(engine)
        return before, schema_state(engine)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as lock:
        lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _UPGRADE_LOCK})
        try:
            before = schema_state(engine)
            upgrade(engine)
            return before, schema_state(engine)
        finally:
            lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _UPGRADE_LOCK})
