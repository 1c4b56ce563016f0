"""The request log's cost per request (interfaces/http/request_log.py): a trivial ASGI
application called directly, bare (the floor) and inside RequestLog writing its JSON
line through the web process's formatter to a null stream; the difference is what every
request pays for its id, its timing and its log line."""

from __future__ import annotations

import asyncio
import io
import logging
import statistics
import time

from benchmarks import Result
from benchmarks.rounds import interleaved, result, spread

REQUESTS = 20_000


class _Null(io.TextIOBase):
    def write(self, text: str) -> int:
        return len(text)


async def _app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


def _per_request(app, n: int) -> float:
    """CPU microseconds per request (the process's CPU time: steadier than the clock on
    a shared machine) over one round of `n` requests."""
    headers = [(b"host", b"127.0.0.1"), (b"user-agent", b"bench"), (b"accept", b"*/*"),
               (b"cookie", b"etablera_session=x"), (b"x-request-id", b"from-the-balancer-0001")]

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message):
        return None

    async def requests() -> float:
        started = time.process_time()
        for _ in range(n):
            await app({"type": "http", "method": "GET", "path": "/cases/1", "headers": headers,
                       "query_string": b"", "state": {}}, receive, send)
        return time.process_time() - started
    return asyncio.run(requests()) / n * 1e6


def run(options) -> list[Result]:
    from etablera.interfaces.http.request_log import LOGGER, RequestLog, json_formatter
    n = max(1000, int(REQUESTS * options.scale))
    handler = logging.StreamHandler(_Null())
    handler.setFormatter(json_formatter())
    logger = logging.getLogger(LOGGER)
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logged_app = RequestLog(_app)
    try:
        figures = interleaved({"logged": lambda r: _per_request(logged_app, n),
                               "bare": lambda r: _per_request(_app, n)}, max(3, getattr(options, "rounds", 3)))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
    added = [logged - bare for logged, bare in zip(figures["logged"], figures["bare"])]
    median = statistics.median(added)
    return [result("request log: a request with its id and JSON line", figures["logged"], figures["bare"], "µs",
                   goal="≤ 50 µs added", met=median <= 50,
                   note=f"µs added per request min/median/max {spread(added, 0)} ({n:,} requests a round)")]
