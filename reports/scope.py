"""The report's selection: which municipalities (none: the whole country) and which days,
as SQL conditions and bound parameters for the sections' statements."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from etablera.models.configuration import Config, get_config
from etablera.models.timestamps import day_start, local_date, utcnow
from etablera.reports.sql import day_number
from etablera.statemachine.errors import BadInput

BEGINNING = -1_000_000          # day number before any case
ALL = "*"                       # the whole selection, in grouped rows


@dataclass(frozen=True)
class Scope:
    """Which municipalities (none: the whole country) and which days (inclusive)."""
    municipalities: tuple[str, ...]
    start: date | None
    end: date
    today: date
    lang: str = "sv"
    config: Config = field(default_factory=get_config, compare=False)

    @property
    def first_day(self) -> int:
        return BEGINNING if self.start is None else day_number(self.start)

    @property
    def last_day(self) -> int:
        return day_number(self.end)

    def instants(self) -> tuple[datetime, datetime]:
        """The period as UTC instants [from, to): Stockholm midnights."""
        return day_start(self.start or date(1900, 1, 1)), day_start(self.end + timedelta(days=1))

    def where(self, column: str) -> str:
        """SQL: `AND column IN (...)` for the selected municipalities (bound as :m0...)."""
        if not self.municipalities:
            return ""
        return f" AND {column} IN ({', '.join(f':m{i}' for i in range(len(self.municipalities)))})"

    def params(self, **extra) -> dict:
        values = {f"m{i}": code for i, code in enumerate(self.municipalities)}
        values.update(first=self.first_day, last=self.last_day, today=day_number(self.today))
        values.update(extra)
        return values


PLAUSIBLE_YEARS = 100          # a report period lies within a century of today


def check_period_day(day: date, field: str, today: date) -> date:
    """`day` if it lies within PLAUSIBLE_YEARS of `today`; else BadInput naming `field`
    (0001-01-01 or 9999-12-31 is a typing error, and overflows the day arithmetic)."""
    earliest = today.replace(year=today.year - PLAUSIBLE_YEARS, day=min(today.day, 28))
    latest = today.replace(year=today.year + PLAUSIBLE_YEARS, day=min(today.day, 28))
    if not earliest <= day <= latest:
        raise BadInput("period_out_of_range", field=field, earliest=earliest, latest=latest)
    return day


def make_scope(municipalities=(), start: date | None = None, end: date | None = None, *,
               today: date | None = None, lang: str = "sv", config: Config | None = None) -> Scope:
    today = today or local_date(utcnow())
    for bound, name in ((start, "from"), (end, "to")):
        if bound is not None:
            check_period_day(bound, name, today)
    end = end or today
    codes = tuple(dict.fromkeys(m.strip() for m in municipalities if m and m.strip()))
    for code in codes:
        if len(code) != 4 or not code.isdigit():
            raise BadInput("municipality_code_format", field="municipality")
    if start is not None and start > end:
        raise BadInput("period_reversed", field="from", start=start, end=end)
    return Scope(codes, start, end, today, lang, config or get_config())
