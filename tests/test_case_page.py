"""The case page leads with what matters: where the person is in the process (a map of the
process table's parts, the current one marked with aria-current="step" and in words), what
is due and when, the normal next step first; the steps that set the normal course aside
(close, put on hold, transfer, cancelling a measure) come after it and are refused without a
confirmation, nothing written; a refused form keeps what was typed and says in Swedish what
to do, linked from an error summary. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

import kit
from etablera.interfaces.http.app import create_app
from etablera.statemachine.journey import CURRENT, DONE, NOT_TAKEN, SKIPPED, UPCOMING, journey
from etablera.statemachine.process import ACTIVE, ASIDE, NEXT, ON_HOLD, PARENTS, STATES, TRIGGER, module_of, permitted
from test_web_pages import accessible
from web_kit import build_world, login

PARTS = [p.name for p in PARENTS]


class Map(HTMLParser):
    """The steps of the page's process map: (part, status, aria-current, text)."""

    def __init__(self, text: str):
        super().__init__()
        self.steps: list[dict] = []
        self._in = False
        self.feed(text[text.index('<ol class="journey">'):text.index("</ol>", text.index('<ol class="journey">'))])

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "li":
            self.steps.append({"part": a["data-part"], "status": a["data-status"], "current": a.get("aria-current"),
                               "text": ""})
            self._in = True

    def handle_data(self, data):
        if self._in and self.steps:
            self.steps[-1]["text"] += data

    def handle_endtag(self, tag):
        if tag == "li":
            self.steps[-1]["text"] = " ".join(self.steps[-1]["text"].split())
            self._in = False


@pytest.fixture
def world(db_url):
    return build_world(db_url)


@pytest.fixture
def browser(world):
    client = TestClient(create_app(world.engine))
    client.csrf = login(client, "h0581")
    return client


def _version(world, case_id: int) -> int:
    return kit.show_case(world.engine, case_id, actor="admin")["version"]


def _to_module2(world, case_id: int) -> None:
    for trigger, raw in (("hold_talk", {}), ("establish_plan", {"plan": "handlingsplan"})):
        kit.advance(world.engine, case_id, trigger, actor="h0581", **raw)


# --- the table: one normal next step wherever the case can go on --------------------------

def test_every_running_state_and_on_hold_has_exactly_one_normal_next_step():
    for state in ACTIVE + (ON_HOLD,):
        assert [t.name for t in permitted(state) if t.offer == NEXT] != [], state
        assert len([t for t in permitted(state) if t.offer == NEXT]) == 1, state
    assert {t.name for t in TRIGGER.values() if t.offer == ASIDE} == {"close", "pause", "transfer"}


def test_the_map_is_the_process_tables_parts_with_where_the_case_is():
    ended = next(s for s in STATES if s.exit == "work")
    steps = journey(ended.name, None, [{"from_state": None, "to_state": "module1.registered", "skipped": []},
                                       {"from_state": "module1.registered", "to_state": ended.name,
                                        "skipped": ["module2", "module3"]}], "sv")
    assert [s.part for s in steps] == PARTS
    assert [s.status for s in steps] == [DONE, SKIPPED, NOT_TAKEN, SKIPPED, CURRENT]
    assert steps[-1].label == ended.sv
    paused = journey(ON_HOLD, "module2.preparing", [], "en")
    current = [s for s in paused if s.status == CURRENT]
    assert [s.part for s in current] == ["module2"] and current[0].on_hold
    assert paused[-1].status == UPCOMING


# --- the page -----------------------------------------------------------------------------

def test_the_map_marks_module_2_for_a_case_in_module_2(world, browser):
    case_id = world.cases["nkpg"]
    _to_module2(world, case_id)
    text = browser.get(f"/cases/{case_id}").text
    accessible(text)
    steps = Map(text).steps
    assert [s["part"] for s in steps] == PARTS
    assert [s["part"] for s in steps if s["current"] == "step"] == ["module2"]
    by = {s["part"]: s for s in steps}
    assert by["module2"]["status"] == CURRENT and "här nu" in by["module2"]["text"]
    assert "Modul 2, jobbförberedande insatser" in by["module2"]["text"]          # the state within the part
    assert by["module1"]["status"] == DONE and "klart" in by["module1"]["text"]
    assert by["assessment"]["status"] == UPCOMING and "kommer" in by["assessment"]["text"]


