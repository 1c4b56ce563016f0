"""The Prefect settings every entry point that may run a flow sets first, unless the
environment already says otherwise (the CLI's `deadlines check` and `serve`, and the
flow modules run with `python -m`). No prefect import here: the CLI imports this module
at start-up.

- no usage analytics sent to Prefect;
- a temporary server (a flow run with no PREFECT_API_URL) gets TEMPORARY_SERVER_START
  seconds to start. Prefect's own default, 20, was too few on a busy two-core machine:
  the check failed with a bare RuntimeError before it began.
"""

from __future__ import annotations

import os

TEMPORARY_SERVER_START = "120"


def prefect_defaults() -> None:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", TEMPORARY_SERVER_START)
