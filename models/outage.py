"""What an outage is, in words an operator can act on: the database unreachable or the disk
full. Every interface asks here about an exception it did not expect (the web app's
handlers, the CLI's last resort): an outage is told to the user as a clear message
(`database_unreachable`, `disk_full`: no exception's name, nothing about the data) and to
the log as one line saying what is wrong ("database unreachable: connection refused",
"disk full"), without a traceback and without the driver's own text, which can quote a
row (an identity number) or the connection's password.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

# (words in the driver's message, lower case) -> what the log says, after "database unreachable: "
_UNREACHABLE = (
    (("connection refused",), "connection refused"),
    (("could not translate host name", "name or service not known", "temporary failure in name resolution",
      "nodename nor servname"), "host name not found"),
    (("timeout expired", "timed out", "connection timeout"), "connection timed out"),
    (("password authentication failed", "no pg_hba.conf entry", "authentication failed"), "authentication failed"),
    (("too many clients", "remaining connection slots", "too many connections"), "too many connections"),
    (("the database system is starting up", "the database system is shutting down",
      "the database system is in recovery mode", "terminating connection due to administrator command",
      "cannot_connect_now"), "the server is starting or shutting down"),
    (("server closed the connection", "connection is closed", "consuming input failed", "connection already closed",
      "ssl syscall", "broken pipe", "connection reset", "no connection to the server", "terminating connection",
      "could not receive data", "could not send data", "the connection is lost"), "connection lost"),
    (("unable to open database file",), "cannot open the database file"),
    (("disk i/o error",), "disk I/O error"),
)
_DISK_FULL = ("database or disk is full", "no space left on device", "could not extend file", "disk full",
              "could not write to file")
# PostgreSQL's SQLSTATE classes: 08 connection exception, 53100 disk full, 57P01-57P03 shutdown.
_SQLSTATE = {"53100": "disk full", "57P01": "the server is shutting down", "57P02": "the server is shutting down",
             "57P03": "the server is starting or shutting down"}


@dataclass(frozen=True)
class Outage:
    code: str          # the catalogue's: database_unreachable | disk_full
    log_line: str      # what the log says: "database unreachable: connection refused", "disk full"


def outage(exc: BaseException) -> Outage | None:
    """The outage `exc` reports (a SQLAlchemy error wrapping the driver's, the driver's own,
    or an OSError), or None when it is no outage (a bug, a refused value, a busy lock)."""
    if isinstance(exc, OSError) and not _is_database_error(exc):
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return Outage("disk_full", "disk full")
        return None
    orig = getattr(exc, "orig", None) or exc
    text = f"{orig}".lower()
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if state in _SQLSTATE:
        line = _SQLSTATE[state]
        return Outage("disk_full", "disk full") if line == "disk full" else \
            Outage("database_unreachable", f"database unreachable: {line}")
    if any(words in text for words in _DISK_FULL):
        return Outage("disk_full", "disk full")
    if not _is_database_error(exc):
        return None
    if "fatal" in text and "database" in text and "does not exist" in text:
        return Outage("database_unreachable", "database unreachable: the database does not exist")
    for words, line in _UNREACHABLE:
        if any(w in text for w in words):
            return Outage("database_unreachable", f"database unreachable: {line}")
    if (state or "").startswith("08"):
        return Outage("database_unreachable", "database unreachable: connection failed")
    if getattr(exc, "connection_invalidated", False):
        return Outage("database_unreachable", "database unreachable: connection lost")
    return None


def _is_database_error(exc: BaseException) -> bool:
    """An OperationalError or InterfaceError of SQLAlchemy or of a driver (which may also be
    an OSError's subclass, as psycopg's are not; sqlite3's are not either)."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & {"OperationalError", "InterfaceError", "DisconnectionError"})


__all__ = ["Outage", "outage"]
