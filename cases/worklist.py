"""What a row of a case list holds (the worklist and every queue, cases/queues.py): the
person's name (so a row says who it is), the case id, place, state and dates, and the
highest rung of the reminder ladder reached in the case's current stage visit, read beside
it (one indexed lookup per listed case, in the same statement); no identity numbers.
"""

from __future__ import annotations

from sqlalchemy import case, func, select

from etablera.cases.audit import CASES
from etablera.models import Reminder

REMINDERS = Reminder
LADDER_ORDER = {"warning": 1, "overdue": 2, "escalation": 3}
LADDER_STEPS = {rank: step for step, rank in LADDER_ORDER.items()}
MAX_LIMIT = 200
LIST_COLUMNS = (CASES.c.id, CASES.c.municipality, CASES.c.target_group, CASES.c.state, CASES.c.state_since,
                CASES.c.due, CASES.c.establishment_due, CASES.c.stage_seq, CASES.c.track, CASES.c.kommun_officer,
                CASES.c.af_officer, CASES.c.version, CASES.c.given_name, CASES.c.family_name,
                # The highest rung recorded for the current visit to the stage (uq_reminder_key).
                select(func.max(case(*((REMINDERS.c.step == step, rank) for step, rank in LADDER_ORDER.items()),
                                     else_=0)))
                .where(REMINDERS.c.kind == "stage", REMINDERS.c.target_id == CASES.c.id,
                       REMINDERS.c.visit == CASES.c.stage_seq)
                .scalar_subquery().label("ladder"))

