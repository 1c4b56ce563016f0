"""Keeping the report's derived tables (report_visits, report_cases, report_measures,
report_transfers) up to date.

The audit trail answers every follow-up question, but a visit (one stay in a stage, its
days on hold excluded) takes window functions over every state change of a case: over a
million cases that is minutes, not seconds. So the visits are computed once per case
change, set-based, into `report_visits` and `report_cases`, and the report aggregates
those (models/followup.py says what the columns mean).

`refresh` recomputes exactly the cases whose `last_seq` differs from the seq their rows
were computed from (new cases, changed cases), in one transaction: the stale case ids go
into a temporary table, their old rows are deleted, and four INSERT ... SELECT statements
rebuild them: the visits, the cases' rows and the transfers from the audit trail, the
open measures of the running ones from the live tables (every change of a measure is an
event of its case). After the first build a refresh costs one index scan of `cases` plus
the work for the cases that changed: the stale ids drive the statements (`stale CROSS
JOIN ...`, which SQLite's planner takes as the join order; left to itself it scans the
whole audit trail in (case, seq) order and probes the stale ids). Nothing is
loaded into Python.

How a case's history becomes visits:
- only state changes count (to_state <> from_state, or the registration); a transfer, a
  measure change or a follow-up changes no stage; a corrected step and its correction
  (the `corrections` table) are left out, so the case counts as if the step had not
  happened;
- each state belongs to its time-frame stage (process.STATE[..].stage); `on_hold`
  belongs to the stage it paused: the days on hold are counted in `paused_days`, never
  in `days`;
- a visit starts where the stage changes and ends at the first event that leads to
  another stage or a terminal state (a case closed while on hold ends its visit there);
- the leaving event gives the visit its end day, its municipality (where the case was
  then, so a transferred case counts where it was), its end state, decision, skips and
  reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text
from sqlalchemy.engine import Engine

from etablera.models.database import transaction
from etablera.statemachine.process import (COMPLETE_TRACK, DECIDE, ON_HOLD, OPEN_MEASURE_STATES, STAGE_OF, STATES,
                                           TERMINAL, TRACK_STAGE, TRANSFER)
from etablera.reports.sql import Dialect

# A constant key for PostgreSQL's advisory lock: two reports refreshing at once take turns.
_LOCK_KEY = 5_360_030_001
STALE = "report_stale"
DERIVED_BY_CASE = ("report_visits", "report_cases", "report_measures", "report_transfers")
TRANSFERS_BY_TRIGGER = 10_000       # stale cases above which their transfers are found by the trigger's index


# A corrected step and its correction, as if neither had happened (models/casework.Correction).
CORRECTED = ("SELECT 1 FROM corrections x WHERE x.case_id = {event}.case_id "
             "AND (x.corrected_seq = {event}.seq OR x.correction_seq = {event}.seq)")


def stage_case(column: str) -> str:
    """SQL: the stage of a state ('hold' for on_hold, 'end' for a terminal state)."""
    whens = " ".join(f"WHEN '{s.name}' THEN '{s.stage}'" for s in STATES if s.stage)
    return f"CASE {column} {whens} WHEN '{ON_HOLD}' THEN 'hold' ELSE 'end' END"


@dataclass
class RefreshResult:
    cases: int          # cases recomputed

    def as_dict(self) -> dict:
        return {"cases": self.cases}


def refresh(engine: Engine) -> RefreshResult:
    """Bring report_visits and report_cases up to date with the audit trail."""
    with transaction(engine) as conn:
        return refresh_in(conn)


def refresh_in(conn: Connection) -> RefreshResult:
    d = Dialect(conn.dialect.name)
    if not d.sqlite:
        conn.execute(text(f"SELECT pg_advisory_xact_lock({_LOCK_KEY})"))
    conn.execute(text(f"CREATE TEMPORARY TABLE IF NOT EXISTS {STALE} (case_id INTEGER PRIMARY KEY)"))
    conn.execute(text(f"DELETE FROM {STALE}"))
    stale = conn.execute(text(
        f"INSERT INTO {STALE} (case_id) SELECT c.id FROM cases c LEFT JOIN report_cases f ON f.case_id = c.id "
        "WHERE f.case_id IS NULL OR f.seq <> c.last_seq")).rowcount
    if stale:
        for table in DERIVED_BY_CASE:
            conn.execute(text(f"DELETE FROM {table} WHERE case_id IN (SELECT case_id FROM {STALE})"))
        conn.execute(text(visits_sql(d)))
        conn.execute(text(cases_sql(d)))
        conn.execute(text(MEASURES_SQL))
        conn.execute(text(transfers_sql(d, stale)))
    conn.execute(text(f"DROP TABLE {STALE}"))
    return RefreshResult(cases=max(stale, 0))


def visits_sql(d: Dialect) -> str:
    decision = d.json_text("e.data", "decision")
    track = d.json_text("e.data", "track")
    return f"""
