"""Time frames (tidsramar) and Swedish working days.

A frame is either a calendar duration (ISO 8601: "P30D", "P6W", "P3M", "P2Y", combined
like "P1Y6M") or a number of Swedish working days ("20 working days"): weekends, public
holidays, Midsummer Eve, Christmas Eve and New Year's Eve excluded, from the `holidays`
library. Month arithmetic always counts from the anchor date (Jan 31 + 1 month = Feb 28),
never step by step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

_ISO = re.compile(r"^P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?$")
_WORKING = re.compile(r"^(?P<n>\d+)\s+working\s+days?$")


class FrameError(ValueError):
    pass


@dataclass(frozen=True)
class Frame:
    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0
    working_days: int = 0

    @classmethod
    def parse(cls, text: str) -> "Frame":
        text = str(text).strip()
        if m := _WORKING.match(text):
            return cls(working_days=int(m["n"]))
        m = _ISO.match(text)
        if not m or text == "P":
            raise FrameError(f"not a time frame: {text!r} (use ISO 8601 like 'P3M' or 'N working days')")
        return cls(**{k: int(v) for k, v in m.groupdict().items() if v})

    def due(self, start: date) -> date:
        """The due date of a stage that begins on `start`."""
        return _due(self, date(start.year, start.month, start.day))

    def _compute(self, start: date) -> date:
        if self.working_days:
            return add_working_days(start, self.working_days)
        import pendulum             # here: a command that computes no due date does not import it

        anchor = pendulum.date(start.year, start.month, start.day)
        moved = anchor.add(years=self.years, months=self.months, weeks=self.weeks, days=self.days)
        return date(moved.year, moved.month, moved.day)

    def __str__(self) -> str:
        if self.working_days:
            return f"{self.working_days} working days"
        parts = [(self.years, "Y"), (self.months, "M"), (self.weeks, "W"), (self.days, "D")]
        return "P" + "".join(f"{n}{unit}" for n, unit in parts if n) if any(n for n, _ in parts) else "P0D"


@lru_cache(maxsize=65536)
def _due(frame: Frame, start: date) -> date:
    return frame._compute(start)


@lru_cache(maxsize=64)
def swedish_holidays(year: int) -> frozenset[date]:
    """Public holidays plus the de facto ones (Midsummer, Christmas and New Year's Eve)."""
    import holidays     # a large package: loaded only when a working-day frame is counted

    return frozenset(holidays.country_holidays("SE", years=year, categories=("public", "de_facto")))


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in swedish_holidays(day.year)


def add_working_days(start: date, count: int) -> date:
    """The `count`-th working day after `start` (start itself not counted)."""
    day = start
    remaining = count
    while remaining > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            remaining -= 1
    return day


def working_days_between(start: date, end: date) -> int:
    """Working days in (start, end]; negative when end is before start."""
    if end < start:
        return -working_days_between(end, start)
    return sum(1 for n in range(1, (end - start).days + 1) if is_working_day(start + timedelta(days=n)))