def test_the_map_shows_the_exit_and_the_skipped_modules_after_an_exit(world, browser):
    case_id = world.cases["nkpg"]
    kit.advance(world.engine, case_id, "exit_direct", actor="h0581", outcome="work", reason="job_offer",
                note="Fast anställning från måndag.")
    text = browser.get(f"/cases/{case_id}").text
    steps = {s["part"]: s for s in Map(text).steps}
    exit_part = PARTS[-1]
    assert steps[exit_part]["current"] == "step" and steps[exit_part]["text"].startswith("Arbete")
    assert [p for p, s in steps.items() if s["current"]] == [exit_part]
    assert steps["module2"]["status"] == SKIPPED and "hoppades över" in steps["module2"]["text"]
    assert steps["module3"]["status"] == SKIPPED
    assert steps["assessment"]["status"] == NOT_TAKEN


def test_the_map_says_on_hold_and_the_dates_say_the_clock_stopped(world, browser):
    case_id = world.cases["nkpg"]
    kit.advance(world.engine, case_id, "pause", actor="h0581", reason=_reason("pause"))
    text = browser.get(f"/cases/{case_id}").text
    current = [s for s in Map(text).steps if s["current"] == "step"]
    assert [s["part"] for s in current] == [module_of("module1.registered")] and "vilande" in current[0]["text"]
    assert "Klockan står still" in text
    # The normal next step of a case on hold is to resume it.
    assert _event_forms(text)[0] == "resume"


def _event_forms(text: str) -> list[str]:
    return re.findall(r'action="/cases/\d+/events/(\w+)"', text)


def test_what_is_due_and_the_next_step_come_first(world, browser):
    case_id = world.cases["nkpg"]
    text = browser.get(f"/cases/{case_id}").text
    case = kit.show_case(world.engine, case_id, actor="admin")
    due = text[text.index('id="due"'):text.index("</section>", text.index('id="due"'))]
    assert case["due"] in due and case["establishment_due"] in due
    assert re.search(r"\d+ dagar (kvar|sent)", due)
    forms = _event_forms(text)
    assert forms[0] == "hold_talk"                                    # the normal next step first ...
    next_step = text[text.index('id="next"'):text.index("</section>", text.index('id="next"'))]
    assert 'class="action primary"' in next_step and _event_forms(next_step) == ["hold_talk"]
    assert "<details" not in next_step                                # ... open, not folded
    assert text.index('id="next"') < text.index('id="person-heading"') < text.index('id="timeline"')
    # The steps set aside come after, folded, each with its confirmation box.
    for trigger in ("close", "pause", "transfer"):
        start = text.index(f'id="action-{trigger}"')
        part = text[start:text.index("</details>", start)]
        assert 'class="action aside"' in text[start - 40:start]
        assert f'id="f-{trigger}-confirm"' in part and 'class="secondary"' in part
    assert 'id="f-hold_talk-confirm"' not in text


