"""Count, mean, range and quartiles of a histogram of whole days: "linear between closest
ranks" (PostgreSQL's percentile_cont, numpy's default), from running counts, so the
figures are exact and the same on SQLite and PostgreSQL (see reports/report.py).

The database does the heavy part, counting the stays (or exits) by key and whole day;
what comes back is bounded by stages × municipalities × days, not by cases (some 24,000
rows at 100,000 cases, barely more at a million). The quartiles of those few rows are
cheaper here than in SQL: window functions over the histogram cost SQLite more than
counting the rows it came from."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping
from itertools import accumulate

from etablera.reports.scope import ALL

QUANTILES = (25, 50, 75, 90)

Histogram = dict[int, int]          # whole days -> how many


def histograms(rows: Iterable[tuple[str, str, int, int]]) -> dict[str, dict[str, Histogram]]:
    """(group, key, days, count) rows, at most one per (group, key, days), as a histogram
    per key within each group, and the group's sum under ALL."""
    out: dict[str, dict[str, Histogram]] = {}
    for group, key, days, n in rows:
        hists = out.get(group)
        if hists is None:
            hists = out[group] = {ALL: {}}
        own = hists.get(key)
        if own is None:
            own = hists[key] = {}
        own[days] = n
        whole = hists[ALL]
        whole[days] = whole.get(days, 0) + n
    return out


def histogram_stats(counts: Mapping[int, int]) -> dict:
    """n, mean, min, max and the QUANTILES of one histogram (empty_stats() when it is empty).

    For n sorted values x1..xn and quantile p, position h = 1 + p(n-1): the value is
    x⌊h⌋ + (h-⌊h⌋)(x⌊h⌋+1 - x⌊h⌋), with p(n-1) taken in hundredths so that ⌊h⌋ and its
    fraction are exact integers."""
    values = sorted(v for v, n in counts.items() if n)
    if not values:
        return empty_stats()
    upto = list(accumulate(counts[v] for v in values))
    total = upto[-1]

    def ranked(rank: int) -> int:            # the value at 1-based rank `rank`
        return values[bisect_left(upto, rank)]
    out = {"n": total, "mean": round(sum(v * counts[v] for v in values) / total, 2),
           "min": values[0], "max": values[-1]}
    for p in QUANTILES:
        lo, fraction = divmod(p * (total - 1), 100)
        a = ranked(lo + 1)
        b = ranked(lo + 2) if lo + 2 <= total else a
        out["median" if p == 50 else f"p{p}"] = round(a + fraction * (b - a) / 100.0, 2)
    return out


def empty_stats() -> dict:
    out = {"n": 0, "mean": None, "min": None, "max": None}
    out.update({("median" if p == 50 else f"p{p}"): None for p in QUANTILES})
    return out
