"""Correcting a mistaken step (rättelse), on SQLite and PostgreSQL: the case goes back to
where it was before the step (state, due dates, measures), the chain verifies, only the
latest step of a coordinator's own municipality may be corrected, a reason and a
justification are required, and the report counts the case as if the step had not
happened, saying how many corrections there were."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

import kit
from cli_kit import etablera, ok, register as cli_register
from identities import pnr
from kit import add_measure, advance, change_measure, correct, history, register, show_case
from web_kit import login
from etablera.access.principal import Principal
from etablera.cases.audit import EVENTS, verify
from etablera.models import AccessLog
from etablera.models.casework import Correction
from etablera.models.database import transaction
from etablera.reports.report import build_report
from etablera.reports.render import to_csv
from etablera.reports.scope import make_scope
from etablera.statemachine.corrections import CORRECTED
from etablera.statemachine.decide import decide
from etablera.statemachine.errors import BadInput, Forbidden, NotPermitted

A, B, C = "0581", "0180", "1280"
COORDINATOR = Principal("samord0581", "Samordnare", "coordinator", "kommun", (A,), A)
OFFICER = Principal("h0581", "Handläggare", "officer", "kommun", (A,), A)
PERIOD = dict(start=date(2025, 1, 1), end=date(2025, 12, 31), today=date(2026, 3, 2))
CASE_KEYS = ("state", "state_since", "stage_started", "due", "establishment_due", "paused_from", "plan", "track",
             "municipality", "kommun_officer", "af_officer", "active")


def _in_module2(engine, serial: int = 1, municipality: str = A) -> int:
    case_id = register(engine, pnr("19900101", serial), municipality, "2025-01-10", "2025-02-03")
    advance(engine, case_id, "hold_talk", "2025-02-10")
    advance(engine, case_id, "establish_plan", "2025-02-17", plan="handlingsplan")
    add_measure(engine, case_id, "sfi", "2025-02-18")
    return case_id


def _counts(engine) -> tuple[int, int]:
    with transaction(engine, write=False) as conn:
        return (conn.execute(select(func.count()).select_from(EVENTS)).scalar(),
                conn.execute(select(func.count()).select_from(Correction)).scalar())


def _same_case(before: dict, after: dict) -> None:
    assert {k: after[k] for k in CASE_KEYS} == {k: before[k] for k in CASE_KEYS}
    strip = lambda ms: [{k: v for k, v in m.items() if k != "version"} for m in ms]  # noqa: E731
    assert strip(after["measures"]) == strip(before["measures"])


def _verified(engine) -> None:
    with transaction(engine, write=False) as conn:
        assert verify(conn)[2] == []


def test_an_exit_is_corrected_back_to_module2_with_its_measure_reopened(any_engine):
    case_id = _in_module2(any_engine)
    before = show_case(any_engine, case_id)
    step = advance(any_engine, case_id, "exit_direct", "2025-03-03", outcome="work", reason="job_offer", note="Jobb")
    assert show_case(any_engine, case_id)["measures"][0]["reason"] == "case_left_module"
    event = correct(any_engine, case_id, step["seq"], "2025-03-04", actor=COORDINATOR, reason="wrong_case",
                    note="Registrerat på fel person")
    assert (event["trigger"], event["from_state"], event["to_state"]) == ("correct", "exited.work",
                                                                         "module2.preparing")
    assert event["reason"] == "wrong_case" and event["data"]["corrects"] == step["seq"]
    _same_case(before, show_case(any_engine, case_id))
    _verified(any_engine)
    with transaction(any_engine, write=False) as conn:
        rows = conn.execute(select(Correction)).mappings().all()
    assert [(r["case_id"], r["corrected_seq"], r["correction_seq"]) for r in rows] == [(case_id, step["seq"],
                                                                                          event["seq"])]
    marked = {e["seq"]: e for e in history(any_engine, case_id, lang="en")}
    assert marked[step["seq"]]["corrected_by"] == event["seq"]
    assert marked[step["seq"]]["correction"] == f"corrected by event {event['seq']}"
    assert marked[event["seq"]]["reason_label"] == "Wrong case"
    assert "corrects event" in marked[event["seq"]]["correction"]


def test_a_track_decision_corrected_cancels_the_tracks_measures(any_engine):
    case_id = register(any_engine, pnr("19900101", 2), A, "2025-01-10", "2025-02-03")
    advance(any_engine, case_id, "hold_talk", "2025-02-10")
    advance(any_engine, case_id, "skip_module2", "2025-02-17", reason="validated_skills", note="Validerad")
    before = show_case(any_engine, case_id)
    step = advance(any_engine, case_id, "decide", "2025-03-03", decision="local_track", track="industri",
                   participants=["kommun", "af", "individual"], note="Beslut")
    made = step["data"]["measures"]
    assert made and show_case(any_engine, case_id)["stage_started"] == "2025-03-03"
    change_measure(any_engine, made[0], "start", "2025-03-04")       # a measure event does not block it
    correct(any_engine, case_id, step["seq"], "2025-03-05", actor=COORDINATOR, reason="wrong_step", note="Fel spår")
    after = show_case(any_engine, case_id)
    assert {k: after[k] for k in CASE_KEYS} == {k: before[k] for k in CASE_KEYS}
    assert {m["id"]: (m["state"], m["reason"]) for m in after["measures"]} == {m: ("cancelled", CORRECTED)
                                                                             for m in made}
    _verified(any_engine)


def test_a_resume_corrected_puts_the_case_back_on_hold_and_its_due_dates_back(any_engine):
    case_id = _in_module2(any_engine, 3)
    advance(any_engine, case_id, "pause", "2025-03-03", reason="illness")
    before = show_case(any_engine, case_id)
    step = advance(any_engine, case_id, "resume", "2025-03-13")
    moved = show_case(any_engine, case_id)
    assert moved["due"] != before["due"] and moved["measures"][0]["due"] != before["measures"][0]["due"]
    correct(any_engine, case_id, step["seq"], "2025-03-14", actor=COORDINATOR, reason="too_early", note="Ej åter")
    after = show_case(any_engine, case_id)
    _same_case(before, after)
    assert after["state"] == "on_hold" and after["paused_from"] == "module2.preparing"
    _verified(any_engine)


def test_only_the_latest_step_and_never_the_registration(any_engine):
    case_id = _in_module2(any_engine, 4)
    steps = {e["trigger"]: e["seq"] for e in history(any_engine, case_id)}
    with pytest.raises(NotPermitted) as refused:
        correct(any_engine, case_id, steps["hold_talk"], actor=COORDINATOR, reason="wrong_step", note="x")
    assert refused.value.code == "correction_not_latest" and refused.value.field == "seq"
    assert f"({steps['establish_plan']}:" in refused.value.text("en") and "first" in refused.value.text("en")
    with pytest.raises(NotPermitted, match="not a step"):
        correct(any_engine, case_id, steps["add_measure"], actor=COORDINATOR, reason="wrong_step", note="x")
    correct(any_engine, case_id, steps["establish_plan"], actor=COORDINATOR, reason="wrong_step", note="x")
    with pytest.raises(NotPermitted) as again:
        correct(any_engine, case_id, steps["establish_plan"], actor=COORDINATOR, reason="wrong_step", note="x")
    assert again.value.code == "correction_already_done"
    correct(any_engine, case_id, steps["hold_talk"], actor=COORDINATOR, reason="wrong_step", note="x")
    assert show_case(any_engine, case_id)["state"] == "module1.registered"
    with pytest.raises(NotPermitted) as first:
        correct(any_engine, case_id, steps["register"], actor=COORDINATOR, reason="wrong_case", note="x")
    assert first.value.code == "correction_of_registration"
    _verified(any_engine)


def test_the_step_offered_for_correction_is_the_one_correct_takes(any_engine):
    """The case page offers the step `latest_step` finds in the history it read (one
    snapshot, no read of its own): the latest uncorrected step of the process, past a
    measure; after each correction the one before; never the registration; never to an
    officer."""
    from etablera.cases.corrections import latest_step
    from etablera.cases.queries import view_case

    def offered(who=COORDINATOR):
        step = latest_step(who, view_case(any_engine, COORDINATOR, case_id, history=True)[1])
        return step and (step["seq"], step["trigger"], step["from_state"], step["to_state"])

    case_id = _in_module2(any_engine, 5)
    steps = {e["trigger"]: e["seq"] for e in history(any_engine, case_id)}
    assert offered() == (steps["establish_plan"], "establish_plan", "module1.talk_held", "module2.preparing")
    assert offered(OFFICER) is None
    correct(any_engine, case_id, offered()[0], actor=COORDINATOR, reason="wrong_step", note="x")
    assert offered() == (steps["hold_talk"], "hold_talk", "module1.registered", "module1.talk_held")
    correct(any_engine, case_id, offered()[0], actor=COORDINATOR, reason="wrong_step", note="x")
    assert offered() is None


def test_a_step_recorded_before_steps_kept_their_before_is_refused(any_engine):
    from etablera.cases.agreements import agreement_book
    from etablera.cases.journal import append, load_case
    from etablera.models.configuration import get_config
    from etablera.statemachine.case import Case
    case_id = register(any_engine, pnr("19900101", 5), A, "2025-01-10", "2025-02-03")
    with transaction(any_engine) as conn:         # the event as it was written before this change
        row = load_case(conn, case_id)
        decision = decide(Case.of(row), "hold_talk", {}, kit.at("2025-02-10"), get_config(), actor="k",
                          agreements=agreement_book())
        del decision.event["data"]["before"]
        append(conn, row, decision.changes, decision.event)
    with pytest.raises(NotPermitted) as refused:
        correct(any_engine, case_id, 2, actor=COORDINATOR, reason="wrong_step", note="x")
    assert refused.value.code == "correction_before_unknown" and "cannot be restored" in refused.value.text("en")


def test_an_officer_is_refused_and_the_refusal_logged(any_engine):
    case_id = _in_module2(any_engine, 6)
    seq = advance(any_engine, case_id, "request_assessment", "2025-03-03")["seq"]
    written = _counts(any_engine)
    with pytest.raises(Forbidden) as refused:
        correct(any_engine, case_id, seq, actor=OFFICER, reason="wrong_step", note="x")
    assert refused.value.field == "role" and "coordinator" in refused.value.text("en")
    assert _counts(any_engine) == written
    with transaction(any_engine, write=False) as conn:
        denied = conn.execute(select(AccessLog.c.action).where(AccessLog.c.actor == "h0581")
                              ).scalars().all()
    assert denied == ["denied:correct"]
    other = Principal("samord0180", "S", "coordinator", "kommun", (B,), B)
    with pytest.raises(Exception) as hidden:          # another municipality's case does not exist for them
        correct(any_engine, case_id, seq, actor=other, reason="wrong_step", note="x")
    assert hidden.value.code == "no_such_case"


@pytest.mark.parametrize("reason, note, field, code", [
    (None, "Motivering", "reason", "correction_needs_reason"),
    ("nonsense", "Motivering", "reason", "unknown_reason"),
    ("wrong_step", None, "note", "correction_needs_note"),
    ("wrong_step", "   ", "note", "correction_needs_note"),
])
def test_reason_and_justification_are_required(any_engine, reason, note, field, code):
    case_id = _in_module2(any_engine, 7)
    seq = advance(any_engine, case_id, "request_assessment", "2025-03-03")["seq"]
    written = _counts(any_engine)
    with pytest.raises(BadInput) as refused:
        correct(any_engine, case_id, seq, actor=COORDINATOR, reason=reason, note=note)
    assert (refused.value.field, refused.value.code) == (field, code)
    assert _counts(any_engine) == written and show_case(any_engine, case_id)["state"] == "assessment.pending"


def _normalized(doc: dict, municipality: str):
    """The report's figures, the municipality's code and name made anonymous."""
    name = doc["scope"]["municipalities"][0]["name"]

    def walk(value):
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items() if k not in ("generated_at", "refreshed_cases",
                                                                      "corrections")}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return "M" if value in (municipality, name) else value
    return walk(doc)


def test_the_report_counts_a_corrected_case_as_if_the_step_had_not_happened(any_engine):
    corrected, untouched = _in_module2(any_engine, 8, A), _in_module2(any_engine, 9, B)
    for case_id in (corrected, untouched):
        advance(any_engine, case_id, "request_assessment", "2025-05-05")
    # Two mistakes on one case, each corrected: a transfer, then a decision to work.
    moved = advance(any_engine, corrected, "transfer", "2025-05-12", municipality=C)
    correct(any_engine, corrected, moved["seq"], "2025-05-13", actor="admin", reason="wrong_case", note="Fel kommun")
    exited = advance(any_engine, corrected, "decide", "2025-05-19", decision="work", participants=["kommun", "af"],
                     reason="job_offer", note="Arbete")
    correct(any_engine, corrected, exited["seq"], "2025-05-20", actor=COORDINATOR, reason="wrong_case",
            note="Fel person")
    for case_id in (corrected, untouched):
        advance(any_engine, case_id, "decide", "2025-06-02", decision="extended_support",
                participants=["kommun", "af"], note="Förlängt")
    report_a = build_report(any_engine, make_scope([A], **PERIOD))
    report_b = build_report(any_engine, make_scope([B], **PERIOD))
    assert report_a["flow"]["transfers_out"] == 0 and report_a["flow"]["exits_total"] == 0
    assert report_a["time_in_stage"]["stages"][3]["n"] == 1           # the assessment stay, counted once
    assert _normalized(report_a, A) == _normalized(report_b, B)
    assert (report_a["corrections"]["count"], report_b["corrections"]["count"]) == (2, 0)
    assert build_report(any_engine, make_scope(**PERIOD))["corrections"]["count"] == 2
    assert build_report(any_engine, make_scope([C], **PERIOD))["flow"]["transfers_in"] == 0
    assert "Rättade steg,antal,2" in to_csv(report_a)
    english = build_report(any_engine, make_scope([A], lang="en", **PERIOD))
    assert english["corrections"] == {"count": 2, "label": "Corrected steps"}


def test_the_command_line_corrects_and_names_the_missing_field(cli_env):
    case_id = cli_register(pnr("19900101", 10))["id"]
    ok("case", "advance", str(case_id), "hold_talk")
    refused = etablera("case", "correct", str(case_id), "--seq", "2", "--reason", "wrong_step", "--json")
    assert refused.code == 2 and refused.doc["error"]["field"] == "note"
    doc = ok("case", "correct", str(case_id), "--seq", "2", "--reason", "wrong_step", "--note", "Fel ärende")
    assert doc["state"] == "module1.registered" and doc["correction"]["corrects"] == 2
    text = etablera("case", "correct", str(case_id), "--seq", "2", "--reason", "wrong_step", "--note", "x",
                    "--lang", "en")
    assert text.code == 3 and "already been corrected" in text.err


@pytest.fixture
def world(db_url):
    from web_kit import build_world
    world = build_world(db_url)
    yield world
    world.engine.dispose()


def test_the_api_corrects_for_a_coordinator_and_refuses_an_officer(world):
    from fastapi.testclient import TestClient
    from etablera.interfaces.http.app import create_app
    api = TestClient(create_app(world.engine))
    case_id = world.cases["nkpg"]
    step = advance(world.engine, case_id, "hold_talk", actor="setup")
    body = {"seq": step["seq"], "reason": "wrong_step", "note": "Fel ärende"}
    refused = api.post(f"/api/v1/cases/{case_id}/corrections", headers=world.bearer("h0581"), json=body)
    assert refused.status_code == 403 and refused.json()["error"]["field"] == "role"
    missing = api.post(f"/api/v1/cases/{case_id}/corrections", headers=world.bearer("samord0581"),
                       json={**body, "note": ""})
    assert missing.status_code == 400 and missing.json()["error"]["field"] == "note"
    done = api.post(f"/api/v1/cases/{case_id}/corrections?lang=en", headers=world.bearer("samord0581"), json=body)
    assert done.status_code == 201, done.text
    assert done.json()["event"]["to_state"] == "module1.registered" and done.json()["event"]["reason_label"] == \
        "Wrong step"
    elsewhere = api.post(f"/api/v1/cases/{world.cases['sthlm']}/corrections", headers=world.bearer("samord0581"),
                         json=body)
    assert elsewhere.status_code == 404


def test_the_case_page_offers_the_correction_to_a_coordinator_with_a_confirmation(world):
    import re
    from fastapi.testclient import TestClient
    from etablera.interfaces.http.app import create_app
    case_id = world.cases["nkpg"]
    step = advance(world.engine, case_id, "hold_talk", actor="setup")
    officer = TestClient(create_app(world.engine))
    login(officer, "h0581")
    assert 'id="correction"' not in officer.get(f"/cases/{case_id}").text
    browser = TestClient(create_app(world.engine))
    csrf = login(browser, "samord0581")
    page = browser.get(f"/cases/{case_id}").text
    assert 'id="correction"' in page and f'name="seq" value="{step["seq"]}"' in page
    version = re.search(r'name="expect_version" value="(\d+)"', page).group(1)
    form = {"csrf": csrf, "expect_version": version, "seq": str(step["seq"]), "reason": "wrong_step",
            "note": "Samtalet hölls inte"}
    unconfirmed = browser.post(f"/cases/{case_id}/corrections", data=form, follow_redirects=False)
    assert unconfirmed.status_code == 400 and 'id="error-correction"' in unconfirmed.text
    assert "Samtalet hölls inte" in unconfirmed.text          # what was typed is kept
    done = browser.post(f"/cases/{case_id}/corrections", data={**form, "confirm": "yes"}, follow_redirects=False)
    assert done.status_code == 303
    timeline = browser.get(done.headers["location"]).text
    assert f"rättad genom händelse {step['seq'] + 1}" in timeline and f"rättar händelse {step['seq']}" in timeline
    assert 'id="correction"' not in timeline                  # only the registration is left
