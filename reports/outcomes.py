"""How cases ended: the outcomes that count as established, and the period's exits per
local job track ("2 of 3 in work") and per target group."""

from __future__ import annotations

from sqlalchemy import Connection

from etablera.cases.agreements import agreement_book
from etablera.models.agreements import AgreementError
from etablera.models.configuration import ConfigError
from etablera.reports.rows import fetch, muni_entry, share
from etablera.reports.scope import Scope
from etablera.statemachine.process import FOLLOWED_UP, STATE, TERMINAL

ESTABLISHED = FOLLOWED_UP          # left for work, own business or studies
EXIT_STATES = tuple(TERMINAL)
# How a stay in a local track ended, by the state it led to: an exit, dropped (back to module 2) or closed.
TRACK_ENDS = {**{s: STATE[s].exit for s in ESTABLISHED}, "module2.extended": "dropped", "closed": "closed"}


def track_outcomes(conn: Connection, scope: Scope) -> dict:
    """Per local job track: stays that ended in the period by where they led, and the
    stays going on now ("2 of 3 in work")."""
    ended = fetch(conn, "SELECT municipality, track, end_state, COUNT(*) FROM report_visits "
                        "WHERE stage = 'module3' AND end_day BETWEEN :first AND :last"
                        f"{scope.where('municipality')} GROUP BY municipality, track, end_state", scope.params())
    ongoing = fetch(conn, "SELECT municipality, track, COUNT(*) FROM report_visits "
                          f"WHERE stage = 'module3' AND end_day IS NULL{scope.where('municipality')} "
                          "GROUP BY municipality, track", scope.params())
    per: dict[tuple[str, str], dict] = {}

    def entry(muni, track):
        return per.setdefault((muni, track or "?"), {"left": 0, "work": 0, "own_business": 0, "studies": 0,
                                                    "dropped": 0, "closed": 0, "other": 0, "ongoing": 0})
    for muni, track, end_state, n in ended:
        e = entry(muni, track)
        e["left"] += n
        key = TRACK_ENDS.get(end_state, "other")
        e[key] += n
    for muni, track, n in ongoing:
        entry(muni, track)["ongoing"] += n
    labels = _track_labels(scope.lang)
    rows = []
    for (muni, track), e in sorted(per.items()):
        in_work = e["work"]
        rows.append({**muni_entry(scope, muni), "track": track, "label": labels.get(track, track), **e,
                     "established": e["work"] + e["own_business"] + e["studies"],
                     "share_work": share(in_work, e["left"]),
                     "summary": (f"{in_work} of {e['left']} in work" if scope.lang == "en"
                                 else f"{in_work} av {e['left']} i arbete")})
    return {"tracks": rows}


def _track_labels(lang: str) -> dict[str, str]:
    """Each local track's name in the agreements ("Restaurang och storkök"), by its id."""
    try:
        book = agreement_book()
    except (ConfigError, AgreementError):     # labels only: a broken agreement file must not stop the report
        return {}
    return {t.id: t.label(lang) for a in book.agreements for t in a.tracks}


def target_group_outcomes(conn: Connection, scope: Scope) -> dict:
    """Exits in the period by target group and outcome (where the case was at the exit)."""
    rows = fetch(conn, "SELECT target_group, exit_state, CAST(SUM(n) AS BIGINT) FROM report_exits "
                       "GROUP BY target_group, exit_state", {})
    per: dict[str, dict[str, int]] = {g.code: {s: 0 for s in EXIT_STATES} for g in scope.config.target_groups}
    for group, state, n in rows:
        per.setdefault(group, {s: 0 for s in EXIT_STATES})[state] += n
    labels = {g.code: g.label(scope.lang) for g in scope.config.target_groups}
    return {"groups": [{"target_group": g, "label": labels.get(g, g), "exits": e, "exits_total": sum(e.values()),
                        "established": sum(e[s] for s in ESTABLISHED),
                        "share_established": share(sum(e[s] for s in ESTABLISHED), sum(e.values()))}
                       for g, e in sorted(per.items())]}
