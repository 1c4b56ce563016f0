"""The pages: forms generated from the events permitted now, Swedish by default and
English on request, and the automated part of WCAG 2.1 AA (lang attribute, skip link, one
h1 and no skipped heading levels, a label for every control, text contrast ≥ 4.5:1)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

import kit
from etablera.interfaces.http.app import HERE, create_app
from etablera.cases import service
from kit import advance
from web_kit import build_world, login


class Page(HTMLParser):
    """The facts the checks need from a page."""

    def __init__(self, text: str):
        super().__init__()
        self.html_lang = None
        self.headings: list[int] = []
        self.ids: set[str] = set()
        self.label_for: set[str] = set()
        self.controls: list[dict] = []
        self.links: list[str] = []
        self._label_depth = 0
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.html_lang = a.get("lang")
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "label":
            self._label_depth += 1
            if a.get("for"):
                self.label_for.add(a["for"])
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            self.controls.append({**a, "wrapped": self._label_depth > 0, "tag": tag})
        if tag == "a":
            self.links.append(a.get("href", ""))

    def handle_endtag(self, tag):
        if tag == "label":
            self._label_depth -= 1


def accessible(text: str) -> Page:
    page = Page(text)
    assert page.html_lang in ("sv", "en")
    assert page.links and page.links[0] == "#main" and "main" in page.ids         # skip link first
    assert page.headings.count(1) == 1 and page.headings[0] == 1
    for before, after in zip(page.headings, page.headings[1:]):
        assert after <= before + 1, f"heading level skipped: h{before} → h{after}"
    unlabelled = [c for c in page.controls if not c["wrapped"] and c.get("id") not in page.label_for
                  and not c.get("aria-label")]
    assert not unlabelled, unlabelled
    return page


@pytest.fixture
def world(sqlite_url):
    return build_world(sqlite_url)


@pytest.fixture
def browser(world):
    client = TestClient(create_app(world.engine))
    client.csrf = login(client, "h0581")
    return client


def test_every_page_passes_the_automated_checks(world, browser):
    case_id = world.cases["nkpg"]
    assert accessible(browser.get("/login").text).html_lang == "sv"
    for path in ("/worklist", f"/cases/{case_id}", "/register", "/report", "/worklist?mine=0&overdue=1"):
        response = browser.get(path)
        assert response.status_code == 200, path
        accessible(response.text)
    auditor = TestClient(create_app(world.engine))
    login(auditor, "granskare")
    for path in ("/skips", "/access-log", f"/cases/{case_id}"):
        accessible(auditor.get(path).text)


def test_forms_are_exactly_the_permitted_events_with_their_fields(world, browser):
    case_id = world.cases["nkpg"]
    advance(world.engine, case_id, "hold_talk", actor="h0581")
    text = browser.get(f"/cases/{case_id}").text
    permitted = service.permitted_events(world.engine, kit.who("admin"), case_id)
    shown = re.findall(r'action="/cases/\d+/events/(\w+)"', text)
    assert shown == [e["trigger"] for e in permitted["events"]]
    assert "skip_module2" in shown and "decide" not in shown
    skip = text[text.index('id="action-skip_module2"'):text.index("</details>", text.index('id="action-skip_module2"'))]
    assert 'name="reason"' in skip and 'name="note"' in skip and 'name="plan"' not in skip
    assert skip.count('aria-required="true"') == 2
    # An auditor sees the case but no forms.
    auditor = TestClient(create_app(world.engine))
    login(auditor, "granskare")
    read_only = auditor.get(f"/cases/{case_id}").text
    assert "/events/" not in read_only and "läsbehörighet" in read_only


def test_the_decision_form_offers_the_municipalitys_open_tracks(world, browser):
    case_id = world.cases["nkpg"]
    for trigger, raw in (("hold_talk", {}), ("establish_plan", {"plan": "handlingsplan"}),
                         ("request_assessment", {})):
        advance(world.engine, case_id, trigger, actor="h0581", **raw)
    text = browser.get(f"/cases/{case_id}").text
    form = text[text.index('id="action-decide"'):]
    form = form[:form.index("</details>")]
    for name in ("decision", "participants", "track", "fast_track", "reason", "note"):
        assert f'name="{name}"' in form, name
    assert 'data-when-field="f-decide-decision" data-when-values="local_track"' in form
    for track in ("industri", "restaurang-storkok", "utan-gymnasium", "eget-foretagande"):
        assert f'value="{track}"' in form
    # kommun and af must take part: they are ticked from the start.
    assert re.search(r'id="f-decide-participants-kommun"[^>]*checked', form)


def test_a_view_that_cannot_be_logged_shows_nothing(world, browser, monkeypatch):
    """The case is read first and its access-log row written after: when that write
    fails, the page is an error without the person's data, and the API the same."""
    from identities import pnr
    from etablera.cases import queries

    def broken(*args, **kwargs):
        raise RuntimeError("the disk is full")
    monkeypatch.setattr(queries, "log_access", broken)
    case_id = world.cases["nkpg"]
    person = pnr("19900101", 101)
    client = TestClient(create_app(world.engine), raise_server_exceptions=False)
    client.cookies.update(browser.cookies)
    page = client.get(f"/cases/{case_id}")
    assert page.status_code == 500
    assert person[:8] not in page.text and "Personen" not in page.text


