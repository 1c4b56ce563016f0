"""The HTML report: one self-contained file with its charts, opened in real headless
Chromium (Debian's, driven by Playwright) with every network request blocked: nothing is
requested, a screenshot is taken, and each chart is present and visible with its caption
and axis texts. Without Chromium the browser test skips with the reason (fails under CI)."""

from __future__ import annotations

import re

import pytest

from etablera.models.database import make_engine, upgrade
from etablera.reports.report import build_report
from etablera.reports.scope import make_scope
from etablera.reports.html import CSP, chart_ids
from etablera.reports.formats import render
from test_report import PERIOD, build_cohort

CHARTS = ["chart-time-in-stage", "chart-establishment", "chart-tracks", "chart-states"]
# What a reader must see in each chart (Swedish, the default): caption, then axis texts.
SEEN = {
    "chart-time-in-stage": ["Tid i varje steg (dagar, vilande tid borträknad)",
                            "dagar: lådan rymmer mittersta hälften, strecket är medianen,", "Modul 1", "(4 ärenden)"],
    "chart-establishment": ["Andel etablerade efter månader sedan uppehållstillstånd",
                            "månader sedan uppehållstillstånd", "% av periodens startande", "2 år"],
    "chart-tracks": ["Utfall per lokalt jobbspår", "% av dem som lämnat spåret under perioden", "1 av 1 i arbete"],
}


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    folder = tmp_path_factory.mktemp("html")
    engine = make_engine(f"sqlite:///{folder / 'db.sqlite3'}")
    upgrade(engine)
    build_cohort(engine)
    doc = build_report(engine, make_scope(**PERIOD))
    engine.dispose()
    return render(doc, "html"), doc


def test_a_chart_is_drawn_once_for_the_same_figures(page):
    """The charts are kept by the figures they show: a report with the same figures draws
    nothing and gives the very SVG a fresh drawing gives; a changed figure, or another
    language, is drawn anew."""
    import copy
    from etablera.reports import html as report_html
    _, doc = page
    charts = (report_html.time_chart, report_html.establishment_chart, report_html.track_chart,
              report_html.states_chart)
    first = [chart(doc) for chart in charts]
    for chart in charts:
        chart.drawn.cache_clear()
    fresh = [chart(copy.deepcopy(doc)) for chart in charts]
    assert fresh == first
    before = [chart.drawn.cache_info() for chart in charts]
    assert [chart(copy.deepcopy(doc)) for chart in charts] == first
    assert [(c.hits, c.misses) for c in (chart.drawn.cache_info() for chart in charts)] == \
        [(b.hits + 1, b.misses) for b in before]
    changed = copy.deepcopy(doc)
    state = next(s for s in changed["states_now"]["by_state"] if s["count"])
    state["count"] += 1
    assert f" {state['count']}<" in report_html.states_chart(changed)
    assert report_html.states_chart(changed) != first[3]
    misses = report_html.states_chart.drawn.cache_info().misses
    report_html.states_chart({**doc, "lang": "en"})
    assert report_html.states_chart.drawn.cache_info().misses == misses + 1


def test_html_is_self_contained(page):
    html, _ = page
    assert html.startswith("<!DOCTYPE html>") and CSP in html
    assert chart_ids(html) == CHARTS
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "no network reference"
    assert "<script" not in html
    assert 'lang="sv"' in html and "Tid i varje steg" in html and "1 av 1 i arbete" in html


def test_english_labels(page):
    _, doc = page
    english = render({**doc, "lang": "en", "title": "Follow-up"}, "html")
    assert 'lang="en"' in english and "Time in each stage" in english


def test_opens_in_headless_chromium_without_network(page, chromium, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    html, _ = page
    target = tmp_path / "report.html"
    target.write_text(html, encoding="utf-8")
    requested, blocked, errors = [], [], []

    def only_the_file(route):
        if route.request.url == target.as_uri():
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                          "--disable-component-update", "--no-first-run"])
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="sv-SE")
            context.route("**/*", only_the_file)
            view = context.new_page()
            view.on("request", lambda request: requested.append(request.url))
            view.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            view.goto(target.as_uri(), wait_until="load")
            shot = tmp_path / "report.png"
            view.screenshot(path=str(shot), full_page=True)
            for chart in CHARTS:
                svg = view.locator(f"figure#{chart} > svg")
                expect(svg).to_be_visible()
                box = svg.bounding_box()
                assert box and box["width"] > 300 and box["height"] > 60, (chart, box)
                assert svg.locator("path").count() > 5, f"{chart} has nothing drawn"
            for chart, texts in SEEN.items():
                caption, *axes = texts
                expect(view.locator(f"figure#{chart} > figcaption")).to_have_text(caption)
                for text in axes:
                    expect(view.locator(f"figure#{chart} svg text", has_text=text).first).to_be_visible()
            headings = view.locator("h2").all_inner_texts()
        finally:
            browser.close()
    assert requested == [target.as_uri()] and blocked == [], "the report asked for something over the network"
    assert errors == []
    assert shot.stat().st_size > 50_000, "the screenshot is suspiciously small: a blank page?"
    from PIL import Image
    assert len(Image.open(shot).convert("RGB").getcolors(maxcolors=1_000_000) or []) > 50, "a blank screenshot"
    assert "Tid i varje steg (dagar, vilande tid borträknad)" in headings      # the tables under the charts
