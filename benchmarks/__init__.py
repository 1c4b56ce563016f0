"""Speed and memory targets, run by one command: `make bench` (python -m benchmarks).

Each `bench_*.py` module has `run(options) -> list[Result]`; every figure is printed next
to its raw floor (plain SQL doing the same work on the same data, in the same run) and
its goal, because machines here are noisy and ratios are not: benchmarks/rounds.py has
the load line, the interleaved rounds and the min/median/max every module uses.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Result:
    name: str
    value: float
    unit: str
    floor: float | None = None      # the raw floor, same unit
    goal: str = ""                  # e.g. "≥ 3000/s", "≤ 0.5 s"
    met: bool | None = None
    note: str = ""
    ratio: float | None = None      # value / floor as measured within rounds (benchmarks/rounds.py)

    def row(self) -> list[str]:
        ratio = ""
        if self.ratio is not None:
            ratio = f"{self.ratio:.2f}×"
        elif self.floor:
            ratio = f"{self.value / self.floor:.2f}×"
        return [self.name, f"{self.value:,.3f} {self.unit}" if self.value < 100 else f"{self.value:,.0f} {self.unit}",
                "" if self.floor is None else (f"{self.floor:,.3f}" if self.floor < 100 else f"{self.floor:,.0f}"),
                ratio, self.goal, {True: "met", False: "MISSED", None: ""}[self.met], self.note]
