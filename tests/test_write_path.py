"""What a registration and a step send to the database (issue 17, item 2): one read of the
case and the writes, nothing read back after the write. On SQLite the writes are separate
statements; on PostgreSQL the case's update, its event and the access-log row are one."""

from __future__ import annotations

import pytest

import kit
from identities import pnr
from statements import sent_by


@pytest.fixture
def engine(keyed_engine):
    kit.register(keyed_engine, pnr("19800101", 1), "0581", "2026-01-10")      # the audit key, the pool warm
    return keyed_engine


def _kinds(sent: list[str]) -> list[str]:
    """Each statement as its verb and table: "SELECT cases", "INSERT audit_events", "WITH"."""
    out = []
    for statement in sent:
        words = statement.replace("\n", " ").split()
        verb = words[0].upper()
        table = {"SELECT": lambda: words[words.index("FROM") + 1], "INSERT": lambda: words[2],
                 "UPDATE": lambda: words[1]}.get(verb)
        out.append(f"{verb} {table()}" if table else verb)
    return out


def test_a_registration_reads_once_and_writes_the_case_its_event_and_the_access_row(engine):
    with sent_by(engine) as sent:
        kit.register(engine, pnr("19840915", 11), "0581", "2026-01-10")
    written = (["UPDATE cases", "INSERT audit_events", "INSERT access_log"] if engine.dialect.name == "sqlite"
               else ["WITH"])
    assert _kinds(sent) == ["SELECT cases", "INSERT cases", *written]


def test_a_step_reads_the_case_once_and_writes_it_with_its_event_and_the_access_row(engine):
    case_id = kit.register(engine, pnr("19900101", 22), "0581", "2026-01-10")
    with sent_by(engine) as sent:
        kit.advance(engine, case_id, "hold_talk")
    written = (["UPDATE cases", "INSERT audit_events", "INSERT access_log"] if engine.dialect.name == "sqlite"
               else ["WITH"])
    assert _kinds(sent) == ["SELECT cases", *written]
