"""A connection kept for the life of a command or a worker's run (models/keeping.py, issue
17 item 2): on SQLite the transactions of one thread share one connection until the block
ends; a nested transaction, a failed one, a disposed engine and another thread each get
what they got before; on PostgreSQL nothing is kept; the command line keeps one for each
command but for those that serve or replace the database file."""

from __future__ import annotations

import sqlite3
import threading

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import func, insert, select, text

import kit
from identities import pnr
from etablera.cases.audit import verify
from etablera.cases.audit_key import load_key
from etablera.interfaces.cli.common import common
from etablera.cases.journal import log_access
from etablera.models import AccessLog, AuditEvent
from etablera.models.database import make_engine, transaction, upgrade
from etablera.models.keeping import for_the_run, keep_connections, kept_connections
from etablera.models.timestamps import utcnow


@pytest.fixture
def engine(sqlite_url, tmp_path, monkeypatch):
    monkeypatch.setenv("ETABLERA_AUDIT_KEY_FILE", str(tmp_path / "audit.key"))
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


def _driver(engine, write: bool = True):
    with transaction(engine, write=write) as conn:
        conn.execute(text("SELECT 1"))
        return conn.connection.driver_connection


def _events(engine) -> int:
    with transaction(engine, write=False) as conn:
        return conn.execute(select(func.count()).select_from(AuditEvent)).scalar_one()


def test_one_connection_serves_the_blocks_transactions_and_goes_back_to_the_pool_at_its_end(engine):
    with keep_connections():
        first = _driver(engine)
        assert _driver(engine, write=False) is first and _driver(engine) is first
        assert engine.pool.checkedout() == 1            # kept, not given back between transactions
    assert engine.pool.checkedout() == 0
    assert kept_connections() is None


def test_outside_a_block_each_transaction_gives_its_connection_back(engine):
    _driver(engine)
    assert engine.pool.checkedout() == 0
    assert kept_connections() is None


def test_a_write_still_takes_begin_immediate_and_a_read_begin_deferred_on_the_kept_connection(engine):
    with keep_connections():
        with transaction(engine) as conn:
            conn.execute(text("CREATE TABLE t (x)"))
            # BEGIN IMMEDIATE holds the write lock: another connection cannot begin a write.
            other = sqlite3.connect(engine.url.database, timeout=0, isolation_level=None)
            with pytest.raises(sqlite3.OperationalError):
                other.execute("BEGIN IMMEDIATE")
        with transaction(engine, write=False) as conn:
            conn.execute(text("SELECT count(*) FROM t"))
            other.execute("BEGIN IMMEDIATE")             # a read took no write lock
            other.execute("ROLLBACK")
        other.close()


def test_a_read_inside_a_write_takes_its_own_connection_and_the_write_commits(engine):
    with keep_connections():
        with transaction(engine) as outer:
            outer.execute(text("CREATE TABLE t (x)"))
            outer.execute(text("INSERT INTO t VALUES (1)"))
            with transaction(engine, write=False) as inner:
                assert inner.connection.driver_connection is not outer.connection.driver_connection
                assert inner.execute(text("SELECT count(*) FROM sqlite_master WHERE name = 't'")).scalar() == 0
        with transaction(engine, write=False) as conn:
            assert conn.execute(text("SELECT x FROM t")).scalar() == 1
            assert conn.connection.driver_connection is outer.connection.driver_connection


def test_a_failed_transaction_is_rolled_back_and_gives_up_the_kept_connection(engine):
    with transaction(engine) as conn:
        conn.execute(text("CREATE TABLE t (x)"))
    with keep_connections():
        _driver(engine)
        with pytest.raises(ZeroDivisionError):
            with transaction(engine) as conn:
                conn.execute(text("INSERT INTO t VALUES (1)"))
                1 / 0
        assert engine.pool.checkedout() == 0 and kept_connections() == {}     # given back
        with transaction(engine) as conn:
            assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 0
            conn.execute(text("INSERT INTO t VALUES (2)"))
        assert engine.pool.checkedout() == 1            # kept afresh
    with transaction(engine, write=False) as conn:
        assert conn.execute(text("SELECT x FROM t")).scalars().all() == [2]


def test_statements_on_the_driver_alone_commit_and_roll_back_with_the_kept_transaction(engine):
    # The kept transaction is begun and committed on the driver (models/database._OnKept):
    # a step's prepared statements never open SQLAlchemy's own, and a statement that
    # does (conn.execute) joins the one already open.
    upgrade(engine)
    with keep_connections():
        with transaction(engine) as conn:
            log_access(conn, actor="a", case_id=None, action="prepared only")
            assert not conn.in_transaction() and conn.connection.driver_connection.in_transaction
        with pytest.raises(ZeroDivisionError):
            with transaction(engine) as conn:
                log_access(conn, actor="b", case_id=None, action="prepared, then refused")
                1 / 0
        with transaction(engine) as conn:
            log_access(conn, actor="c", case_id=None, action="prepared")
            conn.execute(insert(AccessLog).values(at=utcnow(), actor="c", action="and SQLAlchemy's"))
            assert conn.in_transaction()
        with pytest.raises(ZeroDivisionError):
            with transaction(engine) as conn:
                log_access(conn, actor="d", case_id=None, action="prepared")
                conn.execute(insert(AccessLog).values(at=utcnow(), actor="d", action="and SQLAlchemy's, refused"))
                1 / 0
        with transaction(engine, write=False) as conn:
            actors = conn.execute(select(AccessLog.c.actor).order_by(AccessLog.c.id)).scalars().all()
        assert actors == ["a", "c", "c"]
        assert engine.pool.checkedout() == 1            # kept again after each refusal, still one


