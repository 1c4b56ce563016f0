"""Count, mean, range and quartiles of a histogram of whole days, in SQL: "linear between
closest ranks" (PostgreSQL's percentile_cont, numpy's default), from running counts, so
the figures are exact and the same on SQLite and PostgreSQL (see reports/report.py)."""

from __future__ import annotations

QUANTILES = (25, 50, 75, 90)


def percentile_sql(source: str, ctes: str = "") -> str:
    """Statistics of a histogram `source` (columns k1, k2, value, n), per (k1, k2):
    count, mean, min, max and the QUANTILES, linear between closest ranks (see the module's docstring)."""
    los = ",\n       ".join(f"({p} * (total - 1)) / 100 + 1 AS lo{p}, ({p} * (total - 1)) % 100 AS fr{p}"
                            for p in QUANTILES)
    picks = ",\n       ".join(
        f"MAX(CASE WHEN upto - n < lo{p} AND upto >= lo{p} THEN value END) AS a{p}, "
        f"MAX(CASE WHEN upto - n < lo{p} + 1 AND upto >= lo{p} + 1 THEN value END) AS b{p}, MAX(fr{p}) AS f{p}"
        for p in QUANTILES)
    values = ", ".join(f"CAST(a{p} + f{p} * (COALESCE(b{p}, a{p}) - a{p}) / 100.0 AS DOUBLE PRECISION) AS p{p}"
                       for p in QUANTILES)
    return f"""
WITH {ctes + ',' if ctes else ''} src AS ({source}),
cum AS (
    SELECT k1, k2, value, n,
           CAST(SUM(n) OVER (PARTITION BY k1, k2 ORDER BY value ROWS UNBOUNDED PRECEDING) AS BIGINT) AS upto,
           CAST(SUM(n) OVER (PARTITION BY k1, k2) AS BIGINT) AS total
    FROM src
),
ranked AS (SELECT cum.*, {los} FROM cum),
picked AS (
    SELECT k1, k2, MAX(total) AS total, CAST(SUM(value * n) AS DOUBLE PRECISION) AS value_sum, MIN(value) AS low, MAX(value) AS high,
       {picks}
    FROM ranked GROUP BY k1, k2
)
SELECT k1, k2, total, value_sum / total AS mean, low, high, {values} FROM picked
"""


def histogram_stats(row) -> dict:
    n = row.total
    out = {"n": n, "mean": round(row.mean, 2), "min": row.low, "max": row.high}
    out.update({("median" if p == 50 else f"p{p}"): round(getattr(row, f"p{p}"), 2) for p in QUANTILES})
    return out


def empty_stats() -> dict:
    out = {"n": 0, "mean": None, "min": None, "max": None}
    out.update({("median" if p == 50 else f"p{p}"): None for p in QUANTILES})
    return out
