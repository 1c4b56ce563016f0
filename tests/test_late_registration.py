"""A case whose establishment time is already over when it is registered, on SQLite and
PostgreSQL: registering is allowed, the answer warns (CLI text and --json, the API, the
register page after its redirect), the case is marked, and the next deadline check records
the step of the establishment ladder its due date has reached, once, although the catch-up
window drops due dates that old for every other case."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cli_kit import etablera, ok
from identities import pnr
from kit import at, register, show_case
from web_kit import build_world, login
from etablera.interfaces.http.app import create_app
from etablera.models import Reminder
from etablera.models.configuration import DEFAULT_DIR
from etablera.models.ladder import load_reminder_config
from etablera.reminders import deadlines
from test_deadlines import NO_AGREEMENTS

CONFIG = load_reminder_config(DEFAULT_DIR)
LATE_PERMIT = "2022-09-01"          # two years ended 2024-09-01, long before the registration
REGISTERED = "2025-03-03"


def _check(engine, day: str):
    return deadlines.record_due(engine, at(day), config=CONFIG, book=NO_AGREEMENTS)


def _establishment_reminders(engine) -> list[tuple[int, str]]:
    table = Reminder
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(table.c.case_id, table.c.step)
                                                 .where(table.c.kind == "establishment").order_by(table.c.id))]


def test_late_case_is_marked_and_reminded_once_by_the_next_check(any_engine):
    late = register(any_engine, pnr("19900101", 1), "0581", LATE_PERMIT, REGISTERED)
    on_time = register(any_engine, pnr("19900101", 2), "0581", "2025-02-20", REGISTERED)
    doc = show_case(any_engine, late)
    assert doc["registered_late"] is True and doc["establishment_due"] == "2024-09-01"
    assert show_case(any_engine, on_time)["registered_late"] is False

    first = _check(any_engine, "2025-03-04")
    assert _establishment_reminders(any_engine) == [(late, "escalation")]
    assert first.counts["establishment"]["escalation"] == 1
    second = _check(any_engine, "2025-03-05")
    assert second.counts.get("establishment", {}).get("escalation", 0) == 0
    assert _establishment_reminders(any_engine) == [(late, "escalation")]
    # A case that was on time when registered and whose due date passed while nobody
    # checked is still left to the catch-up window (a go-live does not flood anyone).
    _check(any_engine, "2027-06-01")
    assert _establishment_reminders(any_engine) == [(late, "escalation")]


def test_a_late_case_already_reminded_is_not_reminded_again(any_engine):
    # Registered three days after its establishment due date: the ordinary ladder sees it.
    case_id = register(any_engine, pnr("19900101", 3), "0581", "2023-03-01", REGISTERED)
    assert show_case(any_engine, case_id)["registered_late"] is True
    _check(any_engine, "2025-03-04")
    assert _establishment_reminders(any_engine) == [(case_id, "overdue")]
    _check(any_engine, "2025-06-02")              # escalation's moment long past: nothing again
    assert _establishment_reminders(any_engine) == [(case_id, "overdue")]


def test_the_command_line_warns_in_text_and_json(cli_env):
    doc = ok("case", "register", "--person", pnr("19900101", 4), "--municipality", "0581", "--permit-date",
             LATE_PERMIT, "--at", "2025-03-03T10:00")
    assert doc["registered_late"] is True
    assert [w["code"] for w in doc["warnings"]] == ["registered_late"]
    assert "2024-09-01" in doc["warnings"][0]["message"] and "etableringstiden" in doc["warnings"][0]["message"]
    text = etablera("case", "register", "--person", pnr("19900101", 5), "--municipality", "0581",
                    "--permit-date", LATE_PERMIT, "--at", "2025-03-03T10:00", "--lang", "en")
    assert text.code == 0 and "warning: the establishment time ended on 2024-09-01" in text.out
    on_time = ok("case", "register", "--person", pnr("19900101", 6), "--municipality", "0581", "--permit-date",
                 "2025-02-01", "--at", "2025-03-03T10:00")
    assert on_time["warnings"] == [] and on_time["registered_late"] is False


@pytest.fixture
def world(db_url):
    world = build_world(db_url)
    yield world
    world.engine.dispose()


def test_the_api_and_the_register_page_warn(world):
    client = TestClient(create_app(world.engine))
    answer = client.post("/api/v1/cases?lang=en", headers=world.bearer("samord0581"),
                         json={"person": pnr("19900101", 7), "municipality": "0581", "permit_date": LATE_PERMIT})
    assert answer.status_code == 201, answer.text
    assert [w["code"] for w in answer.json()["warnings"]] == ["registered_late"]
    assert "establishment time ended on 2024-09-01" in answer.json()["warnings"][0]["message"]
    on_time = client.post("/api/v1/cases", headers=world.bearer("samord0581"),
                          json={"person": pnr("19900101", 8), "municipality": "0581", "permit_date": "2025-01-01"})
    assert on_time.json()["warnings"] == []

    browser = TestClient(create_app(world.engine))
    csrf = login(browser, "samord0581")
    posted = browser.post("/register", data={"csrf": csrf, "person": pnr("19900101", 9), "municipality": "0581",
                                             "permit_date": LATE_PERMIT}, follow_redirects=False)
    assert posted.status_code == 303, posted.text
    page = browser.get(posted.headers["location"])
    assert 'id="registration-warning"' in page.text and "etableringstiden gick ut 2024-09-01" in page.text
    again = browser.get(re.sub(r"\?.*", "", posted.headers["location"]))
    assert 'id="registration-warning"' not in again.text
