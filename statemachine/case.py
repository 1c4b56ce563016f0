"""A case (ärende) as the process sees it: what `decide` reads, nothing of the database."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from operator import itemgetter


@dataclass(frozen=True, slots=True)
class Case:
    id: int
    person: str                      # 12 digits: personnummer or samordningsnummer
    municipality: str
    target_group: str
    no_upper_secondary: bool
    state: str
    paused_from: str | None
    paused_at: datetime | None
    due: date | None
    establishment_due: date | None
    plan: str | None
    track: str | None
    kommun_officer: str | None
    af_officer: str | None
    last_seq: int
    version: int
    last_event_at: datetime | None = None
    # Read only to record what a step changes (`data["before"]`, statemachine/corrections.py).
    state_since: datetime | None = None
    stage_started: date | None = None
    stage_seq: int | None = None
    active: bool | None = None
    transferred_from: str | None = None
    transferred_at: date | None = None

    @classmethod
    def of(cls, row) -> "Case":
        """From a case row (a mapping with at least these columns). A row with every field
        (a case read from the table) fills the slots straight: the frozen class's
        __init__, one object.__setattr__ a field, was two thirds of this."""
        try:
            values = _VALUES(row)
        except KeyError:
            return cls(**{name: row[name] for name in FIELDS if name in row})
        case = _new(cls)
        for put, value in zip(_PUT, values):
            put(case, value)
        return case

    def __getitem__(self, name: str):
        # Rules and messages written for rows read a case the same way.
        return getattr(self, name)

    def get(self, name: str, default=None):
        return getattr(self, name, default)


FIELDS = tuple(f.name for f in fields(Case))
_VALUES = itemgetter(*FIELDS)
_PUT = tuple(Case.__dict__[name].__set__ for name in FIELDS)      # the slots' own setters
_new = object.__new__
