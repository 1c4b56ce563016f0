"""`audit verify` replays every chain against the case row and its measures, on SQLite and
PostgreSQL: a municipality, a person or a target group changed directly in the database
(the `cases` table has no append-only trigger) is found, a clean cohort with corrected,
transferred, paused and resumed, assigned and measure-carrying cases passes; a database
whose chains were rewritten (every hash recomputed) passes the plain check and is found
against an anchor written before; the audit key is a 0600 file outside the database and
neither it nor an identity number is ever printed."""

from __future__ import annotations

import json
import stat
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select, text

from cli_kit import etablera
from identities import pnr
from kit import (add_measure, add_note, advance, assign, change_measure, correct, officer, register,
                 update_person)
from etablera.access.principal import Principal
from etablera.cases.anchor import read_anchor, write_anchor
from etablera.cases.audit import CASES, EVENTS, GENESIS, check, event_hash
from etablera.cases.audit_key import ENV_FILE, key_path, load_key
from etablera.cases.rows import CaseRows, insert_many
from etablera.demo.bulk import write_cohort
from etablera.models import Measure
from etablera.models.configuration import get_config
from etablera.models.database import make_engine, transaction
from etablera.statemachine.binding import person_hmac

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)
A, B = "0581", "0180"
COORDINATOR = Principal("samord0581", "Samordnare", "coordinator", "kommun", (A,), A)
MEASURES = Measure


@pytest.fixture
def keyed(db_url, tmp_path, monkeypatch):
    """The database of db_url with its audit key in a file of this test's own."""
    monkeypatch.setenv(ENV_FILE, str(tmp_path / "keys" / "audit.key"))
    monkeypatch.setenv("ETABLERA_DATABASE_URL", db_url)
    monkeypatch.setenv("ETABLERA_ACTOR", "handl01")
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def _casework(engine) -> dict[str, int]:
    """Cases through the engine's use cases, with what the cohort does not do: corrections,
    assignments, a transfer with a new officer, a changed person, a note."""
    for name, place in (("k-a1", A), ("k-a2", A), ("k-b1", B)):
        officer(engine, name, place)
    officer(engine, "af-a1", A, "af")
    cases = {}
    # Corrected exit (its measure reopened), then assigned and renamed.
    c = register(engine, pnr("19900101", 11), A, "2025-01-10", "2025-02-03", kommun_officer="k-a1",
                 af_officer="af-a1", given_name="Amina", family_name="Öberg", interpreter=True)
    advance(engine, c, "hold_talk", "2025-02-10")
    advance(engine, c, "establish_plan", "2025-02-17", plan="handlingsplan")
    m = add_measure(engine, c, "sfi", "2025-02-18")
    change_measure(engine, m, "start", "2025-02-20")
    step = advance(engine, c, "exit_direct", "2025-03-03", outcome="work", reason="job_offer", note="Jobb")
    correct(engine, c, step["seq"], "2025-03-04", actor=COORDINATOR, reason="wrong_case", note="Fel person")
    assign(engine, c, kommun_officer="k-a2", day="2025-03-05")
    add_note(engine, c, "Samtal med individen", "2025-03-06")
    update_person(engine, c, family_name="Oberg", phone="070-123 45 67")      # now
    cases["corrected_exit"] = c
    # Paused and resumed (its measure's due date moved), the resume corrected, resumed again.
    c = register(engine, pnr("19910202", 12), A, "2025-01-10", "2025-02-03")
    advance(engine, c, "hold_talk", "2025-02-10")
    advance(engine, c, "establish_plan", "2025-02-17", plan="handlingsplan")
    add_measure(engine, c, "civic_orientation", "2025-02-18")
    advance(engine, c, "pause", "2025-03-03", reason="illness")
    step = advance(engine, c, "resume", "2025-03-13")
    correct(engine, c, step["seq"], "2025-03-14", actor=COORDINATOR, reason="too_early", note="Ej åter")
    advance(engine, c, "resume", "2025-04-01")
    cases["paused"] = c
    # Transferred with a new officer of the receiving municipality.
    c = register(engine, pnr("19920303", 13), A, "2025-01-10", "2025-02-03", kommun_officer="k-a1")
    advance(engine, c, "hold_talk", "2025-02-10")
    advance(engine, c, "transfer", "2025-02-20", municipality=B, kommun_officer="k-b1")
    cases["transferred"] = c
    # A local track decided and corrected: its components cancelled.
    c = register(engine, pnr("19930404", 14), A, "2025-01-10", "2025-02-03")
    advance(engine, c, "hold_talk", "2025-02-10")
    advance(engine, c, "skip_module2", "2025-02-17", reason="validated_skills", note="Validerad")
    step = advance(engine, c, "decide", "2025-03-03", decision="local_track", track="industri",
                   participants=["kommun", "af", "individual"], note="Beslut")
    change_measure(engine, step["data"]["measures"][0], "start", "2025-03-04")
    correct(engine, c, step["seq"], "2025-03-05", actor=COORDINATOR, reason="wrong_step", note="Fel spår")
    cases["corrected_track"] = c
    return cases


