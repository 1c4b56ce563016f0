"""What every benchmark does to survive a noisy machine (2 cores shared by many processes):
say the load average when it starts, measure the value and its floor in the same rounds,
interleaved with the order rotated (so neither always runs first, on a cold cache, or
last, after the other warmed it), and report min/median/max of each and of the ratio
taken within each round. A ratio within a round cancels most of what the machine's other
load does to both sides; the spread says how much it did anyway.

    values = interleaved({"etablera": walk, "floor": floor}, rounds=3)
    result("transitions/s SQLite", values["etablera"], values["floor"], "/s", goal=...)
"""

from __future__ import annotations

import os
import statistics
import sys
from typing import Callable

from benchmarks import Result

LOAD_PREFIX = "# load average at start:"


def load_line() -> str:
    """`# load average at start: 1m 5m 15m (N CPUs)`."""
    one, five, fifteen = os.getloadavg()
    return f"{LOAD_PREFIX} {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} CPUs)"


def print_load(stream=None) -> str:
    line = load_line()
    print(line, file=stream or sys.stderr, flush=True)
    return line


def interleaved(measures: dict[str, Callable[[int], float]], rounds: int) -> dict[str, list[float]]:
    """Call every measure once per round (with the round's number), the order rotated by
    one each round; returns each measure's figures in round order."""
    names = list(measures)
    figures: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            figures[name].append(measures[name](r))
    return figures


def spread(values: list[float], digits: int | None = None) -> str:
    """`min/median/max`, e.g. `1,210/1,305/1,388` (rates) or `0.412/0.450/0.481`."""
    low, mid, high = min(values), statistics.median(values), max(values)
    if digits is None:
        digits = 0 if mid >= 100 else 3 if mid < 10 else 1
    return "/".join(f"{v:,.{digits}f}" for v in (low, mid, high))


def ratios(values: list[float], floors: list[float]) -> list[float]:
    """value / floor within each round."""
    return [v / f for v, f in zip(values, floors) if f]


def result(name: str, values: list[float], floors: list[float] | None, unit: str, *, goal: str = "",
           met: bool | None = None, note: str = "") -> Result:
    """A table row: the median value beside the median floor, the ratio column the median
    of the per-round ratios, and the spreads in the note."""
    within = ratios(values, floors) if floors else []
    said = [f"{len(values)} rounds, min/median/max {spread(values)} {unit}"]
    if within:
        said.append(f"ratio {spread(within, 2)}")
    if note:
        said.append(note)
    return Result(name, statistics.median(values), unit, floor=statistics.median(floors) if floors else None,
                  goal=goal, met=met, note="; ".join(said), ratio=statistics.median(within) if within else None)
