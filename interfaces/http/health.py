"""Health for a load balancer and an orchestrator: no login, no personal data, cheap.

- `GET /healthz`: the process answers (200 {"status": "ok"}); nothing else is looked at,
  so a database outage does not get every replica restarted.
- `GET /readyz`: this replica can serve: the configuration is valid (the files, the
  limits, ETABLERA_ENV), the database answers and its schema is at this version's head
  (models/schema_version.py: one short query; the head is read from the migrations once).
  200 {"status": "ready", "checks": {...}}, else 503 with the same document saying which
  check failed ("status": "not_ready"; each check "ok" or why not: unreachable, behind,
  unknown, not_valid). HAProxy sends no traffic to a replica that is not ready.

Neither is in the API's schema (they are the operator's, not an integration's), neither
is written to the access log (no one's data is read), and the request log
(interfaces/http/request_log.py) writes a line for them only when they are not 200.
The readiness check runs on a thread of its own, never queued behind the requests
waiting for the application's threads: a busy replica is still ready.
"""

from __future__ import annotations

import logging

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

log = logging.getLogger("etablera.health")
router = APIRouter(include_in_schema=False)
PATHS = ("/healthz", "/readyz")
_PROBE = anyio.CapacityLimiter(1)       # one readiness check at a time, beside the request threads
_config_ok = False                      # the configuration does not change under a running process


@router.api_route("/healthz", methods=["GET", "HEAD"])
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@router.api_route("/readyz", methods=["GET", "HEAD"])
async def readyz(request: Request) -> JSONResponse:
    checks = await anyio.to_thread.run_sync(readiness, request.app.state.engine, limiter=_PROBE)
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ready" if ready else "not_ready", "checks": checks},
                        status_code=200 if ready else 503)


def readiness(engine) -> dict[str, str]:
    """{"configuration", "database", "migrations"}: "ok" or why not."""
    checks = {"configuration": _configuration(), "database": "ok", "migrations": "ok"}
    from etablera.models.outage import outage
    from etablera.models.schema_version import AT_HEAD, schema_state
    try:
        state = schema_state(engine)
    except Exception as exc:  # noqa: BLE001 - any failure to ask is "not ready"; the log says which
        found = outage(exc)
        log.error("readiness: %s", found.log_line if found else f"database check failed ({type(exc).__name__})")
        checks["database"] = "unreachable" if found else "failed"
        checks["migrations"] = "unknown"
        return checks
    if state.status != AT_HEAD:
        checks["migrations"] = state.status          # behind | unknown
    return checks


def _configuration() -> str:
    global _config_ok
    if _config_ok:
        return "ok"
    from etablera.interfaces.http.limits import read_limits
    from etablera.models.config_catalog import effective
    from etablera.models.config_files import ConfigError
    from etablera.models.environment import environment
    from etablera.statemachine.errors import EtableraError
    try:
        environment()
        read_limits()
        effective()
    except (ConfigError, EtableraError) as exc:
        log.error("readiness: the configuration is not valid: %s", exc)
        return "not_valid"
    _config_ok = True
    return "ok"
