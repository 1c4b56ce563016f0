"""The query of a list of cases (cases/queues.py reads it): a `ListQuery` and its keys as
URLs and saved filters spell them, the six queues' names and labels, and the parsing that
checks each value.

A list is a `ListQuery`: a queue and the filters beside it (state or module, municipality,
overdue, and the report's own: a rung of the reminder ladder, ended or registered in a
period, running / ended / all, a target group, a local track's stays by how they ended, the
transfers of a period, the follow-ups due in a period, a rung of the ladder reached by an
open measure), a whitelisted sort with the case id as the tie-break, and
a page (limit, offset). Every value in it is a code or a date, never personal data, so it
travels in URLs and is stored as a saved filter.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import date

from etablera.cases import filters
from etablera.models.configuration import Config, get_config
from etablera.models.followup import FOLLOWUP_DAYS, FOLLOWUP_STATUSES
from etablera.statemachine.errors import BadInput
from etablera.statemachine.messages import Code, Words
from etablera.statemachine.process import FOLLOWED_UP, STATE, TRANSFER

TRANSFERRED_DAYS = 30                 # "transferred in": within the last 30 days
QUEUE_WORDS = {
    "mine": Words("Mina ärenden", "My cases"),
    "unassigned": Words("Ej tilldelade i mina kommuner", "Unassigned in my municipalities"),
    "overdue": Words("Försenade", "Overdue"),
    "assessment": Words("Väntar på gemensam bedömning", "Awaiting joint assessment"),
    "followup": Words("Uppföljning att göra", "Follow-up due"),
    "transferred": Words(f"Inflyttade senaste {TRANSFERRED_DAYS} dagarna", f"Transferred in, last {TRANSFERRED_DAYS} days"),
}
QUEUES = tuple(QUEUE_WORDS)
SORT_KEYS = ("due", "id", "state", "municipality", "name")
SORTS = SORT_KEYS + tuple(f"-{k}" for k in SORT_KEYS)
STATUSES = ("active", "ended", "all")
LADDER = ("late",)                    # + the ladder's steps: a window of the report's "overdue now"
# The query's keys as URLs and saved filters spell them; a saved filter keeps the first five.
SAVED_KEYS = ("queue", "state", "municipality", "overdue", "sort")
KEYS = SAVED_KEYS + ("status", "ladder", "ended_from", "ended_to", "registered_from", "registered_to",
                     "registered_in", "target_group", "track", "track_end", "track_in", "track_from", "track_to",
                     TRANSFER, "transfer_at", "transfer_from", "transfer_to", "followup_day", "followup_status",
                     "followup_from", "followup_to", "measure_ladder")
# How a stay in a local track ended (the report's columns, reports/outcomes.TRACK_ENDS): "left" is
# every stay that ended, "ongoing" every stay going on now; the others by the state it led to.
TRACK_END_STATES = {**{STATE[s].exit: (s,) for s in FOLLOWED_UP}, "dropped": ("module2.extended",),
                    "closed": ("closed",)}
TRACK_ENDS = ("left", "ongoing") + tuple(TRACK_END_STATES)
TRANSFER_WAYS = ("in", "out")
FOLLOWUP_KINDS = ("due", "recorded", "missing") + tuple(FOLLOWUP_STATUSES)
_TRACK_ID = re.compile(r"[\w.-]{1,60}")


@dataclass(frozen=True)
class ListQuery:
    """Which cases a list holds and in which order (no page): codes and dates only."""
    queue: str | None = None
    state: str | None = None
    municipalities: tuple[str, ...] = ()
    overdue: bool = False
    sort: str = "due"
    status: str | None = None           # active (default) | ended | all; a state filter decides by itself
    ladder: str | None = None           # a step of the stage ladder, or "late": every step that is overdue
    ended_from: date | None = None
    ended_to: date | None = None
    registered_from: date | None = None
    registered_to: date | None = None
    registered_in: str | None = None    # the municipality the case was registered in (it may have moved since)
    target_group: str | None = None
    track: str | None = None            # a local job track's id: the case has a stay in it (module 3) that ...
    track_end: str | None = None        # ... ended as this (TRACK_ENDS; default "left": ended at all)
    track_in: str | None = None         # ... ended in this municipality (ongoing: is in it now)
    track_from: date | None = None      # ... ended in this period
    track_to: date | None = None
    transfer: str | None = None         # in | out: the case moved in or out (not corrected) ...
    transfer_at: str | None = None      # ... into / out of this municipality (default: the list's)
    transfer_from: date | None = None   # ... in this period
    transfer_to: date | None = None
    followup_day: int | None = None     # established cases whose follow-up of this day (90, 180, 360) ...
    followup_status: str | None = None  # ... is: due (all), recorded, missing, or recorded with this status
    followup_from: date | None = None   # ... fell due in this period (never after today)
    followup_to: date | None = None
    measure_ladder: str | None = None   # running cases with an open measure whose due date is in this ladder window

    def params(self) -> dict[str, str | list[str]]:
        """The query as URL parameters / a saved filter's JSON (only what is set)."""
        out: dict = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "municipalities":
                if value:
                    out["municipality"] = value[0] if len(value) == 1 else list(value)
            elif f.name == "sort":
                if value != "due":
                    out["sort"] = value
            elif value is True:
                out[f.name] = "1"
            elif value:
                out[f.name] = value.isoformat() if isinstance(value, date) else value
        return out


