"""Personal identity numbers (personnummer) and coordination numbers (samordningsnummer).

Validation is the `personnummer` library's (Luhn check digit over the last ten digits,
a real date, coordination numbers with 60 added to the day). We store the 12-digit form.
Error messages never repeat the number: it is personal data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from personnummer import personnummer as _pnr

_SHAPE = re.compile(r"^(\d{6}|\d{8})[-+]?\d{4}$")


class IdentityError(ValueError):
    """The text is not a valid identity number; the message is safe to show and log, and
    `code` names the refusal in the message catalogue (statemachine/messages.py)."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Identity:
    digits: str            # YYYYMMDDNNNC
    birth_date: date
    coordination: bool

    def age_on(self, day: date) -> int:
        born = self.birth_date
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def parse_identity(text: str, on: date | None = None) -> Identity:
    """Validate a personnummer or samordningsnummer, in 10 or 12 digits, with or
    without '-' / '+'. `on` is the date that decides the century of a 10-digit number
    (a '+' means the person has turned 100)."""
    raw = str(text).strip().replace(" ", "")
    if not _SHAPE.match(raw):
        raise IdentityError("expected YYYYMMDD-NNNC (or YYMMDD-NNNC)", "person_format")
    try:
        parsed = _pnr.Personnummer(raw)
    except _pnr.PersonnummerException:
        raise IdentityError("not a valid personal identity or coordination number "
                            "(check digit or date is wrong)", "person_not_valid") from None
    if len(raw.replace("-", "").replace("+", "")) == 10 and on is not None:
        _fix_century(parsed, raw, on)
    digits = parsed.format(long_format=True)
    birth = parsed.get_date()
    if on is not None and birth > on:
        raise IdentityError("the birth date in the number is in the future", "person_born_in_future")
    return Identity(digits=digits, birth_date=birth, coordination=parsed.is_coordination_number())


def _fix_century(parsed, raw: str, on: date) -> None:
    """The library decides a 10-digit number's century from today's date; we decide it
    from the registration date, so backdated registrations get the same answer."""
    year = int(parsed.year)
    base = on.year - (100 if "+" in raw else 0)
    full = base - ((base - year) % 100)
    parsed.century = str(full // 100)
    parsed.full_year = str(full)
