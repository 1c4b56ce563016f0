"""Retention and erasure (gallring, issue 16 item 1), on SQLite and PostgreSQL.

A cohort: a closed case past every period (erased), a closed case under a legal hold, an
active case of another person with the same name and birth date, and a case closed too
recently. After the apply: no table's text column (the schema introspected) and no stored
document file holds the erased person's identity number, contact details, notes or
justifications, and the shared name only on the other person's rows; on SQLite not even
the database file's bytes; `audit verify` is clean; the report's figures are the same;
the held, active and recent cases are untouched; the dry run wrote nothing and listed
exactly what the apply erased; the protocol names each rule. The audit trail's and the
access log's guards still refuse any change outside a run.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import String, Text, inspect, insert, select, text, update
from sqlalchemy.exc import DBAPIError

import kit
from cli_kit import etablera, ok
from identities import pnr
from etablera.cases import holds, person, retention
from etablera.cases.audit import CASES, EVENTS, GENESIS, check, event_hash
from etablera.cases.document_store import store_for
from etablera.cases.sealing import is_sealed
from etablera.models import Reminder
from etablera.models.database import MIGRATIONS, make_engine, transaction
from etablera.reports.report import build_report
from etablera.reports.scope import make_scope
from etablera.statemachine.errors import BadInput, NotPermitted

AS_OF = date(2026, 11, 30)
NAME = {"given_name": "Zlatana", "family_name": "Östlundsson"}
ERASED = {"number": pnr("19900101", 12), "phone": "070-111 22 33", "email": "zlatana.o@example.org",
          "new_email": "zlatana.ny@example.org", "registration": "Kom via SFI-läraren Birgitta",
          "note": "Berättade om sin bror i Tromsø", "justification": "Flyttade till Bergen enligt grannen",
          "document": "Intyg: Zlatana har klarat kurs D i Kiruna"}
HELD = {"number": pnr("19850505", 45), "note": "Överklagat beslut, Kammarrätten", "phone": "070-999 88 77"}


@pytest.fixture
def world(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("ETABLERA_AUDIT_KEY_FILE", str(tmp_path / "audit.key"))
    monkeypatch.setenv("ETABLERA_DOCUMENTS_DIR", str(tmp_path / "documents"))
    engine = make_engine(db_url)
    officer = kit.who("handl01")
    erased = kit.register(engine, ERASED["number"], "0581", "2022-01-10", "2022-02-01", phone=ERASED["phone"],
                          email=ERASED["email"], language="somaliska", interpreter=True, note=ERASED["registration"],
                          **NAME)
    kit.add_note(engine, erased, ERASED["note"], "2022-03-01")
    kit.attach(engine, erased, "intyg-zlatana.txt", ERASED["document"].encode(), "text/plain", "2022-03-02")
    person.update_person(engine, officer, erased, {"email": ERASED["new_email"]}, at=kit.at("2022-03-03"))
    kit.advance(engine, erased, "close", "2023-01-10", reason="moved_abroad", note=ERASED["justification"])
    twin = kit.register(engine, pnr("19900101", 34), "0581", "2022-02-01", "2022-02-15", phone="070-555 44 33",
                        **NAME)
    kit.add_note(engine, twin, "Tvillingen har en egen anteckning", "2022-03-01")
    held = kit.register(engine, HELD["number"], "0180", "2022-01-10", "2022-02-01", phone=HELD["phone"],
                        given_name="Ingrid", family_name="Hållén")
    kit.add_note(engine, held, HELD["note"], "2022-03-01")
    kit.advance(engine, held, "close", "2023-01-10", reason="moved_abroad", note="Avslutad på egen begäran")
    holds.place(engine, officer, held, "Begäran om utlämnande av allmän handling pågår")
    recent = kit.register(engine, pnr("19920202", 56), "0581", "2022-01-10", "2022-02-01", given_name="Amira")
    kit.advance(engine, recent, "close", "2026-10-01", reason="moved_abroad")
    with transaction(engine) as conn:
        conn.execute(insert(Reminder).values(kind="stage", target_id=erased, visit=1, step="due",
                                                       case_id=erased, municipality="0581", stage="module1",
                                                       due=date(2022, 5, 1), detected_on=date(2022, 5, 1),
                                                       recorded_at=kit.at("2022-05-01"), status="sent"))
    yield {"engine": engine, "erased": erased, "twin": twin, "held": held, "recent": recent,
           "documents": tmp_path / "documents", "url": db_url}
    engine.dispose()


def snapshot(engine) -> dict:
    """Every row of every table, as text, sorted: what a dry run must leave as it was."""
    tables = inspect(engine).get_table_names()
    with transaction(engine, write=False) as conn:
        return {t: sorted(map(repr, conn.execute(text(f'SELECT * FROM "{t}"')).all())) for t in tables}


def text_hits(engine, needle: str) -> list[tuple[str, int | None]]:
    """(table, case id or None) of every row whose text columns (introspected: every
    string, text and JSON column of every table) hold `needle`."""
    hits = []
    inspector = inspect(engine)
    with transaction(engine, write=False) as conn:
        for table in inspector.get_table_names():
            columns = inspector.get_columns(table)
            names = {c["name"] for c in columns}
            texts = [c["name"] for c in columns
                     if isinstance(c["type"], (String, Text)) or "JSON" in type(c["type"]).__name__.upper()]
            owner = "case_id" if "case_id" in names else ("id" if table == "cases" else None)
            for column in texts:
                found = conn.execute(text(f'SELECT {owner or "NULL"} FROM "{table}" '
                                          f'WHERE CAST("{column}" AS TEXT) LIKE :needle'),
                                     {"needle": f"%{needle}%"}).all()
                hits += [(table, r[0]) for r in found]
    return hits


def report_figures(engine) -> dict:
    doc = build_report(engine, make_scope((), date(2022, 1, 1), AS_OF, today=AS_OF))
    doc.pop("generated_at"), doc.pop("refreshed_cases")
    return doc


def test_gallring_erases_what_is_due_and_nothing_else(world):
    engine, erased, twin, held, recent = (world[k] for k in ("engine", "erased", "twin", "held", "recent"))
    store = store_for(engine)
    with transaction(engine, write=False) as conn:
        assert check(conn, store=store).breaks == []
    figures = report_figures(engine)
    untouched = {case: kit.show_case(engine, case) for case in (twin, held, recent)}
    before = snapshot(engine)

    dry = retention.run(engine, now=AS_OF, dry_run=True)
    assert snapshot(engine) == before                      # the dry run wrote nothing
    assert dry["run"] is None and dry["dry_run"]
    assert all(ids == [erased] for ids in dry["case_ids"].values()), dry["case_ids"]

    applied = retention.run(engine, now=AS_OF, actor="test")
    assert applied["case_ids"] == dry["case_ids"] and applied["categories"] == dry["categories"]
    items = {row["category"]: row["items"] for row in applied["categories"]}
    assert items["identity"] == 1 and items["notes"] == 1 and items["documents"] == 1 and items["reminders"] == 1
    assert items["justifications"] == 2 and items["access_log"] > 0

    # Nothing of the erased person is left: no table, no stored file.
    digits = ERASED["number"].replace("-", "")
    for value in [digits, digits[2:], *(v for k, v in ERASED.items() if k != "number")]:
        assert text_hits(engine, value) == [], value
    for value in NAME.values():                         # the twin's own rows only
        assert {case for _, case in text_hits(engine, value)} == {twin}, value
    files = [p for p in world["documents"].rglob("*") if p.is_file()]
    assert all(ERASED["document"].encode() not in p.read_bytes() for p in files)
    if engine.dialect.name == "sqlite":                 # not even in the freed bytes of the file or its WAL
        database = Path(engine.url.database)
        raw = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
        for value in [digits, ERASED["phone"], ERASED["email"], ERASED["new_email"], ERASED["note"],
                      ERASED["justification"], ERASED["registration"]]:
            assert value.encode("utf-8") not in raw, value

    # The case stays, pseudonymous; the chain verifies; the figures are the same.
    row = kit.show_case(engine, erased)
    assert row["state"] == "closed"
    with transaction(engine, write=False) as conn:
        result = check(conn, store=store)
        assert result.breaks == [] and result.cases == 4
        sealed = conn.execute(select(EVENTS.c.note, EVENTS.c.salts).where(EVENTS.c.case_id == erased,
                                                                          EVENTS.c.note.is_not(None))).all()
        assert sealed and all(is_sealed(note) for note, _ in sealed)
    assert report_figures(engine) == figures
    assert {case: kit.show_case(engine, case) for case in (twin, held, recent)} == untouched

    # Only what was written since is due again: the views of the erased case just now
    # (access log), then a note added to it (its chain grew), then nothing; the protocol.
    again = retention.run(engine, now=AS_OF)
    assert {c: ids for c, ids in again["case_ids"].items() if ids} == {"access_log": [erased]}
    kit.add_note(engine, erased, "Sen anteckning om Tromsø-resan")
    later = retention.run(engine, now=AS_OF)
    assert later["case_ids"]["notes"] == [erased] and text_hits(engine, "Tromsø-resan") == []
    assert retention.run(engine, now=AS_OF)["cases"] == 0
    [nothing, _, _, first] = retention.protocols(engine)
    assert first["run"] == applied["run"] and first["actor"] == "test" and first["cases"] == 1
    assert [r["category"] for r in first["categories"]] == ["identity", "notes", "documents", "justifications",
                                                             "access_log", "reminders"]
    assert first["categories"][0]["rule"].startswith("Exempel") and first["categories"][0]["period"] == "P2Y"
    assert nothing["cases"] == 0

    # Released, the held case is erased by the next run.
    holds.release(engine, kit.who("handl01"), held, "Ärendet om utlämnande är avslutat")
    third = retention.run(engine, now=AS_OF)
    assert held in third["case_ids"]["identity"] and held in third["case_ids"]["justifications"]
    assert text_hits(engine, HELD["note"]) == [] and text_hits(engine, HELD["phone"]) == []
    with transaction(engine, write=False) as conn:
        assert check(conn, store=store).breaks == []


def test_holds_need_a_reason_and_a_coordinator(world):
    engine, held, twin = world["engine"], world["held"], world["twin"]
    with pytest.raises(BadInput) as refused:
        holds.place(engine, kit.who("handl01"), twin, "  ")
    assert refused.value.field == "reason"
    with pytest.raises(NotPermitted):
        holds.place(engine, kit.who("handl01"), held, "en gång till")
    with pytest.raises(NotPermitted):
        holds.release(engine, kit.who("handl01"), twin, "finns inget")
    history = kit.history(engine, held)
    assert history[-1]["trigger"] == "legal_hold"


def test_guards_refuse_changes_outside_a_run(world):
    engine = world["engine"]
    with pytest.raises(DBAPIError):
        with transaction(engine) as conn:
            conn.execute(update(EVENTS).where(EVENTS.c.case_id == world["twin"]).values(note="ändrad"))
    with pytest.raises(DBAPIError):
        with transaction(engine) as conn:
            conn.execute(text("DELETE FROM access_log"))
    with pytest.raises(DBAPIError):
        with transaction(engine) as conn:
            conn.execute(text("DELETE FROM audit_events"))


def test_cli(world, cli_env):
    held = world["held"]
    dry = ok("gallring", "--dry-run", "--now", AS_OF.isoformat())
    assert dry["dry_run"] and dry["case_ids"]["identity"] == [world["erased"]]
    done = ok("gallring", "--now", AS_OF.isoformat())
    assert done["case_ids"] == dry["case_ids"]
    assert etablera("audit", "verify").code == 0
    [run] = ok("gallring", "--protocol")
    assert run["run"] == done["run"]
    text_out = etablera("gallring", "--protocol", "--lang", "sv")
    assert text_out.code == 0 and "identitet och kontaktuppgifter" in text_out.out
    assert "identity and contact details" in etablera("gallring", "--protocol", "--lang", "en").out
    assert etablera("gallring", "--now", "2999-01-01").code == 2
    assert etablera("gallring", "--now", "igår").code == 2
    assert etablera("case", "hold", str(world["twin"])).code == 2                 # no reason
    assert ok("case", "hold", str(held), "--release", "--reason", "klart")["held"] is False
    assert ok("case", "hold", str(held), "--reason", "ny begäran")["held"] is True


def test_migration_seals_chains_written_before(world):
    """A chain written before the salts (its values hashed as they are) still verifies,
    and migration 0013's sealing gives it salts and recomputed hashes that verify."""
    engine, twin = world["engine"], world["twin"]
    with transaction(engine) as conn:          # the twin's chain as it was written before 0013
        _legacy(conn, twin)
    with transaction(engine, write=False) as conn:
        assert check(conn).breaks == []
    spec = importlib.util.spec_from_file_location("m0013", MIGRATIONS / "versions" / "0013_retention_and_erasure.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with transaction(engine) as conn:          # as the migration runs it: between dropping the guards and making them
        _without_guards(conn, lambda: module._seal_chains(conn))
        salts = conn.execute(select(EVENTS.c.salts).where(EVENTS.c.case_id == twin, EVENTS.c.seq == 1)).scalar()
    assert salts and set(salts) >= {"details.given_name", "details.phone"}
    with transaction(engine, write=False) as conn:
        assert check(conn).breaks == []
    retention.run(engine, now=AS_OF)          # and the twin's values could now be erased like any other


def _legacy(conn, case_id: int) -> None:
    """Drop the case's salts and hash its chain over the values themselves (as before 0013),
    under a run's mark so the guard lets it through."""
    conn.execute(insert(retention.RUNS).values(run_id="legacy", as_of=AS_OF, started_at=kit.at("2026-11-30"),
                                               actor="test", cases=0, erasing=True))
    prev = GENESIS
    events = conn.execute(select(EVENTS).where(EVENTS.c.case_id == case_id).order_by(EVENTS.c.seq)).mappings().all()
    changed = []
    for event in events:
        event = {**event, "salts": None}
        digest = event_hash(prev, event)
        changed.append((event["id"], prev, digest))
        prev = digest
    # hash and prev_hash are fixed for a run: rewrite them as an old writer would have, guards off
    conn.execute(update(retention.RUNS).values(erasing=False))
    _without_guards(conn, lambda: [conn.execute(update(EVENTS).where(EVENTS.c.id == i)
                                                .values(salts=None, prev_hash=p, hash=h)) for i, p, h in changed])
    conn.execute(update(CASES).where(CASES.c.id == case_id).values(last_hash=prev))


def _without_guards(conn, work) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
        work()
        conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only"))
    else:
        sql = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'audit_events_no_update'")).scalar()
        conn.execute(text("DROP TRIGGER audit_events_no_update"))
        work()
        conn.execute(text(sql))


@pytest.mark.slow
def test_the_monthly_flow_runs(world, tmp_path):
    """One real Prefect run of flows/gallring.py (a subprocess, its own Prefect home)."""
    if world["engine"].dialect.name != "sqlite":
        pytest.skip("the flow is the same on both databases; once is enough")
    env = {**os.environ, "ETABLERA_DATABASE_URL": world["url"], "PREFECT_HOME": str(tmp_path / "prefect"),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "WARNING",
           "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180"}          # a busy machine
    env.pop("PREFECT_API_URL", None)
    code = f"from etablera.flows.gallring import monthly_gallring; print(monthly_gallring(now={AS_OF.isoformat()!r}))"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300,
                          start_new_session=True)
    assert done.returncode == 0, done.stderr[-3000:]
    [run] = retention.protocols(world["engine"])
    assert run["actor"] == "flow:gallring" and run["cases"] == 1
    assert ERASED["note"] not in done.stdout + done.stderr


def test_the_case_page_of_an_erased_case(world):
    """The page shows the case as it is kept: its state and history, the number '(gallrad)',
    no name, note, justification or document name."""
    from fastapi.testclient import TestClient

    from etablera.access import accounts
    from etablera.interfaces.http.app import create_app
    from web_kit import PASSWORD, login

    if world["engine"].dialect.name != "sqlite":
        pytest.skip("the page is the same on both databases")
    accounts.add_user(world["engine"], "admin", name="Admin", role="admin", organisation="kommun", password=PASSWORD)
    retention.run(world["engine"], now=AS_OF)
    with TestClient(create_app(world["engine"])) as client:
        login(client, "admin")
        page = client.get(f"/cases/{world['erased']}")
    assert page.status_code == 200 and "(gallrad)" in page.text
    for value in [*NAME.values(), ERASED["note"], ERASED["justification"], "intyg-zlatana", "sealed:"]:
        assert value not in page.text, value
