"""Pseudonymised statistics for a recipient such as the national follow-up (issue 16, item 5).

One export is four files in a directory: the report's figures per municipality
(`figures.csv`, `figures.json`) and one row per case (`cases.csv`, `cases.json`), both read
in ONE transaction after the report's derived tables are brought up to date, so the
per-case rows are the cases the figures count.

The figures are the report's own (reports/report.py), flattened: every number under a
`by_municipality` entry, or a per-municipality row such as a track's, becomes a row
(municipality, figure path, value); the path names the section and the keys down to the
number (`flow/exits/exited.work`, `time_in_stage/module1/median`). Nothing is recomputed.

A case is in the export when its time in the process overlaps the period (registered on or
before its last day and not ended before its first) and, with municipalities chosen, it
started, ended or is now in one of them. Its row holds codes, months and day counts only:
no identity number, name, contact detail, note, justification or other free text, and
dates as months (the permit, registration and exit) so the rows are harder to single out.

Each exported case gets a row in the access log (action `statistics_export`, the
recipient in its detail, written set-based in the export's transaction), so the person's
register extract names the recipients their data went to, as GDPR article 15 asks.

The case is named by a pseudonym: HMAC-SHA256 under the export key of (recipient, case
id), 24 hexadecimal digits. The same case has the same pseudonym in every export to the
same recipient (deliveries can be linked over time) and unrelated ones for different
recipients (two recipients cannot join their files on it). The recipient's name is
compared case-folded. The export key is a key of its own, not the audit key, although it
is kept the same way (cases/audit_key.py's files: 32 random bytes, 0600, outside the
database; `$ETABLERA_EXPORT_KEY_FILE`, default `export.key` beside the audit key): one key,
one purpose. Replacing the export key (to make every recipient's old deliveries
unlinkable to new ones) must not touch the audit trail, and replacing the audit key must
not change every pseudonym a recipient holds; losing the export key loses only the
linkage across deliveries, while losing the audit key loses the check of the chain.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import os
import re
from datetime import date
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

from etablera.access.principal import Principal
from etablera.cases.audit_key import KEY_BYTES, create_key, key_path
from etablera.models.database import transaction
from etablera.models.timestamps import utcnow
from etablera.reports.outcomes import ESTABLISHED
from etablera.reports.report import report_in
from etablera.reports.rows import bind_instant
from etablera.reports.scope import Scope
from etablera.reports.sql import from_day_number
from etablera.statemachine.errors import BadInput, EtableraError

EXPORT_VERSION = 1
ENV_FILE = "ETABLERA_EXPORT_KEY_FILE"
FILE_NAME = "export.key"
RECIPIENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,59}\Z")
PSEUDONYM_HEX = 24
ACTION = "statistics_export"         # the access log's action for a case in an export
FILES = ("figures.csv", "figures.json", "cases.csv", "cases.json")
CASE_COLUMNS = ("pseudonym", "target_group", "municipality_start", "municipality_now", "state_now",
                "permit_month", "registered_month", "exit_month", "exit_state", "exit_municipality", "exit_track",
                "days_permit_to_exit", "established_within_frame")
FIGURE_COLUMNS = ("municipality", "name", "figure", "value")
# Keys that name a row of a list (a stage, a track ...) in a figure's path.
_ROW_KEYS = ("stage", "track", "module", "target_group", "day", "step", "state", "reason", "level")
_NOT_FIGURES = {"municipality", "name", "label"}


def check_recipient(name: str) -> str:
    if not isinstance(name, str) or not RECIPIENT.match(name):
        raise BadInput("export_recipient_format", field="recipient")
    return name


def export_key_path(engine: Engine) -> Path:
    env = os.environ.get(ENV_FILE, "")
    return Path(env).absolute() if env else key_path(engine).with_name(FILE_NAME)


def export_key(engine: Engine) -> bytes:
    """The export key, created (0600) at the first export."""
    path = export_key_path(engine)
    if not path.exists():
        create_key(path)
    try:
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise EtableraError("export_key_not_valid", field="export_key", file=str(path))
    return key


def pseudonym(key: bytes, recipient: str, case_id: int) -> str:
    """The case's pseudonym for `recipient` (see the module's docstring)."""
    message = f"etablera.export/v1\x1f{recipient.casefold()}\x1f{case_id}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:PSEUDONYM_HEX]


def export(engine: Engine, scope: Scope, recipient: str, output: Path, *, who: Principal) -> dict:
    """Write the export for `recipient` over `scope` into the directory `output`; each case
    exported gets an access-log row naming the recipient (`who` made it)."""
    recipient = check_recipient(recipient)
    key = export_key(engine)
    with transaction(engine, write=True) as conn:
        report = report_in(conn, scope, refresh=True)
        selection = _CASES_SQL + _case_filter(scope)
        rows = conn.execute(text(selection + " ORDER BY r.case_id"), scope.params()).all()
        # The person's register extract names the recipients their data went to (GDPR art. 15):
        # one row per case, written set-based by the same selection, in the same transaction.
        conn.execute(text("INSERT INTO access_log (at, actor, role, organisation, case_id, action, detail) "
                          f"SELECT :at, :actor, :role, :organisation, r.case_id, '{ACTION}', :detail "
                          f"FROM ({selection}) r"),
                     scope.params(at=bind_instant(conn, utcnow()), actor=who.id, role=who.role,
                                  organisation=who.organisation, detail=f"recipient {recipient}"))
    cases = sorted((_case_row(key, recipient, r) for r in rows), key=lambda c: c["pseudonym"])
    figures = list(municipal_figures(report))
    head = {"export": "etablera.statistics", "version": EXPORT_VERSION, "recipient": recipient,
            "generated_at": report["generated_at"], "period": report["period"],
            "municipalities": [m["code"] for m in report["scope"]["municipalities"]],
            "national": report["scope"]["national"]}
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    _write(output / "figures.json", json.dumps({**head, "figures": figures}, ensure_ascii=False, indent=1))
    _write(output / "figures.csv", _csv(FIGURE_COLUMNS, figures))
    _write(output / "cases.json", json.dumps({**head, "pseudonym": "HMAC-SHA256(export key, recipient, case)",
                                              "cases": cases}, ensure_ascii=False, indent=1))
    _write(output / "cases.csv", _csv(CASE_COLUMNS, cases))
    return {**head, "output": str(output.absolute()), "files": list(FILES), "figures": len(figures),
            "cases": len(cases), "municipalities_with_figures": len({f["municipality"] for f in figures}),
            "export_key_file": str(export_key_path(engine))}


_CASES_SQL = """
    SELECT r.case_id AS case_id, r.target_group, r.permit_day, r.registered_day, r.establishment_due_day,
           r.start_municipality, r.exit_state, r.exit_day, r.exit_municipality, r.exit_track,
           c.state, c.municipality
    FROM report_cases r JOIN cases c ON c.id = r.case_id
    WHERE r.registered_day <= :last AND (r.exit_day IS NULL OR r.exit_day >= :first)"""


def _case_filter(scope: Scope) -> str:
    if not scope.municipalities:
        return ""
    chosen = ", ".join(f":m{i}" for i in range(len(scope.municipalities)))
    return (f" AND (r.start_municipality IN ({chosen}) OR r.exit_municipality IN ({chosen}) "
            f"OR c.municipality IN ({chosen}))")


def _case_row(key: bytes, recipient: str, r) -> dict:
    (case_id, group, permit, registered, due, start, exit_state, exit_day, exit_muni, track, state, now) = r
    return {"pseudonym": pseudonym(key, recipient, case_id), "target_group": group, "municipality_start": start,
            "municipality_now": now, "state_now": state, "permit_month": _month(permit),
            "registered_month": _month(registered), "exit_month": _month(exit_day), "exit_state": exit_state,
            "exit_municipality": exit_muni, "exit_track": track,
            "days_permit_to_exit": None if exit_day is None else exit_day - permit,
            # as the report counts it: left for work, own business or studies by the establishment due date
            "established_within_frame": (exit_day <= due) if exit_state in ESTABLISHED else None}


def _month(day: int | None) -> str | None:
    return None if day is None else from_day_number(day).strftime("%Y-%m")


def municipal_figures(report: dict):
    """Every number of the report that belongs to one municipality, as
    {municipality, name, figure, value} (see the module's docstring)."""
    def walk(node, path):
        if isinstance(node, dict):
            if path and isinstance(node.get("municipality"), str):
                for figure, value in _numbers(node, []):
                    yield {"municipality": node["municipality"], "name": node.get("name"),
                           "figure": "/".join(path + figure), "value": value}
                return
            for k, v in node.items():
                if k != "method":
                    yield from walk(v, path + ([] if k == "by_municipality" else [k]))
        elif isinstance(node, list):
            for i, item in enumerate(node):
                yield from walk(item, path + _row_name(item, i))
    yield from walk(report, [])


def _row_name(item, index: int) -> list[str]:
    if isinstance(item, dict):
        for key in _ROW_KEYS:
            if item.get(key) is not None:
                return [str(item[key])]
        if "municipality" in item:
            return []
    return [str(index)]


def _numbers(node: dict, path: list[str]):
    for k, v in node.items():
        if k in _NOT_FIGURES or isinstance(v, (str, bool)):
            continue
        if isinstance(v, dict):
            yield from _numbers(v, path + [k])
        elif isinstance(v, list):
            for i, item in enumerate(v):
                if isinstance(item, dict):
                    yield from _numbers(item, path + [k] + _row_name(item, i))
        elif v is None or isinstance(v, (int, float)):
            yield path + [k], v


def _csv(columns: tuple[str, ...], rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(row.get(k)) for k in columns})
    return buffer.getvalue()


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _write(path: Path, body: str) -> None:
    temp = path.with_name(f".{path.name}.partial")
    temp.write_text(body if body.endswith("\n") else body + "\n", encoding="utf-8")
    os.replace(temp, path)


def period_bounds(period: str) -> tuple[date, date]:
    """`--period YYYY` or `YYYY-MM` as its first and last day."""
    match = re.fullmatch(r"(\d{4})(?:-(\d{2}))?", period or "")
    if not match or (match.group(2) and not 1 <= int(match.group(2)) <= 12):
        raise BadInput("export_period_format", field="period")
    year = int(match.group(1))
    if match.group(2) is None:
        return date(year, 1, 1), date(year, 12, 31)
    month = int(match.group(2))
    following = date(year + month // 12, month % 12 + 1, 1)
    return date(year, month, 1), date.fromordinal(following.toordinal() - 1)