def test_after_the_engine_is_disposed_the_next_transaction_keeps_a_new_connection(engine):
    with keep_connections():
        first = _driver(engine)
        engine.dispose()                                 # an import's checkpointing, a restore
        second = _driver(engine)
        assert second is not first
        with pytest.raises(sqlite3.ProgrammingError):   # closed, not left to the discarded pool
            first.execute("SELECT 1")
        assert _driver(engine) is second and engine.pool.checkedout() == 1


def test_a_connection_of_a_pool_disposed_before_the_block_ends_is_closed_with_it(engine):
    with keep_connections():
        first = _driver(engine)
        engine.dispose()
    with pytest.raises(sqlite3.ProgrammingError):
        first.execute("SELECT 1")


def test_a_nested_block_is_part_of_the_outer_one(engine):
    with keep_connections():
        first = _driver(engine)
        with keep_connections():
            assert _driver(engine) is first
        assert _driver(engine) is first                  # the inner block closed nothing
        first.execute("SELECT 1")


def test_each_thread_keeps_its_own_and_a_thread_outside_a_block_keeps_none(engine):
    seen: dict[str, object] = {}

    def kept_on_a_thread():
        with keep_connections():
            seen["thread"] = _driver(engine)
            seen["again"] = _driver(engine)

    def plain_thread():
        _driver(engine)
        seen["plain"] = kept_connections()

    with keep_connections():
        mine = _driver(engine)
        for target in (kept_on_a_thread, plain_thread):
            thread = threading.Thread(target=target)
            thread.start()
            thread.join()
        assert seen["thread"] is seen["again"] and seen["thread"] is not mine
        assert seen["plain"] is None
        assert _driver(engine) is mine


def test_steps_on_kept_connections_from_two_threads_lose_nothing_and_the_chain_verifies(engine):
    ids = [kit.register(engine, pnr("19800101", n), "0581", "2026-01-10", "2026-01-12") for n in range(1, 7)]
    failures: list[BaseException] = []

    def walk(cases):
        try:
            with keep_connections():
                for case_id in cases:
                    kit.advance(engine, case_id, "hold_talk", "2026-02-02")
                    kit.advance(engine, case_id, "establish_plan", "2026-02-03", plan="handlingsplan")
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=walk, args=(ids[i::2],)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert _events(engine) == 6 * 3
    with transaction(engine, write=False) as conn:
        assert verify(conn)[2] == []
        assert set(conn.execute(text("SELECT state FROM cases")).scalars()) == {"module2.preparing"}


@pytest.mark.postgres
def test_on_postgresql_nothing_is_kept_and_a_read_still_sees_one_snapshot(pg_url):
    engine = make_engine(pg_url)
    try:
        with keep_connections():
            with transaction(engine, write=False) as conn:
                assert conn.execute(text("SHOW transaction_isolation")).scalar() == "repeatable read"
            assert engine.pool.checkedout() == 0
            with transaction(engine) as conn:
                assert conn.execute(text("SHOW transaction_isolation")).scalar() == "read committed"
            assert kept_connections() == {}
    finally:
        engine.dispose()


def test_a_command_keeps_connections_for_its_life_unless_it_serves():
    inside: dict[str, object] = {}

    @click.command()
    @common
    def plain(options):
        inside["plain"] = kept_connections()

    @click.command()
    @common(keep=False)
    def serving(options):
        inside["serving"] = kept_connections()

    for command in (plain, serving):
        assert CliRunner().invoke(command, []).exit_code == 0
    assert inside["plain"] == {} and inside["serving"] is None
    assert kept_connections() is None                   # closed when the command ended


def _commands(group, prefix=()):
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))
        else:
            yield " ".join((*prefix, name)), command


def test_only_the_commands_that_serve_fork_or_replace_the_file_keep_nothing():
    from etablera.interfaces.cli.main import cli

    keeping = {name: getattr(command.callback, "keeps_connections", None) for name, command in _commands(cli)}
    assert None not in keeping.values(), [name for name, keeps in keeping.items() if keeps is None]
    assert {name for name, keeps in keeping.items() if not keeps} == {"web", "stack up", "restore", "serve"}


def test_a_run_makes_what_it_keeps_once_and_the_next_run_makes_it_again(engine, tmp_path, monkeypatch):
    """for_the_run: once per keep_connections block (a nested one included), at every call
    outside one. The audit key's file is found so: a run keeps the path it found first."""
    made = []

    def make():
        made.append(1)
        return len(made)

    assert for_the_run("x", make) == 1 and for_the_run("x", make) == 2
    with keep_connections():
        assert for_the_run("x", make) == 3
        with keep_connections():
            assert for_the_run("x", make) == 3
        assert for_the_run("x", make) == 3
    with keep_connections():
        assert for_the_run("x", make) == 4

    first, second = tmp_path / "first.key", tmp_path / "second.key"
    monkeypatch.setenv("ETABLERA_AUDIT_KEY_FILE", str(first))
    with keep_connections():
        key = load_key(engine, create=True)
        monkeypatch.setenv("ETABLERA_AUDIT_KEY_FILE", str(second))
        assert load_key(engine) == key and not second.exists()
    assert load_key(engine) is None                     # outside the run: the file the environment names now
    assert load_key(engine, create=True) != key and second.exists()
