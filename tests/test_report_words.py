"""The follow-up report reads like a municipality's own document: local tracks and stages by
their names (the agreement's and the process table's), never their identifiers; the
quartiles in words; times without microseconds; chart text at least 12 px at normal zoom;
the 100 % stacked chart's axis ending at 100. Swedish by default, English with lang=en.
On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from identities import pnr
from kit import advance, register
from etablera.cases.agreements import agreement_book
from etablera.reports.formats import render
from etablera.reports.html import FONT_SIZE, track_chart
from etablera.reports.report import build_report
from etablera.reports.scope import make_scope
from etablera.statemachine.process import PARENTS, STAGES
from test_report import A, PERIOD, build_cohort

TRACK = "restaurang-storkok"
# Identifiers that are no word of either language (not "assessment", which English uses too).
CODES = [code for code in [TRACK] + [s.name for s in STAGES] + [p.name for p in PARENTS]
         if re.search(r"[\d.-]", code)] + ["within_two_years", "curve_month"]
MICROSECONDS = re.compile(r"\d{2}:\d{2}:\d{2}\.\d+")
PAGE_WIDTH_PX = 70 * 16          # the report's content width (max-width: 70rem)


class Visible(HTMLParser):
    """The words a reader sees: text outside tags (attributes, styles and links not included)."""

    def __init__(self, page: str):
        super().__init__()
        self.words: list[str] = []
        self._skip = 0
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("style", "title")

    def handle_endtag(self, tag):
        self._skip -= tag in ("style", "title")

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.words.append(data.strip())

    @property
    def text(self) -> str:
        return "\n".join(self.words)


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """The report of a small cohort (a case through the restaurant track among them), as
    its document and its text and HTML in Swedish and English, on SQLite."""
    from etablera.models.database import make_engine, upgrade
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('words') / 'db.sqlite3'}")
    upgrade(engine)
    build_cohort(engine)
    _through_the_restaurant_track(engine)
    out = {}
    for lang in ("sv", "en"):
        doc = build_report(engine, make_scope(lang=lang, **PERIOD))
        out[lang] = {"doc": doc, "text": render(doc, "table"), "html": render(doc, "html"),
                     "json": render(doc, "json")}
    engine.dispose()
    return out


def _through_the_restaurant_track(engine) -> int:
    case = register(engine, pnr("19920606", 606), A, "2024-12-01", "2025-01-12")
    advance(engine, case, "hold_talk", "2025-01-22")
    advance(engine, case, "establish_plan", "2025-02-01", plan="handlingsplan")
    advance(engine, case, "request_assessment", "2025-05-01")
    advance(engine, case, "decide", "2025-05-11", decision="local_track", track=TRACK,
            participants="kommun,af,individual", note="Restaurangspåret passar")
    advance(engine, case, "complete_track", "2025-11-20", outcome="work")
    return case


def _label(lang: str) -> str:
    return next(t.label(lang) for a in agreement_book().agreements for t in a.tracks if t.id == TRACK)


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_tracks_and_stages_by_name_never_by_identifier(reports, lang):
    r = reports[lang]
    seen = Visible(r["html"]).text
    for shown in (seen, r["text"]):
        assert _label(lang) in shown
        for code in CODES:
            assert not re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", shown), (lang, code)
    skipped = next(s for s in r["doc"]["skips"]["by_reason"] if s["module"] == "module2")
    name = next(p for p in PARENTS if p.name == "module2")
    assert (name.en if lang == "en" else name.sv) in r["text"]
    assert skipped["count"] >= 1


@pytest.mark.parametrize("lang, words", [("sv", "hälften tog mellan {} och {} dagar; 9 av 10 högst {}"),
                                         ("en", "half took between {} and {} days; 9 in 10 at most {}")])
def test_quartiles_are_said_in_words(reports, lang, words):
    r = reports[lang]
    stage = next(s for s in r["doc"]["time_in_stage"]["stages"] if s["n"])
    said = words.format(*(int(stage[k] + 0.5) for k in ("p25", "p75", "p90")))
    seen = Visible(r["html"]).text
    assert said in r["text"] and said in seen
    for code in ("p25", "p75", "p90", "n="):
        assert code not in r["text"] and code not in seen, code


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_times_without_microseconds(reports, lang):
    r = reports[lang]
    for shown in (r["text"], r["html"], r["json"]):
        assert not MICROSECONDS.search(shown)
    made = r["doc"]["generated_at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", made)
    assert f"{'Generated' if lang == 'en' else 'Skapad'} {made[:10]} {made[11:16]}" in r["text"]
    assert json.loads(r["json"])["generated_at"] == made


def test_the_stacked_charts_axis_ends_at_100(reports):
    svg = track_chart(reports["sv"]["doc"])
    ticks = [float(v.replace("\u2212", "-").replace(",", ".").replace("\xa0", ""))
             for v in re.findall(r'<g id="xtick_\d+">.*?<text[^>]*>([^<]*)</text>', svg, re.S)]
    assert ticks and max(ticks) == 100 and min(ticks) == 0
    assert "av 1 i arbete" in svg or "i arbete" in svg          # the summary is beside its bar, inside the axis


def test_chart_text_is_at_least_12_px_at_normal_zoom(reports):
    page = reports["sv"]["html"]
    svgs = re.findall(r"<svg[^>]*>.*?</svg>", page, re.S)
    assert len(svgs) == 4
    for svg in svgs:
        sizes = [float(s) for s in re.findall(r"font-size:\s*([\d.]+)px", svg)]
        assert sizes and min(sizes) >= 12 and FONT_SIZE >= 12
        # matplotlib sizes the drawing in points: shown at its own size, a unit is 4/3 px ...
        width, view = re.search(r'<svg[^>]*\swidth="([\d.]+)pt"[^>]*viewBox="0 0 ([\d.]+) ', svg).groups()
        assert float(width) == pytest.approx(float(view))
        # ... and it fits the page, so it is never squeezed below its own size.
        assert float(width) * 4 / 3 <= PAGE_WIDTH_PX
    css = page[page.index("<style>"):page.index("</style>")]
    assert re.search(r"figure\.chart svg \{ max-width: 100%;", css) and "width: 100%" not in css.replace(
        "max-width: 100%", "")


def test_the_report_on_both_databases_names_the_track(any_engine):
    _through_the_restaurant_track(any_engine)
    doc = build_report(any_engine, make_scope([A], **PERIOD))
    track = next(t for t in doc["tracks"]["tracks"] if t["track"] == TRACK)
    assert track["label"] == _label("sv")
    text = render(doc, "table")
    assert _label("sv") in text and not MICROSECONDS.search(text) and "hälften tog mellan" in text