def test_swedish_by_default_english_on_request(world, browser):
    assert "Min arbetslista" in browser.get("/worklist").text
    switched = browser.get("/lang/en?next=/worklist")
    assert switched.status_code == 200 and "My worklist" in switched.text
    page = Page(switched.text)
    assert page.html_lang == "en"
    case = browser.get(f"/cases/{world.cases['nkpg']}").text
    assert "Module 1, registered" in case and "Timeline" in case
    off_site = browser.get("/lang/sv?next=https://evil.example/", follow_redirects=False)
    assert off_site.headers["location"] == "/worklist"                   # never redirected off the site


def test_a_refusal_is_shown_in_the_pages_language(world, browser):
    """The service's refusals in Swedish on a Swedish page, in English on an English one;
    the API answers in English unless asked for `lang`, with the code and the field."""
    case_id = world.cases["nkpg"]
    version = service.permitted_events(world.engine, kit.who("admin"), case_id)["version"]
    form = {"csrf": browser.csrf, "expect_version": str(version), "at": "2999-01-01"}
    refused = browser.post(f"/cases/{case_id}/events/hold_talk", data=form)
    assert refused.status_code == 400 and "ligger i framtiden" in refused.text
    wrong_state = browser.post(f"/cases/{case_id}/events/request_assessment",
                               data={**form, "at": ""})
    assert wrong_state.status_code == 409
    assert "Begär gemensam bedömning går inte i läget modul 1, inskriven" in wrong_state.text.lower().replace(
        "begär", "Begär")
    assert "permitted" not in wrong_state.text and "--" not in _error_text(wrong_state.text)
    browser.get("/lang/en?next=/worklist")
    english = browser.post(f"/cases/{case_id}/events/hold_talk", data=form)
    assert english.status_code == 400 and "is in the future" in english.text and "framtiden" not in english.text
    api = browser.post(f"/api/v1/cases/{case_id}/events", headers=world.bearer("h0581"),
                       json={"trigger": "hold_talk", "data": {}, "expect_version": version, "at": "2999-01-01"})
    assert api.json()["error"] == {"code": "at_in_future", "status": 400, "exit_code": 2, "field": "at",
                                   "message": "is in the future"}


def _error_text(page: str) -> str:
    """The words of a page's refusals (error summaries and the texts beside fields)."""
    return " ".join(re.findall(r'class="error-(?:text|summary)"[^>]*>(.*?)</(?:p|div)>', page, re.S))


def test_a_missing_field_on_a_swedish_page_names_no_cli_flag(world, browser):
    case_id = world.cases["nkpg"]
    version = service.permitted_events(world.engine, kit.who("admin"), case_id)["version"]
    form = {"csrf": browser.csrf, "expect_version": str(version)}
    assert browser.post(f"/cases/{case_id}/events/hold_talk", data=form).status_code == 200    # back on the page
    refused = browser.post(f"/cases/{case_id}/events/skip_module2",
                           data={**form, "expect_version": str(version + 1), "reason": "job_offer"})
    assert refused.status_code == 400
    words = _error_text(refused.text)
    assert "kräver motivering" in words and "--" not in words and "needs" not in words
    assert 'href="#f-skip_module2-note"' in refused.text


