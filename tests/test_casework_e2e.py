"""A day's casework end to end in a real headless Chromium (Debian's /usr/bin/chromium,
driven by Playwright; no browser is downloaded), against the real `etablera web` on
loopback, on SQLite and PostgreSQL (issue 13's walk):

1. an officer finds a person by identity number (the POSTed search form on the worklist),
   opens the case from the results, takes it ("Ta ärendet"), writes a journal note,
   attaches a PDF, takes the next step, and sees the note, the document and the step on
   the timeline;
2. a coordinator moves all of that officer's cases to a colleague on /reassign (the leaving
   and the receiving officer, the preview listing the cases, the confirmation), and the
   cases then show the new officer.

Every URL the browser requests is collected and none may hold the identity number or the
person's name (the number goes in the search form's POST body). Elements are found by
role and label, as a user sees them.

Screenshots of each step are kept as test artefacts in
`var/test-artifacts/e2e/casework-<engine>/` under the repository root (gitignored, kept
after the run; each run replaces its own directory's pictures), named `NN-step.png`.
"""

from __future__ import annotations

import re
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest

import leaks
from conftest import ROOT, start_web
from identities import pnr
from kit import officer, register
from etablera.access import accounts
from etablera.models.database import make_engine

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = ROOT / "var" / "test-artifacts" / "e2e"
PASSWORD = "e2e-lösenord-13"
# A small valid PDF (one empty page): header, objects, cross-reference table, trailer.
PDF_OBJECTS = (b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>")

pytestmark = pytest.mark.slow


def small_pdf() -> bytes:
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(PDF_OBJECTS, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(PDF_OBJECTS) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(PDF_OBJECTS) + 1, xref)
    return bytes(out)


@pytest.fixture
def site(chromium, db_url, tmp_path, monkeypatch):
    """Three logins of Norrköping (0581): the officer h0581 who walks, the colleague h0581b
    who receives, the coordinator samo0581; the person to find (unassigned), a case h0581
    already has and one of h0581b's; `etablera web` serving them with its document store
    in the test's own directory (Chromium first: without it the test skips, or fails
    under CI, before anything starts)."""
    monkeypatch.setenv("ETABLERA_DOCUMENTS_DIR", str(tmp_path / "documents"))
    engine = make_engine(db_url)
    for user_id, role in (("h0581", "officer"), ("h0581b", "officer"), ("samo0581", "coordinator")):
        accounts.add_user(engine, user_id, name=f"Test {user_id}", role=role, organisation="kommun",
                          municipality="0581", password=PASSWORD)
    officer(engine, "af-nkpg", "0581", "af")
    permit = date.today() - timedelta(days=60)
    person = pnr("19850615", 311)
    found = register(engine, person, "0581", permit, actor="setup", af_officer="af-nkpg",
                     given_name="Özlem", family_name="Bergqvist")
    own = register(engine, pnr("19920304", 312), "0581", permit, actor="setup", kommun_officer="h0581",
                   given_name="Samir", family_name="Haddad")
    colleague = register(engine, pnr("19791120", 313), "0581", permit, actor="setup", kommun_officer="h0581b",
                         given_name="Leyla", family_name="Mansour")
    engine.dispose()
    server, port = start_web(db_url)
    try:
        yield {"url": f"http://127.0.0.1:{port}", "person": person, "names": ("Özlem", "Bergqvist"),
               "found": found, "own": own, "colleague": colleague,
               "everyone": ("Özlem", "Bergqvist", "Samir", "Haddad", "Leyla", "Mansour")}
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def browser(site, chromium):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def shots(request):
    """Screenshots of the walk: `shots(page, "step")` saves NN-step.png in the test's
    artefact directory (emptied first, so the pictures are this run's)."""
    engine = request.node.callspec.params["db_url"]                    # sqlite | postgres
    directory = ARTIFACTS / f"casework-{engine}"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    taken: list[Path] = []

    def shoot(page, step: str) -> Path:
        path = directory / f"{len(taken) + 1:02d}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        taken.append(path)
        return path
    shoot.taken = taken
    return shoot


def _session(browser, site, user: str, requested: list):
    """A browser context of its own for `user`, logged in through the login form; every
    request it makes is collected in `requested` (method, URL, body)."""
    context = browser.new_context(locale="sv-SE")
    context.on("request", lambda r: requested.append((r.method, r.url, r.post_data or "")))
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(site["url"] + "/worklist")
    assert "/login" in page.url
    page.get_by_label("Användarnamn").fill(user)
    page.get_by_label("Lösenord").fill(PASSWORD)
    page.get_by_role("button", name="Logga in").click()
    page.wait_for_url("**/worklist")
    return page


def test_an_officer_works_a_case_and_a_coordinator_moves_the_officers_cases(site, browser, shots, tmp_path):
    from playwright.sync_api import expect
    leaks.remember_names(*site["everyone"])
    requested: list[tuple[str, str, str]] = []
    found, person = site["found"], site["person"]
    full_name = " ".join(site["names"])

    # --- the officer: find the person by number, open, take, note, document, next step
    page = _session(browser, site, "h0581", requested)
    expect(page.get_by_role("link", name="Flytta ärenden")).to_have_count(0)      # the coordinator's, not theirs
    shots(page, "officer-worklist")
    search = page.get_by_role("search")
    search.get_by_label("Personnummer, namn eller ärendenummer").fill(person[2:])      # YYMMDD-NNNC, as said
    search.get_by_role("button", name="Sök").click()
    results = page.get_by_role("table", name="Träffar")
    expect(results).to_be_visible()
    assert page.url.endswith("/search")
    expect(results.get_by_role("row")).to_have_count(2)                  # the heading row and the one match
    shots(page, "officer-search-results")
    results.get_by_role("link", name=full_name).click()

    page.wait_for_url(f"**/cases/{found}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Ärende {found}")
    shots(page, "officer-case")
    page.get_by_role("button", name="Ta ärendet").click()
    page.wait_for_url(f"**/cases/{found}?saved=take*")
    expect(page.get_by_role("status")).to_have_text("Sparat.")
    expect(page.get_by_role("button", name="Ta ärendet")).to_have_count(0)
    person_card = page.get_by_role("region", name="Personen", exact=True)
    expect(person_card.get_by_role("definition").filter(has_text=re.compile(r"^h0581$"))).to_have_count(1)
    shots(page, "officer-took-the-case")

    note = "Ringde om SFI-start; tolk på arabiska behövs inte längre."
    journal = page.get_by_role("region", name="Anteckningar och dokument")
    journal.get_by_label("Anteckning", exact=True).fill(note)
    journal.get_by_role("button", name="Spara anteckningen").click()
    page.wait_for_url(f"**/cases/{found}?saved=*")
    expect(page.get_by_role("list", name="Anteckningar", exact=True)).to_contain_text(note)
    shots(page, "officer-note")

    pdf_file = tmp_path / "intyg-sfi.pdf"
    pdf_file.write_bytes(small_pdf())
    journal = page.get_by_role("region", name="Anteckningar och dokument")
    journal.get_by_label("Fil", exact=True).set_input_files(str(pdf_file))
    journal.get_by_role("button", name="Bifoga filen").click()
    page.wait_for_url(f"**/cases/{found}?saved=*")
    expect(page.get_by_role("table", name="Dokument", exact=True)).to_contain_text("intyg-sfi.pdf")
    shots(page, "officer-document")

    next_step = page.get_by_role("region", name="Nästa steg")
    step = next_step.get_by_role("heading", level=3).first.inner_text().strip()
    next_step.get_by_role("button", name=f"Spara: {step}").first.click()
    page.wait_for_url(f"**/cases/{found}?saved=*")
    expect(page.get_by_role("status")).to_have_text("Sparat.")
    timeline = page.get_by_role("region", name="Tidslinje").get_by_role("listitem")
    expect(timeline.filter(has_text=note)).to_have_count(1)
    expect(timeline.filter(has=page.get_by_role("link", name="intyg-sfi.pdf"))).to_have_count(1)
    expect(timeline.filter(has_text=step).filter(has_text="h0581")).to_have_count(1)
    shots(page, "officer-timeline")
    page.context.close()

    # --- the coordinator: h0581 leaves; all of h0581's cases go to h0581b after a preview
    page = _session(browser, site, "samo0581", requested)
    page.get_by_role("link", name="Flytta ärenden").click()
    page.wait_for_url("**/reassign")
    page.get_by_label("Handläggare som lämnar").fill("h0581")
    page.get_by_label("Ny ansvarig handläggare").fill("h0581b")
    shots(page, "coordinator-reassign")
    page.get_by_role("button", name="Förhandsgranska").click()
    preview = page.get_by_role("region", name="Förhandsgranskning: inget är ändrat än")
    expect(preview).to_be_visible()
    rows = preview.get_by_role("table").get_by_role("row")
    expect(rows).to_have_count(3)                                        # the heading row and two cases
    for case_id in (found, site["own"]):
        expect(rows.filter(has=page.get_by_role("rowheader", name=str(case_id), exact=True))).to_contain_text("h0581b")
    expect(preview.get_by_role("rowheader", name=str(site["colleague"]), exact=True)).to_have_count(0)
    shots(page, "coordinator-preview")
    preview.get_by_role("button", name="Flytta 2 ärenden").click()
    expect(page.get_by_role("status")).to_have_text("2 ärenden har flyttats.")
    shots(page, "coordinator-moved")

    page.get_by_role("link", name="Min arbetslista").click()
    page.wait_for_url("**/worklist")
    cases = page.get_by_role("table", name="Ärenden sorterade efter förfallodatum")
    for case_id in (found, site["own"], site["colleague"]):
        row = cases.get_by_role("row").filter(has=page.get_by_role("link", name=f"(ärende {case_id})"))
        expect(row).to_contain_text("h0581b")
    shots(page, "coordinator-worklist")
    page.get_by_role("link", name=full_name).click()
    page.wait_for_url(f"**/cases/{found}")
    person_card = page.get_by_role("region", name="Personen", exact=True)
    expect(person_card.get_by_role("definition").filter(has_text=re.compile(r"^h0581b$"))).to_have_count(1)
    shots(page, "coordinator-case")
    page.context.close()

    # --- no identity number and no name in any URL the browser asked for
    searched = [body for method, url, body in requested if method == "POST" and url.endswith("/search")]
    assert any(person[2:] in body for body in searched), searched        # the number went, in the body
    assert leaks.personal_data_in(person[2:]) and leaks.personal_data_in(full_name)      # the watch knows them
    leaked = [(m, u) for m, u, _ in requested if leaks.personal_data_in(u)]
    assert not leaked, leaked
    assert len(shots.taken) == 12 and all(p.stat().st_size > 1000 for p in shots.taken)
