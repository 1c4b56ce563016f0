"""Where a reminder leads: the case page's address, or how to find the case without one.

A reminder or a notice about a case ends with a line that takes its reader to the case:
the web interface's address as its users reach it (reminders.toml [delivery] base_url or
$ETABLERA_BASE_URL) and the case page's path (`CASE_PATH`, the route of
interfaces/http/pages/case.py; a test holds the two together). Without a configured
address the line says how to find the case by its id instead. The link holds the case
id only: never a name or an identity number (it may travel by e-mail).
"""

from __future__ import annotations

CASE_PATH = "/cases/{case_id}"


def case_url(base_url: str, case_id: int) -> str:
    return base_url.rstrip("/") + CASE_PATH.format(case_id=int(case_id))


def case_line(case_id: int, base_url: str | None, lang: str = "sv") -> str:
    """The reminder's line that leads to case `case_id`."""
    en = lang == "en"
    if base_url:
        return f"{'Open the case' if en else 'Öppna ärendet'}: {case_url(base_url, case_id)}"
    if en:
        return (f"Open the case: search for #{case_id} in etablera's web interface, or run "
                f"`etablera case show {case_id}` (no web address is configured: [delivery] base_url)")
    return (f"Öppna ärendet: sök på #{case_id} i etablera, eller kör `etablera case show {case_id}` "
            f"(ingen webbadress är inställd: [delivery] base_url)")


__all__ = ["CASE_PATH", "case_line", "case_url"]
