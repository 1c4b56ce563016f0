"""Establishment: of the period's starters, how many are established, within the two-year
frame, and by months since the permit (the curve); the days from permit to establishment."""

from __future__ import annotations

from sqlalchemy import Connection

from etablera.reports.outcomes import ESTABLISHED
from etablera.reports.percentiles import empty_stats, histogram_stats, histograms
from etablera.reports.rows import fetch, muni_entry, share
from etablera.reports.scope import ALL, Scope
from etablera.statemachine.process import STATE

CURVE_MONTHS = 48
# A month on the establishment curve is 365.25 / 12 = 30.4375 days = 12175 / 400.
MONTH_NUM, MONTH_DEN = 400, 12175


def establishment(conn: Connection, scope: Scope) -> dict:
    """The period's starters (registered in the period, where registered): how many are
    established, within the frame, by months since the permit; and the days from permit
    to establishment for those established in the period."""
    established = ", ".join(f"'{s}'" for s in ESTABLISHED)
    by_exit = ",\n               ".join(f"CAST(SUM(CASE WHEN exit_state = '{s}' THEN n ELSE 0 END) AS BIGINT) "
                                     f"AS {STATE[s].exit}" for s in ESTABLISHED)
    cohort = fetch(conn, f"""
        SELECT municipality AS start_municipality, CAST(SUM(n) AS BIGINT) AS starters,
               CAST(SUM(CASE WHEN exit_state IN ({established}) THEN n ELSE 0 END) AS BIGINT) AS established,
               CAST(SUM(within) AS BIGINT) AS within,
               CAST(SUM(still_open) AS BIGINT) AS open,
               {by_exit}
        FROM report_starters GROUP BY municipality""", {})
    curve = fetch(conn, f"""
        WITH RECURSIVE months(m) AS (SELECT 0 UNION ALL SELECT m + 1 FROM months WHERE m < {CURVE_MONTHS}),
        done AS (SELECT month, SUM(n) AS n FROM report_starters WHERE month IS NOT NULL GROUP BY month),
        base AS (SELECT COALESCE(SUM(n), 0) AS starters FROM report_starters)
        SELECT months.m, CAST(COALESCE(SUM(done.n), 0) AS BIGINT) AS established,
               CAST(MAX(base.starters) AS BIGINT) AS starters
        FROM months CROSS JOIN base LEFT JOIN done ON done.month <= months.m
        GROUP BY months.m ORDER BY months.m""", {})
    exits = histograms(fetch(conn, f"""
        SELECT 'permit', municipality, days, CAST(SUM(n) AS BIGINT) FROM report_exits
        WHERE exit_state IN ({established}) GROUP BY municipality, days""", {}))
    times = {key: histogram_stats(hist) for key, hist in exits.get("permit", {}).items()}
    keys = ("starters", "established", "within", "open", "work", "own_business", "studies")
    per = {row.start_municipality: {k: getattr(row, k) or 0 for k in keys} for row in cohort}
    for code in scope.municipalities:
        per.setdefault(code, {k: 0 for k in keys})
    total = {k: sum(p[k] for p in per.values()) for k in keys}

    def shaped(p):
        return {"starters": p["starters"], "established": p["established"],
                "established_within_two_years": p["within"],
                "share_within_two_years": share(p["within"], p["starters"]),
                "still_within_frame": p["open"],
                "by_outcome": {"work": p["work"], "own_business": p["own_business"], "studies": p["studies"]}}
    munis = sorted(set(per) | {k for k in times if k != ALL})
    return {
        **shaped(total),
        "days_from_permit": times.get(ALL, empty_stats()),
        "curve": [{"months": m, "established": n, "share": share(n, s)} for m, n, s in curve],
        "by_municipality": [{**muni_entry(scope, code), **shaped(per.get(code, {k: 0 for k in keys})),
                             "days_from_permit": times.get(code, empty_stats())} for code in munis],
    }
