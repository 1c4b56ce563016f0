"""Queues, saved filters, sorting and paging, CSV exports, the paged skip audit, and the
report's figures that open the list of exactly the cases they count (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

import kit
from identities import pnr
from web_kit import build_world, login
from etablera.access.accounts import get_user
from etablera.access.principal import principal_for
from etablera.cases import list_query, queues
from etablera.cases.audit import CASES
from etablera.interfaces.http.app import create_app
from etablera.models.database import transaction
from etablera.models.timestamps import local_date, utcnow
from etablera.statemachine.errors import BadInput, Forbidden, NotFound

TODAY = local_date(utcnow())


def days(n: int) -> str:
    """A moment n days ago (Stockholm midday)."""
    return (TODAY - timedelta(days=n)).isoformat()


@pytest.fixture
def world(db_url):
    world = build_world(db_url)
    yield world
    world.engine.dispose()


def user(world, user_id: str):
    return principal_for(get_user(world.engine, user_id))


def set_case(world, case_id: int, **values) -> None:
    with transaction(world.engine) as conn:
        conn.execute(update(CASES).where(CASES.c.id == case_id).values(**values))


def new_case(world, serial: int, municipality: str = "0581", officer: str | None = "h0581", day: str | None = None):
    return kit.register(world.engine, pnr("19850101", serial), municipality, TODAY - timedelta(days=300), day,
                        actor="setup", kommun_officer=officer)


@pytest.fixture
def queue_world(world):
    """Cases of 0581 in each queue, beside world's (two of h0581's, one of 0180, one of 0580)."""
    c = world.cases
    c["unassigned"] = new_case(world, 201, officer=None)
    c["assessment"] = new_case(world, 202)
    kit.advance(world.engine, c["assessment"], "hold_talk", actor="setup")
    kit.advance(world.engine, c["assessment"], "skip_module2", actor="setup", reason="job_offer", note="Har jobb")
    c["late"] = new_case(world, 203)
    set_case(world, c["late"], due=TODAY - timedelta(days=3))
    c["transferred"] = new_case(world, 204, officer=None)
    set_case(world, c["transferred"], transferred_at=TODAY - timedelta(days=2), transferred_from="0580")
    c["transferred_long_ago"] = new_case(world, 205)
    set_case(world, c["transferred_long_ago"], transferred_at=TODAY - timedelta(days=40), transferred_from="0580")
    c["exited"] = new_case(world, 206, day=days(200))
    kit.advance(world.engine, c["exited"], "hold_talk", days(150), actor="setup")
    kit.advance(world.engine, c["exited"], "exit_direct", days(95), actor="setup", outcome="work",
                reason="job_offer", note="Anställd")
    c["sthlm_late"] = world.cases["sthlm"]
    set_case(world, c["sthlm_late"], due=TODAY - timedelta(days=5))
    return world


def listed(world, actor, **query) -> tuple[list[int], int]:
    page = kit.list_queue(world.engine, actor=actor, limit=200, **query)
    return [i["id"] for i in page["items"]], page["total"]


def test_each_queue_lists_exactly_its_cases_and_its_count_is_the_listed_total(queue_world):
    w, c = queue_world, queue_world.cases
    officer = user(w, "h0581")
    expected = {
        "mine": {c["nkpg"], c["nkpg2"], c["assessment"], c["late"], c["transferred_long_ago"]},
        "unassigned": {c["unassigned"], c["transferred"]},
        "overdue": {c["late"]},
        "assessment": {c["assessment"]},
        "followup": {c["exited"]},
        "transferred": {c["transferred"]},
    }
    counts = kit.queue_counts(w.engine, actor=officer)
    for name, cases in expected.items():
        ids, total = listed(w, officer, queue=name)
        assert set(ids) == cases and len(ids) == len(cases), name
        assert counts[name] == total == len(ids), name
    # the other municipality's overdue case is neither listed nor counted; theirs sees it
    assert c["sthlm_late"] not in listed(w, officer, overdue="1")[0]
    assert listed(w, user(w, "h0180"), queue="overdue")[0] == [c["sthlm_late"]]
    assert kit.queue_counts(w.engine, actor=user(w, "h0180"))["overdue"] == 1
    # an AF officer's "mine" and "unassigned" are the AF column
    af = user(w, "af-nkpg")
    places = {"nkpg": "0581", "nkpg2": "0581", "sthlm": "0180", "finspang": "0580"}
    assert set(listed(w, af, queue="mine")[0]) == {c[k] for k, m in places.items() if af.sees(m)}
    assert c["unassigned"] in listed(w, af, queue="unassigned")[0]


def test_a_list_outside_the_users_municipalities_is_refused_and_logged(queue_world):
    w = queue_world
    officer = user(w, "h0581")
    with pytest.raises(Forbidden):
        kit.list_queue(w.engine, actor=officer, municipality="0180")
    with pytest.raises(Forbidden):
        kit.export_csv(w.engine, actor=officer, municipality="0180")
    actions = [r["action"] for r in w.access_rows(actor="h0581")]
    assert "denied:list" in actions and "denied:export" in actions
    api = TestClient(create_app(w.engine))
    refused = api.get("/api/v1/cases.csv", params={"municipality": "0180"}, headers=w.bearer("h0581"))
    assert refused.status_code == 403
    assert not [r for r in w.access_rows(action="export")]          # nothing exported


def test_sorting_and_paging_are_stable(world):
    for serial in range(300, 313):                  # equal due dates: the id breaks the tie
        new_case(world, serial, officer=None)
    admin = user(world, "admin")
    for sort in ("due", "-due", "id", "-id", "state", "municipality", "-municipality", "name", "-name"):
        whole, total = listed(world, admin, sort=sort)
        pages, offset = [], 0
        while offset is not None:
            page = kit.list_queue(world.engine, actor=admin, sort=sort, limit=4, offset=offset)
            assert page["total"] == total
            pages += [i["id"] for i in page["items"]]
            offset = page["next_offset"]
        assert pages == whole and len(set(pages)) == total == len(pages), sort
    ids = listed(world, admin, sort="id")[0]
    assert ids == sorted(ids) and listed(world, admin, sort="-id")[0] == ids[::-1]
    with pytest.raises(BadInput) as refused:
        kit.list_queue(world.engine, actor=admin, sort="person")
    assert refused.value.field == "sort"


def test_saved_filters_are_the_users_own(queue_world):
    w, c = queue_world, queue_world.cases
    officer, other = user(w, "h0581"), user(w, "h0180")
    saved = kit.save_filter(w.engine, "Sena i modul 1", {"state": "module1", "overdue": "1", "sort": "-due"},
                            actor=officer)
    mine = kit.saved_filters(w.engine, actor=officer)
    assert [(f["name"], f["count"]) for f in mine] == [("Sena i modul 1", listed(w, officer, **saved["query"])[1])]
    assert mine[0]["count"] == 1 and listed(w, officer, **saved["query"])[0] == [c["late"]]
    assert kit.saved_filters(w.engine, actor=other) == []
    with pytest.raises(NotFound):
        kit.delete_filter(w.engine, saved["id"], actor=other)
    assert len(kit.saved_filters(w.engine, actor=officer)) == 1
    for name, query, field in (("Anna 19850101-2011", {}, "name"), ("x", {"person": "198501012011"}, "name"),
                               ("x", {"limit": "5"}, "limit"), ("", {}, "name"), ("x", {"queue": "nobody"}, "queue")):
        with pytest.raises(BadInput) as refused:
            kit.save_filter(w.engine, name, query, actor=officer)
        assert refused.value.field == field, name
    with pytest.raises(BadInput):
        kit.save_filter(w.engine, "Sena i modul 1", {}, actor=officer)       # the name is taken
    with pytest.raises(Forbidden):
        kit.save_filter(w.engine, "Stockholm", {"municipality": "0180"}, actor=officer)
    kit.delete_filter(w.engine, saved["id"], actor=officer)
    assert kit.saved_filters(w.engine, actor=officer) == []


def test_saved_filters_through_the_api_and_the_page(queue_world):
    w = queue_world
    api = TestClient(create_app(w.engine))
    mine, theirs = w.bearer("h0581"), w.bearer("h0180")
    created = api.post("/api/v1/filters", headers=mine, json={"name": "Bedömning", "query": {"queue": "assessment"}})
    assert created.status_code == 201, created.text
    filter_id = created.json()["id"]
    assert api.get("/api/v1/filters", headers=mine).json()[0]["count"] == 1
    assert api.get("/api/v1/filters", headers=theirs).json() == []
    assert api.delete(f"/api/v1/filters/{filter_id}", headers=theirs).status_code == 404
    refused = api.post("/api/v1/filters", headers=mine, json={"name": "Född 850101-2011", "query": {}})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "filter_personal_data"
    browser = TestClient(create_app(w.engine))
    csrf = login(browser, "h0581")
    start = browser.get("/worklist").text
    assert re.search(rf'data-filter="{filter_id}">Bedömning <span class="count">1</span>', start)
    assert re.search(r'data-queue="followup">[^<]+<span class="count">1</span>', start)
    saved = browser.post("/filters", data={"csrf": csrf, "name": "Sena", "overdue": "1"}, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == "/worklist?overdue=1"
    typed = browser.post("/filters", data={"csrf": csrf, "name": "Sena", "overdue": "1"})
    assert typed.status_code == 400 and 'value="Sena"' in typed.text and "heter Sena" in typed.text
    assert api.delete(f"/api/v1/filters/{filter_id}", headers=mine).status_code == 204


def test_csv_export_has_headings_rows_and_an_access_log_row_per_case(queue_world):
    w, c = queue_world, queue_world.cases
    set_case(w, c["nkpg"], given_name="Özlem", family_name="Yilmaz")
    officer = user(w, "h0581")
    text = kit.export_csv(w.engine, actor=officer, queue="mine", sort="id", chunk=2)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["Ärende", "Förnamn", "Efternamn"]
    ids = listed(w, officer, queue="mine", sort="id")[0]
    assert [int(r[0]) for r in rows[1:]] == ids
    assert rows[1 + ids.index(c["nkpg"])][1:3] == ["Özlem", "Yilmaz"]
    logged = w.access_rows(action="export", actor="h0581")
    assert sorted(r["case_id"] for r in logged) == sorted(ids)
    api = TestClient(create_app(w.engine))
    english = api.get("/api/v1/cases.csv", params={"queue": "overdue", "lang": "en"}, headers=w.bearer("h0581"))
    assert english.status_code == 200 and english.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(english.text)))
    assert lines[0][:3] == ["Case", "Given name", "Family name"] and [int(r[0]) for r in lines[1:]] == [c["late"]]
    browser = TestClient(create_app(w.engine))
    login(browser, "h0581")
    page = browser.get("/worklist.csv", params={"queue": "assessment"})
    assert [int(r[0]) for r in list(csv.reader(io.StringIO(page.text)))[1:]] == [c["assessment"]]


def test_the_cli_lists_a_queue_and_exports_it(queue_world, cli_env, monkeypatch):
    from cli_kit import etablera, ok
    w, c = queue_world, queue_world.cases
    monkeypatch.setenv("ETABLERA_DATABASE_URL", w.url)
    doc = ok("case", "list", "--queue", "unassigned", "--actor", "h0581")
    assert {i["id"] for i in doc["items"]} == {c["unassigned"], c["transferred"]} and doc["total"] == 2
    out = etablera("case", "list", "--queue", "assessment", "--csv", "--actor", "h0581", "--lang", "en")
    assert out.code == 0 and out.out.splitlines()[0].startswith("Case,") and str(c["assessment"]) in out.out
    both = etablera("case", "list", "--queue", "mine", "--csv", "--json", "--actor", "h0581")
    assert both.code == 2


def test_the_skip_audit_pages_and_sorts(world):
    ids = []
    for serial in range(400, 407):
        case_id = new_case(world, serial)
        kit.advance(world.engine, case_id, "hold_talk", actor="setup")
        kit.advance(world.engine, case_id, "skip_module2", actor="setup", reason="job_offer", note="Jobb")
        ids.append(case_id)
    coordinator = user(world, "samord0581")
    for sort in ("at", "-at", "case", "-case", "actor"):
        seen, offset = [], 0
        while offset is not None:
            page = kit.skip_page(world.engine, actor=coordinator, sort=sort, limit=3, offset=offset)
            assert page["total"] == len(ids)
            seen += [r["case_id"] for r in page["items"]]
            offset = page["next_offset"]
        assert sorted(seen) == sorted(ids) and len(set(seen)) == len(ids), sort
    assert [r["case_id"] for r in kit.skip_page(world.engine, actor=coordinator, sort="-case", limit=50)["items"]] \
        == sorted(ids, reverse=True)
    api = TestClient(create_app(world.engine))
    first = api.get("/api/v1/skips", params={"limit": 3}, headers=world.bearer("samord0581"))
    assert first.headers["x-total-count"] == str(len(ids)) and len(first.json()) == 3
    assert 'rel="next"' in first.headers["link"] and "offset=3" in first.headers["link"]
    browser = TestClient(create_app(world.engine))
    login(browser, "samord0581")
    page = browser.get("/skips").text
    assert f'data-total="{len(ids)}"' in page
    with pytest.raises(Forbidden):
        kit.skip_page(world.engine, actor=coordinator, municipality="0180")


def _links(html: str) -> list[tuple[str, int, str | None]]:
    """(href, figure, title) of every linked figure on the report page."""
    return [(unescape(href), int(text), unescape(title) if title else None) for href, title, text in re.findall(
        r'<a href="(/(?:worklist|skips)\?[^"]+)"(?: title="([^"]*)")?>(\d+)</a>', html)]


def _listed_ids(api, world, who: str, query: list) -> list[int]:
    """Every case id of a list (all its pages)."""
    ids, offset = [], 0
    while True:
        got = api.get("/api/v1/cases", params=query + [("limit", 200), ("offset", offset)], headers=world.bearer(who))
        assert got.status_code == 200, got.text
        ids += [item["id"] for item in got.json()["items"]]
        if got.json()["next_offset"] is None:
            return ids
        offset = got.json()["next_offset"]


def _events_behind(engine, query: dict, who) -> dict[int, int]:
    """The events a figure that counts events (transfers, stays in a track, late measures)
    counts, per case, read from the tables in Python (the oracle, not the list's SQL)."""
    from etablera.cases.list_query import _window
    from etablera.models import AuditEvent, Measure, ReportVisit
    from etablera.models.casework import Correction
    from etablera.reports.sql import day_number
    from etablera.statemachine.process import OPEN_MEASURE_STATES, STAGE_OF, STATE
    # Today as the list just read it: TODAY is the day the tests were collected, and a run
    # that passes midnight in Stockholm would compare the list's day with the day before.
    today = local_date(utcnow())
    with transaction(engine, write=False) as conn:
        def rows(table, *where):
            return [dict(r) for r in conn.execute(select(table).where(*where)).mappings()]
        now = {r["id"]: r for r in rows(CASES)}
        first = date.fromisoformat(query[next(k for k in query if k.endswith("_from"))]) if any(
            k.endswith("_from") for k in query) else date(1900, 1, 1)
        last = date.fromisoformat(query.get("transfer_to") or query.get("track_to") or today.isoformat())
        out: dict[int, int] = {}
        if "transfer" in query:
            corrected = {(x["case_id"], seq) for x in rows(Correction)
                         for seq in (x["corrected_seq"], x["correction_seq"])}
            places = query.get("municipality")
            for e in rows(AuditEvent, AuditEvent.c.trigger == "transfer"):
                origin, to = e["data"].get("from_municipality"), e["municipality"]
                end = to if query["transfer"] == "in" else origin
                if ((e["case_id"], e["seq"]) in corrected or origin == to or end is None
                        or not first <= local_date(e["at"]) <= last
                        or end != query.get("transfer_at", end) or (places and end != places)
                        or not who.sees(end)):
                    continue
                out[e["case_id"]] = out.get(e["case_id"], 0) + 1
        elif "track" in query:
            ends = {"work": {"exited.work"}, "own_business": {"exited.own_business"},
                    "studies": {"exited.studies"}, "dropped": {"module2.extended"}}
            for v in rows(ReportVisit, ReportVisit.c.stage == "module3"):
                kind = query.get("track_end", "left")
                if v["track"] != query["track"] or v["municipality"] != query["track_in"]:
                    continue
                if kind == "ongoing" and v["end_day"] is None or kind != "ongoing" and v["end_day"] is not None and (
                        day_number(first) <= v["end_day"] <= day_number(last)
                        and (kind == "left" or v["end_state"] in ends[kind])):
                    out[v["case_id"]] = out.get(v["case_id"], 0) + 1
        else:
            after, upto = _window(query["measure_ladder"], today)
            for m in rows(Measure):
                case = now[m["case_id"]]
                if (m["state"] in OPEN_MEASURE_STATES and case["state"] in STAGE_OF and case["state"] in STATE
                        and (after is None or m["due"] > after) and m["due"] <= upto
                        and case["municipality"] == query["municipality"]):
                    out[m["case_id"]] = out.get(m["case_id"], 0) + 1
        return out


# The report's figures that count events, not cases, by the filter their link sets.
EVENT_FILTERS = ("transfer", "track", "measure_ladder")
# A filter of each kind of figure linked since the first pass: each must be linked somewhere.
NEW_FILTERS = ("transfer", "track", "target_group", "followup_day", "measure_ladder")


def _cohort_with_transfers_and_followups(world):
    """The demo cohort, a few of its cases moved into 0581 (one of them out and back in again:
    two transfers in of one case), and follow-ups recorded for some established exits. No
    case registered in 0581 moves out: the coordinator of 0581 could not see it, and the
    entries figure would count it (the module docstring of report_links says so)."""
    from etablera.cases.followup import due_followups, record_followup
    from etablera.demo.bulk import write_cohort
    write_cohort(world.engine, 300, seed=5, workers=1)
    admin = user(world, "admin")
    with transaction(world.engine, write=False) as conn:
        running = conn.execute(select(CASES.c.id, CASES.c.municipality).where(
            CASES.c.state == "module2.preparing", CASES.c.municipality != "0581").order_by(CASES.c.id)).all()
    moves = [(r.id, "0581") for r in running[:4]]
    for case_id, to in moves:
        kit.advance(world.engine, case_id, "transfer", actor=admin, municipality=to)
    twice = moves[0][0]
    kit.advance(world.engine, twice, "transfer", actor=admin, municipality="1480")
    kit.advance(world.engine, twice, "transfer", actor=admin, municipality="0581")
    due = due_followups(world.engine, TODAY, window_days=10_000)
    for n, f in enumerate(due[:12]):
        record_followup(world.engine, admin, f.case_id, day=f.day, status=("work", "unemployed", "studies")[n % 3])
    return twice


def test_report_figures_link_to_lists_whose_totals_equal_them(db_url):
    """Every linked count opens a list whose total equals it; a figure that counts events
    (transfers, stays in a track, late measures) says so in its title and lists exactly the
    cases those events are of, and its events add up to the figure."""
    world = build_world(db_url)
    twice = _cohort_with_transfers_and_followups(world)
    try:
        api = TestClient(create_app(world.engine))
        seen_filters, several = set(), False
        for who, params in (("admin", {}), ("admin", {"start": "2025-01-01", "end": TODAY.isoformat()}),
                            ("samord0581", {}), ("samord0581", {"start": TODAY.replace(day=1).isoformat()})):
            browser = TestClient(create_app(world.engine))
            login(browser, who)
            page = browser.get("/report", params=params)
            assert page.status_code == 200
            links = _links(page.text)
            kinds = {urlsplit(href).path for href, _, _ in links}
            assert "/worklist" in kinds and kinds <= {"/worklist", "/skips"}, kinds
            assert len(links) > 10 and (kinds == {"/worklist", "/skips"} or params)    # a month can have no skip
            principal = user(world, who)
            for href, figure, title in links:
                parts = urlsplit(href)
                query = parse_qsl(parts.query)
                seen_filters |= {k for k, _ in query}
                if parts.path == "/worklist" and any(k in EVENT_FILTERS for k, _ in query):
                    assert title, href                      # says that it counts events and lists cases
                    ids = _listed_ids(api, world, who, query)
                    behind = _events_behind(world.engine, dict(query), principal)
                    assert sorted(ids) == sorted(behind), href
                    assert sum(behind.values()) == figure, href
                    several |= any(n > 1 for n in behind.values())
                elif parts.path == "/worklist":
                    assert title is None, href
                    got = api.get("/api/v1/cases", params=query + [("limit", 1)], headers=world.bearer(who))
                    assert got.status_code == 200, (href, got.text)
                    assert got.json()["total"] == figure, (who, href)
                else:
                    got = api.get("/api/v1/skips", params=query + [("limit", 1)], headers=world.bearer(who))
                    assert int(got.headers["x-total-count"]) == figure, href
            # and the page behind a link says the same total
            href, figure = next((h, f) for h, f, _ in links if "ladder=late" in h)
            assert f'data-total="{figure}"' in browser.get(href).text
            # a transfer figure, whose list is the distinct cases (the page says which filter it is)
            href = next(h for h, _, _ in links if "transfer=in" in h)
            listed = browser.get(href).text
            assert f'data-total="{len(_listed_ids(api, world, who, parse_qsl(urlsplit(href).query)))}"' in listed
        assert set(NEW_FILTERS) <= seen_filters, set(NEW_FILTERS) - seen_filters
        assert several              # some figure counted more events than cases (the twice-moved case, a late pair)
        assert "transfer=out" in " ".join(h for h, _, _ in _links(_report(world, "admin").text))
        assert "transfer=out" not in " ".join(h for h, _, _ in _links(_report(world, "samord0581").text))
        assert twice
    finally:
        world.engine.dispose()


def _report(world, who: str, **params):
    browser = TestClient(create_app(world.engine))
    login(browser, who)
    return browser.get("/report", params=params)


def test_a_list_that_shows_names_logs_each_named_case_it_showed(queue_world):
    """A name on the worklist is personal data seen: each listed case with a name has its
    access-log row (action `list`), written with the read; a case without one has none."""
    w, c = queue_world, queue_world.cases
    set_case(w, c["nkpg"], given_name="Özlem", family_name="Yilmaz")
    set_case(w, c["late"], family_name="Andersson")
    officer = user(w, "h0581")
    ids = listed(w, officer, queue="mine", sort="id")[0]
    assert {c["nkpg"], c["late"], c["nkpg2"]} <= set(ids)
    logged = sorted(r["case_id"] for r in w.access_rows(action="list", actor="h0581"))
    assert logged == sorted([c["nkpg"], c["late"]])
    browser = TestClient(create_app(w.engine))
    login(browser, "h0581")
    before = len(w.access_rows(action="list", actor="h0581"))
    assert "Özlem" in browser.get("/worklist", params={"queue": "mine"}).text
    assert len(w.access_rows(action="list", actor="h0581")) == before + 2


def test_a_lists_rows_and_total_are_one_snapshot_while_a_case_arrives_between_them(queue_world, monkeypatch):
    """A case registered (committed) after the list's rows are read and before its counts
    are (their own statement: `run`), or before the counts are taken from the rows that
    carry them (PostgreSQL's one statement: `take`): the page's total is still the number
    of its rows, and the next page sees the new case in both. (On PostgreSQL at READ
    COMMITTED, two statements, the count saw the new case: total one more than the rows.)"""
    w = queue_world
    officer = user(w, "h0581")
    before_ids, before_total = listed(w, officer, queue="mine")
    assert before_total == len(before_ids) < queues.MAX_LIMIT
    arrived = []

    def case_arrives_first(counting):
        def counted(self, *args):
            if not arrived:
                arrived.append(new_case(w, 301))
            return counting(self, *args)
        return counted
    for name in ("run", "take"):
        monkeypatch.setattr(queues._Counting, name, case_arrives_first(getattr(queues._Counting, name)))
    ids, total = listed(w, officer, queue="mine")
    assert arrived and arrived[0] not in ids
    assert (sorted(ids), total) == (sorted(before_ids), before_total)
    ids, total = listed(w, officer, queue="mine")
    assert arrived[0] in ids and total == len(ids) == before_total + 1


def test_an_empty_list_still_has_its_total_and_the_queues_counts(queue_world):
    """A list with no rows carries no counts on PostgreSQL's one statement: they are read
    again beside it; the same as the start page's own counts, on both databases."""
    w = queue_world
    officer = user(w, "h0581")
    counted = [list_query.ListQuery(queue=name) for name in list_query.QUEUES]
    expected = kit.queue_counts(w.engine, actor=officer)
    for query in ({"state": "closed"}, {"queue": "assessment"}):
        page = queues.list_cases(w.engine, officer, list_query.parse_query(query), counted=counted)
        assert page["total"] == len(page["items"]) == (0 if "state" in query else 1), query
        assert dict(zip(list_query.QUEUES, page["counts"])) == expected and expected["assessment"] == 1


@pytest.mark.parametrize("key, value", [("track", "två ord"), ("track_end", "sideways"), ("transfer", "both"),
                                        ("transfer_at", "0199"), ("followup_day", "91"),
                                        ("followup_status", "maybe"), ("target_group", "Z"),
                                        ("measure_ladder", "never"), ("track_from", "igår")])
def test_a_report_filter_takes_only_its_codes_and_dates(key, value):
    """The report's filters travel in URLs: each is a code or a date, refused (naming the
    key) otherwise, never taken as free text."""
    from etablera.cases.list_query import parse_query
    with pytest.raises(BadInput) as refused:
        parse_query({key: value})
    assert refused.value.field == key
    q = parse_query({"track": "restaurang-storkok", "track_end": "ongoing", "transfer": "in", "transfer_at": "0581",
                     "followup_day": "90", "followup_status": "missing", "target_group": "A", "measure_ladder": "late"})
    assert q.params()["followup_day"] == 90 and q.params()["track"] == "restaurang-storkok"
