"""The filters of lists and searches, checked where the lists are read.

A mistyped filter (`--state modul2.preparing`, `--municipality 58`) would otherwise match
nothing and answer an empty list, which reads as "there are none". The query functions
(cases/queries.py, cases/followup.py, cases/tracks.py, reminders/outbox.py,
reminders/officers.py) call these first, so every interface refuses it the same way: exit
2 or HTTP 400, naming the field. None (or an empty string) means no filter.
"""

from __future__ import annotations

from etablera.models.configuration import Config, get_config
from etablera.statemachine.errors import BadInput
from etablera.statemachine.fields import check_municipality
from etablera.statemachine.messages import Code
from etablera.statemachine.process import STATE, TRIGGER

MODULES = frozenset(s.split(".")[0] for s in STATE if "." in s)     # module1, module2, ... (a state's parent)
# The modules a route of the process table can skip ("2", "3"): the skip audit's module filter.
SKIPPABLE_MODULES = tuple(sorted({module.removeprefix("module") for trigger in TRIGGER.values()
                                  for route in trigger.routes for module in route.skips}))


def municipality(code: str | None, *, field: str = "municipality", config: Config | None = None) -> str | None:
    """A municipality code as registration takes it (four digits, a known county)."""
    if code is None or not str(code).strip():
        return None
    return check_municipality(code, config or get_config(), field)


def state(name: str | None, *, field: str = "state") -> str | None:
    """A state (module2.preparing) or a module, a state's parent (module2)."""
    if not name:
        return None
    if name not in STATE and name not in MODULES:
        raise BadInput("unknown_state", field=field, value=Code(name))
    return name


def one_of(value: str | None, choices, *, field: str) -> str | None:
    if value is None or value == "":
        return None
    if value not in choices:
        raise BadInput("unknown_choice", field=field, choices=[Code(c) for c in choices])
    return value


def limit(value: int, *, maximum: int, field: str = "limit") -> int:
    if not 1 <= value <= maximum:
        raise BadInput("limit_range", field=field, max=maximum)
    return value
