"""Where each figure of the report page leads: the list of exactly the cases it counts.

A figure links to the worklist (cases/queues.py) with the filter that selects what it
counts, or to the skip audit for skips, and only for a user who may see those cases:
- cases per state now: `state` (the total: `status=all`);
- entries in the period: registered in the period (`registered_from/to`, `status=all`) in
  the row's municipality (`registered_in`: where registered, wherever the case is now);
- exits in the period: ended in the period (`ended_from/to`), by exit state;
- overdue stages now: `ladder` (a rung's window of due dates, or `late` for every rung
  that counts as overdue), running cases only, as reports/overdue.py counts them;
- skipped modules by reason: the skip audit by module, reason and period.
A row of one municipality lists that municipality; a total row the report's selection.

Not linked, because no list of cases equals them: stays per stage and their quartiles
(a case can stay twice), the establishment and track outcomes (starters of a period by
where they started), overdue measures (a case can have several), transfers and the
follow-ups' period counts. Where a case registered in the user's municipality has since
moved to one they do not serve, the entries figure counts it and the list cannot show it.

The links are matched to the report's tables by their shape and the figures they show, so
a table added, renamed or relabelled elsewhere keeps its figures linked or simply
unlinked, never wrong.
"""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

from etablera.access.principal import Principal


def _url(path: str, params: dict) -> str:
    return f"{path}?{urlencode({k: v for k, v in params.items() if v}, doseq=True)}"


def figure_links(doc: dict, who: Principal, municipality: str = "") -> dict:
    """{"kpis": [(label, value, url)], "tables": [[[(url, figure) or None per cell] per row] per table]}."""
    period = doc["period"]
    start, end = period["from"], period["to"]
    where = {"municipality": municipality}
    chosen = [m["code"] for m in doc["scope"]["municipalities"]]
    home = municipality or (chosen[0] if len(chosen) == 1 else "")       # the one municipality reported on

    def place(code: str | None) -> dict | None:
        return {"municipality": code} if code and who.sees(code) else None

    def cases(params: dict | None) -> str | None:
        return None if params is None else _url("/worklist", params)

    def cell(url: str | None, figure) -> tuple[str, int] | None:
        return None if url is None else (url, figure)

    lang_en = doc.get("lang") == "en"
    t = (lambda sv, en: en if lang_en else sv)  # noqa: E731
    tables = []
    states = doc["states_now"]
    tables.append([[None, cell(cases({**where, "state": s["state"]}), s["count"])] for s in states["by_state"]]
                  + [[None, cell(cases({**where, "status": "all"}), states["total"])]])
    f = doc["flow"]
    registered = {"registered_from": start, "registered_to": end, "status": "all"}
    ended = {"ended_from": start, "ended_to": end}

    def flow_row(at: dict | None, m: dict) -> list:
        if at is None:
            return [None] * (5 + len(f["exits"]))
        entered = {"registered_in": at["municipality"]} if at["municipality"] else {}
        return ([None, cell(cases({**entered, **registered}), m["entries"]), None, None]
                + [cell(cases({**at, **ended, "state": s}), m["exits"][s]) for s in f["exits"]]
                + [cell(cases({**at, **ended, "status": "ended"}), m["exits_total"])])
    tables.append([flow_row(place(m["municipality"]), m) for m in f["by_municipality"]]
                  + [flow_row({"municipality": home}, f)])
    if who.sees_skip_audit:
        until = (date.fromisoformat(end) + timedelta(days=1)).isoformat()
        tables.append([[None, None, None if s["reason"] == "?" else
                        cell(_url("/skips", {**where, "module": s["module"].removeprefix("module"),
                                             "reason": s["reason"], "since": start, "until": until}), s["count"])]
                       for s in doc["skips"]["by_reason"]])
    o = doc["overdue"]
    steps = [lv["step"] for lv in o["levels"]]
    rows = []
    for m in o["stages"]["by_municipality"]:
        at = place(m["municipality"])
        rows.append([None, None] + [cell(cases(at and {**at, "ladder": s}), m["by_level"][s]) for s in steps]
                    + [cell(cases(at and {**at, "ladder": "late"}), m["overdue"])])
    rows += [[None] * (3 + len(steps)) for _ in o["measures"]["by_municipality"]]
    tables.append(rows)
    kpis = [(t("Pågående ärenden", "Active cases"), states["active"], cases({**where, "status": "active"})),
            (t("Inskrivna under perioden", "Entries in the period"), f["entries"],
             cases({"registered_in": home, **registered})),
            (t("Avslut under perioden", "Exits in the period"), f["exits_total"],
             cases({**where, **ended, "status": "ended"})),
            (t("Försenade steg nu", "Overdue stages now"), o["stages"]["overdue"], cases({**where, "ladder": "late"}))]
    return {"kpis": kpis, "tables": tables}


def _fits(table: list, rows: list) -> bool:
    """The link table is the shape of the report's table and each linked cell shows the
    figure the link was made for."""
    return len(table) == len(rows) and any(any(row) for row in table) and all(
        len(links) == len(row) and all(link is None or link[1] == value for link, value in zip(links, row))
        for links, row in zip(table, rows))


def attach(sections: list, links: dict) -> list:
    """The report's tables as (title, headings, rows, urls): a table gets the URLs of the
    link table that fits it (else none), so a table added, renamed or relabelled elsewhere
    is linked right or not at all."""
    out, unused = [], list(links["tables"])
    for title, heads, rows in sections:
        found = next((table for table in unused if _fits(table, rows)), None)
        if found is not None:
            unused.remove(found)
        urls = [[link and link[0] for link in row] for row in found] if found else [[None] * len(r) for r in rows]
        out.append((title, heads, rows, urls))
    return out