def _cohort(engine, count: int = 300) -> dict[str, int]:
    write_cohort(engine, count, seed=5, workers=1, now=NOW)
    return _casework(engine)


def _set(engine, sql: str, **params) -> None:
    with transaction(engine) as conn:
        conn.execute(text(sql), params)


def _breaks(engine, **options):
    with transaction(engine, write=False) as conn:
        return check(conn, **options)


def test_a_clean_cohort_passes_and_changed_columns_are_found(keyed):
    cases = _cohort(keyed)
    result = _breaks(keyed)
    assert result.breaks == [] and result.notes == []
    assert result.cases == 304 and result.events > 3000
    with transaction(keyed, write=False) as conn:
        kinds = set(conn.execute(select(EVENTS.c.trigger).distinct()).scalars())
        chosen = conn.execute(select(CASES.c.id, CASES.c.municipality, CASES.c.target_group)
                              .where(CASES.c.id < 100).order_by(CASES.c.id).limit(3)).all()
        people = set(conn.execute(select(CASES.c.person)).scalars())
    assert {"correct", "transfer", "pause", "resume", "assign", "update_person", "add_measure", "start_measure",
            "complete_measure", "decide"} <= kinds
    # Changed directly in the database: nothing on the chain moves.
    (moved, place, _), (renumbered, _, _), (regrouped, _, group) = chosen
    _set(keyed, "UPDATE cases SET municipality = :m WHERE id = :id", m="1280" if place != "1280" else "0380", id=moved)
    other = pnr("19850505", 77).replace("-", "")
    _set(keyed, "UPDATE cases SET person = :p WHERE id = :id", p=other, id=renumbered)
    _set(keyed, "UPDATE cases SET target_group = :g WHERE id = :id", g="B" if group != "B" else "A", id=regrouped)
    _set(keyed, "UPDATE cases SET kommun_officer = 'k-a1' WHERE id = :id", id=cases["corrected_exit"])
    found = {(b.case_id, b.code, str(b.params.get("column"))) for b in _breaks(keyed).breaks}
    assert found == {(moved, "audit_column_differs", "municipality"),
                     (renumbered, "audit_person_mismatch", "None"),
                     (regrouped, "audit_column_differs", "target_group"),
                     (cases["corrected_exit"], "audit_column_differs", "kommun_officer")}
    # The command says so, exit 1, and prints no identity number.
    out = etablera("audit", "verify", "--lang", "en")
    assert out.code == 1 and f"case {moved}: column municipality holds" in out.out
    assert f"case {renumbered}: the identity number does not match" in out.out
    assert not [p for p in people | {other} if p in out.both or f"{p[:8]}-{p[8:]}" in out.both]
    doc = etablera("audit", "verify", "--json")
    assert doc.code == 1 and doc.doc["ok"] is False and len(doc.doc["breaks"]) == 4
    assert other not in doc.out


def test_a_changed_measure_and_a_case_row_put_back_are_found_or_pass(keyed):
    cases = _casework(keyed)
    with transaction(keyed, write=False) as conn:
        measure = conn.execute(select(MEASURES).where(MEASURES.c.case_id == cases["paused"])).mappings().one()
    _set(keyed, "UPDATE measures SET state = 'completed' WHERE id = :id", id=measure["id"])
    _set(keyed, "UPDATE measures SET due = :d WHERE id = :id", d=date(2030, 1, 1), id=measure["id"])
    found = {(b.code, str(b.params.get("column"))) for b in _breaks(keyed).breaks}
    assert found == {("audit_measure_differs", "state"), ("audit_measure_differs", "due")}
    _set(keyed, "UPDATE measures SET state = :s, due = :d WHERE id = :id", s=measure["state"], d=measure["due"],
         id=measure["id"])
    assert _breaks(keyed).breaks == []


