"""Overdue now: stages and measures of running cases whose due date has reached a step of
the reminder ladder (config/reminders.toml)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection

from etablera.models.configuration import ConfigError
from etablera.models.ladder import get_reminder_config
from etablera.reports.rows import bind_date, fetch, muni_entry
from etablera.reports.scope import Scope
from etablera.reports.sql import Dialect
from etablera.statemachine.process import STAGE_OF, stage_label

Level = tuple[str, date | None, date, bool]        # step, due after, due up to, counts as overdue


def overdue(conn: Connection, scope: Scope, levels: list[Level] | None = None) -> dict:
    """Stages and measures whose due date has reached a step of the reminder ladder now
    (`levels`: ladder_levels(scope.today), when the caller has them already)."""
    d = Dialect(conn.dialect.name)
    levels = levels if levels is not None else ladder_levels(scope.today)
    running = ", ".join(f"'{s}'" for s in STAGE_OF)
    params = scope.params()
    for i, (_, after, upto, _) in enumerate(levels):
        params[f"after{i}"], params[f"upto{i}"] = bind_date(conn, after), bind_date(conn, upto)

    def counted(column: str) -> str:
        """A count per step: the due dates in its window (Ladder.windows: they do not overlap)."""
        return ", ".join(f"SUM(CASE WHEN {column} <= :upto{i}" + (f" AND {column} > :after{i}" if after else "")
                         + " THEN 1 ELSE 0 END)" for i, (_, after, _, _) in enumerate(levels))

    def per_step(rows) -> list[tuple[str, str, str, int]]:
        """(municipality, key, a count per step) as (municipality, key, step, count), none of 0."""
        return [(muni, key, levels[i][0], n) for muni, key, *counts in rows for i, n in enumerate(counts) if n]
    # The windows are contiguous: a due date has reached some step iff it is on or before
    # the latest window's end. The running cases are counted by (municipality, state) as
    # the active cases' index holds them, with no sort; a state is named by its stage here.
    params["reach"] = bind_date(conn, max(upto for _, _, upto, _ in levels))
    stages = per_step((muni, STAGE_OF[state], *counts) for muni, state, *counts in fetch(
        conn, f"SELECT municipality, state, {counted('due')} FROM cases{d.indexed_by('ix_cases_queue_state')} "
              f"WHERE {d.true('active')} AND state IN ({running}) AND due <= :reach{scope.where('municipality')} "
              "GROUP BY municipality, state", params))
    # The open measures of running cases, where each case is now (report_measures, kept
    # with the other derived rows: the caller refreshed them), in their index's order.
    measures = per_step(fetch(conn, f"SELECT municipality, type, {counted('due')} "
                                    f"FROM report_measures{d.indexed_by('ix_report_measures_due')} "
                                    f"WHERE due <= :reach{scope.where('municipality')} "
                                    "GROUP BY municipality, type", params))
    overdue_steps = {step for step, _, _, is_overdue in levels if is_overdue}
    step_labels = {"warning": ("Snart förfallen", "Due soon"), "overdue": ("Försenad", "Overdue"),
                   "escalation": ("Eskalerad", "Escalated")}

    def shaped(rows, what_key):
        by_level = {step: 0 for step, *_ in levels}
        per: dict[str, dict] = {code: {step: 0 for step, *_ in levels} for code in scope.municipalities}
        by_what: dict[str, dict[str, int]] = {}
        for muni, what, level, n in rows:
            by_level[level] += n
            per.setdefault(muni, {step: 0 for step, *_ in levels})[level] += n
            by_what.setdefault(what, {step: 0 for step, *_ in levels})[level] += n
        def late(v):
            return sum(n for s, n in v.items() if s in overdue_steps)
        return {"overdue": late(by_level), "by_level": by_level,
                what_key: [{"key": k, "overdue": late(v), "by_level": v} for k, v in sorted(by_what.items())],
                "by_municipality": [{**muni_entry(scope, code), "overdue": late(v), "by_level": v}
                                    for code, v in sorted(per.items())]}
    stage_part = shaped(stages, "by_stage")
    for row in stage_part["by_stage"]:
        row["label"] = stage_label(row["key"], scope.lang)
    measure_part = shaped(measures, "by_type")
    for row in measure_part["by_type"]:
        kind = scope.config.measure_types.get(row["key"])
        row["label"] = kind.label(scope.lang) if kind else row["key"]
    return {"levels": [{"step": step, "label": step_labels.get(step, (step, step))[scope.lang == "en"],
                        "overdue": is_overdue} for step, _, _, is_overdue in levels],
            "stages": stage_part, "measures": measure_part}


NO_LADDER = "overdue"        # the one step when no usable ladder is configured: due on or before today


def _stage_ladder():
    """The configured stage ladder, or None when there is no usable one."""
    try:
        return get_reminder_config().ladder("stage")
    except ConfigError:
        return None


def ladder_steps() -> tuple[str, ...]:
    """The names of the stage ladder's rungs, as `ladder_levels` names its windows (without
    counting any working days: a list's `ladder` filter is checked against them on every
    view of the worklist)."""
    ladder = _stage_ladder()
    return (NO_LADDER,) if ladder is None else tuple(rung.step for rung in ladder.rungs)


def ladder_levels(today: date) -> list[Level]:
    """(step, due after, due up to, counts as overdue) per rung of the stage ladder."""
    ladder = _stage_ladder()
    if ladder is None:
        return [(NO_LADDER, None, today, True)]
    windows = ladder.windows(today)
    return [(w.step, w.after, w.upto, rung.offset.n >= 0) for w, rung in zip(windows, ladder.rungs)]
