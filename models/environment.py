"""Which kind of installation this process runs in: `ETABLERA_ENV`, read here only.

- `development` (the default, also when unset): the embedded installation. `etablera web`
  upgrades the schema itself at every start, as one process on one machine may.
- `production`: several replicas behind a load balancer. The schema is upgraded by one
  step of its own (`etablera migrate`) before the replicas start; `etablera web` refuses
  to start while the schema is behind and never upgrades it (two replicas starting
  together would race on the same migration).

Any other value is refused naming ETABLERA_ENV, so that a misspelt `prod` does not
quietly run a production installation as a development one.

`ETABLERA_SERVICE` names the process within a topology (`etablera stack up` names its
replicas web1 and web2): their log lines, which share one output, carry it.
"""

from __future__ import annotations

import os
from typing import Mapping

VARIABLE = "ETABLERA_ENV"
DEVELOPMENT, PRODUCTION = "development", "production"
ENVIRONMENTS = (DEVELOPMENT, PRODUCTION)


def environment(environ: Mapping[str, str] = os.environ) -> str:
    """`development` or `production`; anything else is bad input naming ETABLERA_ENV."""
    value = environ.get(VARIABLE, "").strip() or DEVELOPMENT
    if value not in ENVIRONMENTS:
        from etablera.statemachine.errors import BadInput
        from etablera.statemachine.messages import Code
        raise BadInput("unknown_choice", field=VARIABLE, choices=[Code(e) for e in ENVIRONMENTS])
    return value


def production(environ: Mapping[str, str] = os.environ) -> bool:
    return environment(environ) == PRODUCTION


SERVICE_VARIABLE = "ETABLERA_SERVICE"


def service_name(environ: Mapping[str, str] = os.environ) -> str | None:
    """The process's name in its topology (ETABLERA_SERVICE), None where it has none."""
    return environ.get(SERVICE_VARIABLE, "").strip() or None