def _drop_append_only(engine) -> None:
    with transaction(engine) as conn:
        for table in ("audit_events", "corrections"):
            if engine.dialect.name == "postgresql":
                conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"))
            else:
                for verb in ("update", "delete"):
                    conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{verb}"))


def _rewrite(engine, case_id: int, municipality: str) -> None:
    """What an attacker with the database but not the key can do: move a case to another
    municipality in every event and recompute the whole chain and the head."""
    with transaction(engine) as conn:
        events = [dict(r) for r in conn.execute(select(EVENTS).where(EVENTS.c.case_id == case_id)
                                                .order_by(EVENTS.c.seq)).mappings()]
        prev = GENESIS
        for event in events:
            event["municipality"] = municipality
            digest = event_hash(prev, event)
            conn.execute(EVENTS.update().where(EVENTS.c.id == event["id"])
                         .values(municipality=municipality, prev_hash=prev, hash=digest))
            prev = digest
        conn.execute(CASES.update().where(CASES.c.id == case_id)
                     .values(municipality=municipality, last_hash=prev))


def test_a_rewritten_chain_passes_verify_but_not_the_anchor(keyed, tmp_path):
    write_cohort(keyed, 120, seed=9, workers=1, now=NOW)
    made = etablera("audit", "anchor", "--output", str(tmp_path / "anchors" / "a1.jsonl"), "--json")
    assert made.code == 0, made
    anchor_file = tmp_path / "anchors" / "a1.jsonl"
    assert made.doc["cases"] == 120 and made.doc["file"] == str(anchor_file)
    again = etablera("audit", "anchor", "--output", str(anchor_file), "--json")
    assert again.code == 2 and again.doc["error"]["code"] == "anchor_exists"
    assert load_key(keyed).hex() not in made.out + anchor_file.read_text()
    # Growth after the anchor is fine.
    with transaction(keyed, write=False) as conn:
        active = conn.execute(select(CASES.c.id, CASES.c.state).where(CASES.c.active, CASES.c.state.in_(
            ["module2.preparing", "module2.extended"])).order_by(CASES.c.id)).first()
        victims = list(conn.execute(select(CASES.c.id).where(CASES.c.id != active.id).order_by(CASES.c.id)
                                    .limit(2)).scalars())
    add_measure(keyed, active.id, "sfi")
    assert etablera("audit", "verify", "--anchor", str(anchor_file)).code == 0
    # The rewrite: the chain is whole again, so verify alone sees nothing.
    _drop_append_only(keyed)
    with transaction(keyed, write=False) as conn:
        place = conn.execute(select(CASES.c.municipality).where(CASES.c.id == victims[0])).scalar()
    _rewrite(keyed, victims[0], "1280" if place != "1280" else "0380")
    assert _breaks(keyed).breaks == []
    assert etablera("audit", "verify").code == 0
    out = etablera("audit", "verify", "--anchor", str(anchor_file), "--lang", "en")
    assert out.code == 1 and "the chain was rewritten" in out.out, out
    with transaction(keyed, write=False) as conn:
        last = conn.execute(select(CASES.c.last_seq).where(CASES.c.id == victims[0])).scalar()
    anchor = read_anchor(anchor_file, load_key(keyed))
    assert [(b.case_id, b.seq, b.code) for b in _breaks(keyed, anchor=anchor).breaks] == [
        (victims[0], last, "audit_anchor_rewritten")]
    # A case removed whole, events and all: found as missing.
    with transaction(keyed) as conn:
        for table in ("audit_events", "measures"):
            conn.execute(text(f"DELETE FROM {table} WHERE case_id = :id"), {"id": victims[1]})
        conn.execute(text("DELETE FROM access_log WHERE case_id = :id"), {"id": victims[1]})
        conn.execute(text("DELETE FROM cases WHERE id = :id"), {"id": victims[1]})
    codes = {(b.case_id, b.code) for b in _breaks(keyed, anchor=anchor).breaks}
    assert codes == {(victims[0], "audit_anchor_rewritten"), (victims[1], "audit_anchor_case_missing")}
    # An anchor changed after it was written is not believed.
    lines = anchor_file.read_text().splitlines(keepends=True)
    head = json.loads(lines[1])
    lines[1] = json.dumps([head[0], head[1], "0" * 64], separators=(",", ":")) + "\n"
    forged = tmp_path / "forged.jsonl"
    forged.write_text("".join(lines))
    assert [b.code for b in _breaks(keyed, anchor=read_anchor(forged, load_key(keyed))).breaks] == [
        "audit_anchor_signature"]
    bad = etablera("audit", "verify", "--anchor", str(tmp_path / "nothing.jsonl"), "--json")
    assert bad.code == 2 and bad.doc["error"]["field"] == "anchor"


