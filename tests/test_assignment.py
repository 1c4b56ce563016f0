"""Responsibility: an assignment is validated (the officer exists, is of the right
organisation and serves the case's municipality) at registration, by `assign`, `take`,
`reassign_all` and a transfer, and a refusal writes nothing; a coordinator assigns, an
officer takes an unassigned case, a coordinator moves one officer's cases after a preview;
a transfer hands the case to the receiving municipality unassigned, its coordinator is told
once and the next deadline check addresses it, never the old officers. On SQLite and
PostgreSQL, through the use cases, the CLI and the HTTP API."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

import kit
from cli_kit import counts, etablera
from identities import pnr
from kit import advance, assign, officer, reassign_all, register, take
from web_kit import PASSWORD, login
from etablera.access import accounts
from etablera.access.principal import principal_for
from etablera.cases import assignment
from etablera.cases.audit import CASES, EVENTS, verify
from etablera.interfaces.http.app import create_app
from etablera.models import AccessLog, Reminder, ReminderDelivery
from etablera.models.agreements import AgreementBook
from etablera.models.configuration import DEFAULT_DIR
from etablera.models.database import make_engine, transaction
from etablera.models.ladder import load_reminder_config
from etablera.reminders import deadlines, outbox
from etablera.statemachine.errors import BadInput, ConcurrentChange, Forbidden, NotFound, NotPermitted

CONFIG = load_reminder_config(DEFAULT_DIR)
NO_AGREEMENTS = AgreementBook(directory=DEFAULT_DIR / "nonexistent", agreements=())
# (id, role, organisation, municipality, office): login users
USERS = (
    ("h0581", "officer", "kommun", "0581", None),
    ("h0581b", "officer", "kommun", "0581", None),
    ("h0180", "officer", "kommun", "0180", None),
    ("af-nkpg", "officer", "af", None, "norrkoping"),          # 0581, 0583, 0580
    ("af-sthlm", "officer", "af", None, "stockholm"),          # 0180, 0114, 0181
    ("samo0581", "coordinator", "kommun", "0581", None),
    ("samo0180", "coordinator", "kommun", "0180", None),
    ("granskare", "auditor", "kommun", None, None),
)


def user(engine, user_id: str):
    return principal_for(accounts.get_user(engine, user_id))


@pytest.fixture
def db(db_url):
    engine = make_engine(db_url)
    for user_id, role, org, municipality, office in USERS:
        accounts.add_user(engine, user_id, name=f"Test {user_id}", role=role, organisation=org,
                          municipality=municipality, office=office, password=PASSWORD)
    officer(engine, "k.reg", "0581")                       # a registered officer, no login
    yield engine
    engine.dispose()


def table_counts(engine) -> dict:
    with transaction(engine, write=False) as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (CASES, EVENTS, Reminder)}


def case_row(engine, case_id: int) -> dict:
    with transaction(engine, write=False) as conn:
        return dict(conn.execute(select(CASES).where(CASES.c.id == case_id)).mappings().one())


def chains_verify(engine) -> None:
    with transaction(engine, write=False) as conn:
        assert verify(conn)[2] == []


def new_case(engine, serial: int = 11, municipality: str = "0581", **officers) -> int:
    return register(engine, pnr("19900101", serial), municipality, "2026-02-20", "2026-03-02", actor="setup",
                    **officers)


REFUSALS = [
    # (field, officer id, the code): wrong organisation, wrong municipality, an id that exists nowhere
    ("kommun_officer", "af-nkpg", "officer_wrong_organisation"),
    ("af_officer", "h0581", "officer_wrong_organisation"),
    ("kommun_officer", "h0180", "officer_other_municipality"),
    ("af_officer", "af-sthlm", "officer_other_municipality"),
    ("kommun_officer", "samo0180", "officer_other_municipality"),
    ("kommun_officer", "nobody", "officer_unknown"),
    ("af_officer", "granskare", "officer_unknown"),              # an auditor is nobody's officer
]


@pytest.mark.parametrize("field, officer_id, code", REFUSALS)
def test_registration_refuses_an_officer_who_may_not_be_responsible(db, field, officer_id, code):
    before = table_counts(db)
    with pytest.raises(BadInput) as refused:
        new_case(db, **{field: officer_id})
    assert (refused.value.code, refused.value.field, refused.value.exit_code) == (code, field, 2)
    assert refused.value.http_status == 400
    assert table_counts(db) == before


def test_registration_accepts_officers_who_serve_the_municipality(db):
    # a kommun login of 0581, an AF login whose office covers 0580, registered officers
    a = new_case(db, 11, kommun_officer="h0581", af_officer="af-nkpg")
    b = new_case(db, 12, "0580", af_officer="af-nkpg")
    c = new_case(db, 13, kommun_officer="k.reg", af_officer=officer(db, "af.reg", "0581", "af"))
    assert [(case_row(db, i)["kommun_officer"], case_row(db, i)["af_officer"]) for i in (a, b, c)] == [
        ("h0581", "af-nkpg"), (None, "af-nkpg"), ("k.reg", "af.reg")]


def test_the_assign_forms_suggestions_are_exactly_who_serves_the_municipality(db):
    """`candidates` reads only the users whose scope can hold the municipality (their own
    municipality, or an AF office covering it): it must still name exactly every active
    officer or coordinator that `principal_for` (a login's scope) lets serve there, as
    scoping every user does, and no one else."""
    for user_id, role, org, municipality, office in (
            ("af-home", "officer", "af", "0180", "norrkoping"),        # office elsewhere, home here
            ("af-lost", "officer", "af", "0581", None),
            ("af-coord", "coordinator", "af", None, "stockholm"),
            ("gone", "officer", "kommun", "0180", None),
            ("chef", "admin", "kommun", None, None)):
        accounts.add_user(db, user_id, name=f"Test {user_id}", role=role, organisation=org,
                          municipality=municipality, office=office, password=PASSWORD)
    accounts.deactivate_user(db, "gone")
    with transaction(db) as conn:       # an office since removed from af_offices.toml: the home municipality only
        conn.execute(update(accounts.USERS).where(accounts.USERS.c.id == "af-lost").values(office="vanished"))
    users = accounts.list_users(db)
    for municipality in ("0581", "0583", "0180", "0114", "1480", "9999"):
        expected = {field: sorted(u["id"] for u in users if u["active"] and u["role"] in assignment.TAKING_ROLES
                                  and assignment.FIELD_OF.get(u["organisation"]) == field
                                  and principal_for(u).sees(municipality))
                    for field in assignment.OFFICER_FIELDS}
        assert assignment.candidates(db, municipality) == expected, municipality
    assert "af-home" in assignment.candidates(db, "0180")["af_officer"]
    assert "af-home" in assignment.candidates(db, "0583")["af_officer"]
    assert "gone" not in assignment.candidates(db, "0180")["kommun_officer"]


@pytest.mark.parametrize("field, officer_id, code", REFUSALS)
def test_assign_refuses_and_writes_nothing(db, field, officer_id, code):
    case_id = new_case(db, kommun_officer="h0581")
    before, row = table_counts(db), case_row(db, case_id)
    with pytest.raises(BadInput) as refused:
        assign(db, case_id, actor=user(db, "samo0581"), **{field: officer_id})
    assert (refused.value.code, refused.value.field) == (code, field)
    assert table_counts(db) == before and case_row(db, case_id) == row


def test_coordinator_assigns_reassigns_and_unassigns_with_an_audit_event_each(db):
    case_id = new_case(db)
    samo = user(db, "samo0581")
    done = assign(db, case_id, actor=samo, kommun_officer="h0581", af_officer="af-nkpg")
    assert (done["kommun_officer"], done["af_officer"]) == ("h0581", "af-nkpg")
    assign(db, case_id, actor=samo, kommun_officer="h0581b")
    assert assign(db, case_id, actor=samo, kommun_officer="h0581b")["changed"] == []      # nothing to change
    assign(db, case_id, actor=samo, af_officer=None)
    row = case_row(db, case_id)
    assert (row["kommun_officer"], row["af_officer"]) == ("h0581b", None)
    events = [e for e in kit.history(db, case_id, actor="admin") if e["trigger"] == "assign"]
    assert [e["data"] for e in events] == [{"org": "kommun", "from": None, "to": "h0581"},
                                           {"org": "af", "from": None, "to": "af-nkpg"},
                                           {"org": "kommun", "from": "h0581", "to": "h0581b"},
                                           {"org": "af", "from": "af-nkpg", "to": None}]
    assert all(e["actor"] == "samo0581" and e["from_state"] == e["to_state"] for e in events)
    with transaction(db, write=False) as conn:
        logged = conn.execute(select(func.count()).select_from(AccessLog).where(
            AccessLog.c.case_id == case_id, AccessLog.c.action == "assign",
            AccessLog.c.actor == "samo0581")).scalar_one()
    assert logged == 3
    with pytest.raises(ConcurrentChange):
        assign(db, case_id, actor=samo, kommun_officer="h0581", expect_version=row["version"] - 1)
    chains_verify(db)


def test_who_may_assign_and_take(db):
    case_id = new_case(db)
    with pytest.raises(Forbidden) as refused:
        assign(db, case_id, actor=user(db, "h0581"), kommun_officer="h0581")
    assert refused.value.code == "assign_needs_coordinator"
    with pytest.raises(NotFound):                               # another municipality's case does not exist
        assign(db, case_id, actor=user(db, "samo0180"), kommun_officer="h0581")
    with pytest.raises(NotFound):
        take(db, case_id, actor=user(db, "h0180"))
    with pytest.raises(Forbidden):
        take(db, case_id, actor=user(db, "granskare"))
    before = table_counts(db)
    with pytest.raises(BadInput) as nothing:
        assign(db, case_id, actor=user(db, "samo0581"))
    assert nothing.value.code == "assign_nothing" and table_counts(db) == before


def test_an_officer_takes_an_unassigned_case_for_their_own_organisation(db):
    case_id = new_case(db)
    assert take(db, case_id, actor=user(db, "h0581"))["changed"] == [{"org": "kommun", "from": None, "to": "h0581"}]
    before = table_counts(db)
    with pytest.raises(NotPermitted) as taken:
        take(db, case_id, actor=user(db, "h0581b"))
    assert taken.value.code == "case_already_assigned" and taken.value.exit_code == 3
    assert table_counts(db) == before
    assert take(db, case_id, actor=user(db, "af-nkpg"))["af_officer"] == "af-nkpg"       # AF's column
    advance(db, case_id, "close", actor="admin", reason="moved_abroad")
    assign_refused = pytest.raises(NotPermitted)
    with assign_refused as closed:
        assign(db, case_id, actor=user(db, "samo0581"), kommun_officer=None)
    assert closed.value.code == "case_not_active"
    chains_verify(db)


def test_reassign_all_preview_writes_nothing_then_moves_round_robin(db):
    officer(db, "k.other", "0180")
    mine = [new_case(db, 20 + i, kommun_officer="h0581") for i in range(5)]
    elsewhere = new_case(db, 30, "0180", kommun_officer="k.other")
    closed = new_case(db, 31, kommun_officer="h0581")
    advance(db, closed, "close", actor="admin", reason="moved_abroad")
    samo = user(db, "samo0581")
    before = table_counts(db)
    plan = reassign_all(db, "h0581", ["h0581b", "k.reg"], preview=True, actor=samo)
    assert table_counts(db) == before and all(case_row(db, c)["kommun_officer"] == "h0581" for c in mine)
    assert plan["count"] == 5 and [(c["case"], c["to"]) for c in plan["cases"]] == [
        (c, ["h0581b", "k.reg"][i % 2]) for i, c in enumerate(mine)]
    with pytest.raises(BadInput) as refused:                   # a target who does not serve 0581: nothing moves
        reassign_all(db, "h0581", ["h0581b", "h0180"], preview=False, actor=samo)
    assert (refused.value.code, refused.value.field) == ("officer_other_municipality", "to")
    with pytest.raises(ConcurrentChange):                      # not the cases the preview showed
        reassign_all(db, "h0581", ["h0581b", "k.reg"], preview=False, actor=samo, expect=mine[:4])
    assert table_counts(db) == before
    with pytest.raises(Forbidden):
        reassign_all(db, "h0581", "h0581b", preview=True, actor=user(db, "h0581"))
    done = reassign_all(db, "h0581", ["h0581b", "k.reg"], preview=False, actor=samo,
                        expect=[c["case"] for c in plan["cases"]])
    assert done["cases"] == plan["cases"]
    assert [case_row(db, c)["kommun_officer"] for c in mine] == ["h0581b", "k.reg", "h0581b", "k.reg", "h0581b"]
    assert case_row(db, closed)["kommun_officer"] == "h0581" and case_row(db, elsewhere)["kommun_officer"] == "k.other"
    with transaction(db, write=False) as conn:
        events = conn.execute(select(EVENTS.c.case_id).where(EVENTS.c.trigger == "assign")).scalars().all()
    assert sorted(events) == sorted(mine)                       # one event on each case's own chain
    chains_verify(db)


def test_a_transfer_hands_the_case_over_unassigned_and_tells_the_receiving_coordinator(db):
    kit.officer(db, "samo.reg0180", "0180", role="coordinator")
    case_id = new_case(db, kommun_officer="h0581", af_officer="af-nkpg")
    advance(db, case_id, "hold_talk", "2026-03-03", actor="h0581")
    before = table_counts(db)
    with pytest.raises(BadInput) as refused:                   # a new officer must serve the new municipality
        advance(db, case_id, "transfer", "2026-03-04", actor="h0581", municipality="0180", kommun_officer="h0581")
    assert (refused.value.code, refused.value.field) == ("officer_other_municipality", "kommun_officer")
    assert table_counts(db) == before

    event = advance(db, case_id, "transfer", "2026-03-04", actor="h0581", municipality="0180")
    row = case_row(db, case_id)
    assert (row["municipality"], row["kommun_officer"], row["af_officer"]) == ("0180", None, None)
    assert (row["transferred_from"], row["transferred_at"].isoformat()) == ("0581", "2026-03-04")
    assert event["data"]["from_kommun_officer"] == "h0581" and event["data"]["from_af_officer"] == "af-nkpg"
    # The receiving municipality's unassigned cases
    with transaction(db, write=False) as conn:
        unassigned = conn.execute(select(CASES.c.id).where(CASES.c.municipality == "0180",
                                                           CASES.c.kommun_officer.is_(None), CASES.c.active)
                                  ).scalars().all()
    assert unassigned == [case_id]
    # The notice: recorded once with the transfer, addressed to the receiving coordinators, sent once
    sent = []

    def send(url, subject, body, recipient, message_id):
        sent.append((recipient, subject, body))
    outbox.deliver(db, config=CONFIG, send=send)
    outbox.deliver(db, config=CONFIG, send=send)
    assert sorted(r for r, _, _ in sent) == ["samo.reg0180", "samo0180"]
    assert all(f"ärende {case_id}" in s and "0180" in s for _, s, _ in sent)
    person = pnr("19900101", 11)
    assert not any(person.replace("-", "")[2:] in s + b or person[:8] in s + b for _, s, b in sent)
    with transaction(db, write=False) as conn:
        notices = conn.execute(select(Reminder.c.kind, Reminder.c.municipality)
                               .where(Reminder.c.case_id == case_id)).all()
    assert [tuple(n) for n in notices] == [("transferred_in", "0180")]

    # The next deadline check addresses the receiving municipality's coordinators, not the old officers
    assert deadlines.record_due(db, kit.at("2026-04-22"), config=CONFIG, book=NO_AGREEMENTS).total == 1
    sent.clear()
    outbox.deliver(db, config=CONFIG, send=send)
    assert sorted(r for r, _, _ in sent) == ["samo.reg0180", "samo0180"]
    with transaction(db, write=False) as conn:
        recipients = set(conn.execute(select(ReminderDelivery.c.recipient)).scalars())
    assert not recipients & {"h0581", "af-nkpg", "samo0581"}
    # ... and its officer once one takes it
    take(db, case_id, actor=user(db, "h0180"))
    assert case_row(db, case_id)["kommun_officer"] == "h0180"
    chains_verify(db)


def test_a_transfer_with_new_officers_of_the_receiving_municipality(db):
    case_id = new_case(db, kommun_officer="h0581")
    advance(db, case_id, "transfer", "2026-03-04", actor="h0581", municipality="0180", kommun_officer="h0180",
            af_officer="af-sthlm")
    row = case_row(db, case_id)
    assert (row["kommun_officer"], row["af_officer"], row["transferred_from"]) == ("h0180", "af-sthlm", "0581")
    chains_verify(db)


# --------------------------------------------------------------------------- the CLI

def test_cli_assign_take_and_reassign(cli_env, db_url):
    engine = make_engine(db_url)
    for user_id, role, org, municipality, office in USERS:
        accounts.add_user(engine, user_id, name=user_id, role=role, organisation=org, municipality=municipality,
                          office=office, password=PASSWORD)
    case_id = new_case(engine)
    engine.dispose()
    before = counts(db_url)
    refused = etablera("case", "assign", str(case_id), "--kommun-officer", "af-nkpg", "--actor", "samo0581",
                       "--json")
    assert refused.code == 2 and refused.doc["error"]["field"] == "kommun_officer"
    assert refused.doc["error"]["code"] == "officer_wrong_organisation"
    text = etablera("case", "assign", str(case_id), "--kommun-officer", "nobody", "--actor", "samo0581")
    assert text.code == 2 and "kommun_officer" in text.err and "--kommun-officer" in text.err
    assert counts(db_url) == before
    taken = etablera("case", "take", str(case_id), "--actor", "h0581", "--json")
    assert taken.code == 0 and taken.doc["kommun_officer"] == "h0581"
    again = etablera("case", "take", str(case_id), "--actor", "h0581b", "--json")
    assert again.code == 3 and again.doc["error"]["code"] == "case_already_assigned"
    preview = etablera("case", "reassign", "--from", "h0581", "--to", "h0581b", "--preview", "--actor", "samo0581",
                       "--json")
    assert preview.code == 0 and preview.doc["count"] == 1 and preview.doc["preview"] is True
    assert counts(db_url)["audit_events"] == before["audit_events"] + 1          # the take only
    moved = etablera("case", "reassign", "--from", "h0581", "--to", "h0581b", "--actor", "samo0581", "--lang", "en")
    assert moved.code == 0 and "1 cases moved from h0581" in moved.out
    unassigned = etablera("case", "assign", str(case_id), "--unassign", "kommun", "--actor", "samo0581", "--json")
    assert unassigned.code == 0 and unassigned.doc["kommun_officer"] is None


# --------------------------------------------------------------------------- the HTTP API and the pages

def test_api_assign_take_and_reassign(db):
    api = TestClient(create_app(db))
    tokens = {u: accounts.create_token(db, u, label="tests")[0] for u in ("samo0581", "h0581", "h0581b")}

    def bearer(u):
        return {"Authorization": f"Bearer {tokens[u]}"}
    case_id = new_case(db)
    before = table_counts(db)
    refused = api.post(f"/api/v1/cases/{case_id}/assign", json={"af_officer": "af-sthlm"}, headers=bearer("samo0581"))
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "af_officer"
    assert table_counts(db) == before
    assert api.post(f"/api/v1/cases/{case_id}/assign", json={"kommun_officer": "h0581"},
                    headers=bearer("h0581")).status_code == 403
    taken = api.post(f"/api/v1/cases/{case_id}/take", headers=bearer("h0581"))
    assert taken.status_code == 200 and taken.json()["changed"] == [{"org": "kommun", "from": None, "to": "h0581"}]
    preview = api.post("/api/v1/officers/h0581/reassign", json={"to": ["h0581b"], "preview": True},
                       headers=bearer("samo0581"))
    assert preview.status_code == 200 and [c["case"] for c in preview.json()["cases"]] == [case_id]
    assert case_row(db, case_id)["kommun_officer"] == "h0581"
    done = api.post("/api/v1/officers/h0581/reassign", json={"to": ["h0581b"], "preview": False,
                                                              "expect": [case_id]}, headers=bearer("samo0581"))
    assert done.status_code == 200 and case_row(db, case_id)["kommun_officer"] == "h0581b"
    cleared = api.post(f"/api/v1/cases/{case_id}/assign", json={"kommun_officer": None}, headers=bearer("samo0581"))
    assert cleared.status_code == 200 and cleared.json()["kommun_officer"] is None


def test_pages_take_assign_and_reassign(db):
    case_id = new_case(db)
    officer_page = TestClient(create_app(db))
    csrf = login(officer_page, "h0581")
    page = officer_page.get(f"/cases/{case_id}").text
    assert "Ta ärendet" in page and f'action="/cases/{case_id}/assign"' not in page
    version = case_row(db, case_id)["version"]
    taken = officer_page.post(f"/cases/{case_id}/take", data={"csrf": csrf, "expect_version": str(version)},
                              follow_redirects=False)
    assert taken.status_code == 303 and case_row(db, case_id)["kommun_officer"] == "h0581"
    assert "Ta ärendet" not in officer_page.get(f"/cases/{case_id}").text
    assert officer_page.get("/reassign").status_code == 403

    coordinator = TestClient(create_app(db))
    csrf = login(coordinator, "samo0581")
    version = case_row(db, case_id)["version"]
    refused = coordinator.post(f"/cases/{case_id}/assign", data={"csrf": csrf, "expect_version": str(version),
                                                                 "kommun_officer": "h0180", "af_officer": ""})
    assert refused.status_code == 400 and 'value="h0180"' in refused.text       # what was typed is kept
    assert "arbetar inte med ärenden i kommun 0581" in refused.text
    assert case_row(db, case_id)["version"] == version
    preview = coordinator.post("/reassign", data={"csrf": csrf, "from": "h0581", "to": "h0581b",
                                                  "action": "preview"})
    assert preview.status_code == 200 and "Flytta 1 ärenden" in preview.text
    assert case_row(db, case_id)["kommun_officer"] == "h0581"
    confirmed = coordinator.post("/reassign", data={"csrf": csrf, "from": "h0581", "to": "h0581b",
                                                    "action": "confirm", "expect": str(case_id)})
    assert confirmed.status_code == 200 and "1 ärenden har flyttats" in confirmed.text
    assert case_row(db, case_id)["kommun_officer"] == "h0581b"
