"""The follow-up report as a page (charts and tables, within the user's municipalities)
and as the standalone HTML file."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from etablera.access import scope
from etablera.access.scope import Principal
from etablera.cases.parsing import parse_day
from etablera.interfaces.http import i18n
from etablera.interfaces.http.auth import engine_of, page_principal
from etablera.interfaces.http.pages.common import lang_of, render, router
from etablera.interfaces.http.pages.report_links import attach, figure_links
from etablera.models.configuration import get_config



def _report_doc(request: Request, who: Principal, municipality: str, start: str, end: str) -> dict:
    from etablera.reports.report import build_report
    from etablera.reports.scope import make_scope
    codes = scope.scoped_municipalities(who, [municipality] if municipality else []) or ()
    return build_report(engine_of(request), make_scope(codes, parse_day(start, "from"),
                                                       parse_day(end, "to"),
                                                       lang=lang_of(request)))


@router.get("/report", response_class=HTMLResponse)
def report_page(request: Request, municipality: str = "", start: str = "", end: str = ""):
    who = page_principal(request)
    from etablera.reports.html import establishment_chart, states_chart, time_chart, track_chart
    from etablera.reports.render import sections
    doc = _report_doc(request, who, municipality, start, end)
    lang = lang_of(request)
    charts = [(i18n.pick(("Tid i varje steg (dagar)", "Time in each stage (days)"), lang), time_chart(doc)),
              (i18n.pick(("Andel etablerade efter månader", "Share established by months"), lang),
               establishment_chart(doc)),
              (i18n.pick(("Utfall per lokalt jobbspår", "Outcomes per local job track"), lang), track_chart(doc)),
              (i18n.pick(("Ärenden per läge nu", "Cases per state now"), lang), states_chart(doc))]
    config = get_config()
    places = sorted(who.municipalities or config.municipalities.keys())
    query = urlencode({"municipality": municipality, "start": start, "end": end})
    links = figure_links(doc, who, municipality)
    return render(request, "report.html", {"doc": doc, "charts": charts, "tables": attach(sections(doc), links),
                                           "kpis": links["kpis"],
                                           "municipality": municipality, "start": start, "end": end,
                                           "full_url": f"/report.html?{query}",
                                           "places": [(c, config.municipalities.get(c, c)) for c in places]})


@router.get("/report.html")
def report_file(request: Request, municipality: str = "", start: str = "", end: str = ""):
    who = page_principal(request)
    from etablera.reports.html import to_html
    return Response(to_html(_report_doc(request, who, municipality, start, end)), media_type="text/html")
