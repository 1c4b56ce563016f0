"""Large counts of lists, kept for a few seconds: what keeps the start page's queue counts
cheap at a million cases.

A count reads one index range (cases/list_statements.py), and its cost grows with what it
counts: at 1,000,000 cases one municipality's "overdue" is 33,000 index entries, 7 ms of
PostgreSQL's time, and the six queues together about 25 ms, on every view of the start
page. So a count of at least `LARGE` cases, once made, is used again for up to `SECONDS`
by the same process, for the same database, list and the values it reads (the user's
municipalities and organisation, today: every officer of a municipality shares its count);
a smaller count is always made afresh, so that an officer's own queues, and any list of
a few hundred cases, follow each change at once. A large count is at most `SECONDS` old:
it says how much work there is, not which case is next, and the list below it is always
read now.

Kept per engine (gone with it), at most `KEPT` counts each, the oldest dropped first.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from typing import Hashable

from sqlalchemy.engine import Engine

LARGE = 1_000
SECONDS = 30.0
KEPT = 4_096

_counts: weakref.WeakKeyDictionary[Engine, OrderedDict] = weakref.WeakKeyDictionary()
_lock = threading.Lock()
clock = time.monotonic


def key(shape: Hashable, values: dict) -> tuple:
    """A list's key: the shape of its statement and its values (lists made tuples)."""
    return shape, tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in values.items()))


def recent(engine: Engine, list_key: tuple) -> int | None:
    """The list's count if a large one was made less than SECONDS ago, else None."""
    with _lock:
        kept = _counts.get(engine)
        found = kept.get(list_key) if kept is not None else None
    if found is None or clock() - found[0] >= SECONDS:
        return None
    return found[1]


def remember(engine: Engine, list_key: tuple, count: int) -> None:
    """Keep a count just made, if it is large; a small one is forgotten (counted afresh)."""
    with _lock:
        kept = _counts.get(engine)
        if count < LARGE:
            if kept is not None:
                kept.pop(list_key, None)
            return
        if kept is None:
            kept = _counts[engine] = OrderedDict()
        kept[list_key] = (clock(), count)
        kept.move_to_end(list_key)
        while len(kept) > KEPT:
            kept.popitem(last=False)


__all__ = ["KEPT", "LARGE", "SECONDS", "key", "recent", "remember"]
