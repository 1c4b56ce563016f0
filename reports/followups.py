"""Follow-ups after exit: of the established whose 90th, 180th or 360th day after the exit
fell in the period, how many were followed up and where they were then."""

from __future__ import annotations

from sqlalchemy import Connection

from etablera.models.followup import FOLLOWUP_DAYS, FOLLOWUP_STATUSES
from etablera.reports.outcomes import ESTABLISHED
from etablera.reports.rows import fetch, share
from etablera.reports.scope import Scope


def followups(conn: Connection, scope: Scope) -> dict:
    """Follow-ups after exit whose day (90, 180, 360 days after) fell in the period: how
    many were due, how many recorded, and where the people were."""
    established = ", ".join(f"'{s}'" for s in ESTABLISHED)
    # One pass over the period's exits, each day's window counted as it goes (a join with
    # the three days read every exit three times and sorted the matches).
    windows = ", ".join(f"SUM(CASE WHEN exit_day BETWEEN :first - {d} AND :last - {d} AND exit_day <= :today - {d} "
                        f"THEN 1 ELSE 0 END)" for d in FOLLOWUP_DAYS)
    counted = fetch(conn, f"""
        SELECT {windows} FROM report_cases
        WHERE exit_state IN ({established})
          AND exit_day BETWEEN :first - {max(FOLLOWUP_DAYS)} AND :last - {min(FOLLOWUP_DAYS)}
          {scope.where('exit_municipality')}""", scope.params())[0]
    due = [(d, n or 0) for d, n in zip(FOLLOWUP_DAYS, counted)]
    recorded = fetch(conn, f"""
        SELECT f.day, f.status, COUNT(*) FROM followups f JOIN report_cases c ON c.case_id = f.case_id
        WHERE c.exit_state IN ({established}) AND c.exit_day BETWEEN :first - f.day AND :last - f.day
          AND c.exit_day <= :today - f.day{scope.where('c.exit_municipality')}
        GROUP BY f.day, f.status""", scope.params())
    rows = [(d, None, n) for d, n in due] + [(d, status, n) for d, status, n in recorded]
    per = {d: {"due": 0, "recorded": 0, "by_status": {s: 0 for s in FOLLOWUP_STATUSES}} for d in FOLLOWUP_DAYS}
    for d, status, n in rows:
        if status is None:
            per[d]["due"] += n
        else:
            per[d]["recorded"] += n
            per[d]["by_status"][status] = per[d]["by_status"].get(status, 0) + n
    labels = {"work": ("Arbete", "Work"), "own_business": ("Eget företagande", "Own business"),
              "studies": ("Reguljära studier", "Regular studies"), "unemployed": ("Utan arbete", "Unemployed"),
              "unknown": ("Okänt", "Unknown")}
    return {"status_labels": {s: labels[s][scope.lang == "en"] for s in FOLLOWUP_STATUSES},
            "days": [{"day": d, **v, "missing": v["due"] - v["recorded"],
                      "share_recorded": share(v["recorded"], v["due"]),
                      "share_still_established": share(sum(v["by_status"][s] for s in ("work", "own_business",
                                                                                        "studies")),
                                                       v["recorded"])}
                     for d, v in per.items()]}
