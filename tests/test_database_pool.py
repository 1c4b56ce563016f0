"""PostgreSQL connections that died in the pool (the server restarted, or killed the
backend): a connection that sat idle is pinged and replaced before use; one given back
a moment ago fails its statement once, and the pool then replaces every connection."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from etablera.models import database
from etablera.models.database import make_engine, transaction

pytestmark = pytest.mark.postgres


def _backend_of(engine) -> int:
    with transaction(engine, write=False) as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def _kill(server_url: str, pid: int) -> None:
    admin = make_engine(server_url)
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        conn.commit()
    admin.dispose()


def test_an_idle_dead_connection_is_pinged_and_replaced(pg_url, pg_server, monkeypatch):
    engine = make_engine(pg_url)
    dead = _backend_of(engine)
    _kill(pg_server, dead)
    monkeypatch.setattr(database, "PING_AFTER", 0.0)          # it has sat long enough to be pinged
    assert _backend_of(engine) != dead                         # no error: replaced before use
    engine.dispose()


def test_a_just_used_dead_connection_fails_once_then_the_pool_recovers(pg_url, pg_server, monkeypatch):
    engine = make_engine(pg_url)
    dead = _backend_of(engine)
    _kill(pg_server, dead)
    monkeypatch.setattr(database, "PING_AFTER", 3600.0)       # not pinged: the statement finds out
    with pytest.raises(OperationalError):
        _backend_of(engine)
    assert _backend_of(engine) != dead
    engine.dispose()
