"""Pseudonymised statistics for the national follow-up (issue 16, item 5): `etablera report
export` gives each case a pseudonym that is stable for one recipient and unrelated for
another, no output file holds an identity number, a name, a contact detail or free text,
the figures are the report's own, and the per-case rows add up to them. SQLite and
PostgreSQL."""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import text

import kit
from cli_kit import etablera, ok, person_forms
from identities import pnr
from etablera.demo.bulk import write_cohort
from etablera.models.configuration import get_config
from etablera.models.database import make_engine

NOW = datetime(2026, 6, 30, 10, 0, tzinfo=timezone.utc)
PERIOD = ("--from", "2025-01-01", "--to", "2025-12-31")
NATIONAL = "nationell-uppfoljning"
SECRETS = ["Hemlig anteckning om Zlatan-vägen", "Registreringsnotis: flydde 2024 via Malmö"]
PEOPLE = [("19870412", "Özlem", "Qwertysson", "+46701234567", "ozlem@example.org"),
          ("19920708", "Xerxes", "Bjälkenstam", "070-7654321", "xerxes.b@example.org")]


@pytest.fixture
def cohort(cli_env, tmp_path, monkeypatch) -> str:
    """A synthetic cohort, plus two people with names, contact details and free text."""
    monkeypatch.setenv("ETABLERA_EXPORT_KEY_FILE", str(tmp_path / "keys" / "export.key"))
    monkeypatch.setenv("ETABLERA_AUDIT_KEY_FILE", str(tmp_path / "keys" / "audit.key"))
    url = cli_env["ETABLERA_DATABASE_URL"]
    engine = make_engine(url)
    try:
        write_cohort(engine, 400, seed=7, workers=1, now=NOW)
        for (born, given, family, phone, email), secret in zip(PEOPLE, SECRETS):
            case_id = kit.register(engine, pnr(born, 414), "0581", "2025-01-15", "2025-03-03T10:00",
                                   given_name=given, family_name=family, phone=phone, email=email, note=secret)
            kit.add_note(engine, case_id, secret + " (anteckning)", "2025-03-04T10:00")
    finally:
        engine.dispose()
    return url


def _export(tmp_path, name: str, recipient: str, *period: str) -> Path:
    ok("report", "export", "--recipient", recipient, *(period or PERIOD), "--output", str(tmp_path / name))
    return tmp_path / name


def _cases(directory: Path) -> dict[str, dict]:
    rows = json.loads((directory / "cases.json").read_text())["cases"]
    with open(directory / "cases.csv", newline="") as fh:
        from_csv = list(csv.DictReader(fh))
    assert [r["pseudonym"] for r in from_csv] == [r["pseudonym"] for r in rows]
    return {r["pseudonym"]: r for r in rows}


def test_the_pseudonym_is_stable_per_recipient_and_differs_between_recipients(cohort, tmp_path):
    first = _cases(_export(tmp_path, "a", NATIONAL))
    again = _cases(_export(tmp_path, "b", NATIONAL.upper()))          # the name compared case-folded
    month = _cases(_export(tmp_path, "c", NATIONAL, "--period", "2025-06"))
    other = _cases(_export(tmp_path, "d", "scb"))
    assert len(first) > 100
    assert again == first, "the same recipient gets the same pseudonyms and rows"
    assert month.keys() < first.keys(), "a shorter period: a subset, under the same pseudonyms"
    for pseudonym, row in month.items():
        assert row == first[pseudonym]
    assert len(other) == len(first) and not other.keys() & first.keys(), "another recipient: other pseudonyms"
    # The same cases, told apart only by their pseudonyms: the rows without them are the same multiset.
    strip = lambda rows: sorted(json.dumps({k: v for k, v in r.items() if k != "pseudonym"}, sort_keys=True)
                                for r in rows.values())  # noqa: E731
    assert strip(other) == strip(first)
    assert all(re.fullmatch(r"[0-9a-f]{24}", p) for p in first)


def test_no_identity_number_name_contact_or_free_text_in_any_file(cohort, tmp_path):
    directory = _export(tmp_path, "a", NATIONAL)
    engine = make_engine(cohort)
    try:
        with engine.connect() as conn:
            people = conn.execute(text("SELECT person, given_name, family_name, phone, email FROM cases")).all()
            notes = [r[0] for r in conn.execute(text("SELECT text FROM notes WHERE text IS NOT NULL"))]
    finally:
        engine.dispose()
    numbers = {form for row in people for form in person_forms(row[0][:8] + "-" + row[0][8:])}
    names = {part for row in people for value in row[1:3] if value for part in value.split()}
    contacts = {value for row in people for value in row[3:5] if value}
    public = {word for name in get_config().municipalities.values() for word in re.findall(r"\w+", name)}
    assert len(numbers) > 1000 and names and len(contacts) >= 4 and len(notes) >= 2
    files = sorted(directory.iterdir())
    assert [f.name for f in files] == ["cases.csv", "cases.json", "figures.csv", "figures.json"]
    for file in files:
        body = file.read_text(encoding="utf-8")
        words = set(re.findall(r"\w+", body)) - public        # municipality names are public, not a person's
        assert not [n for n in numbers if n in body], file.name
        assert not names & words, (file.name, names & words)
        assert not [c for c in contacts if c in body], file.name
        assert not [t for t in notes + SECRETS if t in body or t[:20] in body], file.name
        assert "Zlatan" not in body and "flydde" not in body


