"""Where a case is in the process, as the case page's map: one step per part of the process
table (`PARENTS`: module 1 → module 2 → joint assessment → module 3 → the exit), each with
its status. Pure: it reads the case's state, the state a case on hold was paused from, and
the states and skips of its history; every name comes from the table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from etablera.statemachine.process import ON_HOLD, PARENTS, STATE, state_label

# A step's status (the page words them: i18n "step_<status>").
DONE, CURRENT, SKIPPED, UPCOMING, NOT_TAKEN = "done", "current", "skipped", "upcoming", "not_taken"
PARTS = tuple(p.name for p in PARENTS)
EXIT_PART = PARTS[-1]          # where every ended case is: the exits, and a closed case too


@dataclass(frozen=True)
class Step:
    part: str
    label: str               # the part's name, or for an ended case's last step how it ended
    status: str
    state_label: str | None  # the current step: the state within it ("Modul 2, förlängda insatser")
    on_hold: bool = False    # the current step, paused


def part_of(state: str | None) -> str | None:
    """The part of the process a state belongs to (None on hold: the case is paused from a part)."""
    if state is None or state not in STATE or state == ON_HOLD:
        return None
    head = state.split(".", 1)[0]
    if head in PARTS:
        return head
    return EXIT_PART if STATE[state].terminal else None


def journey(state: str, paused_from: str | None, history: Iterable[dict], lang: str = "sv") -> list[Step]:
    """The map of a case in `state`. `history`: its events (from_state, to_state, skipped),
    which say which parts it passed through and which it skipped. A corrected step (marked
    `corrected_by`) and the correction that undid it (its data says what it `corrects`) did
    not happen for the map: neither a part they passed nor a module they skipped counts."""
    visited: set[str] = set()
    skipped: set[str] = set()
    for event in history:
        if event.get("corrected_by") is not None or "corrects" in (event.get("data") or {}):
            continue
        for key in ("from_state", "to_state"):
            part = part_of(event.get(key))
            if part:
                visited.add(part)
        skipped.update(event.get("skipped") or ())
    on_hold = state == ON_HOLD
    here = part_of(paused_from if on_hold else state)
    ended = STATE[state].terminal if state in STATE else False
    at = PARTS.index(here) if here in PARTS else -1
    steps = []
    for i, parent in enumerate(PARENTS):
        part = parent.name
        if i == at:
            status = CURRENT
        elif part in skipped and part != here:
            status = SKIPPED
        elif i < at:
            status = DONE if part in visited else NOT_TAKEN
        else:
            status = NOT_TAKEN if ended else UPCOMING
        label = state_label(state, lang) if ended and part == EXIT_PART else parent.en if lang == "en" else parent.sv
        steps.append(Step(part, label, status, state_label(paused_from if on_hold else state, lang)
                          if status == CURRENT else None, on_hold and status == CURRENT))
    return steps
