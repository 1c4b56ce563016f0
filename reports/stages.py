"""Stays in the stages: days in each stage with their distribution (days on hold left
out), and the modules skipped, by reason."""

from __future__ import annotations

from sqlalchemy import Connection

from etablera.reports.percentiles import histogram_stats, histograms
from etablera.reports.rows import fetch, muni_entry
from etablera.reports.scope import ALL, Scope
from etablera.statemachine.process import STAGE, stage_label

STAGES = tuple(STAGE)


def time_in_stage(conn: Connection, scope: Scope) -> dict:
    """Days in each stage (stays that ended in the period), days on hold excluded, with the
    distribution (stays per 30 days) for the charts. The stays are counted by stage,
    municipality and whole day in one index scan, and every figure is computed from those
    counts; the days on hold are summed from the stays that paused."""
    params = scope.params()
    in_period = f"end_day BETWEEN :first AND :last{scope.where('municipality')}"
    hists = histograms(fetch(conn, "SELECT stage, municipality, days, COUNT(*) FROM report_visits "
                                   f"WHERE days IS NOT NULL AND {in_period} GROUP BY stage, municipality, days",
                             params))
    # The few stays that paused, apart (models/followup.py: ix_report_visits_paused).
    paused_by = {stage: (days, n) for stage, days, n in fetch(
        conn, "SELECT stage, CAST(SUM(paused_days) AS BIGINT), COUNT(*) FROM report_visits "
              f"WHERE paused_days > 0 AND days IS NOT NULL AND {in_period} GROUP BY stage", params)}
    munis = sorted({m for h in hists.values() for m in h if m != ALL} | set(scope.municipalities))
    out = []
    for stage in STAGES:
        hist = hists.get(stage, {})
        buckets: dict[int, int] = {}
        for days, n in hist.get(ALL, {}).items():
            bucket = int(days / 30)                  # as SQL's integer division: toward zero
            buckets[bucket] = buckets.get(bucket, 0) + n
        paused, with_pause = paused_by.get(stage, (0, 0))
        out.append({
            "stage": stage, "label": stage_label(stage, scope.lang),
            **histogram_stats(hist.get(ALL, {})),
            "paused_days_excluded": paused,
            "stays_with_pause": with_pause,
            "histogram_30_days": [{"from_day": b * 30, "count": buckets[b]} for b in sorted(buckets)],
            "by_municipality": [{**muni_entry(scope, m), **histogram_stats(hist.get(m, {}))} for m in munis],
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