def _lookup(node, parts: list[str], municipality: str, inside: bool = False) -> list:
    """Every value at `parts` under `node` reached through `municipality`'s entry (a dict
    holding its code) and no other's: a dict's key, a list member named by its
    stage/track/... value, or the municipality's entry itself (which consumes no part)."""
    if not parts:
        return [node] if inside else []
    found = []
    if isinstance(node, dict):
        if parts[0] in node:
            found += _lookup(node[parts[0]], parts[1:], municipality, inside)
        if "by_municipality" in node:
            found += _lookup(node["by_municipality"], parts, municipality, inside)
    elif isinstance(node, list):
        for item in node:
            if not isinstance(item, dict) or item.get("municipality") not in (None, municipality):
                continue
            entered = inside or item.get("municipality") == municipality
            names = {str(v) for k, v in item.items() if k in ("stage", "track", "module", "day", "step", "state")}
            if parts[0] in names:
                found += _lookup(item, parts[1:], municipality, entered)
            elif item.get("municipality") == municipality:
                found += _lookup(item, parts, municipality, True)
    return found


def test_the_figures_are_the_reports_and_the_cases_add_up_to_them(cohort, tmp_path):
    directory = _export(tmp_path, "a", NATIONAL)
    report = ok("report", *PERIOD)
    figures = json.loads((directory / "figures.json").read_text())
    assert figures["period"] == report["period"] and figures["recipient"] == NATIONAL
    rows = figures["figures"]
    with open(directory / "figures.csv", newline="") as fh:
        assert [(r["municipality"], r["figure"], r["value"]) for r in csv.DictReader(fh)] == \
            [(r["municipality"], r["figure"], "" if r["value"] is None else str(r["value"])) for r in rows]
    assert len({(r["municipality"], r["figure"]) for r in rows}) == len(rows), "each figure once per municipality"
    for row in rows:
        assert _lookup(report, row["figure"].split("/"), row["municipality"]) == [row["value"]], row
    by = {(r["municipality"], r["figure"]): r["value"] for r in rows}
    municipalities = {m["municipality"] for m in report["flow"]["by_municipality"]}
    assert len(municipalities) > 5
    for section in ("states_now", "flow", "establishment", "skips"):
        for entry in report[section]["by_municipality"]:
            assert any(k[0] == entry["municipality"] and k[1].startswith(section + "/") for k in by), section

    # The per-case rows are the cases the figures count: entries where registered, exits where they ended.
    cases = _cases(directory).values()
    engine = make_engine(cohort)
    try:
        with engine.connect() as conn:
            logged = conn.execute(text("SELECT detail, actor, COUNT(*), COUNT(DISTINCT case_id) FROM access_log "
                                       "WHERE action = 'statistics_export' GROUP BY detail, actor")).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in logged] == [(f"recipient {NATIONAL}", "handl01", len(cases), len(cases))], \
        "each exported case in the access log, naming the recipient"
    for municipality in municipalities:
        entries = sum(1 for c in cases if c["municipality_start"] == municipality
                      and "2025-01" <= c["registered_month"] <= "2025-12")
        assert entries == by[(municipality, "flow/entries")], municipality
        for state in report["flow"]["exits"]:
            exits = sum(1 for c in cases if c["exit_municipality"] == municipality and c["exit_state"] == state
                        and "2025-01" <= (c["exit_month"] or "") <= "2025-12")
            assert exits == by[(municipality, f"flow/exits/{state}")], (municipality, state)


def test_bad_input_is_one_line_naming_the_option(cohort, tmp_path):
    for args, field in ((("--recipient", "två ord"), "recipient"), (("--recipient", "x", "--period", "2025-13"),
                                                                    "period"),
                        (("--recipient", "x", "--period", "2025", "--from", "2025-01-01"), "period"),
                        (("--recipient", "x", "--from", "2025-02-30"), "from")):
        result = etablera("report", "export", *args, "--output", str(tmp_path / "never"))
        assert result.code == 2 and result.err.count("\n") == 1 and result.err.startswith(f"error: {field}:"), \
            result.both
    assert not (tmp_path / "never").exists()