INSERT INTO report_visits (case_id, visit, stage, track, start_day, start_municipality, end_day, municipality,
                           end_state, end_trigger, decision, skipped, reason, days, paused_days)
WITH changes AS (
    SELECT e.case_id, e.seq, e.to_state, e.municipality, e.trigger, e.reason,
           {d.as_text('e.skipped')} AS skipped,
           CASE WHEN e.trigger = '{DECIDE}' THEN {decision} END AS decision,
           CASE WHEN e.trigger = '{DECIDE}' THEN {track} END AS track,
           {d.local_day('e.at')} AS on_day,
           {stage_case('e.to_state')} AS stage,
           k.municipality AS now_municipality
    FROM {STALE} s CROSS JOIN cases k CROSS JOIN audit_events e
    WHERE k.id = s.case_id AND e.case_id = s.case_id AND (e.from_state IS NULL OR e.to_state <> e.from_state)
      AND NOT EXISTS ({CORRECTED.format(event='e')})
),
neighbours AS (
    SELECT c.*,
           LAG(stage) OVER w AS prev_stage,
           LAG(stage, 2) OVER w AS prev2_stage,
           LEAD(stage) OVER w AS next_stage,
           LEAD(on_day) OVER w AS next_day,
           LEAD(to_state) OVER w AS next_state,
           LEAD(municipality) OVER w AS next_municipality,
           LEAD(trigger) OVER w AS next_trigger,
           LEAD(decision) OVER w AS next_decision,
           LEAD(skipped) OVER w AS next_skipped,
           LEAD(reason) OVER w AS next_reason
    FROM changes c
    WINDOW w AS (PARTITION BY case_id ORDER BY seq)
),
owned AS (   -- on hold belongs to the stage it paused
    SELECT n.*,
           CASE WHEN stage = 'hold' THEN prev_stage ELSE stage END AS own,
           CASE WHEN prev_stage = 'hold' THEN prev2_stage ELSE prev_stage END AS prev_own,
           CASE WHEN next_stage = 'hold' THEN (CASE WHEN stage = 'hold' THEN prev_stage ELSE stage END)
                ELSE next_stage END AS next_own
    FROM neighbours n
),
marked AS (
    SELECT o.*,
           CASE WHEN prev_own IS NULL OR prev_own <> own THEN 1 ELSE 0 END AS is_first,
           CASE WHEN next_own IS NULL OR next_own <> own THEN 1 ELSE 0 END AS is_last
    FROM owned o
),
numbered AS (
    SELECT m.*, SUM(is_first) OVER (PARTITION BY case_id ORDER BY seq ROWS UNBOUNDED PRECEDING) AS n
    FROM marked m
)
SELECT case_id,
       MIN(seq) AS visit,
       MIN(own) AS stage,
       MAX(CASE WHEN is_first = 1 THEN track END) AS track,
       MIN(on_day) AS start_day,
       MAX(CASE WHEN is_first = 1 THEN municipality END) AS start_municipality,
       MAX(CASE WHEN is_last = 1 THEN next_day END) AS end_day,
       COALESCE(MAX(CASE WHEN is_last = 1 THEN next_municipality END),
                MAX(now_municipality)) AS municipality,
       MAX(CASE WHEN is_last = 1 THEN next_state END) AS end_state,
       MAX(CASE WHEN is_last = 1 THEN next_trigger END) AS end_trigger,
       MAX(CASE WHEN is_last = 1 THEN next_decision END) AS decision,
       COALESCE(MAX(CASE WHEN is_last = 1 THEN next_skipped END), '[]') AS skipped,
       MAX(CASE WHEN is_last = 1 THEN next_reason END) AS reason,
       CASE WHEN MAX(CASE WHEN is_last = 1 THEN next_day END) IS NULL THEN NULL
            ELSE SUM(CASE WHEN stage <> 'hold' THEN next_day - on_day ELSE 0 END) END AS days,
       COALESCE(SUM(CASE WHEN stage = 'hold' THEN next_day - on_day ELSE 0 END), 0) AS paused_days
