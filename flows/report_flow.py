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

Each run also publishes two Prefect artifacts (on the run's page and under Artifacts in
the UI): `monthly-report`, a markdown table of the month's figures per report (cases and
running cases now, files written: counts only, nothing about a person), and
`monthly-report-files`, a link to the month's folder.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from prefect import flow, get_run_logger, task
from sqlalchemy import text

from etablera.flows.prefect_env import prefect_defaults
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
                 formats: tuple[str, ...], lang: str, *, refresh_first: bool = True,
                 figures: dict | None = None) -> list[str]:
    """Build one report and write it in each format. Returns the files written; `figures`,
    when given, receives its headline counts. The flow refreshes the derived tables once
    and passes refresh_first=False."""
    doc = build_report(get_engine(), make_scope(municipalities, start, end, lang=lang), refresh=refresh_first)
    if figures is not None:
        figures.update(cases=doc["states_now"]["total"], active=doc["states_now"]["active"])
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
              lang: str) -> dict:
    figures: dict = {}
    files = write_report(Path(folder), name, tuple(municipalities), date.fromisoformat(start),
                         date.fromisoformat(end), tuple(formats), lang, refresh_first=False, figures=figures)
    return {"name": name, "files": files, **figures}


def summary_markdown(month: str, rows: list[dict], refreshed: int, lang: str = "sv") -> str:
    """The month's figures as a markdown table: per report its cases and running cases now
    and its files. Counts and municipality codes only."""
    en = lang == "en"
    head = (f"# {'Follow-up report' if en else 'Uppföljningsrapport'} {month}\n\n"
            f"{len(rows)} {'reports' if en else 'rapporter'}, {sum(len(r['files']) for r in rows)} "
            f"{'files' if en else 'filer'}, {refreshed} {'cases refreshed' if en else 'ärenden uppdaterade'}.\n\n")
    table = ["| " + " | ".join(("Report", "Cases", "Running", "Files") if en else
                               ("Rapport", "Ärenden", "Pågående", "Filer")) + " |",
             "|---|---:|---:|---|"]
    for row in rows:
        files = ", ".join(Path(f).name for f in row["files"])
        table.append(f"| {row['name']} | {row.get('cases', '')} | {row.get('active', '')} | {files} |")
    return head + "\n".join(table) + "\n"


def publish(month: str, target: Path, rows: list[dict], refreshed: int, lang: str) -> None:
    """The run's artifacts: the summary and a link to the folder of files."""
    from prefect.artifacts import create_link_artifact, create_markdown_artifact

    folder = target.resolve()
    create_markdown_artifact(key="monthly-report", markdown=summary_markdown(month, rows, refreshed, lang),
                             description=f"monthly report {month}")
    create_link_artifact(key="monthly-report-files", link=folder.as_uri(), link_text=str(folder),
                         description=f"monthly report {month}: the files")


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
    rows: list[dict] = []
    jobs = [(code, [code]) for code in municipalities_with_cases()]
    if national:
        jobs.append(("national", []))
    for name, codes in jobs:
        rows.append(write_one(str(target), name, codes, start.isoformat(), end.isoformat(), formats, lang))
    written = [f for row in rows for f in row["files"]]
    publish(f"{start:%Y-%m}", target, rows, refreshed, lang)
    logger.info("monthly report %s: %d files for %d reports in %s (%d cases refreshed)",
                f"{start:%Y-%m}", len(written), len(jobs), target, refreshed)
    return {"month": f"{start:%Y-%m}", "folder": str(target), "reports": len(jobs), "files": written,
            "refreshed_cases": refreshed}


if __name__ == "__main__":      # `python -m flows.report_flow` writes last month's reports now
    prefect_defaults()
    print(monthly_report())
