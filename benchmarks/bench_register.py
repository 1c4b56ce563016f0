"""Issue 17's registration goal: a registration costs the same at a million cases as at a
thousand (registrations/s at 1,000,000 ≥ 0.9 × the rate at 1,000).

Two databases per engine: 1,000 cases from the bulk writer, and the same cohort copied
to 1,000,000 (benchmarks/copies.py; cases only: a registration reads and writes `cases`
by index, and appends to `audit_events` and `access_log` at the end of their keys). Each
round registers the same number of new people in the small and the large database,
interleaved, and the ratio large / small is taken within the round; min/median/max over
the rounds (within a round the two alternate every 20 registrations, so a change in the
machine's load falls on both). The load average is printed first: read the ratios, not the rates.

    python -m benchmarks register                 # 1,000 vs 1,000,000 on SQLite and PostgreSQL
    python -m benchmarks register --scale 0.1     # 1,000 vs 100,000
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from benchmarks import Result
from etablera.models.database import make_engine, upgrade

SMALL = 1_000
ROUNDS = 5
SLICES, PER_SLICE = 10, 20      # a round: 10 slices of 20 registrations, alternating small and large


def run(options) -> list[Result]:
    from benchmarks.bench_core import _drop_pg_schema, _pg_schema

    print(f"# load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", file=sys.stderr, flush=True)
    large = max(int(1_000_000 * options.scale), SMALL * 2)
    workdir = Path(options.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    results = [_compare("SQLite", [f"sqlite:///{workdir / f'register-{n}.sqlite3'}" for n in (SMALL, large)],
                        large, fresh=True)]
    urls = [_pg_schema(options.postgres) for _ in range(2)]
    try:
        if all(urls):
            results.append(_compare("PostgreSQL", urls, large, fresh=False))
        else:
            results.append(Result("registrations/s PostgreSQL", 0, "/s", note="PostgreSQL not reachable: skipped"))
    finally:
        for url in urls:
            if url:
                _drop_pg_schema(options.postgres, url)
    return results


def _database(url: str, size: int, fresh: bool):
    from etablera.benchmarks.copies import copy_cohort
    from etablera.demo.bulk import write_cohort

    if fresh and url.startswith("sqlite:///"):
        for suffix in ("", "-wal", "-shm"):
            Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    engine = make_engine(url)
    upgrade(engine)
    started = time.perf_counter()
    write_cohort(engine, SMALL, seed=17, workers=1)
    cases = copy_cohort(engine, size, tables=("cases",))
    print(f"# {engine.dialect.name}: {cases:,} cases built in {time.perf_counter() - started:.0f} s",
          file=sys.stderr, flush=True)
    return engine


def _register_round(engine, first: int, count: int) -> float:
    """Seconds to register `count` new people (synthetic numbers from `first`)."""
    from etablera.access.principal import operator
    from etablera.cases.service import register
    from etablera.demo.cohort import synthetic_person

    at = datetime.now(timezone.utc) - timedelta(days=30)
    who = operator("bench")
    people = [synthetic_person(first + i, at.date(), coordination=False)[0] for i in range(count)]
    started = time.perf_counter()
    for person in people:
        register(engine, who, person=person, municipality="0581", permit_date=at.date() - timedelta(days=20), at=at)
    return time.perf_counter() - started


def _compare(label: str, urls: list[str], large: int, fresh: bool) -> Result:
    small_engine, large_engine = _database(urls[0], SMALL, fresh), _database(urls[1], large, fresh)
    _register_round(small_engine, 20_000_000, 20)            # warm both: imports, key, caches
    _register_round(large_engine, 20_000_000, 20)
    small_rates, large_rates, ratios = [], [], []
    for r in range(ROUNDS):
        spent = {"small": 0.0, "large": 0.0}
        for s in range(SLICES):
            first = 30_000_000 + (r * SLICES + s) * PER_SLICE
            for name, engine in (("small", small_engine), ("large", large_engine))[::1 if s % 2 == 0 else -1]:
                spent[name] += _register_round(engine, first, PER_SLICE)
        pair = {name: SLICES * PER_SLICE / seconds for name, seconds in spent.items()}
        small_rates.append(pair["small"])
        large_rates.append(pair["large"])
        ratios.append(pair["large"] / pair["small"])
        print(f"# {label} round {r + 1}: {SMALL:,} cases {pair['small']:,.0f}/s, {large:,} cases "
              f"{pair['large']:,.0f}/s, ratio {ratios[-1]:.2f}", file=sys.stderr, flush=True)
    small_engine.dispose()
    large_engine.dispose()
    median = statistics.median(ratios)
    spread = (f"ratio min/median/max {min(ratios):.2f}/{median:.2f}/{max(ratios):.2f} over {ROUNDS} rounds of "
              f"{SLICES}×{PER_SLICE} interleaved; {large:,} cases {min(large_rates):,.0f}/{statistics.median(large_rates):,.0f}/"
              f"{max(large_rates):,.0f}/s")
    return Result(f"registrations/s {label} at {large:,} cases (floor: at {SMALL:,})", statistics.median(large_rates),
                  "/s", floor=statistics.median(small_rates), goal="≥ 0.9× the rate at 1,000", met=median >= 0.9,
                  note=spread)
