"""The caseload: how many cases are in each state now, and the period's entries
(registrations), exits by outcome and transfers between municipalities (a corrected
transfer left out), and how many steps were corrected in the period."""

from __future__ import annotations

from sqlalchemy import Connection

from etablera.reports.outcomes import EXIT_STATES
from etablera.reports.rows import bind_instant, fetch, muni_entry, state_label
from etablera.reports.scope import Scope
from etablera.statemachine.process import STATES, TERMINAL


def states_now(conn: Connection, scope: Scope) -> dict:
    """How many cases are in each state now, by municipality (where they are now)."""
    rows = fetch(conn, f"SELECT municipality, state, COUNT(*) FROM cases WHERE 1 = 1{scope.where('municipality')} "
                       "GROUP BY municipality, state", scope.params())
    totals = {s.name: 0 for s in STATES}
    per: dict[str, dict[str, int]] = {}
    for muni, state, n in rows:
        totals[state] = totals.get(state, 0) + n
        per.setdefault(muni, {})[state] = n
    for code in scope.municipalities:
        per.setdefault(code, {})
    return {
        "total": sum(totals.values()),
        "active": sum(n for s, n in totals.items() if s not in TERMINAL),
        "by_state": [{"state": s, "label": state_label(s, scope.lang), "count": n} for s, n in totals.items()],
        "by_municipality": [{**muni_entry(scope, code), "total": sum(states.values()),
                             "active": sum(n for s, n in states.items() if s not in TERMINAL),
                             "by_state": {s.name: states.get(s.name, 0) for s in STATES}}
                            for code, states in sorted(per.items())],
    }


def flow(conn: Connection, scope: Scope) -> dict:
    """Entries (registrations), exits by outcome and transfers in the period."""
    params = scope.params()
    entries = fetch(conn, "SELECT municipality, CAST(SUM(n) AS BIGINT) FROM report_starters "
                          "GROUP BY municipality", {})
    exits = fetch(conn, "SELECT municipality, exit_state, CAST(SUM(n) AS BIGINT) FROM report_exits "
                        "GROUP BY municipality, exit_state", {})
    # The period's transfers that stand (report_transfers: a corrected one left out).
    transfers = fetch(conn, "SELECT municipality, from_municipality, COUNT(*) FROM report_transfers "
                            "WHERE day BETWEEN :first AND :last GROUP BY municipality, from_municipality", params)
    per: dict[str, dict] = {}

    def entry(code):
        return per.setdefault(code, {"entries": 0, "transfers_in": 0, "transfers_out": 0,
                                     "exits": {s: 0 for s in EXIT_STATES}})
    for code in scope.municipalities:
        entry(code)
    for code, n in entries:
        entry(code)["entries"] += n
    for code, state, n in exits:
        entry(code)["exits"][state] += n
    chosen = set(scope.municipalities)
    for to, origin_code, n in transfers:
        if to == origin_code:
            continue
        if not chosen or to in chosen:
            entry(to)["transfers_in"] += n
        if origin_code and (not chosen or origin_code in chosen):
            entry(origin_code)["transfers_out"] += n
    total = {"entries": sum(p["entries"] for p in per.values()),
             "transfers_in": sum(p["transfers_in"] for p in per.values()),
             "transfers_out": sum(p["transfers_out"] for p in per.values()),
             "exits": {s: sum(p["exits"][s] for p in per.values()) for s in EXIT_STATES}}
    labels = {s: state_label(s, scope.lang) for s in EXIT_STATES}
    return {**total, "exits_total": sum(total["exits"].values()), "exit_labels": labels,
            "by_municipality": [{**muni_entry(scope, code), **p, "exits_total": sum(p["exits"].values())}
                                for code, p in sorted(per.items())]}


def corrections(conn: Connection, scope: Scope) -> dict:
    """How many steps were corrected in the period (where the case was at the correction)."""
    start, end = scope.instants()
    n = fetch(conn, "SELECT COUNT(*) FROM corrections x JOIN audit_events e "
                    "ON e.case_id = x.case_id AND e.seq = x.correction_seq "
                    f"WHERE e.at >= :start AND e.at < :end{scope.where('e.municipality')}",
              scope.params(start=bind_instant(conn, start), end=bind_instant(conn, end)))[0][0]
    return {"count": n, "label": "Corrected steps" if scope.lang == "en" else "Rättade steg"}