FROM numbered
WHERE own <> 'end'
GROUP BY case_id, n
"""


def cases_sql(d: Dialect) -> str:
    terminal = ", ".join(f"'{s}'" for s in TERMINAL)
    return f"""
INSERT INTO report_cases (case_id, seq, target_group, permit_day, establishment_due_day, registered_day,
                          start_municipality, exit_state, exit_day, exit_municipality, exit_track, exit_days)
SELECT c.id, c.last_seq, c.target_group, {d.day_of_date('c.permit_date')},
       {d.day_of_date('c.establishment_due')},
       v1.start_day, v1.start_municipality,
       vx.end_state, vx.end_day, vx.municipality,
       CASE WHEN vx.stage = '{TRACK_STAGE}' AND vx.end_trigger = '{COMPLETE_TRACK}' THEN vx.track END,
       vx.end_day - {d.day_of_date('c.permit_date')}
FROM {STALE} s
CROSS JOIN cases c
CROSS JOIN report_visits v1
LEFT JOIN report_visits vx ON vx.case_id = c.id AND vx.end_state IN ({terminal})
WHERE c.id = s.case_id AND v1.case_id = s.case_id AND v1.visit = 1
"""


# The open measures of the stale cases that are running, where each case is now (the
# stale ids first, then each case by its key and its measures by theirs).
MEASURES_SQL = f"""
INSERT INTO report_measures (case_id, measure_id, municipality, type, due)
SELECT c.id, m.id, c.municipality, m.type, m.due
FROM {STALE} s
CROSS JOIN cases c
CROSS JOIN measures m
WHERE c.id = s.case_id AND m.case_id = s.case_id
  AND c.state IN ({", ".join(f"'{s}'" for s in STAGE_OF)})
  AND m.state IN ({", ".join(f"'{s}'" for s in OPEN_MEASURE_STATES)})
"""


def transfers_sql(d: Dialect, stale: int) -> str:
    """The `stale` stale cases' transfers that stand (neither corrected nor a correction),
    each on its Stockholm day. A day's few changed cases are read case by case, their events
    by the case's index (just read for their visits); many (a first build) through the
    transfer events' own index, a few in a hundred cases', where reading every event of
    every case again took longer than the visits (44 s more at a million cases, against 6 s
    for the transfers read cold)."""
    if stale > TRANSFERS_BY_TRIGGER:
        source = (f"FROM audit_events e WHERE e.trigger = '{TRANSFER}' "
                  f"AND e.case_id IN (SELECT case_id FROM {STALE})")
    else:
        source = (f"FROM {STALE} s CROSS JOIN audit_events e "
                  f"WHERE e.case_id = s.case_id AND {d.unindexed('e.trigger')} = '{TRANSFER}'")
    return f"""
INSERT INTO report_transfers (case_id, seq, day, municipality, from_municipality)
SELECT e.case_id, e.seq, {d.local_day('e.at')}, e.municipality, {d.json_text('e.data', 'from_municipality')}
{source} AND NOT EXISTS ({CORRECTED.format(event='e')})
"""