def test_worklist_marks_overdue_and_escalated_cases(world, browser):
    from datetime import timedelta
    from sqlalchemy import insert, update
    from etablera.models import Reminder
    from etablera.models.database import transaction
    from etablera.models.timestamps import local_date, utcnow
    from etablera.cases.audit import CASES
    late, escalated = world.cases["nkpg"], world.cases["nkpg2"]
    today = local_date(utcnow())       # the page counts days late from the Stockholm date, not the machine's
    with transaction(world.engine) as conn:
        conn.execute(update(CASES).where(CASES.c.id.in_([late, escalated]))
                     .values(due=today - timedelta(days=9)))
        conn.execute(insert(Reminder).values(
            kind="stage", target_id=escalated, visit=1, step="escalation", case_id=escalated, municipality="0581",
            stage="module1", due=today - timedelta(days=9), detected_on=today, recorded_at=utcnow(),
            status="sent", addressed=True, attempts=1))
    text = browser.get("/worklist").text
    rows = {int(m.group(1)): m.group(0) for m in re.finditer(r'<tr class="[^"]*" data-case="(\d+)">.*?</tr>', text, re.S)}
    assert "Försenat: 9 dagar sent" in rows[late] and "Eskalerat" not in rows[late]
    assert "Eskalerat" in rows[escalated]
    overdue_only = browser.get("/api/v1/cases", params={"overdue": True},
                               headers=world.bearer("h0581")).json()["items"]
    assert {c["id"] for c in overdue_only} == {late, escalated}
    assert all(c["overdue"] and c["days_late"] == 9 for c in overdue_only)


def test_auditor_searches_the_access_log_and_makes_a_persons_extract(world, browser):
    from identities import pnr
    case_id = world.cases["nkpg"]
    browser.get(f"/cases/{case_id}")                                     # h0581 looks at the case
    auditor = TestClient(create_app(world.engine))
    csrf = login(auditor, "granskare")
    found = auditor.get("/access-log", params={"case_id": case_id, "actor": "h0581"}).text
    assert "h0581" in found and ">show<" in found and ">history<" in found
    person = pnr("19900101", 101)                                        # the person of case nkpg
    extract = auditor.post("/access-log/person", data={"csrf": csrf, "person": person})
    assert extract.status_code == 200 and f'href="/cases/{case_id}"' in extract.text
    assert person not in extract.text and person.replace("-", "") not in extract.text
    assert auditor.post("/access-log/person", data={"csrf": csrf, "person": "19900101-0000"}).status_code == 400
    assert browser.get("/access-log").status_code == 403                  # an officer may not


def _luminance(hex_colour: str) -> float:
    rgb = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_text_colours_have_aa_contrast():
    css = (HERE / "static" / "app.css").read_text()
    var = dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", css))
    pairs = [(var["ink"], "#ffffff"), (var["muted"], "#ffffff"), (var["accent"], "#ffffff"),
             (var["bad"], "#ffffff"), ("#ffffff", var["bad"]), (var["ink"], var["warn-bg"]),
             (var["ink"], var["bad-bg"]), ("#4d3700", "#ffe9a8"), ("#ffffff", "#00703c"), ("#ffffff", "#0b0c0c"),
             (var["muted"], "#f3f2f1"), (var["accent"], var["warn-bg"]), (var["accent"], var["bad-bg"])]
    for fg, bg in pairs:
        assert _contrast(fg, bg) >= 4.5, (fg, bg, round(_contrast(fg, bg), 2))


STARTED = """
import sys
from fastapi.testclient import TestClient
from etablera.interfaces.http.app import create_app
from etablera.models.database import make_engine, upgrade
from etablera.models.ladder import load_reminder_config
engine = make_engine(sys.argv[1])
upgrade(engine)
app = create_app(engine)
before = ("holidays" in sys.modules, load_reminder_config.cache_info().currsize)
with TestClient(app):
    print(before, ("holidays" in sys.modules, load_reminder_config.cache_info().currsize))
"""


def test_the_reminder_ladder_and_the_holiday_calendar_are_read_at_start_not_by_the_first_page(tmp_path):
    """The start page's ladder filter and counts need the reminder ladder (validated over two
    years of working days) and the holiday calendar: a worker reads them as it starts, so
    its first officer does not wait for them (about a tenth of a second). In a process of
    its own: this one has both already."""
    done = subprocess.run([sys.executable, "-c", STARTED, f"sqlite:///{tmp_path / 'start.sqlite3'}"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, "ETABLERA_DATA_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "(False, 0) (True, 1)"


def test_every_template_compiles_in_every_language_before_the_first_request():
    from etablera.interfaces.http import i18n, templating
    pages = sorted(p.name for p in (HERE / "templates").glob("*.html"))
    assert templating.compile_all() == len(pages) * len(i18n.LANGS)
    for lang in i18n.LANGS:
        cached = {name for (_loader, name) in templating.ENVIRONMENTS[lang].cache.keys()}
        assert set(pages) <= cached, lang