def test_fewer_events_than_anchored_are_found(keyed, tmp_path):
    cases = _casework(keyed)
    key = load_key(keyed)
    summary = write_anchor(keyed, key, tmp_path / "a.jsonl")
    assert summary["cases"] == 4
    _drop_append_only(keyed)
    case_id = cases["transferred"]
    with transaction(keyed) as conn:
        last = conn.execute(select(CASES.c.last_seq).where(CASES.c.id == case_id)).scalar()
        conn.execute(text("DELETE FROM audit_events WHERE case_id = :id AND seq = :seq"), {"id": case_id,
                                                                                          "seq": last})
    anchor = read_anchor(tmp_path / "a.jsonl", key)
    found = {(b.case_id, b.code) for b in _breaks(keyed, anchor=anchor).breaks}
    assert (case_id, "audit_anchor_fewer_events") in found


def test_the_key_file_is_made_0600_by_init_and_never_printed(keyed, tmp_path):
    path = tmp_path / "keys" / "audit.key"
    assert not path.exists() and key_path(keyed) == path
    first = etablera("init", "--json")
    assert first.code == 0 and first.doc["audit_key_file"] == str(path) and first.doc["audit_key_created"] is True
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = path.read_text().strip()
    assert len(key) == 64 and key not in first.out
    second = etablera("init")
    assert second.code == 0 and str(path) in second.out and key not in second.both
    assert path.read_text().strip() == key and etablera("init", "--json").doc["audit_key_created"] is False
    # The number is bound under that key; the event holds its HMAC, never the number.
    number = pnr("19940606", 15)
    case_id = register(keyed, number, A, "2025-01-10", "2025-02-03")
    with transaction(keyed, write=False) as conn:
        data = conn.execute(select(EVENTS.c.data).where(EVENTS.c.case_id == case_id)).scalar()
    assert data["person_hmac"] == person_hmac(bytes.fromhex(key), number.replace("-", ""))
    assert number.replace("-", "") not in json.dumps(data)
    for command in (("audit", "verify"), ("audit", "verify", "--json")):
        out = etablera(*command)
        assert out.code == 0 and key not in out.both and number.replace("-", "") not in out.both
    # Without the key the numbers cannot be checked: that is a break, not a pass.
    path.rename(tmp_path / "elsewhere.key")
    missing = _breaks(keyed).breaks
    assert [(b.case_id, b.code, b.params["count"]) for b in missing] == [(None, "audit_key_missing", 1)]
    assert "the database: the audit key is missing" in missing[0].text("en")


def test_an_unbound_registration_is_a_note_not_a_break(keyed):
    """A case registered before the number was bound: its chain verifies for what it holds."""
    config = get_config()
    key = load_key(keyed, create=True)
    with transaction(keyed, write=False) as conn:
        base = (conn.execute(text("SELECT coalesce(max(id), 0) FROM cases")).scalar() or 0) + 1
    rows = CaseRows(base, 1_000_000, NOW, config, key)
    moment = datetime(2025, 2, 3, 10, tzinfo=timezone.utc)
    rows.register(moment, "handl01", {"person": pnr("19800808", 16), "municipality": A, "no_upper_secondary": False,
                                      "permit_date": date(2025, 1, 10), "reception_date": None,
                                      "kommun_officer": None, "af_officer": None})
    event = rows.events[0]
    for name in ("person_hmac", "no_upper_secondary"):         # as registrations were written before
        del event["data"][name]
    event["hash"] = event_hash(GENESIS, event)
    rows.case["last_hash"] = event["hash"]
    with transaction(keyed) as conn:
        insert_many(conn, CASES, [rows.case])
        insert_many(conn, EVENTS, rows.events)
    result = _breaks(keyed)
    assert result.breaks == [] and [(n.code, n.params) for n in result.notes] == [("audit_note_unbound",
                                                                                   {"count": 1})]
    out = etablera("audit", "verify", "--lang", "en")
    assert out.code == 0 and "note: 1 cases were registered before the identity number was bound" in out.out
    # What it does hold is still checked.
    _set(keyed, "UPDATE cases SET target_group = CASE WHEN target_group = 'A' THEN 'B' ELSE 'A' END WHERE id = :id",
         id=base)
    assert [(b.code, str(b.params["column"])) for b in _breaks(keyed).breaks] == [("audit_column_differs",
                                                                                    "target_group")]
