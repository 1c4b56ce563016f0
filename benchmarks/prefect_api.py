"""The few calls of the Prefect server's REST API that bench_fanout makes (urllib: no
prefect client, which would start its own machinery in the caller). The tests keep their
own (tests/test_flows.py `api`): pytest does not put the repository's root, and so this
package, on their path."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Callable

FINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


def api(url: str, path: str, body: dict | None = None, timeout: float = 30):
    """GET `path` of the API at `url`, or POST `body` to it; the answer's JSON."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, method="POST" if body is not None else "GET",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def wait_final(url: str, run_id: str, timeout: float, *, ask: Callable = api, every: float = 0.2) -> str:
    """The flow run's final state type, asked every `every` seconds; TimeoutError after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = ask(url, f"/flow_runs/{run_id}")["state"]["type"]
        if state in FINAL:
            return state
        time.sleep(every)
    raise TimeoutError(f"flow run {run_id} not final within {timeout:.0f} s")
