"""Stays in the stages: days in each stage with their distribution (days on hold left
out), and the modules skipped, by reason."""

from __future__ import annotations

from sqlalchemy import Connection, text

from etablera.reports.percentiles import empty_stats, histogram_stats, percentile_sql
from etablera.reports.rows import fetch, muni_entry
from etablera.reports.scope import ALL, Scope
from etablera.statemachine.process import STAGE, stage_label

STAGES = tuple(STAGE)


def time_in_stage(conn: Connection, scope: Scope) -> dict:
    """Days in each stage (stays that ended in the period), days on hold excluded, with the
    distribution (stays per 30 days) for the charts. The histogram by whole days is built
    once, in a temporary table, and every figure is computed from it."""
    conn.execute(text("DROP TABLE IF EXISTS report_hist"))
    conn.execute(text(
        "CREATE TEMPORARY TABLE report_hist AS SELECT stage, municipality, days, COUNT(*) AS n, "
        "SUM(paused_days) AS paused, SUM(CASE WHEN paused_days > 0 THEN 1 ELSE 0 END) AS with_pause "
        f"FROM report_visits WHERE days IS NOT NULL AND end_day BETWEEN :first AND :last"
        f"{scope.where('municipality')} GROUP BY stage, municipality, days"), scope.params())
    source = (f"SELECT stage AS k1, municipality AS k2, days AS value, n FROM report_hist "
              f"UNION ALL SELECT stage, '{ALL}', days, CAST(SUM(n) AS BIGINT) FROM report_hist GROUP BY stage, days")
    rows = fetch(conn, percentile_sql(source), {})
    stats = {(r.k1, r.k2): histogram_stats(r) for r in rows}
    buckets = fetch(conn, "SELECT stage, days / 30 AS bucket, CAST(SUM(n) AS BIGINT) FROM report_hist "
                          "GROUP BY stage, days / 30 ORDER BY stage, days / 30", {})
    paused = fetch(conn, "SELECT stage, CAST(SUM(paused) AS BIGINT), CAST(SUM(with_pause) AS BIGINT) "
                         "FROM report_hist GROUP BY stage", {})
    conn.execute(text("DROP TABLE report_hist"))
    paused_by = {stage: (days or 0, n or 0) for stage, days, n in paused}
    munis = sorted({k2 for (_, k2) in stats if k2 != ALL} | set(scope.municipalities))
    out = []
    for stage in STAGES:
        out.append({
            "stage": stage, "label": stage_label(stage, scope.lang),
            **stats.get((stage, ALL), empty_stats()),
            "paused_days_excluded": paused_by.get(stage, (0, 0))[0],
            "stays_with_pause": paused_by.get(stage, (0, 0))[1],
            "histogram_30_days": [{"from_day": b * 30, "count": n} for s, b, n in buckets if s == stage],
            "by_municipality": [{**muni_entry(scope, m), **stats.get((stage, m), empty_stats())} for m in munis],
        })
    return {"unit": "days", "stages": out}


def skips(conn: Connection, scope: Scope) -> dict:
    """Skipped modules in the period, by module and reason (where the case was then)."""
    base = ("FROM report_visits WHERE skipped <> '[]' AND end_day BETWEEN :first AND :last"
            f"{scope.where('municipality')}")
    parts = " UNION ALL ".join(
        f"SELECT '{module}' AS module, municipality, reason, CAST(SUM(n) AS BIGINT) AS n FROM grouped "
        f"WHERE skipped LIKE '%\"{module}\"%' GROUP BY municipality, reason"
        for module in ("module2", "module3"))
    rows = fetch(conn, f"WITH grouped AS (SELECT municipality, skipped, reason, COUNT(*) AS n {base} "
                       f"GROUP BY municipality, skipped, reason) {parts}", scope.params())
    labels = scope.config.reasons.get("skip", {})
    by_module: dict[str, int] = {"module2": 0, "module3": 0}
    by_reason: dict[tuple[str, str], int] = {}
    per: dict[str, dict[str, int]] = {code: {"module2": 0, "module3": 0} for code in scope.municipalities}
    for module, muni, reason, n in rows:
        by_module[module] += n
        by_reason[(module, reason or "?")] = by_reason.get((module, reason or "?"), 0) + n
        per.setdefault(muni, {"module2": 0, "module3": 0})[module] += n
    return {
        "by_module": [{"module": m, "label": stage_label(m, scope.lang), "count": n} for m, n in by_module.items()],
        "by_reason": [{"module": m, "reason": r, "label": labels[r](scope.lang) if r in labels else r, "count": n}
                      for (m, r), n in sorted(by_reason.items(), key=lambda kv: (kv[0][0], -kv[1], kv[0][1]))],
        "by_municipality": [{**muni_entry(scope, code), **counts} for code, counts in sorted(per.items())],
    }
