"""The start page's queues and saved filters, and a list as CSV: the worklist page's
parts that are not the list itself (pages/worklist.py shows it, and saves and deletes the
filters, since a refused name goes back to the list).

URLs carry the list's query (codes and dates, never personal data).
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import StreamingResponse

from etablera.access.principal import Principal
from etablera.cases import exports, list_query, saved_filters
from etablera.interfaces.http import i18n
from etablera.interfaces.http.auth import engine_of, page_principal
from etablera.interfaces.http.pages.common import lang_of, router
from etablera.statemachine.errors import EtableraError

PAGE = 25            # rows of a worklist page: each one shown by name is an access-log row
WORDS = {
    "queues": ("Köer", "Queues"),
    "saved": ("Mina sparade filter", "My saved filters"),
    "save": ("Spara filtret", "Save the filter"),
    "filter_name": ("Filtrets namn", "Name of the filter"),
    "delete": ("Ta bort", "Delete"),
    "queue": ("Kö", "Queue"),
    "all_queues": ("Alla pågående i mina kommuner", "All running cases in my municipalities"),
    "sort": ("Sortera efter", "Sort by"),
    "export": ("Exportera listan som CSV", "Export the list as CSV"),
    "total": ("ärenden i listan", "cases in the list"),
    "showing": ("visar", "showing"),
    "no_count": ("–", "–"),
    "name": ("Namn", "Name"),
    "filter_from_report": ("Urval från rapporten", "Selection from the report"),
    "status_active": ("pågående", "running"), "status_ended": ("avslutade", "ended"), "status_all": ("alla", "all"),
    "ladder": ("steg enligt påminnelsetrappan", "stage by the reminder ladder"),
    "ladder_late": ("försenade steg", "overdue stages"),
    "ended": ("avslutade under", "ended in"), "registered": ("inskrivna under", "registered in"),
    "registered_in": ("inskrivna i kommun", "registered in the municipality"),
    "target_group": ("målgrupp", "target group"),
    "track": ("jobbspår", "local job track"), "track_ended": ("spåret slutade under", "the track ended in"),
    "track_in": ("i kommun", "in the municipality"), "track_ongoing": ("pågår nu", "going on now"),
    "transfer_in": ("flyttade in", "moved in"), "transfer_out": ("flyttade ut", "moved out"),
    "transfer_at": ("kommun", "municipality"), "transfer_when": ("under", "in"),
    "followup": ("uppföljning dag", "follow-up on day"), "followup_when": ("förföll under", "due in"),
    "measure_ladder": ("har insats enligt påminnelsetrappan", "has a measure by the reminder ladder"),
    "measure_late": ("har försenade insatser", "has overdue measures"),
}
SORT_WORDS = {"due": ("förfallodatum", "due date"), "id": ("ärendenummer", "case number"), "state": ("läge", "state"),
              "municipality": ("kommun", "municipality"), "name": ("namn", "name")}


def words(lang: str) -> dict[str, str]:
    return i18n.words_in(WORDS, lang)


def sort_options(lang: str) -> list[tuple[str, str]]:
    down = i18n.pick(("fallande", "descending"), lang)
    return ([(k, i18n.pick(v, lang)) for k, v in SORT_WORDS.items()]
            + [(f"-{k}", f"{i18n.pick(v, lang)}, {down}") for k, v in SORT_WORDS.items()])


def list_url(path: str, params: dict, **extra) -> str:
    return f"{path}?{urlencode({**params, **{k: v for k, v in extra.items() if v is not None}}, doseq=True)}"


def counted_lists(engine, who: Principal) -> tuple[list[list_query.ListQuery],
                                                   list[tuple[dict, list_query.ListQuery | None]]]:
    """What the start page counts beside its list (`list_cases(counted=...)`, one statement
    with the list's total): the queues, then the user's saved filters that still parse;
    and the saved filters themselves."""
    try:
        saved = saved_filters.saved_lists(engine, who)
    except EtableraError:
        saved = []
    return ([list_query.ListQuery(queue=name) for name in list_query.QUEUES]
            + [f for _, f in saved if f is not None]), saved


def start_page_parts(q: list_query.ListQuery, counts: list[int | None],
                     saved: list[tuple[dict, list_query.ListQuery | None]], lang: str) -> dict:
    """The queues with their counts and the user's saved filters with theirs (`counts`: of
    `counted_lists`, in its order)."""
    current = q.params()
    queue_counts = dict(zip(list_query.QUEUES, counts))
    rest = iter(counts[len(list_query.QUEUES):])
    filters = [{**f, "count": None if parsed is None else next(rest)} for f, parsed in saved]
    return {
        "queues": [{"name": name, "label": list_query.queue_label(name, lang), "count": queue_counts[name],
                    "url": list_url("/worklist", {"queue": name}), "current": q.queue == name and len(current) == 1}
                   for name in list_query.QUEUES],
        "saved": [{**f, "url": list_url("/worklist", f["query"]) if f["query"] else "/worklist?queue=",
                   "current": f["query"] == current} for f in filters],
    }


def report_filters(q: list_query.ListQuery, lang: str) -> list[str]:
    """The filters a report's link set that the form does not show, in words."""
    w = words(lang)
    out = []
    if q.status and not q.queue and not q.state:
        out.append(w[f"status_{q.status}"])
    if q.ladder:
        out.append(w["ladder_late"] if q.ladder == "late" else f"{w['ladder']}: {q.ladder}")
    if q.ended_from or q.ended_to:
        out.append(f"{w['ended']} {q.ended_from or '…'} – {q.ended_to or '…'}")
    if q.registered_from or q.registered_to:
        out.append(f"{w['registered']} {q.registered_from or '…'} – {q.registered_to or '…'}")
    if q.registered_in:
        out.append(f"{w['registered_in']} {q.registered_in}")
    if q.target_group:
        out.append(f"{w['target_group']}: {q.target_group}")
    if q.track:
        end = q.track_end or "left"
        out.append(f"{w['track']} {q.track}: " + (w["track_ongoing"] if end == "ongoing" else
                   f"{end}, {w['track_ended']} {q.track_from or '…'} – {q.track_to or '…'}")
                   + (f", {w['track_in']} {q.track_in}" if q.track_in else ""))
    if q.transfer:
        out.append(f"{w['transfer_' + q.transfer]}" + (f", {w['transfer_at']} {q.transfer_at}" if q.transfer_at else "")
                   + f", {w['transfer_when']} {q.transfer_from or '…'} – {q.transfer_to or '…'}")
    if q.followup_day:
        out.append(f"{w['followup']} {q.followup_day}: {q.followup_status or 'due'}, "
                   f"{w['followup_when']} {q.followup_from or '…'} – {q.followup_to or '…'}")
    if q.measure_ladder:
        out.append(w["measure_late"] if q.measure_ladder == "late" else f"{w['measure_ladder']}: {q.measure_ladder}")
    return out


@router.get("/worklist.csv")
def worklist_csv(request: Request):
    who = page_principal(request)
    q = list_query.parse_query(dict(request.query_params))
    lines = exports.export_csv(engine_of(request), who, q, lang=lang_of(request))
    return StreamingResponse(lines, media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="arenden.csv"'})
