"""The tables' indexes keep their dialect options (models/metadata.Index): read back as
declared, in each database's DDL, and a misspelt one refused, only later than SQLAlchemy's
own Index refuses it (at the first read instead of at declaration)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import Column, Integer, MetaData, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import ArgumentError
from sqlalchemy.schema import CreateIndex

from conftest import ROOT
from etablera.models.case import Case
from etablera.models.metadata import Index


def _index(name: str) -> Index:
    return next(ix for ix in Case.indexes if ix.name == name)


def test_the_options_read_back_as_declared():
    assert _index("ix_cases_given_key").dialect_options["postgresql"]["ops"] == {"given_key": "varchar_pattern_ops"}
    active = _index("uq_cases_active_person")
    assert str(active.dialect_options["sqlite"]["where"]) == "active = 1"
    assert str(active.dialect_options["postgresql"]["where"]) == "active"
    assert set(active.dialect_kwargs) == {"sqlite_where", "postgresql_where"}
    assert not _index("ix_cases_municipality_state").dialect_kwargs


def test_each_database_gets_its_own_ddl():
    transferred = CreateIndex(_index("ix_cases_queue_transferred"))
    assert str(transferred.compile(dialect=sqlite.dialect())).endswith(
        "WHERE active = 1 AND transferred_at IS NOT NULL")
    assert str(transferred.compile(dialect=postgresql.dialect())).endswith(
        "WHERE active AND transferred_at IS NOT NULL")
    pattern = CreateIndex(_index("ix_cases_municipality_given_key")).compile(dialect=postgresql.dialect())
    assert "given_key varchar_pattern_ops" in str(pattern)


def test_a_misspelt_option_is_refused_at_the_first_read():
    table = Table("t", MetaData(), Column("id", Integer, primary_key=True))
    misspelt = Index("ix_t", table.c.id, postgresql_wher="id > 0")
    with pytest.raises(ArgumentError, match="postgresql_wher"):
        misspelt.dialect_options
    with pytest.raises(TypeError, match="dialectname"):
        Index("ix_u", table.c.id, where="id > 0").dialect_options


def test_declaring_the_tables_loads_no_dialect():
    code = ("import sys; from etablera.models import load_all; load_all(); "
            "print(sorted(m for m in sys.modules if m.startswith('sqlalchemy.dialects.')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