def test_closing_without_confirmation_is_refused_and_nothing_is_written(world, browser):
    case_id = world.cases["nkpg"]
    version = _version(world, case_id)
    before = kit.history(world.engine, case_id, actor="admin")
    form = {"csrf": browser.csrf, "expect_version": str(version), "reason": _reason("close"),
            "note": "Flyttar utomlands."}
    refused = browser.post(f"/cases/{case_id}/events/close", data=form)
    assert refused.status_code == 400
    accessible(refused.text)
    summary = refused.text[refused.text.index('id="error-close"'):]
    summary = summary[:summary.index("</div>")]
    assert 'href="#f-close-confirm"' in summary and "Jag bekräftar" in summary and "Inget har sparats" in summary
    assert re.search(r'id="f-close-confirm-error"', refused.text)
    # What was typed is still there.
    assert re.search(rf'<option value="{_reason("close")}" selected>', refused.text)
    assert "Flyttar utomlands.</textarea>" in refused.text
    assert re.search(r'<details class="action aside" id="action-close" open>', refused.text)
    # Nothing written.
    assert _version(world, case_id) == version
    assert kit.history(world.engine, case_id, actor="admin") == before
    # Confirmed, it is done.
    done = browser.post(f"/cases/{case_id}/events/close", data={**form, "confirm": "yes"}, follow_redirects=False)
    assert done.status_code == 303
    assert kit.show_case(world.engine, case_id, actor="admin")["state"] == "closed"


def test_cancelling_a_measure_without_confirmation_is_refused_and_keeps_the_reason(world, browser):
    case_id = world.cases["nkpg"]
    _to_module2(world, case_id)
    measure = kit.add_measure(world.engine, case_id, "sfi", actor="h0581")
    version = _version(world, case_id)
    refused = browser.post(f"/measures/{measure}", data={"csrf": browser.csrf, "action": "cancel",
                                                         "reason": "health"})
    assert refused.status_code == 400
    accessible(refused.text)
    assert f'href="#cancel-{measure}-confirm"' in refused.text and "Jag bekräftar" in refused.text
    assert re.search(r'<option value="health" selected>', refused.text)
    assert re.search(rf'<details class="aside" id="measure-{measure}-cancel" open>', refused.text)
    assert _version(world, case_id) == version
    assert kit.show_case(world.engine, case_id, actor="admin")["measures"][0]["state"] == "planned"
    done = browser.post(f"/measures/{measure}", data={"csrf": browser.csrf, "action": "cancel", "reason": "health",
                                                      "confirm": "yes"}, follow_redirects=False)
    assert done.status_code == 303
    assert kit.show_case(world.engine, case_id, actor="admin")["measures"][0]["state"] == "cancelled"
    # Starting one needs no confirmation: it is the measure's normal next step.
    other = kit.add_measure(world.engine, case_id, "sfi", actor="h0581")
    started = browser.post(f"/measures/{other}", data={"csrf": browser.csrf, "action": "start"},
                           follow_redirects=False)
    assert started.status_code == 303


def test_a_refused_measure_form_keeps_what_was_typed(world, browser):
    case_id = world.cases["nkpg"]
    _to_module2(world, case_id)
    refused = browser.post(f"/cases/{case_id}/measures", data={"csrf": browser.csrf, "type": "sfi",
                                                                "due": "2000-01-01"})
    assert refused.status_code == 400
    accessible(refused.text)
    assert re.search(r'<option value="sfi" selected>', refused.text)
    assert 'value="2000-01-01"' in refused.text
    summary = refused.text[refused.text.index('id="error-measures"'):]
    assert 'href="#add-measure-due"' in summary[:summary.index("</div>")]
    assert 'id="add-measure-due-error"' in refused.text
    assert kit.show_case(world.engine, case_id, actor="admin")["measures"] == []


def test_a_refused_next_step_keeps_what_was_typed_and_says_what_to_do(world, browser):
    case_id = world.cases["nkpg"]
    kit.advance(world.engine, case_id, "hold_talk", actor="h0581")
    version = _version(world, case_id)
    refused = browser.post(f"/cases/{case_id}/events/establish_plan",
                           data={"csrf": browser.csrf, "expect_version": str(version),
                                 "note": "Planen skrivs med tolk."})
    assert refused.status_code == 400
    accessible(refused.text)
    assert 'href="#f-establish_plan-plan"' in refused.text and "kräver" in refused.text
    assert "Planen skrivs med tolk.</textarea>" in refused.text
    assert _version(world, case_id) == version


def _reason(category: str) -> str:
    from etablera.models.configuration import get_config
    return next(iter(get_config().reasons[category]))
