"""End to end in a real headless Chromium (Debian's /usr/bin/chromium, driven by
Playwright; no browser is ever downloaded): `etablera web` serves a fresh database; an
officer logs in, finds an overdue case in the worklist, records a joint assessment that
sends the person to a local job track and sees it in the timeline; a skip without a
justification is refused with the message on the page."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from conftest import start_web
from identities import pnr
from kit import advance, register
from etablera.models.database import make_engine
from etablera.access import accounts

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.slow


@pytest.fixture
def site(sqlite_url, chromium):
    """A database with an overdue case awaiting the joint assessment and a case whose
    establishment talk is held, and `etablera web` serving it (Chromium first: without
    it the tests skip, or fail under CI, before anything starts)."""
    engine = make_engine(sqlite_url)
    accounts.add_user(engine, "h0581", name="Anna Handläggare", role="officer", organisation="kommun",
                      municipality="0581", password="e2e-lösenord-1")
    start = datetime.now(timezone.utc) - timedelta(days=300)
    overdue = register(engine, pnr("19900101", 201), "0581", start.date() - timedelta(days=10), start, actor="h0581",
                       kommun_officer="h0581")
    for days, trigger, raw in ((5, "hold_talk", {}), (20, "establish_plan", {"plan": "handlingsplan"}),
                               (120, "request_assessment", {})):
        advance(engine, overdue, trigger, start + timedelta(days=days), actor="h0581", **raw)
    talk = register(engine, pnr("19880303", 202), "0581", start.date(), actor="h0581", kommun_officer="h0581")
    advance(engine, talk, "hold_talk", actor="h0581")
    engine.dispose()

    server, port = start_web(sqlite_url)
    yield {"url": f"http://127.0.0.1:{port}", "overdue": overdue, "talk": talk}
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def page(site, chromium):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=ARGS, headless=True)
        context = browser.new_context(locale="sv-SE")
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
        browser.close()


def _log_in(page, site):
    page.goto(site["url"] + "/worklist")
    assert "/login" in page.url
    page.get_by_label("Användarnamn").fill("h0581")
    page.get_by_label("Lösenord").fill("e2e-lösenord-1")
    page.get_by_role("button", name="Logga in").click()
    page.wait_for_url("**/worklist")


def test_joint_assessment_to_a_local_track_from_the_worklist(page, site):
    from playwright.sync_api import expect
    _log_in(page, site)
    row = page.locator(f'tr[data-case="{site["overdue"]}"]')
    expect(row).to_contain_text("Försenat")
    expect(row).to_contain_text("Gemensam bedömning")
    row.get_by_role("link", name=f"Ärende {site['overdue']}").click()
    expect(page.locator("h1")).to_contain_text("Gemensam bedömning")

    expect(page.locator("#next #action-decide")).to_be_visible()    # the next step comes first, open
    page.get_by_label("Beslut", exact=False).first.select_option("local_track")
    track = page.locator("#f-decide-track")
    expect(track).to_be_visible()                      # shown only for a local track decision
    options = track.locator("option").all_inner_texts()
    assert "Industri" in options and "Restaurang och storkök" in options
    track.select_option("industri")
    page.locator("#f-decide-participants-individual").check()
    page.locator("#f-decide-participants-employer").check()
    page.locator("#f-decide-note").fill("Industrin i Norrköping söker folk; individen vill dit.")
    page.get_by_role("button", name="Spara: Gemensam bedömning: beslut").click()

    page.wait_for_url(f"**/cases/{site['overdue']}?saved=decide*")
    expect(page.locator("h1")).to_contain_text("Modul 3, lokalt jobbspår")
    entry = page.locator('ol.timeline li[data-trigger="decide"]')
    expect(entry).to_contain_text("Gemensam bedömning → Modul 3, lokalt jobbspår")
    expect(entry).to_contain_text("Industri")
    expect(entry).to_contain_text("Individen")
    expect(entry).to_contain_text("Industrin i Norrköping söker folk")


def test_a_skip_without_justification_is_refused_on_the_page(page, site):
    from playwright.sync_api import expect
    _log_in(page, site)
    page.goto(f"{site['url']}/cases/{site['talk']}")
    page.locator("#action-skip_module2 summary").click()
    page.locator("#f-skip_module2-reason").select_option("job_offer")
    page.get_by_role("button", name="Spara: Hoppa över modul 2").click()

    summary = page.locator("#error-skip_module2")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("Motivering")
    expect(summary).to_contain_text("Hoppa över modul 2 kräver motivering")      # in Swedish, like the page
    expect(summary).to_be_focused()
    expect(page.locator("#f-skip_module2-note")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-skip_module2-reason")).to_have_value("job_offer")   # what was entered stays
    expect(page.locator("h1")).to_contain_text("etableringssamtal genomfört")     # nothing changed
    assert page.locator('ol.timeline li[data-trigger="skip_module2"]').count() == 0
