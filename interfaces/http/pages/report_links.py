"""Where each figure of the report page leads: the list of exactly the cases it counts.

A figure links to the worklist (cases/queues.py) with the filter that selects what it
counts, or to the skip audit for skips, and only for a user who may see those cases:
- cases per state now: `state` (the total: `status=all`);
- entries in the period: registered in the period (`registered_from/to`, `status=all`) in
  the row's municipality (`registered_in`: where registered, wherever the case is now);
- exits in the period: ended in the period (`ended_from/to`), by exit state;
- overdue stages now: `ladder` (a rung's window of due dates, or `late` for every rung
  that counts as overdue), running cases only, as reports/overdue.py counts them;
- skipped modules by reason: the skip audit by module, reason and period;
- exits per target group: ended in the period in the state, of the `target_group`;
- outcomes per local track: the cases with a stay in the `track` that ended in the period
  (`track_from/to`) where the case then was (`track_in`), as `track_end` says (left, work,
  own business, studies, back to module 2), or that goes on now (`track_end=ongoing`);
- transfers in and out in the period: `transfer=in|out`, `transfer_at` the municipality
  moved into / out of, `transfer_from/to`; transfers out only for a user who sees every
  municipality (the cases moved out are, by definition, elsewhere now);
- follow-ups after exit: `followup_day`, `followup_status` (due, recorded, missing, or a
  recorded status), `followup_from/to` the period the follow-up's day fell in;
- overdue measures: `measure_ladder`, the running cases holding an open measure in the window.
A row of one municipality lists that municipality; a total row the report's selection.

Events and cases. Transfers, stays in a track and overdue measures are counted as the
report's method counts them, as events: a transfer counts at both ends and the rows add up
to the total; a measure is late or not, whatever else the case holds; a stay is one pass
through a track. The figure stays the count of events (what a coordinator compares between
months and municipalities), and its link lists the distinct cases behind them, which its
title says: a case that moved twice, holds two late measures or passed a track twice is
listed once. Every other linked figure counts cases and its list's total equals it.

Not linked: stays per stage and their quartiles (durations, not counts), the establishment
figures (starters of a period by where they started) and a track or target group with no
code. Where a case counted in the user's municipality has since moved to one they do not
serve (an entry, a transfer in, a track stay), the figure counts it and the list cannot show it.

The links are matched to the report's tables by their shape and the figures they show, so
a table added, renamed or relabelled elsewhere keeps its figures linked or simply
unlinked, never wrong.
"""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

