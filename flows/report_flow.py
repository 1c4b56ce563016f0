"""The monthly follow-up report as a Prefect flow: thin orchestration of plain functions.

On the first of each month it writes, for every municipality with cases, the report of
the previous month (and the national one) to a folder, in the formats asked for:

    {folder}/{YYYY-MM}/{code}.html, {code}.json      one per municipality
    {folder}/{YYYY-MM}/national.html, national.json   the whole country

The figures come from statemachine.report.build_report (tested there); this module adds
the run record and retries. The folder and the schedule (`etablera serve`, flows/serve.py)
are in the [report] section of config/reminders.toml; ETABLERA_REPORT_DIR overrides the
folder. Files are written to a temporary name and renamed, so a reader never sees half a
report.
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

from prefect import flow, get_run_logger, task
from sqlalchemy import text

from etablera.models.database import get_engine, transaction
from etablera.models.ladder import get_reminder_config
from etablera.models.timestamps import local_date, utcnow
from etablera.reports.report import build_report
from etablera.reports.scope import make_scope
from etablera.reports.facts import refresh
from etablera.reports.formats import render

DEFAULT_FORMATS = ("html", "json")


def previous_month(today: date) -> tuple[date, date]:
    """The first and last day of the month before `today`'s."""
    last = today.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def month_bounds(month: str | None, today: date | None = None) -> tuple[date, date]:
    """First and last day of `month` (YYYY-MM), or of the month before today's."""
    if not month:
        return previous_month(today or local_date(utcnow()))
    start = date.fromisoformat(f"{month}-01")
    return start, previous_month(date(start.year + start.month // 12, start.month % 12 + 1, 1))[1]


def municipalities_with_cases() -> list[str]:
    with transaction(get_engine(), write=False) as conn:
        return [r[0] for r in conn.execute(text("SELECT DISTINCT municipality FROM cases ORDER BY municipality"))]


def write_report(folder: Path, name: str, municipalities: tuple[str, ...], start: date, end: date,
                 formats: tuple[str, ...], lang: str, *, refresh_first: bool = True) -> list[str]:
    """Build one report and write it in each format. Returns the files written. The flow
    refreshes the derived tables once and passes refresh_first=False."""
    doc = build_report(get_engine(), make_scope(municipalities, start, end, lang=lang), refresh=refresh_first)
    written = []
    folder.mkdir(parents=True, exist_ok=True)
    for fmt in formats:
        target = folder / f"{name}.{fmt}"
        partial = target.with_suffix(target.suffix + ".partial")
        partial.write_text(render(doc, fmt), encoding="utf-8")
        partial.replace(target)
        written.append(str(target))
    return written


@task(name="refresh-report-tables", retries=2, retry_delay_seconds=[10, 60])
def refresh_tables() -> int:
    return refresh(get_engine()).cases


@task(name="write-municipality-report", retries=2, retry_delay_seconds=[10, 60])
def write_one(folder: str, name: str, municipalities: list[str], start: str, end: str, formats: list[str],
              lang: str) -> list[str]:
    return write_report(Path(folder), name, tuple(municipalities), date.fromisoformat(start),
                        date.fromisoformat(end), tuple(formats), lang, refresh_first=False)


@flow(name="monthly-report", log_prints=False)
def monthly_report(folder: str | None = None, month: str | None = None, formats: list[str] | None = None,
                   lang: str = "sv", national: bool = True) -> dict:
    """Write each municipality's report for the previous month (or `month`, YYYY-MM) to
    `folder`/YYYY-MM/. Returns what was written."""
    logger = get_run_logger()
    start, end = month_bounds(month)
    target = Path(folder or get_reminder_config().report.folder) / f"{start:%Y-%m}"
    formats = list(formats or DEFAULT_FORMATS)
    refreshed = refresh_tables()
    written: list[str] = []
    jobs = [(code, [code]) for code in municipalities_with_cases()]
    if national:
        jobs.append(("national", []))
    for name, codes in jobs:
        written += write_one(str(target), name, codes, start.isoformat(), end.isoformat(), formats, lang)
    logger.info("monthly report %s: %d files for %d reports in %s (%d cases refreshed)",
                f"{start:%Y-%m}", len(written), len(jobs), target, refreshed)
    return {"month": f"{start:%Y-%m}", "folder": str(target), "reports": len(jobs), "files": written,
            "refreshed_cases": refreshed}


if __name__ == "__main__":      # `python -m flows.report_flow` writes last month's reports now
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    print(monthly_report())
