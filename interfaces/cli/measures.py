"""`etablera measure ...`: add measures and move them through their lifecycle."""

from __future__ import annotations

import click

from etablera.interfaces.cli.common import changing, common, principal
from etablera.interfaces.cli.output import emit, wording
from etablera.models.database import get_engine
from etablera.cases import measures as use_cases
from etablera.cases.parsing import parse_day
from etablera.statemachine.process import MEASURE_ACTIONS, MEASURE_INITIAL

# Every word these commands print, Swedish and English: the text follows --lang.
WORDS = {
    "added": ("insats {measure} tillagd i ärende {case}", "measure {measure} added to case {case}"),
    "changed": ("insats {measure}: {label} [{state}]", "measure {measure}: {label} [{state}]"),
}


_w = wording(WORDS)


def _state_label(state: str, lang: str) -> str:
    """A measure state's label in `lang` (config.measure_states), else its code."""
    from etablera.models.configuration import get_config
    label = get_config().measure_states.get(state)
    return label(lang) if label is not None else state


@click.group()
def measure():
    """Measures (insatser) in module 2 and 3."""


@measure.command()
@click.argument("case_id", type=int)
@click.argument("measure_type")
@click.option("--due", default=None, help="Due date (YYYY-MM-DD); default from the type's typical duration.")
@common
@changing
def add(options, at, case_id, measure_type, due):
    """Add a measure of TYPE to a case."""
    engine = get_engine()
    measure_id = use_cases.add_measure(engine, principal(options, engine), case_id, measure_type,
                                       due=parse_day(due, "due"), at=at)
    emit(options, {"measure": measure_id, "case": case_id, "type": measure_type, "state": MEASURE_INITIAL},
         lambda d: _w("added", options.lang, measure=d["measure"], case=d["case"]))


def _lifecycle(action: str):
    @click.argument("measure_id", type=int)
    @click.option("--reason", default=None, help="Reason code (required to cancel).")
    @click.option("--note", default=None)
    @common
    @changing
    def command(options, at, measure_id, reason, note):
        engine = get_engine()
        state = use_cases.change_measure(engine, principal(options, engine), measure_id, action, reason=reason,
                                         note=note, at=at)["state"]
        emit(options, {"measure": measure_id, "state": state},
             lambda d: _w("changed", options.lang, measure=d["measure"], label=_state_label(d["state"], options.lang),
                          state=d["state"]))
    command.__doc__ = f"{action.capitalize()} a measure."
    return measure.command(action)(command)


for _action in MEASURE_ACTIONS:
    _lifecycle(_action.name)
