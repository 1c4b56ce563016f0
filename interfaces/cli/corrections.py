"""`etablera case correct ID --seq N --reason CODE --note TEXT`: a coordinator corrects the
case's latest step (cases/corrections.py); the case goes back to where it was before it."""

from __future__ import annotations

import click

from etablera.cases import corrections, queries
from etablera.interfaces.cli.common import changing, common, principal
from etablera.interfaces.cli.output import emit
from etablera.models.database import get_engine
from etablera.statemachine.process import trigger_label

WORDS = {"corrected": ("ärende {id}: händelse {seq} ({step}) rättad genom händelse {by} → {state}",
                       "case {id}: event {seq} ({step}) corrected by event {by} → {state}")}


@click.command("correct")
@click.argument("case_id", type=int)
@click.option("--seq", type=int, required=True, help="The mistaken step's event (see `case history`).")
@click.option("--reason", default=None, help="Reason code of the `correct` category (see `etablera config show`).")
@click.option("--note", default=None, help="Justification (required).")
@click.option("--expect-version", type=int, default=None,
              help="Refuse (exit 4) if the case is no longer at this version.")
@common
@changing
def correct(options, at, case_id, seq, reason, note, expect_version):
    """Correct the case's latest step (coordinators): back to where the case was before it."""
    engine = get_engine()
    who = principal(options, engine)
    event = corrections.correct(engine, who, case_id, seq, reason=reason, note=note, expect_version=expect_version,
                                at=at)
    doc = queries.show_case(engine, who, case_id, lang=options.lang)
    doc["correction"] = {"seq": event["seq"], "corrects": seq, "step": event["data"]["step"],
                         "from_state": event["from_state"], "to_state": event["to_state"],
                         "reason": event["reason"]}
    words = WORDS["corrected"][1 if options.lang == "en" else 0]
    emit(options, doc, lambda d: words.format(id=d["id"], seq=seq, step=trigger_label(event["data"]["step"],
                                                                                       options.lang),
                                              by=event["seq"], state=d["state_label"]))
