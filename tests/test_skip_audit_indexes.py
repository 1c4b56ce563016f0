"""The skip audit's indexes (migration 0023): each module the process table can skip has
its partial indexes, the module filter asks for their term, and every order the page
offers finds the page's events on an index of the skipping events, then reads only those
from the table, instead of the whole audit trail.

tests/test_query_plans.py judges the plans at 100,000 cases on both databases; this test
holds the declarations together and names the index each view uses on SQLite.
"""

from __future__ import annotations

import pytest
from sqlalchemy import event

from etablera.access.principal import Principal
from etablera.cases import filters, skip_audit
from etablera.models.audit import SKIPPED_MODULE_SQL
from etablera.models.database import make_engine, upgrade

AUDITOR = Principal("granskare", "Granskare", "auditor", "kommun", None)


def test_each_module_the_process_can_skip_has_its_term_and_index():
    from etablera.models.audit import AuditEvent

    assert set(SKIPPED_MODULE_SQL) == set(filters.SKIPPABLE_MODULES) == {"2", "3"}
    wheres = {index.name: str(index.dialect_options["sqlite"]["where"]) for index in AuditEvent.indexes
              if index.name.startswith("ix_audit_skips")}
    for module, term in SKIPPED_MODULE_SQL.items():
        assert wheres[f"ix_audit_skips_module{module}"] == term
    for key in skip_audit.SORT_KEYS:               # each order the page offers has its index
        assert {"at": "ix_audit_skips"}.get(key, f"ix_audit_skips_{key}") in wheres, key


@pytest.mark.parametrize(("module", "sort", "index"), [
    (None, "at", "ix_audit_skips"), (None, "municipality", "ix_audit_skips_municipality"),
    (None, "actor", "ix_audit_skips_actor"), (None, "-reason", "ix_audit_skips_reason"),
    ("2", "at", "ix_audit_skips_module2"), ("3", "-at", "ix_audit_skips_module3"),
    ("2", "case", "ix_audit_skips_module2_case"),
    ("3", "municipality", ("ix_audit_skips_module3", "ix_audit_skips_module3_case"))])     # either, then sorted
def test_each_view_reads_its_index_on_sqlite(tmp_path, module, sort, index):
    engine = make_engine(f"sqlite:///{tmp_path / 'skips.sqlite3'}")
    upgrade(engine)
    seen = []
    event.listen(engine, "before_cursor_execute", lambda *args: seen.append((args[2], args[3])))
    skip_audit.skip_page(engine, AUDITOR, module=module, sort=sort)
    page = next((sql, params) for sql, params in seen if sql.lstrip().startswith("SELECT audit_events.case_id"))
    with engine.connect() as conn:
        plan = [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + page[0], page[1])]
    engine.dispose()
    reads = [line for line in plan if "audit_events" in line]
    assert reads[0].split("INDEX ")[-1] in ((index,) if isinstance(index, str) else index), plan   # from the index
    assert reads[1:] == ["SEARCH audit_events USING INDEX sqlite_autoindex_audit_events_1 (case_id=? AND seq=?)"], \
        plan                                                    # then the page's own events, by their key
