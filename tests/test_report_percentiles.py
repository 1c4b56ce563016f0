"""The report's quartiles from a histogram of whole days equal "linear between closest
ranks" over the days themselves (statistics.quantiles' inclusive method, which is
PostgreSQL's percentile_cont and numpy's default): for any histogram, and per key and in
sum when rows come grouped."""

from __future__ import annotations

import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etablera.reports.percentiles import empty_stats, histogram_stats, histograms
from etablera.reports.scope import ALL

# Days may be negative (a step backdated before the one it follows) and counts large.
HISTOGRAMS = st.dictionaries(st.integers(-30, 2000), st.integers(1, 50), min_size=1, max_size=60)


def expected(counts: dict[int, int]) -> dict:
    days = sorted(d for d, n in counts.items() for _ in range(n))
    if len(days) == 1:
        quartiles, deciles = [days[0]] * 3, [days[0]] * 9
    else:
        quartiles = statistics.quantiles(days, n=4, method="inclusive")
        deciles = statistics.quantiles(days, n=10, method="inclusive")
    return {"n": len(days), "mean": statistics.fmean(days), "min": days[0], "max": days[-1],
            "p25": quartiles[0], "median": quartiles[1], "p75": quartiles[2], "p90": deciles[8]}


@settings(max_examples=300, deadline=None)
@given(HISTOGRAMS)
def test_the_quartiles_of_a_histogram_are_those_of_its_days(counts):
    got = histogram_stats(counts)
    want = expected(counts)
    assert (got["n"], got["min"], got["max"]) == (want["n"], want["min"], want["max"])
    for key in ("mean", "p25", "median", "p75", "p90"):
        assert got[key] == pytest.approx(want[key], abs=0.005 + 1e-9), key


def test_known_figures_and_the_empty_histogram():
    # 20, 25, 30, 30, 295: position 1 + p(n-1), linear between the closest ranks.
    assert histogram_stats({20: 1, 25: 1, 30: 2, 295: 1}) == {
        "n": 5, "mean": 80.0, "min": 20, "max": 295, "p25": 25.0, "median": 30.0, "p75": 30.0, "p90": 189.0}
    assert histogram_stats({}) == empty_stats()
    assert histogram_stats({7: 0}) == empty_stats()


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.tuples(st.sampled_from("ab"), st.sampled_from(["0180", "0581", "1480"]),
                                 st.integers(0, 400)), st.integers(1, 20), min_size=1, max_size=80))
def test_grouped_rows_give_each_key_and_the_groups_sum(counted):
    hists = histograms((group, key, days, n) for (group, key, days), n in counted.items())
    for group in "ab":
        rows = {(key, days): n for (g, key, days), n in counted.items() if g == group}
        if not rows:
            assert group not in hists
            continue
        whole: dict[int, int] = {}
        for (key, days), n in rows.items():
            assert hists[group][key][days] == n
            whole[days] = whole.get(days, 0) + n
        assert hists[group][ALL] == whole
        assert set(hists[group]) == {key for key, _ in rows} | {ALL}
