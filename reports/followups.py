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
    days = " UNION ALL ".join(f"SELECT {d} AS d" for d in FOLLOWUP_DAYS)
    due = fetch(conn, f"""
        WITH days AS ({days})
        SELECT days.d, COUNT(*) FROM report_cases c CROSS JOIN days
        WHERE c.exit_state IN ({established}) AND c.exit_day BETWEEN :first - days.d AND :last - days.d
          AND c.exit_day <= :today - days.d{scope.where('c.exit_municipality')}
        GROUP BY days.d""", scope.params())
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
