"""The follow-up report (uppföljningsrapport): the figures the parties committed to follow,
per municipality, track and period, as one JSON-able document.

Every count is taken by set-based SQL in the database (the same statements on SQLite and
PostgreSQL); Python names and arranges the rows that come back, and takes the quartiles
of the histograms of whole days the database counted (reports/percentiles.py: a row
per stage, municipality and day, however many the cases). The heavy part of the history,
a case's stays in each stage with its days on hold left out, is kept in derived tables
(reports/facts.py: the stays, the cases' entries and exits, the open measures, the
transfers), which `build_report` first brings up to date.

This module assembles the document; each section is computed in a module named by what it
holds: the selection (scope.py), the caseload now and the period's flow (flow.py), stays
in the stages and the skips (stages.py), establishment (establishment.py), outcomes per
track and target group (outcomes.py), overdue now (overdue.py) and the follow-ups after
exit (followups.py); the quartiles in percentiles.py, the shared row helpers in rows.py.

Definitions (also written into the document, under "method"):
- period: `--from` and `--to` are Stockholm calendar dates, both included; without
  `--from` the period starts with the first case, without `--to` it ends today;
- a stay (visit) in a stage counts in the period it ended in and in the municipality the
  case was in when it left; its days are Stockholm calendar days, days on hold excluded;
- entries: registrations in the period, where registered; exits: the events that ended a
  case in the period, where the case was then; transfers count at both ends;
- corrections: a corrected step and its correction are left out of every figure (the case
  counts as if the step had not happened); how many there were in the period is said;
- percentiles: "linear between closest ranks" (the method of PostgreSQL's percentile_cont
  and of numpy's default): for n sorted values x1..xn, position h = 1 + p(n-1), value
  x⌊h⌋ + (h-⌊h⌋)(x⌊h⌋+1 - x⌊h⌋). Computed from the histogram of whole days with running
  counts, so it is exact and the same on both databases;
- established: left for work, own business or studies; within the frame: on or before
  the case's establishment due date (two years from the permit, or the later reception,
  moved by time on hold);
- overdue: stages and measures whose due date has reached a step of the reminder ladder
  (config/reminders.toml), for cases that are running (not on hold, not ended).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

from sqlalchemy import Connection, text
from sqlalchemy.engine import Engine

from etablera.models.database import transaction
from etablera.models.timestamps import show, utcnow
from etablera.reports.establishment import MONTH_DEN, MONTH_NUM, establishment
from etablera.reports.facts import refresh_in
from etablera.reports.flow import corrections, flow, states_now
from etablera.reports.followups import followups
from etablera.reports.outcomes import ESTABLISHED, target_group_outcomes, track_outcomes
from etablera.reports.overdue import ladder_levels, overdue
from etablera.reports.scope import Scope
from etablera.reports.sql import Dialect
from etablera.reports.stages import skips, time_in_stage

REPORT_VERSION = 1


def build_report(engine: Engine, scope: Scope, *, refresh: bool = True) -> dict:
    """The whole report as one JSON-able document."""
    with transaction(engine, write=refresh) as conn:
        return report_in(conn, scope, refresh=refresh)


def report_in(conn: Connection, scope: Scope, *, refresh: bool = True) -> dict:
    """The report in the transaction of `conn` (a write transaction when `refresh`), for a
    caller that reads more from the same snapshot (reports/export.py)."""
    # The reminder ladder's windows for today are read beside the counting: its first read
    # in a process validates the ladder over two years of working days and imports the
    # holiday calendar (a tenth of a second or more), while SQLite, counting, lets go of
    # the interpreter.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-ladder") as beside:
        levels = beside.submit(ladder_levels, scope.today)
        return _document(conn, scope, refresh, levels)


def _document(conn: Connection, scope: Scope, refresh: bool, levels: Future) -> dict:
    refreshed = refresh_in(conn).cases if refresh else 0
    d = Dialect(conn.dialect.name)
    prepare(conn, d, scope)
    doc = {
        "report": "etablera.followup", "version": REPORT_VERSION, "generated_at": show(utcnow().replace(microsecond=0)),
        "lang": scope.lang, "title": _t(scope, "Uppföljning av etableringsprocessen",
                                         "Follow-up of the establishment process"),
        "period": {"from": scope.start.isoformat() if scope.start else None, "to": scope.end.isoformat(),
                   "today": scope.today.isoformat()},
        "scope": {"municipalities": [{"code": c, "name": scope.config.municipalities.get(c)}
                                     for c in scope.municipalities],
                  "national": not scope.municipalities},
        "states_now": states_now(conn, scope),
        "flow": flow(conn, scope),
        "corrections": corrections(conn, scope),
        "time_in_stage": time_in_stage(conn, scope),
        "establishment": establishment(conn, scope),
        "tracks": track_outcomes(conn, scope),
        "target_groups": target_group_outcomes(conn, scope),
        "skips": skips(conn, scope),
        "overdue": overdue(conn, scope, levels.result()),
        "followups": followups(conn, scope),
        "method": method(scope),
        "refreshed_cases": refreshed,
    }
    for table in ("report_starters", "report_exits"):
        conn.execute(text(f"DROP TABLE {table}"))
    return doc


def prepare(conn: Connection, d: Dialect, scope: Scope) -> None:
    """Two small temporary tables the sections read instead of scanning report_cases each:
    the period's starters and the period's exits, counted by every key a figure needs.

    Each is counted in one scan of an index in the order it is grouped by, the period's
    days tested from the index (models/followup.py), where a range of days would have to
    sort every row before counting it; the starters, so counted by their days to exit (tens
    of thousands of rows at a million cases), are then summed up by month on the
    establishment curve. SQLite, without statistics, would take the range: it is told which
    index."""
    established = ", ".join(f"'{s}'" for s in ESTABLISHED)
    month = f"CASE WHEN exit_state IN ({established}) THEN (exit_days * {MONTH_NUM}) / {MONTH_DEN} END"
    for table in ("report_starters", "report_exits"):
        conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
    conn.execute(text(f"""
        CREATE TEMPORARY TABLE report_starters AS
        SELECT municipality, exit_state, {month} AS month,
               CAST(SUM(CASE WHEN exit_state IN ({established}) THEN within ELSE 0 END) AS BIGINT) AS within,
               CAST(SUM(still_open) AS BIGINT) AS still_open, CAST(SUM(n) AS BIGINT) AS n
        FROM (SELECT start_municipality AS municipality, exit_state, exit_days,
                     SUM(CASE WHEN exit_day <= establishment_due_day THEN 1 ELSE 0 END) AS within,
                     SUM(CASE WHEN exit_state IS NULL AND establishment_due_day >= :today THEN 1 ELSE 0 END)
                         AS still_open,
                     COUNT(*) AS n
              FROM report_cases{d.indexed_by('ix_report_cases_starters')}
              WHERE registered_day BETWEEN :first AND :last{scope.where('start_municipality')}
              GROUP BY start_municipality, exit_state, exit_days) counted
        GROUP BY municipality, exit_state, {month}"""),
        scope.params())
    conn.execute(text(f"""
        CREATE TEMPORARY TABLE report_exits AS
        SELECT exit_municipality AS municipality, exit_state, target_group, exit_days AS days, COUNT(*) AS n
        FROM report_cases{d.indexed_by('ix_report_cases_exits')}
        WHERE exit_day BETWEEN :first AND :last{scope.where('exit_municipality')}
        GROUP BY exit_municipality, exit_state, target_group, exit_days"""), scope.params())


def _t(scope: Scope, sv: str, en: str) -> str:
    return en if scope.lang == "en" else sv


def method(scope: Scope) -> dict:
    en = scope.lang == "en"
    return {
        "percentiles": ("'half took between X and Y days' gives the first and third quartiles (25th and 75th "
                        "percentiles), '9 in 10 at most Z' the 90th percentile; linear between closest ranks "
                        "(as PostgreSQL percentile_cont), on whole days"
                        if en else "”hälften tog mellan X och Y dagar” anger första och tredje kvartilen (25:e och "
                                   "75:e percentilen), ”9 av 10 högst Z” den 90:e percentilen; linjärt mellan "
                                   "närmaste rangplatser (som PostgreSQL percentile_cont), i hela dagar"),
        "days": ("Stockholm calendar days; days on hold (vilande) are not counted" if en
                 else "kalenderdagar (Stockholm); vilande dagar räknas inte"),
        "where": ("a stay counts where the case was when it left the stage; an exit where the case was at the exit"
                  if en else "en vistelse räknas där ärendet var när steget lämnades; ett avslut där ärendet var då"),
        "period": ("stays and exits that ended in the period; starters registered in the period" if en
                   else "vistelser och avslut som slutade under perioden; startande inskrivna under perioden"),
        "within_two_years": ("established on or before the establishment due date (two years from the permit or "
                             "later reception, moved by time on hold)" if en
                             else "etablerad senast etableringsdatumet (två år från uppehållstillstånd eller senare "
                                  "mottagande, flyttat med vilande tid)"),
        "curve_month": "365.25/12 days",
        "corrections": ("a corrected step and its correction are left out: the case counts as if the step had not "
                        "happened" if en else "ett rättat steg och dess rättelse räknas inte: ärendet räknas som om "
                                              "steget inte hade tagits"),
    }