def parse_query(values: dict, *, keys: tuple[str, ...] = KEYS, strict: bool = False,
                config: Config | None = None) -> ListQuery:
    """A ListQuery from URL parameters or a saved filter (each value checked; `strict`:
    a key outside `keys` is refused instead of ignored). Municipalities are checked
    against the principal's scope where the list is read (`list_cases`)."""
    from etablera.cases.parsing import parse_day
    unknown = [k for k in values if k not in keys]
    if strict and unknown:
        raise BadInput("list_filter_unknown_key", field=unknown[0], choices=[Code(k) for k in keys])
    get = {k: values.get(k) for k in keys}
    places = get.get("municipality") or ()
    places = (places,) if isinstance(places, str) else tuple(places)
    ladder_steps = LADDER + _ladder_steps()
    return ListQuery(
        queue=filters.one_of(get.get("queue") or None, QUEUES, field="queue"),
        state=filters.state(get.get("state") or None),
        municipalities=tuple(dict.fromkeys(filters.municipality(m, config=config) for m in places if m)),
        overdue=_flag(get.get("overdue"), "overdue"),
        sort=filters.one_of(get.get("sort") or None, SORTS, field="sort") or "due",
        status=filters.one_of(get.get("status") or None, STATUSES, field="status"),
        ladder=filters.one_of(get.get("ladder") or None, ladder_steps, field="ladder"),
        ended_from=parse_day(get.get("ended_from") or None, "ended_from"),
        ended_to=parse_day(get.get("ended_to") or None, "ended_to"),
        registered_from=parse_day(get.get("registered_from") or None, "registered_from"),
        registered_to=parse_day(get.get("registered_to") or None, "registered_to"),
        registered_in=filters.municipality(get.get("registered_in") or None, field="registered_in", config=config),
        target_group=filters.one_of(get.get("target_group") or None,
                                    [g.code for g in (config or get_config()).target_groups], field="target_group"),
        track=_code(get.get("track"), "track"),
        track_end=filters.one_of(get.get("track_end") or None, TRACK_ENDS, field="track_end"),
        track_in=filters.municipality(get.get("track_in") or None, field="track_in", config=config),
        track_from=parse_day(get.get("track_from") or None, "track_from"),
        track_to=parse_day(get.get("track_to") or None, "track_to"),
        transfer=filters.one_of(get.get(TRANSFER) or None, TRANSFER_WAYS, field=TRANSFER),
        transfer_at=filters.municipality(get.get("transfer_at") or None, field="transfer_at", config=config),
        transfer_from=parse_day(get.get("transfer_from") or None, "transfer_from"),
        transfer_to=parse_day(get.get("transfer_to") or None, "transfer_to"),
        followup_day=_followup_day(get.get("followup_day")),
        followup_status=filters.one_of(get.get("followup_status") or None, FOLLOWUP_KINDS, field="followup_status"),
        followup_from=parse_day(get.get("followup_from") or None, "followup_from"),
        followup_to=parse_day(get.get("followup_to") or None, "followup_to"),
        measure_ladder=filters.one_of(get.get("measure_ladder") or None, ladder_steps, field="measure_ladder"))


def _code(value, field: str) -> str | None:
    """A local track's id as the report shows it (a code, never a name)."""
    if value in (None, ""):
        return None
    value = str(value)
    if not _TRACK_ID.fullmatch(value):         # as statemachine/fields.py checks a track
        raise BadInput("track_id_format", field=field)
    return value


def _followup_day(value) -> int | None:
    if value in (None, ""):
        return None
    if str(value) not in {str(d) for d in FOLLOWUP_DAYS}:
        raise BadInput("unknown_choice", field="followup_day", choices=[Code(str(d)) for d in FOLLOWUP_DAYS])
    return int(value)


def _flag(value, field: str) -> bool:
    if value in (None, "", "0", False, "false"):
        return False
    if value in ("1", True, "true", "on"):
        return True
    raise BadInput("unknown_choice", field=field, choices=[Code("0"), Code("1")])


def _ladder_steps() -> tuple[str, ...]:
    from etablera.reports.overdue import ladder_steps
    return ladder_steps()


def _levels(today: date):
    from etablera.reports.overdue import ladder_levels
    return ladder_levels(today)


def _window(ladder: str, today: date) -> tuple[date | None, date | None]:
    """The due dates of a ladder window (after, up to] as the report counts them."""
    levels = _levels(today)
    if ladder == "late":
        late = [upto for _, _, upto, is_overdue in levels if is_overdue]
        return None, max(late) if late else None
    step = next(level for level in levels if level[0] == ladder)
    return step[1], step[2]


def queue_label(name: str, lang: str) -> str:
    words = QUEUE_WORDS[name]
    return words.en if lang == "en" else words.sv


__all__ = ["KEYS", "ListQuery", "QUEUES", "SAVED_KEYS", "SORTS", "parse_query", "queue_label"]
