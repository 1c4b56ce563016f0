"""The session-wide watch of tests/leaks.py finds what it must (so that its silence over a
full run means something) and nothing else."""

from __future__ import annotations

import logging

import pytest

import leaks
from identities import pnr


@pytest.fixture
def watched():
    before = list(leaks.FINDINGS)
    yield
    leaks.FINDINGS[:] = before          # what this test planted is not a leak of the run


@pytest.mark.parametrize("text", [pnr("19900101", 17), pnr("19900101", 17).replace("-", ""),
                                  pnr("19900101", 17)[2:], pnr("19851231", 42, coordination=True)])
def test_an_identity_number_in_any_form_is_found(text):
    assert leaks.personal_data_in(f"/cases?q={text}") == "an identity number"


@pytest.mark.parametrize("text", ["/cases/123456", "2026-12-04T10:11:12.123456+01:00", "id 199001010018",
                                  "/api/v1/cases?limit=50&offset=100"])
def test_other_numbers_are_not(text):
    assert leaks.personal_data_in(text) is None


def test_a_remembered_name_is_found_as_a_word(watched):
    leaks.remember_names("Özlem")
    assert leaks.personal_data_in("hello özlem") == "the name ö…"
    assert leaks.personal_data_in("Özlemsson") is None


def test_a_log_line_a_url_and_a_reminder_are_watched(watched, engine):
    from fastapi.testclient import TestClient
    from etablera.interfaces.http.app import create_app
    before = len(leaks.FINDINGS)
    logging.getLogger("etablera.test").warning("case of %s", pnr("19900101", 17))
    TestClient(create_app(engine)).get(f"/login?who={pnr('19900101', 17)}")
    from etablera.reminders import channels
    with pytest.raises(Exception):       # noqa: B017 - the URL goes nowhere; the watch saw it first
        channels.send("bad-scheme-nowhere://x", "s", pnr("19900101", 17), recipient="r", message_id="m")
    found = leaks.FINDINGS[before:]
    assert any("log line" in f for f in found) and any("URL" in f for f in found)
    assert any("reminder" in f for f in found)
