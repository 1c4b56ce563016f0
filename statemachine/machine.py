"""The one HierarchicalMachine, built once at import from the process table.

No model is attached: `next_state` hands the machine a tiny token holding the current
state and lets it decide where the trigger leads (transitions#635: a SQLModel object
cannot be a machine model; and one machine per case would cost memory for nothing).
"""

from __future__ import annotations

from functools import lru_cache

from transitions import MachineError
from transitions.extensions import HierarchicalMachine
from transitions.extensions.nesting import NestedState

from etablera.statemachine.errors import NotPermitted
from etablera.statemachine.process import CASE_TRIGGERS, INITIAL, PARENTS, STATES, TRIGGER, Route, permitted, state_label


class _DottedState(NestedState):
    separator = "."      # our state names contain underscores, the library's default separator


class _ProcessMachine(HierarchicalMachine):
    state_cls = _DottedState


class _Token:
    __slots__ = ("state",)

    def __init__(self, state: str):
        self.state = state


class _Matches:
    """A route's condition: the fact `field` has `value` (e.g. decision == local_track)."""

    def __init__(self, field: str, value: str):
        self.field, self.value = field, value

    def __call__(self, event) -> bool:
        return event.kwargs["facts"].get(self.field) == self.value


def _state_tree() -> list:
    children: dict[str, list[str]] = {p.name: [] for p in PARENTS}
    flat = []
    for state in STATES:
        head, _, leaf = state.name.partition(".")
        if leaf:
            children[head].append(leaf)
        else:
            flat.append(state.name)
    return [{"name": parent, "children": leaves} for parent, leaves in children.items()] + flat


def _transition(trigger: str, route: Route) -> dict:
    spec = {"trigger": trigger, "source": list(route.sources), "dest": route.dest}
    if route.match is not None:
        spec["conditions"] = [_Matches(*route.match)]
    return spec


MACHINE = _ProcessMachine(
    model=None,
    states=_state_tree(),
    transitions=[_transition(t.name, r) for t in CASE_TRIGGERS for r in t.routes],
    initial=INITIAL,
    auto_transitions=False,
    send_event=True,
)


def next_state(state: str, trigger: str, facts: dict) -> str:
    """Where `trigger` leads from `state`, given the trigger's data and the case's facts.
    Raises NotPermitted (naming the state and what is permitted) when it may not fire.

    The machine's answer depends only on the state, the trigger and the facts its routes
    match on, so each distinct question is put to the machine once and remembered."""
    spec = TRIGGER.get(trigger)
    keys = _SELECTORS.get(trigger, ())
    if spec is None:
        raise NotPermitted(not_permitted_message(state, trigger), sv=not_permitted_message_sv(state, trigger))
    return _ask_machine(state, trigger, tuple((k, facts.get(k)) for k in keys))


@lru_cache(maxsize=4096)
def _ask_machine(state: str, trigger: str, selector: tuple) -> str:
    token = _Token(state)
    facts = dict(selector)
    try:
        fired = MACHINE.trigger_event(token, trigger, facts=facts)
    except (MachineError, AttributeError, ValueError):
        fired = False
    if not fired:
        raise NotPermitted(not_permitted_message(state, trigger), sv=not_permitted_message_sv(state, trigger))
    return token.state


# The facts each trigger's routes are selected by (decision, outcome, paused_from...).
_SELECTORS = {t.name: tuple(sorted({r.match[0] for r in t.routes if r.match})) for t in CASE_TRIGGERS}


def not_permitted_message(state: str, trigger: str) -> str:
    allowed = ", ".join(t.name for t in permitted(state)) or "nothing (the case is closed)"
    return (f"{trigger} is not permitted in state {state} ({state_label(state, 'en')}); "
            f"permitted now: {allowed}")


def not_permitted_message_sv(state: str, trigger: str) -> str:
    spec = TRIGGER.get(trigger)
    allowed = ", ".join(t.sv.lower() for t in permitted(state)) or "ingenting (ärendet är avslutat)"
    return (f"{spec.sv if spec else trigger} går inte i läget {state_label(state, 'sv').lower()}; "
            f"det som går nu: {allowed}")