from etablera.access.principal import Principal
from etablera.statemachine.process import TRANSFER


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

    def cell(url: str | None, figure, title: str | None = None) -> tuple[str, int, str | None] | None:
        return None if url is None else (url, figure, title)

    lang_en = doc.get("lang") == "en"
    t = (lambda sv, en: en if lang_en else sv)  # noqa: E731
    moves = t("Räknar flyttningar; listan visar ärendena som flyttade, vart och ett en gång",
              "Counts transfers; the list shows the cases that moved, each once")
    stays = t("Räknar perioder i spåret; listan visar ärendena, vart och ett en gång",
              "Counts stays in the track; the list shows the cases, each once")
    late_measures = t("Räknar insatser; listan visar ärendena med försenade insatser, vart och ett en gång",
                      "Counts measures; the list shows the cases with overdue measures, each once")
    national = who.municipalities is None         # sees where a case moved out to
    tables = []
    states = doc["states_now"]
    tables.append([[None, cell(cases({**where, "state": s["state"]}), s["count"])] for s in states["by_state"]]
                  + [[None, cell(cases({**where, "status": "all"}), states["total"])]])
    f = doc["flow"]
    registered = {"registered_from": start, "registered_to": end, "status": "all"}
    ended = {"ended_from": start, "ended_to": end}

    moved = {"transfer_from": start, "transfer_to": end}

    def flow_row(at: dict | None, m: dict, total: bool = False) -> list:
        if at is None:
            return [None] * (5 + len(f["exits"]))
        entered = {"registered_in": at["municipality"]} if at["municipality"] else {}
        # a total row: moved into the report's selection (the list's municipalities)
        # the list's filter of transfer events is named by the trigger (cases/queues.py)
        moved_in = {**at, TRANSFER: "in"} if total else {TRANSFER: "in", "transfer_at": at["municipality"]}
        moved_out = {TRANSFER: "out", "transfer_at": at["municipality"]} if national else None
        return ([None, cell(cases({**entered, **registered}), m["entries"]),
                 cell(cases({**moved_in, **moved}), m["transfers_in"], moves),
                 cell(cases(moved_out and {**moved_out, **moved}), m["transfers_out"], moves)]
                + [cell(cases({**at, **ended, "state": s}), m["exits"][s]) for s in f["exits"]]
                + [cell(cases({**at, **ended, "status": "ended"}), m["exits_total"])])
    tables.append([flow_row(place(m["municipality"]), m) for m in f["by_municipality"]]
                  + [flow_row({"municipality": home}, f, total=True)])
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
    for m in o["measures"]["by_municipality"]:
        at = place(m["municipality"])
        rows.append([None, None] + [cell(cases(at and {**at, "measure_ladder": s}), m["by_level"][s], late_measures)
                                    for s in steps]
                    + [cell(cases(at and {**at, "measure_ladder": "late"}), m["overdue"], late_measures)])
    tables.append(rows)
    tables.append(_track_rows(doc, place, cases, cell, start, end, stays))
    tables.append(_group_rows(doc, where, cases, cell, start, end))
    fu = doc["followups"]
    statuses = list(fu["status_labels"])
    tables.append([[None] + [cell(cases({**where, "followup_day": d["day"], "followup_status": kind,
                                         "followup_from": start, "followup_to": end}), figure)
                             for kind, figure in [("due", d["due"]), ("recorded", d["recorded"]),
                                                  ("missing", d["missing"])]
                             + [(s, d["by_status"][s]) for s in statuses]] + [None]
                   for d in fu["days"]])
    kpis = [(t("Pågående ärenden", "Active cases"), states["active"], cases({**where, "status": "active"})),
            (t("Inskrivna under perioden", "Entries in the period"), f["entries"],
             cases({"registered_in": home, **registered})),
            (t("Avslut under perioden", "Exits in the period"), f["exits_total"],
             cases({**where, **ended, "status": "ended"})),
            (t("Försenade steg nu", "Overdue stages now"), o["stages"]["overdue"], cases({**where, "ladder": "late"}))]
    return {"kpis": kpis, "tables": tables}


def _track_rows(doc: dict, place, cases, cell, start, end, title: str) -> list:
    """Outcomes per local track: [place, track, left, work, own business, studies, back to
    module 2, ongoing, summary]."""
    rows = []
    for tr in doc["tracks"]["tracks"]:
        at = place(tr["municipality"]) if tr["track"] != "?" else None
        if at is None:
            rows.append([None] * 9)
            continue
        stay = {"track": tr["track"], "track_in": at["municipality"]}
        ended = {**stay, "track_from": start, "track_to": end}
        rows.append([None, None, cell(cases(ended), tr["left"], title)]
                    + [cell(cases({**ended, "track_end": key}), tr[key], title)
                       for key in ("work", "own_business", "studies", "dropped")]
                    + [cell(cases({**stay, "track_end": "ongoing"}), tr["ongoing"], title), None])
    return rows


def _group_rows(doc: dict, where: dict, cases, cell, start, end) -> list:
    """Exits per target group: [group, an exit state's count ..., share established]."""
    from etablera.models.configuration import get_config
    known = {g.code for g in get_config().target_groups}
    return [[None] + [cell(cases({**where, "target_group": g["target_group"], "ended_from": start, "ended_to": end,
                                  "state": s}), g["exits"][s]) if g["target_group"] in known else None
                      for s in g["exits"]] + [None]
            for g in doc["target_groups"]["groups"]]


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
        urls = ([[link and (link[0], link[2]) for link in row] for row in found] if found
                else [[None] * len(r) for r in rows])
        out.append((title, heads, rows, urls))
    return out
