"""The worklist: the cases a user works on, filtered by state, municipality and overdue,
a page at a time; the start page leads there."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from etablera.access import scope
from etablera.cases import worklist
from etablera.interfaces.http import i18n
from etablera.interfaces.http.auth import engine_of, page_principal
from etablera.interfaces.http.pages.common import lang_of, render
from etablera.models.configuration import get_config
from etablera.statemachine.process import STATES

router = APIRouter(include_in_schema=False)


@router.get("/", include_in_schema=False)
def home():
    return RedirectResponse("/worklist", status_code=303)


def state_options(lang: str) -> list[tuple[str, str]]:
    parents = [(p, i18n.pick((p.replace("module", "Modul "), p.replace("module", "Module ")), lang))
               for p in ("module1", "module2", "module3")]
    return parents + [(s.name, s.en if lang == "en" else s.sv) for s in STATES if not s.terminal]


@router.get("/worklist", response_class=HTMLResponse)
def worklist_page(request: Request, state: str = "", municipality: str = "", overdue: str = "",
                  mine: str = "", offset: int = 0):
    who = page_principal(request)
    lang = lang_of(request)
    engine = engine_of(request)
    mine_on = (mine == "1") if mine else who.role == "officer"
    codes = scope.scoped_municipalities(who, [municipality] if municipality else [])
    page = worklist.worklist(engine, who, mine=mine_on, state=state or None, municipalities=codes,
                             overdue=overdue == "1", limit=50, offset=max(offset, 0), lang=lang)
    config = get_config()
    places = sorted((who.municipalities or config.municipalities.keys()))
    query = {"state": state, "municipality": municipality, "overdue": overdue, "mine": "1" if mine_on else "0"}
    return render(request, "worklist.html", {
        "page": page, "state": state, "municipality": municipality, "overdue": overdue == "1", "mine": mine_on,
        "states": state_options(lang), "places": [(c, config.municipalities.get(c, c)) for c in places],
        "next_url": f"/worklist?{urlencode({**query, 'offset': page['next_offset']})}"
        if page["next_offset"] is not None else None,
        "prev_url": f"/worklist?{urlencode({**query, 'offset': max(offset - 50, 0)})}" if offset > 0 else None})
